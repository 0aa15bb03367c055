#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "module.h"

#define SESSIONS_MAX 1024

/* Guarded by the module mutex. */
static struct session *table[SESSIONS_MAX];

static void session_free(struct session *s)
{
    if (s == NULL) {
        return;
    }
    session_sign_end(&s->sign);
    session_sign_end(&s->verify);
    session_digest_end(&s->digest);
    session_find_end(&s->find);
    module_mutex_free(s->op_lock);
    free(s);
}

CK_RV session_open(CK_FLAGS flags, CK_SESSION_HANDLE *ret_handle)
{
    struct session *s;
    size_t i;
    CK_RV rv;

    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return CKR_HOST_MEMORY;
    }
    if ((rv = module_mutex_new(&s->op_lock)) != CKR_OK) {
        free(s);
        return rv;
    }
    s->flags = flags;
    module_lock();
    for (i = 0; i < SESSIONS_MAX && table[i] != NULL; i++) {
    }
    if (i < SESSIONS_MAX) {
        s->handle = module_next_handle();
        table[i] = s;
        *ret_handle = s->handle;
    }
    module_unlock();
    if (i == SESSIONS_MAX) {
        session_free(s);
        return CKR_SESSION_COUNT;
    }
    return CKR_OK;
}

/* Remove table slot i; free now unless a call still holds it (module mutex held). */
static struct session *unlink_slot(size_t i)
{
    struct session *s = table[i];

    table[i] = NULL;
    s->is_closed = true;
    return s->refs == 0 ? s : NULL;
}

CK_RV session_close(CK_SESSION_HANDLE h)
{
    struct session *dead = NULL;
    size_t i;

    module_lock();
    for (i = 0; i < SESSIONS_MAX; i++) {
        if (table[i] != NULL && table[i]->handle == h) {
            break;
        }
    }
    if (i < SESSIONS_MAX) {
        dead = unlink_slot(i);
    }
    module_unlock();
    session_free(dead);
    return i < SESSIONS_MAX ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
}

void session_close_all(void)
{
    struct session *dead[SESSIONS_MAX];
    size_t i, n = 0;

    module_lock();
    for (i = 0; i < SESSIONS_MAX; i++) {
        if (table[i] != NULL && (dead[n] = unlink_slot(i)) != NULL) {
            n++;
        }
    }
    module_unlock();
    for (i = 0; i < n; i++) {
        session_free(dead[i]);
    }
}

CK_RV session_acquire(CK_SESSION_HANDLE h, struct session **ret)
{
    struct session *s = NULL;
    size_t i;

    module_lock();
    for (i = 0; i < SESSIONS_MAX && s == NULL; i++) {
        if (table[i] != NULL && table[i]->handle == h) {
            s = table[i];
            s->refs++;
        }
    }
    module_unlock();
    if (s == NULL) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    module_mutex_lock(s->op_lock);
    *ret = s;
    return CKR_OK;
}

void session_release(struct session *s)
{
    bool is_dead;

    module_mutex_unlock(s->op_lock);
    module_lock();
    s->refs--;
    is_dead = s->is_closed && s->refs == 0;
    module_unlock();
    if (is_dead) {
        session_free(s);
    }
}

CK_STATE session_state(const struct session *s)
{
    bool is_rw = (s->flags & CKF_RW_SESSION) != 0;

    if (module_is_logged_in()) {
        return is_rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    }
    return is_rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
}

void session_count(CK_ULONG *ret_all, CK_ULONG *ret_rw)
{
    CK_ULONG all = 0, rw = 0;
    size_t i;

    module_lock();
    for (i = 0; i < SESSIONS_MAX; i++) {
        if (table[i] != NULL) {
            all++;
            rw += (table[i]->flags & CKF_RW_SESSION) != 0 ? 1 : 0;
        }
    }
    module_unlock();
    *ret_all = all;
    *ret_rw = rw;
}

CK_RV session_accumulate(uint8_t **buf, size_t *buf_len, const uint8_t *data, size_t len,
                         size_t max)
{
    if (len > max || *buf_len > max - len) {
        return CKR_DATA_LEN_RANGE;
    }
    if (*buf == NULL && (*buf = malloc(max)) == NULL) {
        return CKR_HOST_MEMORY;
    }
    if (len > 0) {
        memcpy(*buf + *buf_len, data, len);
    }
    *buf_len += len;
    return CKR_OK;
}

void session_sign_end(struct sign_op *op)
{
    free(op->data);
    memset(op, 0, sizeof(*op));
}

void session_digest_end(struct digest_op *op)
{
    free(op->data);
    memset(op, 0, sizeof(*op));
}

void session_find_end(struct find_op *op)
{
    free(op->found);
    memset(op, 0, sizeof(*op));
}

void session_clear(bool is_child)
{
    size_t i;

    if (!is_child) {
        session_close_all();
        return;
    }
    /* After fork the parent's sessions are not ours; their locks may be held. */
    for (i = 0; i < SESSIONS_MAX; i++) {
        if (table[i] != NULL) {
            session_sign_end(&table[i]->sign);
            session_sign_end(&table[i]->verify);
            session_digest_end(&table[i]->digest);
            session_find_end(&table[i]->find);
            free(table[i]);
            table[i] = NULL;
        }
    }
}
