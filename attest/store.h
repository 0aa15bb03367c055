/*
 * agentd-ca state behind a small interface: hosts (with the reason a host was
 * refused), enrollment sessions, and an event record of every refusal.
 * SQLite is the default backend (store_sqlite.c); a PostgreSQL backend would
 * fill the same struct store_ops.
 */
#ifndef AGENTD_ATTEST_STORE_H
#define AGENTD_ATTEST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg.h"

#define STORE_REASON_MAX 255
#define STORE_SIGNER_MAX (2 + 64) /* a TPM name: nameAlg and digest (QUOTE_SIGNER_MAX) */

/* Host states. Only "enrolled" hosts hold a certificate; "refused" and
 * "removed" hosts are refused until an admin clears them. */
#define STORE_ENROLLED "enrolled"
#define STORE_REFUSED "refused"
#define STORE_REMOVED "removed"

struct store_host {
    char id[65]; /* hex SHA-256 of the EK SubjectPublicKeyInfo */
    char status[16];
    char reason[STORE_REASON_MAX + 1];
    char host_class[MSG_HOST_CLASS_MAX + 1];
    int64_t created;
    int64_t updated;
    int has_clock; /* the last accepted quote's clock (replay/rollback checks) */
    uint64_t clock;
    uint32_t reset_count;
    uint32_t restart_count;
    /* That quote's qualifiedSigner (its AK): the counters compare only between
     * quotes by one AK. Empty for a clock stored before schema 4. */
    uint8_t clock_signer[STORE_SIGNER_MAX];
    size_t clock_signer_len;
    int64_t cert_not_after;        /* host certificate expiry, 0 if none */
    uint8_t ak_pub[MSG_TPM2B_MAX]; /* the enrolled AK (TPM2B_PUBLIC); signs workload certifies */
    size_t ak_pub_len;
};

/*
 * An enrollment in progress. step: 1 awaits activation, 2 a quote, 3 a
 * certify; 4 is a workload certificate request awaiting its certify.
 */
struct store_session {
    char id[MSG_SESSION_LEN + 1];
    char host_id[65];
    char host_class[MSG_HOST_CLASS_MAX + 1];
    int step;
    int64_t expires;
    uint8_t secret_hash[32]; /* SHA-256 of the credential secret, never the secret */
    uint8_t nonce[MSG_NONCE_LEN];
    uint8_t ak_pub[MSG_TPM2B_MAX];
    size_t ak_pub_len;
    int has_clock; /* the accepted quote's clock, written to the host at the end */
    uint64_t clock;
    uint32_t reset_count;
    uint32_t restart_count;
    uint8_t clock_signer[STORE_SIGNER_MAX]; /* as in struct store_host */
    size_t clock_signer_len;
};

struct store;

struct store_ops {
    int (*host_get)(struct store *s, const char *id, struct store_host *ret);
    int (*host_put)(struct store *s, const struct store_host *h);
    int (*host_delete)(struct store *s, const char *id);
    int (*host_list)(struct store *s, int (*fn)(const struct store_host *h, void *arg), void *arg);
    int (*session_put)(struct store *s, const struct store_session *ss);
    int (*session_get)(struct store *s, const char *id, struct store_session *ret);
    int (*session_delete)(struct store *s, const char *id);
    int (*session_gc)(struct store *s, int64_t now, size_t *ret_live);
    int (*event_add)(struct store *s, const char *host_id, const char *what, const char *reason);
    int (*event_list)(struct store *s, const char *host_id,
                      int (*fn)(int64_t at, const char *what, const char *reason, void *arg),
                      void *arg);
    void (*close)(struct store *s);
};

struct store {
    const struct store_ops *ops;
};

/*
 * Open the store named by uri: "sqlite:PATH" or a plain path (SQLite). The
 * schema is created or migrated to the current version. AD_ERR_SYSTEM if the
 * database cannot be opened; AD_ERR_CORRUPT if its schema is newer than ours.
 */
AD_MUST_CHECK int store_open(const char *uri, struct store **ret);
AD_MUST_CHECK int store_sqlite_open(const char *path, struct store **ret);
void store_close(struct store *s); /* NULL-tolerant */

/* AD_ERR_NOT_FOUND when absent. */
AD_MUST_CHECK int store_host_get(struct store *s, const char *id, struct store_host *ret);
AD_MUST_CHECK int store_host_put(struct store *s, const struct store_host *h);
AD_MUST_CHECK int store_host_delete(struct store *s, const char *id);
AD_MUST_CHECK int store_host_list(struct store *s, int (*fn)(const struct store_host *h, void *arg),
                                  void *arg);
AD_MUST_CHECK int store_session_put(struct store *s, const struct store_session *ss);
AD_MUST_CHECK int store_session_get(struct store *s, const char *id, struct store_session *ret);
AD_MUST_CHECK int store_session_delete(struct store *s, const char *id);
/* Delete sessions expired before now; *ret_live counts the others. */
AD_MUST_CHECK int store_session_gc(struct store *s, int64_t now, size_t *ret_live);
AD_MUST_CHECK int store_event_add(struct store *s, const char *host_id, const char *what,
                                  const char *reason);

/* The events recorded for host_id, oldest first. */
AD_MUST_CHECK int
store_event_list(struct store *s, const char *host_id,
                 int (*fn)(int64_t at, const char *what, const char *reason, void *arg), void *arg);

#endif
