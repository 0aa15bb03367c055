/*
 * The enrollment protocol on the CA side, independent of HTTP: a request
 * (path and body) goes in, a status and a JSON body come out. Every refusal
 * is recorded in the store's event log; refusals after the EK certificate
 * was verified mark the host "refused" until an admin clears it, and
 * nothing is written to the host record before the final step succeeds.
 */
#ifndef AGENTD_ATTEST_CA_H
#define AGENTD_ATTEST_CA_H

#include <stddef.h>

#include "ca_conf.h"
#include "err.h"
#include "peercert.h"
#include "store.h"

struct ca;

/* Enrollments and workload requests in progress at once; more get 503. */
#define CA_SESSIONS_MAX 10000

/* The server's answer. body is malloc'd JSON (the caller frees). */
struct ca_reply {
    int status; /* HTTP status: 200, 400, 401, 403, 404, 413, 500, 503 */
    char *body;
};

/*
 * Build a CA from a validated configuration: opens the store, loads the EK
 * roots and the CA key. conf is copied. On AD_ERR_CONFIG/AD_ERR_SYSTEM,
 * ret_err (cap bytes) says which part failed.
 */
AD_MUST_CHECK int ca_new(const struct ca_conf *conf, struct ca **ret, char *ret_err, size_t cap);
void ca_free(struct ca *ca);

/* The store (borrowed), for the admin commands. */
struct store *ca_store(struct ca *ca);

/* The trust bundle (CA certificate) as PEM, borrowed. */
const char *ca_bundle_pem(const struct ca *ca);

/*
 * Handle one request. path is the URL path ("/v1/enroll/start", ...), body
 * the raw request body (len bytes, not NUL-terminated, at most
 * MSG_BODY_MAX or the reply is 413), peer a printable peer address for the
 * event log, client the TLS client certificate (borrowed; NULL: none).
 * With tls_require_host_cert, the requests of an enrolled host
 * (/v1/svid/challenge, /v1/svid) need a client certificate naming that
 * host: none or an invalid one is 401, another identity 403, both recorded.
 * Always fills *ret (status 500 with a NULL body only when memory ran out).
 */
void ca_handle(struct ca *ca, const char *path, const char *body, size_t len, const char *peer,
               const struct peercert *client, struct ca_reply *ret);

#endif
