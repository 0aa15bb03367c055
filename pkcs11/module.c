#include "module.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "interface.h"
#include "mech.h"
#include "object.h"
#include "session.h"
#include "slot.h"

/*
 * Lifecycle. C_Initialize/C_Finalize are serialised by life_lock. Entry points
 * count themselves in `busy` and check `is_initialized` after counting, so
 * C_Finalize (which clears the flag, then waits for busy == 0) never frees
 * what a call still uses. The atfork child handler bumps `generation`: a
 * child sees CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize.
 */
static pthread_mutex_t life_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool is_initialized;
static atomic_uint generation;
static unsigned int init_generation;
static atomic_int busy;
static atomic_bool is_logged_in;
static atomic_ulong handle_counter; /* never reset: a stale handle can only miss */
static bool is_atfork_set;

/* The module mutex: the application's callbacks or pthread (CK_C_INITIALIZE_ARGS). */
static CK_C_INITIALIZE_ARGS cb;
static bool use_callbacks;
static void *mod_mutex;

void module_debug(const char *fmt, ...)
{
    static int enabled = -1;
    va_list ap;

    if (enabled < 0) {
        enabled = getenv("AGENTD_PKCS11_DEBUG") != NULL;
    }
    if (!enabled) {
        return;
    }
    va_start(ap, fmt);
    fputs("agentd-pkcs11: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

CK_RV module_mutex_new(void **ret_mutex)
{
    pthread_mutex_t *m;

    if (use_callbacks) {
        return cb.CreateMutex(ret_mutex);
    }
    if ((m = malloc(sizeof(*m))) == NULL) {
        return CKR_HOST_MEMORY;
    }
    pthread_mutex_init(m, NULL);
    *ret_mutex = m;
    return CKR_OK;
}

void module_mutex_free(void *mutex)
{
    if (mutex == NULL) {
        return;
    }
    if (use_callbacks) {
        cb.DestroyMutex(mutex);
        return;
    }
    pthread_mutex_destroy(mutex);
    free(mutex);
}

void module_mutex_lock(void *mutex)
{
    if (use_callbacks) {
        cb.LockMutex(mutex);
        return;
    }
    pthread_mutex_lock(mutex);
}

void module_mutex_unlock(void *mutex)
{
    if (use_callbacks) {
        cb.UnlockMutex(mutex);
        return;
    }
    pthread_mutex_unlock(mutex);
}

void module_lock(void)
{
    module_mutex_lock(mod_mutex);
}

void module_unlock(void)
{
    module_mutex_unlock(mod_mutex);
}

CK_ULONG module_next_handle(void)
{
    return atomic_fetch_add(&handle_counter, 1) + 1;
}

bool module_is_logged_in(void)
{
    return atomic_load(&is_logged_in);
}

bool module_is_live(void)
{
    return atomic_load(&is_initialized) && atomic_load(&generation) == init_generation;
}

CK_RV module_enter(void)
{
    atomic_fetch_add(&busy, 1);
    if (!atomic_load(&is_initialized) || atomic_load(&generation) != init_generation) {
        atomic_fetch_sub(&busy, 1);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    return CKR_OK;
}

void module_leave(void)
{
    atomic_fetch_sub(&busy, 1);
}

static void on_child(void)
{
    atomic_fetch_add(&generation, 1);
    /* Another parent thread may have held it at fork(); this thread is alone now. */
    pthread_mutex_init(&life_lock, NULL);
}

/* PKCS#11 §5.4 C_Initialize: callbacks all or none; reserved must be NULL. */
static CK_RV parse_args(const CK_C_INITIALIZE_ARGS *a)
{
    int n;

    use_callbacks = false;
    if (a == NULL) {
        return CKR_OK;
    }
    if (a->pReserved != NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    n = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) + (a->LockMutex != NULL) +
        (a->UnlockMutex != NULL);
    if (n != 0 && n != 4) {
        return CKR_ARGUMENTS_BAD;
    }
    /* With CKF_OS_LOCKING_OK we may use native locks; otherwise the callbacks. */
    if (n == 4 && (a->flags & CKF_OS_LOCKING_OK) == 0) {
        cb = *a;
        use_callbacks = true;
    }
    return CKR_OK;
}

/* A forked child inherited the parent's state: forget it without touching the
 * parent's sockets or locks (which another parent thread may have held). */
static void drop_stale_state(void)
{
    session_clear(true);
    object_clear(true);
    client_close(true);
    mod_mutex = NULL;
    atomic_store(&busy, 0);
    atomic_store(&is_logged_in, false);
    atomic_store(&is_initialized, false);
}

static CK_RV initialize(const CK_C_INITIALIZE_ARGS *args)
{
    CK_RV rv;

    if (atomic_load(&is_initialized)) {
        if (atomic_load(&generation) == init_generation) {
            return CKR_CRYPTOKI_ALREADY_INITIALIZED;
        }
        drop_stale_state();
    }
    if ((rv = parse_args(args)) != CKR_OK || (rv = module_mutex_new(&mod_mutex)) != CKR_OK) {
        return rv;
    }
    if (!is_atfork_set && pthread_atfork(NULL, NULL, on_child) == 0) {
        is_atfork_set = true;
    }
    if ((rv = client_open()) != CKR_OK) {
        client_close(false);
        module_mutex_free(mod_mutex);
        mod_mutex = NULL;
        return rv;
    }
    init_generation = atomic_load(&generation);
    atomic_store(&is_initialized, true);
    return CKR_OK;
}

CK_RV C_Initialize(CK_VOID_PTR args)
{
    CK_RV rv;

    pthread_mutex_lock(&life_lock);
    rv = initialize(args);
    pthread_mutex_unlock(&life_lock);
    return rv;
}

static void wait_idle(void)
{
    struct timespec ms = {0, 1000000};

    while (atomic_load(&busy) > 0) {
        nanosleep(&ms, NULL);
    }
}

CK_RV C_Finalize(CK_VOID_PTR reserved)
{
    CK_RV rv = CKR_OK;

    if (reserved != NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    pthread_mutex_lock(&life_lock);
    if (!atomic_load(&is_initialized) || atomic_load(&generation) != init_generation) {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        goto out;
    }
    atomic_store(&is_initialized, false);
    client_close(false); /* wakes threads blocked on the daemon */
    wait_idle();
    session_clear(false);
    object_clear(false);
    client_close(false);
    module_mutex_free(mod_mutex);
    mod_mutex = NULL;
    atomic_store(&is_logged_in, false);
out:
    pthread_mutex_unlock(&life_lock);
    return rv;
}

/*
 * C_GetInfo reports the version of the function list it was reached through:
 * 3.0 in the 3.0 list (the default interface), 2.40 in the 2.40 list that
 * C_GetFunctionList hands out, so a 2.40 caller never sees a version whose
 * function list layout it does not hold.
 */
static CK_RV get_info(CK_INFO_PTR info, CK_BYTE major, CK_BYTE minor)
{
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (info == NULL) {
        module_leave();
        return CKR_ARGUMENTS_BAD;
    }
    memset(info, 0, sizeof(*info));
    info->cryptokiVersion.major = major;
    info->cryptokiVersion.minor = minor;
    slot_pad(info->manufacturerID, sizeof(info->manufacturerID), "agentd");
    slot_pad(info->libraryDescription, sizeof(info->libraryDescription),
             "agentd TPM 2.0 PKCS#11 module");
    info->libraryVersion.major = 0;
    info->libraryVersion.minor = 1;
    module_leave();
    return CKR_OK;
}

CK_RV C_GetInfo(CK_INFO_PTR info)
{
    return get_info(info, 3, 0);
}

CK_RV module_get_info_240(CK_INFO_PTR info)
{
    return get_info(info, 2, 40);
}

CK_RV C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR slots, CK_ULONG_PTR n)
{
    CK_RV rv;

    (void)token_present; /* the one slot always holds the token */
    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    rv = n == NULL ? CKR_ARGUMENTS_BAD : slot_list(slots, n);
    module_leave();
    return rv;
}

CK_RV C_GetSlotInfo(CK_SLOT_ID id, CK_SLOT_INFO_PTR info)
{
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    rv = info == NULL ? CKR_ARGUMENTS_BAD : slot_info(id, info);
    module_leave();
    return rv;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID id, CK_TOKEN_INFO_PTR info)
{
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    rv = info == NULL ? CKR_ARGUMENTS_BAD : slot_token_info(id, info);
    module_leave();
    return rv;
}

CK_RV C_GetMechanismList(CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR n)
{
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (n == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if (id != SLOT_ID) {
        rv = CKR_SLOT_ID_INVALID;
    } else if ((rv = object_ensure_loaded()) == CKR_OK) {
        rv = mech_list(object_mech_union(), list, n);
    }
    module_leave();
    return rv;
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (info == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if (id != SLOT_ID) {
        rv = CKR_SLOT_ID_INVALID;
    } else if ((rv = object_ensure_loaded()) == CKR_OK) {
        rv = mech_info(object_mech_union(), type, info);
    }
    module_leave();
    return rv;
}

CK_RV C_OpenSession(CK_SLOT_ID id, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                    CK_SESSION_HANDLE_PTR ret)
{
    CK_RV rv;

    (void)app, (void)notify; /* no callbacks are ever made */
    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (ret == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if (id != SLOT_ID) {
        rv = CKR_SLOT_ID_INVALID;
    } else if ((flags & CKF_SERIAL_SESSION) == 0) {
        rv = CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    } else if ((rv = object_ensure_fresh()) == CKR_OK) {
        rv = session_open(flags, ret);
    }
    module_leave();
    return rv;
}

CK_RV C_CloseSession(CK_SESSION_HANDLE hs)
{
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    rv = session_close(hs);
    module_leave();
    return rv;
}

CK_RV C_CloseAllSessions(CK_SLOT_ID id)
{
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (id != SLOT_ID) {
        rv = CKR_SLOT_ID_INVALID;
    } else {
        session_close_all();
        atomic_store(&is_logged_in, false); /* §5.6: login ends with the last session */
    }
    module_leave();
    return rv;
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hs, CK_SESSION_INFO_PTR info)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (info == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        info->slotID = SLOT_ID;
        info->state = session_state(s);
        info->flags = s->flags;
        info->ulDeviceError = 0;
        session_release(s);
    }
    module_leave();
    return rv;
}

/* The PIN is not a secret here (identity comes from attestation): any PIN logs in. */
static CK_RV login(CK_SESSION_HANDLE hs, CK_USER_TYPE user)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if ((rv = session_acquire(hs, &s)) != CKR_OK) {
        goto out;
    }
    session_release(s);
    if (user == CKU_CONTEXT_SPECIFIC) {
        rv = CKR_OK;
    } else if (user != CKU_USER) {
        rv = CKR_USER_TYPE_INVALID;
    } else if (atomic_exchange(&is_logged_in, true)) {
        rv = CKR_USER_ALREADY_LOGGED_IN;
    }
out:
    module_leave();
    return rv;
}

CK_RV C_Login(CK_SESSION_HANDLE hs, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    (void)pin, (void)pin_len;
    return login(hs, user);
}

/* 3.0 §5.6: the user name, like the PIN, is not what grants access here. */
CK_RV C_LoginUser(CK_SESSION_HANDLE hs, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                  CK_UTF8CHAR_PTR username, CK_ULONG username_len)
{
    (void)pin, (void)pin_len, (void)username, (void)username_len;
    return login(hs, user);
}

CK_RV C_Logout(CK_SESSION_HANDLE hs)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        session_release(s);
        rv = atomic_exchange(&is_logged_in, false) ? CKR_OK : CKR_USER_NOT_LOGGED_IN;
    }
    module_leave();
    return rv;
}

/*
 * 3.0 §5.6 C_SessionCancel: end the session's operations named in flags.
 * Operations that are not active, and flags for operations this module never
 * offers, are nothing to cancel. Ending one is always possible: the session
 * lock is held, so no call of that session is in flight.
 */
CK_RV C_SessionCancel(CK_SESSION_HANDLE hs, CK_FLAGS flags)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        if ((flags & CKF_SIGN) != 0) {
            session_sign_end(&s->sign);
        }
        if ((flags & CKF_VERIFY) != 0) {
            session_sign_end(&s->verify);
        }
        if ((flags & CKF_DIGEST) != 0) {
            session_digest_end(&s->digest);
        }
        if ((flags & P11_CKF_FIND_OBJECTS) != 0) {
            session_find_end(&s->find);
        }
        session_release(s);
    }
    module_leave();
    return rv;
}
