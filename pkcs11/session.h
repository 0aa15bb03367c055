/*
 * The session table and each session's operation state. A session is
 * acquired for the length of one call: the table lookup happens under the
 * module mutex, then the session's own operation lock is held so two threads
 * cannot interleave C_SignUpdate on one session. C_CloseSession from another
 * thread marks the session closed; the last holder frees it.
 */
#ifndef AGENTD_PKCS11_SESSION_H
#define AGENTD_PKCS11_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "client.h"
#include "object.h"

/* A signing or verifying operation: key copied out, input accumulated. */
struct sign_op {
    bool is_active;
    bool is_multi; /* C_*Update was called: C_Sign/C_Verify no longer allowed */
    struct object_key key;
    CK_MECHANISM_TYPE mech;
    struct client_pss pss;
    uint8_t *data; /* up to SIGN_INPUT_MAX */
    size_t len;
};

struct digest_op {
    bool is_active;
    bool is_multi;
    CK_MECHANISM_TYPE mech;
    size_t out_len;
    uint8_t *data;
    size_t len;
};

struct find_op {
    bool is_active;
    CK_OBJECT_HANDLE *found;
    CK_ULONG n;
    CK_ULONG pos;
};

struct session {
    CK_SESSION_HANDLE handle;
    CK_FLAGS flags;
    void *op_lock;
    int refs;       /* module mutex */
    bool is_closed; /* module mutex */
    struct sign_op sign;
    struct sign_op verify;
    struct digest_op digest;
    struct find_op find;
};

/* C_OpenSession: a new session with flags; *ret_handle set. */
CK_RV session_open(CK_FLAGS flags, CK_SESSION_HANDLE *ret_handle);

/* C_CloseSession / C_CloseAllSessions. */
CK_RV session_close(CK_SESSION_HANDLE h);
void session_close_all(void);

/* Look up h and hold it (with its operation lock) until session_release(). */
CK_RV session_acquire(CK_SESSION_HANDLE h, struct session **ret);
void session_release(struct session *s);

/* CK_SESSION_INFO state for s given the login state. */
CK_STATE session_state(const struct session *s);

/* Count of open sessions and read-write ones. */
void session_count(CK_ULONG *ret_all, CK_ULONG *ret_rw);

/* Append len bytes to an accumulating buffer of at most max bytes (CKR_DATA_LEN_RANGE). */
CK_RV session_accumulate(uint8_t **buf, size_t *buf_len, const uint8_t *data, size_t len,
                         size_t max);

/* End a sign/verify/digest/find operation, freeing its input. */
void session_sign_end(struct sign_op *op);
void session_digest_end(struct digest_op *op);
void session_find_end(struct find_op *op);

/* Forget every session (C_Finalize; is_child: after fork, without locking). */
void session_clear(bool is_child);

#endif
