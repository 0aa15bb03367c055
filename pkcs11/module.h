/*
 * Module-wide state shared by the PKCS#11 areas: lifecycle (initialized, fork
 * generation, calls in flight), the module mutex (the application's callbacks
 * or pthread, per CK_C_INITIALIZE_ARGS) and debug logging.
 */
#ifndef AGENTD_PKCS11_MODULE_H
#define AGENTD_PKCS11_MODULE_H

#include <stdbool.h>

#include <p11-kit/pkcs11.h>

/*
 * Enter an entry point: CKR_CRYPTOKI_NOT_INITIALIZED when the module is not
 * initialized in this fork generation, else CKR_OK and the call is counted
 * until module_leave() so C_Finalize can wait for it.
 */
CK_RV module_enter(void);
void module_leave(void);

/* The module mutex guards the session and object tables; never hold it across I/O. */
void module_lock(void);
void module_unlock(void);

/* A mutex of the kind C_Initialize chose (for per-session operation locks). */
CK_RV module_mutex_new(void **ret_mutex);
void module_mutex_free(void *mutex);
void module_mutex_lock(void *mutex);
void module_mutex_unlock(void *mutex);

/* Next handle from the one counter shared by sessions and objects (starts at 1). */
CK_ULONG module_next_handle(void);

/* True while initialized in this fork generation (false once C_Finalize has begun). */
bool module_is_live(void);

/* True while the caller holds a login (token-wide, per PKCS#11). */
bool module_is_logged_in(void);

/* printf-style debug line on stderr, only when AGENTD_PKCS11_DEBUG is set. */
void module_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
