#include "ca.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "ekcert.h"
#include "makecred.h"
#include "msg.h"
#include "quote.h"
#include "svid.h"
#include "tpms.h"

/* A quote's signer is stored as is (handle_quote, finish). */
_Static_assert(STORE_SIGNER_MAX == QUOTE_SIGNER_MAX, "store and quote disagree on a TPM name");

struct ca {
    struct ca_conf conf;
    struct store *store;
    struct ekcert_roots *roots;
    struct svid_ca *signer;
    char *bundle_pem;
};

struct store *ca_store(struct ca *ca)
{
    return ca->store;
}

const char *ca_bundle_pem(const struct ca *ca)
{
    return ca->bundle_pem;
}

void ca_free(struct ca *ca)
{
    if (ca == NULL) {
        return;
    }
    store_close(ca->store);
    ekcert_roots_free(ca->roots);
    svid_ca_free(ca->signer);
    free(ca->bundle_pem);
    free(ca);
}

static char *cert_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    long n;

    if (b != NULL && PEM_write_bio_X509(b, x) == 1 && (n = BIO_get_mem_data(b, &data)) > 0) {
        out = strndup(data, (size_t)n);
    }
    BIO_free(b);
    return out;
}

int ca_new(const struct ca_conf *conf, struct ca **ret, char *ret_err, size_t cap)
{
    struct ca *ca = calloc(1, sizeof(*ca));
    int r;

    if (ca == NULL) {
        return AD_ERR_NOMEM;
    }
    ca->conf = *conf;
    if ((r = store_open(conf->database, &ca->store)) != AD_OK) {
        snprintf(ret_err, cap, "database %s: %s", conf->database, ad_strerror(r));
        goto out;
    }
    if ((r = ekcert_roots_load(conf->ek_roots, &ca->roots)) != AD_OK) {
        snprintf(ret_err, cap, "ek_roots %s: %s", conf->ek_roots, ad_strerror(r));
        goto out;
    }
    if ((r = svid_ca_load(conf->ca_cert, conf->ca_key, conf->pkcs11_module, &ca->signer)) !=
        AD_OK) {
        snprintf(ret_err, cap, "ca_cert/ca_key: %s (a CA certificate and its key)", ad_strerror(r));
        goto out;
    }
    if ((ca->bundle_pem = cert_pem(svid_ca_cert(ca->signer))) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    *ret = ca;
    ca = NULL;
    r = AD_OK;
out:
    ca_free(ca);
    return r;
}

/* Store failures here cannot change the answer; they are logged. */
static void drop_session(struct ca *ca, const char *id)
{
    int r = store_session_delete(ca->store, id);

    if (r != AD_OK && r != AD_ERR_NOT_FOUND) {
        fprintf(stderr, "agentd-ca: could not delete a session: %s\n", ad_strerror(r));
    }
}

static void record(struct ca *ca, const char *host_id, const char *what, const char *reason)
{
    if (store_event_add(ca->store, host_id, what, reason) != AD_OK) {
        fprintf(stderr, "agentd-ca: could not record event: %s: %s\n", what, reason);
    }
}

static void reply_error(struct ca_reply *ret, int status, const char *error, const char *reason)
{
    ret->status = status;
    if (msg_encode(&ret->body, "error", 's', error, "reason", 's', reason, MSG_END) != AD_OK) {
        ret->status = 500;
        ret->body = NULL;
    }
}

/* Record a refusal; when lock is set the host stays refused until an admin clears it. */
static void refuse(struct ca *ca, const char *host_id, const char *host_class, int lock,
                   const char *peer, const char *reason, struct ca_reply *ret)
{
    struct store_host h;
    char what[96];

    snprintf(what, sizeof(what), "refused (peer %s)", peer);
    record(ca, host_id, what, reason);
    if (lock && host_id != NULL && host_id[0] != '\0') {
        if (store_host_get(ca->store, host_id, &h) != AD_OK) {
            memset(&h, 0, sizeof(h));
            snprintf(h.id, sizeof(h.id), "%s", host_id);
            h.created = (int64_t)time(NULL);
        }
        snprintf(h.status, sizeof(h.status), "%s", STORE_REFUSED);
        snprintf(h.reason, sizeof(h.reason), "%s", reason);
        snprintf(h.host_class, sizeof(h.host_class), "%s", host_class != NULL ? host_class : "");
        h.updated = (int64_t)time(NULL);
        if (store_host_put(ca->store, &h) != AD_OK) {
            fprintf(stderr, "agentd-ca: could not mark %s refused\n", host_id);
        }
    }
    fprintf(stderr, "agentd-ca: refused host %s (peer %s): %s\n",
            host_id != NULL && host_id[0] ? host_id : "-", peer, reason);
    reply_error(ret, 403, "refused", reason);
}

static void bad_request(struct ca *ca, int r, const char *peer, struct ca_reply *ret)
{
    const char *why =
        r == AD_ERR_TOO_LARGE ? "a field or the body is too large" : "malformed request body";
    char what[96];

    snprintf(what, sizeof(what), "bad request (peer %s)", peer);
    record(ca, "", what, why);
    fprintf(stderr, "agentd-ca: bad request from %s: %s\n", peer, why);
    reply_error(ret, r == AD_ERR_TOO_LARGE ? 413 : 400, "bad_request", why);
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Every session costs a row: expired ones go, and live ones are capped. */
static int session_room(struct ca *ca, struct ca_reply *ret)
{
    size_t live = 0;

    if (store_session_gc(ca->store, (int64_t)time(NULL), &live) != AD_OK) {
        reply_error(ret, 500, "internal", "store unavailable");
        return 0;
    }
    if (live >= CA_SESSIONS_MAX) {
        reply_error(ret, 503, "busy", "too many enrollments in progress; retry later");
        return 0;
    }
    return 1;
}

/*
 * A host refused or removed earlier stays refused until "agentd-ca admin
 * clear". 1: blocked, 0: not, -1: its record cannot be read (why says so):
 * the caller refuses for now rather than let a possibly refused host in.
 */
static int host_blocked(struct ca *ca, const char *host_id, char *why, size_t cap)
{
    struct store_host h;
    int r = store_host_get(ca->store, host_id, &h);

    if (r == AD_ERR_NOT_FOUND) {
        return 0;
    }
    if (r != AD_OK) {
        snprintf(why, cap, "cannot read the host record (%s); try again later", ad_strerror(r));
        return -1;
    }
    if (strcmp(h.status, STORE_REFUSED) != 0 && strcmp(h.status, STORE_REMOVED) != 0) {
        return 0;
    }
    snprintf(why, cap, "host was %s earlier (%.160s); an admin must clear it", h.status, h.reason);
    return 1;
}

/*
 * mTLS (tls_require_host_cert): the request of an enrolled host must come
 * over a connection whose client certificate is that host's. Refused
 * requests are recorded under the host they name but never lock it: the
 * requester is not authenticated, so locking would let anyone lock out any
 * host. Returns 1 when the request may go on.
 */
static int client_is_host(struct ca *ca, const struct peercert *client, const char *host_id,
                          const char *peer, struct ca_reply *ret)
{
    static const struct peercert none = {.state = PEERCERT_NONE};
    enum peercert_verdict v;
    char why[STORE_REASON_MAX + 1], what[96];

    if (!ca->conf.tls_require_host_cert) {
        return 1;
    }
    v = peercert_check_host(client != NULL ? client : &none, ca->conf.trust_domain, host_id, why,
                            sizeof(why));
    if (v == PEERCERT_IS_HOST) {
        return 1;
    }
    snprintf(what, sizeof(what), "refused (peer %s)", peer);
    record(ca, host_id, what, why);
    fprintf(stderr, "agentd-ca: refused host %s (peer %s): %s\n", host_id, peer, why);
    if (v == PEERCERT_UNAUTHENTICATED) {
        reply_error(ret, 401, "unauthenticated", why);
    } else {
        reply_error(ret, 403, "refused", why);
    }
    return 0;
}

/* The host is enrolled now (not refused, removed or unknown); *ret its record. */
static int host_enrolled(struct ca *ca, const char *host_id, struct store_host *ret)
{
    return store_host_get(ca->store, host_id, ret) == AD_OK &&
           strcmp(ret->status, STORE_ENROLLED) == 0 && ret->ak_pub_len > 0;
}

struct start_ctx {
    TPM2B_PUBLIC ek, ak;
    char host_id[65];
    uint8_t secret[32];
    size_t secret_len; /* 32, or the EK nameAlg's digest size if smaller (SHA-1 EKs) */
    uint8_t *blob, *enc;
    size_t blob_len, enc_len;
};

/* Part 3 §12.6: the credential is at most the EK nameAlg's digest size. */
static size_t secret_size(const TPMT_PUBLIC *ek)
{
    const EVP_MD *md = tpms_md(ek->nameAlg);
    int n = md != NULL ? EVP_MD_get_size(md) : 0;

    return n <= 0 ? 0 : n < 32 ? (size_t)n : 32;
}

/* Checks of step 1 that do not involve the store; returns a refusal reason or NULL. */
static const char *start_checks(struct ca *ca, const struct msg_start *m, struct start_ctx *s,
                                int *ret_lock)
{
    uint8_t name[TPMS_NAME_MAX];
    size_t name_len = 0;
    const char *reason = NULL;

    *ret_lock = 0;
    if (ekcert_verify(ca->roots, m->ek_cert.data, m->ek_cert.len, &s->ek.publicArea, &reason) !=
        AD_OK) {
        return reason;
    }
    /* From here the EK is vouched for by its vendor: refusals lock the host. */
    *ret_lock = 1;
    if (ca_conf_class(&ca->conf, m->host_class) == NULL) {
        return "unknown host class";
    }
    if (tpms_check_ak(&s->ak.publicArea) != AD_OK) {
        return "AK is not a restricted signing key bound to its TPM";
    }
    if (tpms_public_name(&s->ak.publicArea, name, &name_len) != AD_OK ||
        (s->secret_len = secret_size(&s->ek.publicArea)) == 0 ||
        RAND_bytes(s->secret, (int)s->secret_len) != 1 ||
        makecred_make(&s->ek.publicArea, name, name_len, s->secret, s->secret_len, &s->blob,
                      &s->blob_len, &s->enc, &s->enc_len) != AD_OK) {
        *ret_lock = 0;
        return "cannot make a credential for this EK";
    }
    return NULL;
}

static void handle_start(struct ca *ca, const char *body, size_t len, const char *peer,
                         const struct peercert *client, struct ca_reply *ret)
{
    struct msg_start m;
    struct start_ctx s;
    struct store_session ss;
    uint8_t sid[16];
    char why[STORE_REASON_MAX + 1];
    const char *reason;
    int r, lock = 0;

    (void)client; /* enrollment needs no client certificate */

    memset(&s, 0, sizeof(s));
    memset(&ss, 0, sizeof(ss));
    if ((r = msg_start_decode(body, len, &m)) != AD_OK ||
        (r = tpms_public_decode(m.ek_pub.data, m.ek_pub.len, &s.ek)) != AD_OK ||
        (r = tpms_public_decode(m.ak_pub.data, m.ak_pub.len, &s.ak)) != AD_OK ||
        (r = ekcert_host_id(&s.ek.publicArea, s.host_id)) != AD_OK) {
        bad_request(ca, r == AD_ERR_TOO_LARGE ? r : AD_ERR_FORMAT, peer, ret);
        goto out;
    }
    if ((r = host_blocked(ca, s.host_id, why, sizeof(why))) < 0) {
        fprintf(stderr, "agentd-ca: host %s (peer %s): %s\n", s.host_id, peer, why);
        reply_error(ret, 503, "unavailable", why);
        goto out;
    }
    if (r > 0) {
        refuse(ca, s.host_id, m.host_class, 0, peer, why, ret);
        goto out;
    }
    if (!session_room(ca, ret)) {
        goto out;
    }
    if ((reason = start_checks(ca, &m, &s, &lock)) != NULL) {
        refuse(ca, s.host_id, m.host_class, lock, peer, reason, ret);
        goto out;
    }
    if (RAND_bytes(sid, sizeof(sid)) != 1) {
        reply_error(ret, 500, "internal", "no randomness");
        goto out;
    }
    to_hex(sid, sizeof(sid), ss.id);
    memcpy(ss.host_id, s.host_id, sizeof(ss.host_id));
    memcpy(ss.host_class, m.host_class, sizeof(ss.host_class));
    ss.step = 1;
    ss.expires = (int64_t)time(NULL) + ca->conf.session_timeout;
    memcpy(ss.ak_pub, m.ak_pub.data, m.ak_pub.len);
    ss.ak_pub_len = m.ak_pub.len;
    /* Keep only a hash of the secret: the answer is compared against it. */
    if (EVP_Digest(s.secret, s.secret_len, ss.secret_hash, NULL, EVP_sha256(), NULL) != 1 ||
        store_session_put(ca->store, &ss) != AD_OK ||
        msg_encode(&ret->body, "session", 's', ss.id, "credential_blob", 'b', s.blob, s.blob_len,
                   "encrypted_secret", 'b', s.enc, s.enc_len, MSG_END) != AD_OK) {
        reply_error(ret, 500, "internal", "cannot store the session");
        goto out;
    }
    ret->status = 200;
out:
    OPENSSL_cleanse(s.secret, sizeof(s.secret));
    OPENSSL_cleanse(&ss, sizeof(ss));
    free(s.blob);
    free(s.enc);
    msg_start_clear(&m);
}

/*
 * Fetch the session and check it is live and at the expected step. A
 * session at another step means a replayed or out-of-order answer: the
 * session ends and the host is refused.
 */
static int session_at(struct ca *ca, const char *id, int step, const char *peer,
                      struct store_session *ss, struct ca_reply *ret)
{
    if (store_session_get(ca->store, id, ss) != AD_OK) {
        char what[96];
        snprintf(what, sizeof(what), "unknown session (peer %s)", peer);
        record(ca, "", what, "unknown, finished or expired session");
        reply_error(ret, 404, "unknown_session", "unknown, finished or expired session");
        return 0;
    }
    if (ss->expires < (int64_t)time(NULL)) {
        drop_session(ca, id);
        refuse(ca, ss->host_id, ss->host_class, 0, peer, "enrollment session expired", ret);
        return 0;
    }
    if (ss->step != step) {
        drop_session(ca, id);
        refuse(ca, ss->host_id, ss->host_class, 1, peer,
               "answer replayed or out of order for this session", ret);
        return 0;
    }
    return 1;
}

static void fail_session(struct ca *ca, struct store_session *ss, const char *peer,
                         const char *reason, struct ca_reply *ret)
{
    drop_session(ca, ss->id);
    refuse(ca, ss->host_id, ss->host_class, 1, peer, reason, ret);
}

static void handle_activate(struct ca *ca, const char *body, size_t len, const char *peer,
                            const struct peercert *client, struct ca_reply *ret)
{
    const struct ca_conf_class *cls;
    struct msg_activate m;
    struct store_session ss;
    uint8_t digest[32];
    unsigned pcrs[QUOTE_PCR_COUNT];
    size_t n = 0, i;
    int r;

    (void)client; /* enrollment needs no client certificate */

    if ((r = msg_activate_decode(body, len, &m)) != AD_OK) {
        bad_request(ca, r, peer, ret);
        return;
    }
    if (!session_at(ca, m.session, 1, peer, &ss, ret)) {
        goto out;
    }
    if (EVP_Digest(m.secret.data, m.secret.len, digest, NULL, EVP_sha256(), NULL) != 1 ||
        CRYPTO_memcmp(digest, ss.secret_hash, sizeof(digest)) != 0) {
        fail_session(ca, &ss, peer,
                     "credential activation failed: the AK is not in the TPM that owns the EK",
                     ret);
        goto out;
    }
    cls = ca_conf_class(&ca->conf, ss.host_class);
    if (cls == NULL || RAND_bytes(ss.nonce, sizeof(ss.nonce)) != 1) {
        fail_session(ca, &ss, peer, "host class no longer configured", ret);
        goto out;
    }
    for (i = 0; i < QUOTE_PCR_COUNT; i++) {
        if ((cls->pcrs.mask >> i) & 1u) {
            pcrs[n++] = (unsigned)i;
        }
    }
    ss.step = 2;
    if (store_session_put(ca->store, &ss) != AD_OK ||
        msg_encode(&ret->body, "nonce", 'b', ss.nonce, sizeof(ss.nonce), "pcr_bank", 's', "sha256",
                   "pcrs", 'a', pcrs, n, MSG_END) != AD_OK) {
        reply_error(ret, 500, "internal", "cannot store the session");
        goto out;
    }
    ret->status = 200;
out:
    OPENSSL_cleanse(&ss, sizeof(ss));
    msg_activate_clear(&m);
}

static int session_ak(const struct store_session *ss, TPMT_PUBLIC *ret)
{
    TPM2B_PUBLIC pub;

    if (tpms_public_decode(ss->ak_pub, ss->ak_pub_len, &pub) != AD_OK) {
        return AD_ERR_CORRUPT;
    }
    *ret = pub.publicArea;
    return AD_OK;
}

static void handle_quote(struct ca *ca, const char *body, size_t len, const char *peer,
                         const struct peercert *client, struct ca_reply *ret)
{
    const struct ca_conf_class *cls;
    struct quote_clock clk, prev, *prevp = NULL;
    struct store_host h;
    struct msg_quote m;
    struct store_session ss;
    const char *reason = NULL;
    TPMT_PUBLIC ak;
    int r;

    (void)client; /* enrollment needs no client certificate */

    if ((r = msg_quote_decode(body, len, &m)) != AD_OK) {
        bad_request(ca, r, peer, ret);
        return;
    }
    if (!session_at(ca, m.session, 2, peer, &ss, ret)) {
        goto out;
    }
    if ((cls = ca_conf_class(&ca->conf, ss.host_class)) == NULL || session_ak(&ss, &ak) != AD_OK) {
        fail_session(ca, &ss, peer, "session state unusable", ret);
        goto out;
    }
    if (quote_verify(&ak, m.attest.data, m.attest.len, m.signature.data, m.signature.len, ss.nonce,
                     sizeof(ss.nonce), &cls->pcrs, &clk, &reason) != AD_OK) {
        fail_session(ca, &ss, peer, reason, ret);
        goto out;
    }
    /* Ordered against the host's last quote only when the same AK signed
     * both: a re-enrollment has a new AK and is fresh by our nonce alone
     * (quote.c, quote_check_clock). */
    if ((r = store_host_get(ca->store, ss.host_id, &h)) != AD_OK && r != AD_ERR_NOT_FOUND) {
        /* Fail closed: without the last quote there is nothing to order this one against. */
        fprintf(stderr, "agentd-ca: host %s (peer %s): cannot read the host record: %s\n",
                ss.host_id, peer, ad_strerror(r));
        reply_error(ret, 503, "unavailable", "cannot read the host record; try again later");
        goto out;
    }
    if (r == AD_OK && h.has_clock) {
        prev = (struct quote_clock){h.clock, h.reset_count, h.restart_count, {0}, 0};
        memcpy(prev.signer, h.clock_signer, h.clock_signer_len);
        prev.signer_len = h.clock_signer_len;
        prevp = &prev;
    }
    if (quote_check_clock(prevp, &clk, &reason) != AD_OK) {
        fail_session(ca, &ss, peer, reason, ret);
        goto out;
    }
    ss.has_clock = 1;
    ss.clock = clk.clock;
    ss.reset_count = clk.reset_count;
    ss.restart_count = clk.restart_count;
    memcpy(ss.clock_signer, clk.signer, clk.signer_len);
    ss.clock_signer_len = clk.signer_len;
    ss.step = 3;
    if (RAND_bytes(ss.nonce, sizeof(ss.nonce)) != 1 || store_session_put(ca->store, &ss) != AD_OK ||
        msg_encode(&ret->body, "nonce", 'b', ss.nonce, sizeof(ss.nonce), MSG_END) != AD_OK) {
        reply_error(ret, 500, "internal", "cannot store the session");
        goto out;
    }
    ret->status = 200;
out:
    OPENSSL_cleanse(&ss, sizeof(ss));
    msg_quote_clear(&m);
}

/* Issue a certificate for key with the SPIFFE ID id, as PEM (*ret_pem malloc'd). */
static int issue_pem(struct ca *ca, const TPMT_PUBLIC *key, const char *id, unsigned lifetime,
                     char **ret_pem)
{
    uint8_t *der = NULL;
    const uint8_t *p;
    size_t len = 0;
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    int r;

    if ((r = tpms_public_pkey(key, &pkey)) != AD_OK ||
        (r = svid_issue(ca->signer, ca->conf.trust_domain, id, pkey, lifetime, &der, &len)) !=
            AD_OK) {
        goto out;
    }
    p = der;
    r = AD_ERR_NOMEM;
    if ((x = d2i_X509(NULL, &p, (long)len)) != NULL && (*ret_pem = cert_pem(x)) != NULL) {
        r = AD_OK;
    }
out:
    X509_free(x);
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);
    return r;
}

/*
 * Issue the host certificate and make the host "enrolled", in that order.
 * AD_ERR_DENIED when an admin refused or removed the host while this
 * enrollment ran: that decision stands (a certify never overwrites it).
 */
static int finish(struct ca *ca, const struct store_session *ss, const TPMT_PUBLIC *key,
                  char **ret_body)
{
    char id[SVID_ID_MAX + 1], *pem = NULL;
    struct store_host h;
    int r;

    snprintf(id, sizeof(id), "spiffe://%s/host/%s", ca->conf.trust_domain, ss->host_id);
    if ((r = issue_pem(ca, key, id, ca->conf.host_lifetime, &pem)) != AD_OK) {
        goto out;
    }
    if ((r = store_host_get(ca->store, ss->host_id, &h)) == AD_ERR_NOT_FOUND) {
        memset(&h, 0, sizeof(h));
        memcpy(h.id, ss->host_id, sizeof(h.id));
        h.created = (int64_t)time(NULL);
    } else if (r != AD_OK) {
        goto out; /* a record we cannot read is not overwritten with a new one */
    } else if (strcmp(h.status, STORE_REFUSED) == 0 || strcmp(h.status, STORE_REMOVED) == 0) {
        r = AD_ERR_DENIED;
        goto out;
    }
    snprintf(h.status, sizeof(h.status), "%s", STORE_ENROLLED);
    h.reason[0] = '\0';
    memcpy(h.host_class, ss->host_class, sizeof(h.host_class));
    h.updated = (int64_t)time(NULL);
    h.has_clock = ss->has_clock;
    h.clock = ss->clock;
    h.reset_count = ss->reset_count;
    h.restart_count = ss->restart_count;
    memcpy(h.clock_signer, ss->clock_signer, ss->clock_signer_len);
    h.clock_signer_len = ss->clock_signer_len;
    h.cert_not_after = h.updated + ca->conf.host_lifetime;
    memcpy(h.ak_pub, ss->ak_pub, ss->ak_pub_len);
    h.ak_pub_len = ss->ak_pub_len;
    if ((r = store_host_put(ca->store, &h)) != AD_OK) {
        goto out;
    }
    r = msg_encode(ret_body, "spiffe_id", 's', id, "certificate", 's', pem, "bundle", 's',
                   ca->bundle_pem, MSG_END);
out:
    free(pem);
    return r;
}

static void handle_certify(struct ca *ca, const char *body, size_t len, const char *peer,
                           const struct peercert *client, struct ca_reply *ret)
{
    struct msg_certify m;
    struct store_session ss;
    const char *reason = NULL;
    TPMT_PUBLIC ak, key;
    int r;

    (void)client; /* enrollment needs no client certificate */

    if ((r = msg_certify_decode(body, len, &m)) != AD_OK) {
        bad_request(ca, r, peer, ret);
        return;
    }
    if (!session_at(ca, m.session, 3, peer, &ss, ret)) {
        goto out;
    }
    if (session_ak(&ss, &ak) != AD_OK) {
        fail_session(ca, &ss, peer, "session state unusable", ret);
        goto out;
    }
    if (quote_verify_certify(&ak, m.attest.data, m.attest.len, m.signature.data, m.signature.len,
                             ss.nonce, sizeof(ss.nonce), m.key_pub.data, m.key_pub.len, &key,
                             &reason) != AD_OK) {
        fail_session(ca, &ss, peer, reason, ret);
        goto out;
    }
    drop_session(ca, ss.id);
    if ((r = finish(ca, &ss, &key, &ret->body)) == AD_ERR_DENIED) {
        refuse(ca, ss.host_id, ss.host_class, 0, peer,
               "host was refused or removed while it enrolled; an admin must clear it", ret);
        goto out;
    }
    if (r != AD_OK) {
        reply_error(ret, 500, "internal", "cannot issue the host certificate");
        goto out;
    }
    ret->status = 200;
out:
    OPENSSL_cleanse(&ss, sizeof(ss));
    msg_certify_clear(&m);
}

/*
 * Workload certificates: the host asks for a nonce, then sends a certify of
 * the workload key by its enrolled AK over that nonce. Two proofs, both
 * bound to the host's TPM: the TLS client certificate is the host's own
 * (its key never leaves the TPM; client_is_host), and the AK signature over
 * a fresh nonce shows the TPM that enrolled holds the workload key.
 */
static void handle_svid_challenge(struct ca *ca, const char *body, size_t len, const char *peer,
                                  const struct peercert *client, struct ca_reply *ret)
{
    struct msg_svid_challenge m;
    struct store_session ss;
    struct store_host h;
    uint8_t sid[16];
    int r;

    memset(&ss, 0, sizeof(ss));
    if ((r = msg_svid_challenge_decode(body, len, &m)) != AD_OK) {
        bad_request(ca, r, peer, ret);
        return;
    }
    if (!client_is_host(ca, client, m.host_id, peer, ret)) {
        return;
    }
    if (!host_enrolled(ca, m.host_id, &h)) {
        refuse(ca, m.host_id, NULL, 0, peer, "host is not enrolled", ret);
        return;
    }
    if (!session_room(ca, ret)) {
        return;
    }
    if (RAND_bytes(sid, sizeof(sid)) != 1 || RAND_bytes(ss.nonce, sizeof(ss.nonce)) != 1) {
        reply_error(ret, 500, "internal", "no randomness");
        return;
    }
    to_hex(sid, sizeof(sid), ss.id);
    memcpy(ss.host_id, h.id, sizeof(ss.host_id));
    memcpy(ss.host_class, h.host_class, sizeof(ss.host_class));
    ss.step = 4;
    ss.expires = (int64_t)time(NULL) + ca->conf.session_timeout;
    memcpy(ss.ak_pub, h.ak_pub, h.ak_pub_len);
    ss.ak_pub_len = h.ak_pub_len;
    if (store_session_put(ca->store, &ss) != AD_OK ||
        msg_encode(&ret->body, "session", 's', ss.id, "nonce", 'b', ss.nonce, sizeof(ss.nonce),
                   MSG_END) != AD_OK) {
        reply_error(ret, 500, "internal", "cannot store the session");
        return;
    }
    ret->status = 200;
}

static void handle_svid(struct ca *ca, const char *body, size_t len, const char *peer,
                        const struct peercert *client, struct ca_reply *ret)
{
    char id[SVID_ID_MAX + 1], *pem = NULL;
    struct store_session ss;
    struct store_host h;
    struct msg_svid m;
    const char *reason = NULL;
    TPMT_PUBLIC ak, key;
    int r;

    if ((r = msg_svid_decode(body, len, &m)) != AD_OK) {
        bad_request(ca, r, peer, ret);
        return;
    }
    if (!session_at(ca, m.certify.session, 4, peer, &ss, ret)) {
        goto out;
    }
    drop_session(ca, ss.id); /* one certificate per challenge */
    if (!client_is_host(ca, client, ss.host_id, peer, ret)) {
        goto out;
    }
    /* Removed (or refused) since the challenge: a still-valid certificate is not enough. */
    if (!host_enrolled(ca, ss.host_id, &h)) {
        refuse(ca, ss.host_id, ss.host_class, 0, peer, "host is not enrolled", ret);
        goto out;
    }
    snprintf(id, sizeof(id), "spiffe://%s/%s", ca->conf.trust_domain, m.path);
    /* host/... names belong to hosts, issued only by enrollment. */
    if (strncmp(m.path, "host/", 5) == 0 || svid_id_check(ca->conf.trust_domain, id) != AD_OK) {
        refuse(ca, ss.host_id, ss.host_class, 0, peer, "workload path not allowed", ret);
        goto out;
    }
    if (session_ak(&ss, &ak) != AD_OK ||
        quote_verify_certify(&ak, m.certify.attest.data, m.certify.attest.len,
                             m.certify.signature.data, m.certify.signature.len, ss.nonce,
                             sizeof(ss.nonce), m.certify.key_pub.data, m.certify.key_pub.len, &key,
                             &reason) != AD_OK) {
        refuse(ca, ss.host_id, ss.host_class, 0, peer,
               reason != NULL ? reason : "session state unusable", ret);
        goto out;
    }
    if (issue_pem(ca, &key, id, ca->conf.workload_lifetime, &pem) != AD_OK ||
        msg_encode(&ret->body, "spiffe_id", 's', id, "certificate", 's', pem, "bundle", 's',
                   ca->bundle_pem, MSG_END) != AD_OK) {
        reply_error(ret, 500, "internal", "cannot issue the certificate");
        goto out;
    }
    ret->status = 200;
out:
    free(pem);
    OPENSSL_cleanse(&ss, sizeof(ss));
    msg_certify_clear(&m.certify);
}

static const struct {
    const char *path;
    void (*fn)(struct ca *ca, const char *body, size_t len, const char *peer,
               const struct peercert *client, struct ca_reply *ret);
} routes[] = {
    {"/v1/enroll/start", handle_start},
    {"/v1/enroll/activate", handle_activate},
    {"/v1/enroll/quote", handle_quote},
    {"/v1/enroll/certify", handle_certify},
    {"/v1/svid/challenge", handle_svid_challenge},
    {"/v1/svid", handle_svid},
};

void ca_handle(struct ca *ca, const char *path, const char *body, size_t len, const char *peer,
               const struct peercert *client, struct ca_reply *ret)
{
    size_t i;

    ret->status = 500;
    ret->body = NULL;
    if (len > MSG_BODY_MAX) {
        bad_request(ca, AD_ERR_TOO_LARGE, peer, ret);
        return;
    }
    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(path, routes[i].path) == 0) {
            routes[i].fn(ca, body, len, peer, client, ret);
            return;
        }
    }
    reply_error(ret, 404, "not_found", "no such endpoint");
}
