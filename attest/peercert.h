/*
 * The TLS client's identity as agentd-ca sees it: the certificate a host
 * presented, the result of verifying it against the CA's own certificate(s),
 * and its one URI SAN. Pure (no I/O): ca_http.c fills it from the connection,
 * ca.c checks it against the host a request names.
 */
#ifndef AGENTD_ATTEST_PEERCERT_H
#define AGENTD_ATTEST_PEERCERT_H

#include <stddef.h>

#include <openssl/x509.h>

#include "svid.h"

enum peercert_state {
    PEERCERT_NONE = 0, /* no client certificate */
    PEERCERT_INVALID,  /* presented, but did not verify or has no single URI SAN */
    PEERCERT_VALID,    /* verified; id holds its URI SAN */
};

struct peercert {
    enum peercert_state state;
    char why[128];            /* PEERCERT_INVALID: what is wrong */
    char id[SVID_ID_MAX + 1]; /* PEERCERT_VALID: the URI SAN */
};

/* What peercert_check_host found. */
enum peercert_verdict {
    PEERCERT_IS_HOST = 0,     /* the certificate names exactly this host */
    PEERCERT_UNAUTHENTICATED, /* none, or invalid: HTTP 401 */
    PEERCERT_OTHER_HOST,      /* valid, but another identity: HTTP 403 */
};

/*
 * Fill *ret from cert (borrowed; NULL: none presented) and verify_result
 * (SSL_get_verify_result, X509_V_OK when it verified). A verified
 * certificate must carry exactly one subjectAltName, a URI of at most
 * SVID_ID_MAX bytes without NUL; otherwise it is PEERCERT_INVALID.
 */
void peercert_from_x509(X509 *cert, long verify_result, struct peercert *ret);

/*
 * Is p the host host_id of trust_domain: its URI SAN exactly
 * "spiffe://<trust_domain>/host/<host_id>"? why (cap bytes) receives the
 * reason for any other verdict.
 */
enum peercert_verdict peercert_check_host(const struct peercert *p, const char *trust_domain,
                                          const char *host_id, char *why, size_t cap);

#endif
