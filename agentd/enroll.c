#include "enroll.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "tlskey.h"
#include "tpms.h"

static unsigned enroll_faults;

void enroll_set_faults(unsigned faults)
{
    enroll_faults = faults;
}

void enroll_result_clear(struct enroll_result *r)
{
    if (r == NULL) {
        return;
    }
    free(r->spiffe_id);
    free(r->cert_pem);
    free(r->bundle_pem);
    memset(r, 0, sizeof(*r));
}

struct sink {
    char *buf;
    size_t len;
    int is_overflow;
};

/* Collect the response, refusing anything over ENROLL_REPLY_MAX. */
static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t add = size * n;
    char *nb;

    if (add > ENROLL_REPLY_MAX - s->len) {
        s->is_overflow = 1;
        return 0;
    }
    if ((nb = realloc(s->buf, s->len + add + 1)) == NULL) {
        return 0;
    }
    s->buf = nb;
    memcpy(s->buf + s->len, p, add);
    s->len += add;
    s->buf[s->len] = '\0';
    return add;
}

struct client {
    const struct enroll_options *opt;
    CURL *curl;
    char *err;
    size_t cap;
    const char *step;
    X509 *host_cert; /* mTLS: the host certificate and its TPM-backed key, or NULL */
    EVP_PKEY *host_key;
    int is_cert_withheld; /* test fault: new connections present no certificate */
};

static void report(const struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(struct client *c, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(const struct client *c, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (c->opt->report != NULL) {
        c->opt->report(line, c->opt->report_arg);
    } else {
        printf("%s\n", line);
        fflush(stdout);
    }
}

static int fail(struct client *c, int r, const char *fmt, ...)
{
    char msg[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->cap, "%s: %s", c->step, msg);
    return r;
}

/* A refusal or error body: {"error": ..., "reason": ...}. */
static int ca_error(struct client *c, long status, const struct sink *s)
{
    struct msg_reply *rep = NULL;
    char *reason = NULL;
    int r = status == 401 || status == 403 ? AD_ERR_DENIED
            : status == 503                ? AD_ERR_RATE
                                           : AD_ERR_FORMAT;

    if (msg_reply_parse(s->buf != NULL ? s->buf : "", s->len, &rep) == AD_OK &&
        msg_reply_str(rep, "reason", 512, &reason) == AD_OK) {
        r = fail(c, r, "CA answered %ld: %s", status, reason);
    } else {
        r = fail(c, r, "CA answered %ld", status);
    }
    free(reason);
    msg_reply_free(rep);
    return r;
}

/* POST body to path; on 200 parse the JSON reply into *ret. */
static int post(struct client *c, const char *path, const char *body, struct msg_reply **ret)
{
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    struct sink s = {0};
    char url[1024];
    long status = 0;
    CURLcode cc;
    int r;

    snprintf(url, sizeof(url), "%s%s", c->opt->url, path);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
    cc = curl_easy_perform(c->curl);
    curl_slist_free_all(hdr);
    if (cc != CURLE_OK) {
        r = fail(c, s.is_overflow ? AD_ERR_TOO_LARGE : AD_ERR_CLOSED, "%s: %s", url,
                 s.is_overflow ? "reply too large" : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        r = ca_error(c, status, &s);
        goto out;
    }
    if ((r = msg_reply_parse(s.buf != NULL ? s.buf : "", s.len, ret)) != AD_OK) {
        r = fail(c, AD_ERR_FORMAT, "malformed reply from the CA");
    }
out:
    free(s.buf);
    return r;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const struct client *c = arg;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return c->opt->is_cancelled(c->opt->cancel_arg) != 0;
}

/* libcurl's OpenSSL SSL_CTX for a new connection: our certificate and TPM-backed key. */
static CURLcode on_ssl_ctx(CURL *curl, void *sslctx, void *arg)
{
    const struct client *c = arg;

    (void)curl;
    if (c->is_cert_withheld) {
        return CURLE_OK;
    }
    if (SSL_CTX_use_certificate(sslctx, c->host_cert) != 1 ||
        SSL_CTX_use_PrivateKey(sslctx, c->host_key) != 1) {
        ERR_clear_error();
        return CURLE_SSL_CERTPROBLEM;
    }
    return CURLE_OK;
}

/* Parse the host certificate and make its TPM-backed key once per client. */
static int host_key_setup(struct client *c)
{
    const struct enroll_host_key *hk = c->opt->host_key;
    BIO *b = BIO_new_mem_buf(hk->cert_pem, -1);
    int r = AD_ERR_FORMAT;

    if (b != NULL && (c->host_cert = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        r = tlskey_new(c->host_cert, hk->sign, hk->ctx, &c->host_key);
    }
    BIO_free(b);
    ERR_clear_error();
    if (r != AD_OK) {
        return fail(c, r, "the host certificate cannot be used for TLS: %s",
                    r == AD_ERR_UNSUPPORTED ? "its key is not ECDSA" : ad_strerror(r));
    }
    if (curl_easy_setopt(c->curl, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_SSL_CTX_DATA, c) != CURLE_OK) {
        return fail(c, AD_ERR_UNSUPPORTED,
                    "libcurl cannot present a client certificate "
                    "(CURLOPT_SSL_CTX_FUNCTION needs its OpenSSL backend)");
    }
    return AD_OK;
}

static void client_cleanup(struct client *c)
{
    curl_easy_cleanup(c->curl); /* frees the SSL_CTX that holds references to both */
    EVP_PKEY_free(c->host_key);
    X509_free(c->host_cert);
}

static int curl_setup(struct client *c)
{
    long timeout = c->opt->timeout_s > 0 ? c->opt->timeout_s : 30;
    int r;

    if ((c->curl = curl_easy_init()) == NULL) {
        return fail(c, AD_ERR_NOMEM, "libcurl setup failed");
    }
    if (curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->opt->ca_bundle) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, timeout) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK) {
        return fail(c, AD_ERR_INTERNAL, "libcurl setup failed");
    }
    if (c->opt->is_cancelled != NULL &&
        (curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
         curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK ||
         curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c) != CURLE_OK)) {
        return fail(c, AD_ERR_INTERNAL, "libcurl setup failed");
    }
    if (c->opt->host_key != NULL && (r = host_key_setup(c)) != AD_OK) {
        return r;
    }
    return AD_OK;
}

struct state {
    char *session;
    struct msg_bin nonce;
    uint32_t mask;
};

static int step_start(struct client *c, const struct enroll_tpm *tpm, struct state *st,
                      struct msg_bin *ret_blob, struct msg_bin *ret_enc)
{
    struct msg_bin cert = {0}, ekpub = {0}, akpub = {0};
    struct msg_reply *rep = NULL;
    char *body = NULL;
    const char *cls = c->opt->host_class != NULL ? c->opt->host_class : "default";
    int r;

    c->step = "start";
    if ((r = tpm->ek(tpm->ctx, &cert, &ekpub)) != AD_OK) {
        r = fail(c, r, "reading the EK certificate and public key: %s", ad_strerror(r));
        goto out;
    }
    report(c, "[1/4] EK certificate read (%zu bytes)", cert.len);
    if ((r = tpm->ak(tpm->ctx, &akpub)) != AD_OK) {
        r = fail(c, r, "creating the attestation key: %s", ad_strerror(r));
        goto out;
    }
    report(c, "[1/4] attestation key created; sending EK certificate and AK to the CA");
    if ((r = msg_encode(&body, "ek_cert", 'b', cert.data, cert.len, "ek_pub", 'b', ekpub.data,
                        ekpub.len, "ak_pub", 'b', akpub.data, akpub.len, "host_class", 's', cls,
                        MSG_END)) != AD_OK ||
        (r = post(c, "/v1/enroll/start", body, &rep)) != AD_OK) {
        goto out;
    }
    if ((r = msg_reply_str(rep, "session", MSG_SESSION_LEN, &st->session)) != AD_OK ||
        (r = msg_reply_bin(rep, "credential_blob", MSG_TPM2B_MAX, ret_blob)) != AD_OK ||
        (r = msg_reply_bin(rep, "encrypted_secret", MSG_TPM2B_MAX, ret_enc)) != AD_OK) {
        r = fail(c, AD_ERR_FORMAT, "malformed challenge from the CA");
        goto out;
    }
    report(c, "[1/4] CA accepted the EK certificate chain; credential challenge received");
out:
    msg_reply_free(rep);
    free(body);
    msg_bin_clear(&cert);
    msg_bin_clear(&ekpub);
    msg_bin_clear(&akpub);
    return r;
}

static int pcr_mask(struct msg_reply *rep, uint32_t *ret)
{
    unsigned pcrs[24];
    size_t n = 0, i;
    int r;

    if ((r = msg_reply_uints(rep, "pcrs", 24, 24, pcrs, &n)) != AD_OK || n == 0) {
        return AD_ERR_FORMAT;
    }
    *ret = 0;
    for (i = 0; i < n; i++) {
        *ret |= 1u << pcrs[i];
    }
    return AD_OK;
}

static int step_activate(struct client *c, const struct enroll_tpm *tpm, struct state *st,
                         const struct msg_bin *blob, const struct msg_bin *enc)
{
    struct msg_bin secret = {0};
    struct msg_reply *rep = NULL;
    char *body = NULL;
    int r;

    c->step = "activate";
    if ((r = tpm->activate(tpm->ctx, blob, enc, &secret)) != AD_OK) {
        r = fail(c, r, "ActivateCredential failed: %s", ad_strerror(r));
        goto out;
    }
    report(c, "[2/4] ActivateCredential recovered the CA's secret; returning it");
    if ((r = msg_encode(&body, "session", 's', st->session, "secret", 'b', secret.data, secret.len,
                        MSG_END)) != AD_OK ||
        (r = post(c, "/v1/enroll/activate", body, &rep)) != AD_OK) {
        goto out;
    }
    if (enroll_faults & ENROLL_FAULT_REPLAY_ACTIVATION) {
        msg_reply_free(rep);
        rep = NULL;
        report(c, "[2/4] (test fault) replaying the activation answer");
        if ((r = post(c, "/v1/enroll/activate", body, &rep)) != AD_OK) {
            goto out;
        }
    }
    if ((r = msg_reply_bin(rep, "nonce", MSG_NONCE_LEN, &st->nonce)) != AD_OK ||
        (r = pcr_mask(rep, &st->mask)) != AD_OK) {
        r = fail(c, AD_ERR_FORMAT, "malformed quote request from the CA");
        goto out;
    }
    report(c, "[2/4] CA confirmed the AK lives in this TPM; quote requested (PCR mask 0x%06x)",
           st->mask);
out:
    msg_reply_free(rep);
    if (body != NULL) {
        OPENSSL_cleanse(body, strlen(body));
    }
    free(body);
    msg_bin_clear(&secret);
    return r;
}

static int step_quote(struct client *c, const struct enroll_tpm *tpm, struct state *st)
{
    struct msg_bin att = {0}, sig = {0};
    struct msg_reply *rep = NULL;
    char *body = NULL;
    int r;

    c->step = "quote";
    if ((enroll_faults & ENROLL_FAULT_FOREIGN_NONCE) && st->nonce.len > 0) {
        report(c, "[3/4] (test fault) quoting with a nonce of our own");
        RAND_bytes(st->nonce.data, (int)st->nonce.len);
    }
    if ((r = tpm->quote(tpm->ctx, &st->nonce, st->mask, &att, &sig)) != AD_OK) {
        r = fail(c, r, "TPM2_Quote failed: %s", ad_strerror(r));
        goto out;
    }
    report(c, "[3/4] quote made over the requested PCRs; sending it");
    if ((r = msg_encode(&body, "session", 's', st->session, "attest", 'b', att.data, att.len,
                        "signature", 'b', sig.data, sig.len, MSG_END)) != AD_OK ||
        (r = post(c, "/v1/enroll/quote", body, &rep)) != AD_OK) {
        goto out;
    }
    msg_bin_clear(&st->nonce);
    if ((r = msg_reply_bin(rep, "nonce", MSG_NONCE_LEN, &st->nonce)) != AD_OK) {
        r = fail(c, AD_ERR_FORMAT, "malformed certify request from the CA");
        goto out;
    }
    report(c, "[3/4] CA accepted the quote (signature, nonce, PCR policy, clock)");
out:
    msg_reply_free(rep);
    free(body);
    msg_bin_clear(&att);
    msg_bin_clear(&sig);
    return r;
}

/* The certificate's only subjectAltName is the URI id. */
static int san_is(X509 *cert, const char *id)
{
    GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    const GENERAL_NAME *gn;
    int ok;

    ok = san != NULL && sk_GENERAL_NAME_num(san) == 1 &&
         (gn = sk_GENERAL_NAME_value(san, 0))->type == GEN_URI &&
         (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier) == strlen(id) &&
         CRYPTO_memcmp(ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), id, strlen(id)) == 0;
    GENERAL_NAMES_free(san);
    return ok;
}

/*
 * Never install what the CA sent without checking it: the certificate must
 * be for the key we certified, carry the expected SPIFFE ID, and chain to
 * the bundle that came with it.
 */
static int check_issued(const struct enroll_result *res, const struct msg_bin *key_pub)
{
    BIO *cb = BIO_new_mem_buf(res->cert_pem, -1), *bb = BIO_new_mem_buf(res->bundle_pem, -1);
    X509 *cert = cb != NULL ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    X509 *root = bb != NULL ? PEM_read_bio_X509(bb, NULL, NULL, NULL) : NULL;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    EVP_PKEY *pk = NULL;
    TPM2B_PUBLIC pub;
    int ok;

    ok = cert != NULL && root != NULL && store != NULL && ctx != NULL &&
         tpms_public_decode(key_pub->data, key_pub->len, &pub) == AD_OK &&
         tpms_public_pkey(&pub.publicArea, &pk) == AD_OK &&
         EVP_PKEY_eq(X509_get0_pubkey(cert), pk) == 1 && san_is(cert, res->spiffe_id) &&
         X509_STORE_add_cert(store, root) == 1 &&
         X509_STORE_CTX_init(ctx, store, cert, NULL) == 1 && X509_verify_cert(ctx) == 1;
    ERR_clear_error();
    EVP_PKEY_free(pk);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(root);
    X509_free(cert);
    BIO_free(cb);
    BIO_free(bb);
    return ok ? AD_OK : AD_ERR_DENIED;
}

static int step_certify(struct client *c, const struct enroll_tpm *tpm, struct state *st,
                        struct enroll_result *ret)
{
    struct msg_bin key = {0}, att = {0}, sig = {0};
    struct msg_reply *rep = NULL;
    struct enroll_result res = {0};
    char *body = NULL;
    int r;

    c->step = "certify";
    if ((r = tpm->certify(tpm->ctx, &st->nonce, &key, &att, &sig)) != AD_OK) {
        r = fail(c, r, "creating or certifying the host key failed: %s", ad_strerror(r));
        goto out;
    }
    report(c, "[4/4] host identity key created and certified by the AK; sending it");
    if ((r = msg_encode(&body, "session", 's', st->session, "key_pub", 'b', key.data, key.len,
                        "attest", 'b', att.data, att.len, "signature", 'b', sig.data, sig.len,
                        MSG_END)) != AD_OK ||
        (r = post(c, "/v1/enroll/certify", body, &rep)) != AD_OK) {
        goto out;
    }
    if (msg_reply_str(rep, "spiffe_id", 2048, &res.spiffe_id) != AD_OK ||
        msg_reply_str(rep, "certificate", 16384, &res.cert_pem) != AD_OK ||
        msg_reply_str(rep, "bundle", 32768, &res.bundle_pem) != AD_OK) {
        enroll_result_clear(&res);
        r = fail(c, AD_ERR_FORMAT, "malformed certificate reply from the CA");
        goto out;
    }
    if ((r = check_issued(&res, &key)) != AD_OK) {
        enroll_result_clear(&res);
        r = fail(c, r, "the CA's certificate is not for our key or does not chain to its bundle");
        goto out;
    }
    report(c, "[4/4] CA issued the host certificate %s", res.spiffe_id);
    *ret = res;
out:
    msg_reply_free(rep);
    free(body);
    msg_bin_clear(&key);
    msg_bin_clear(&att);
    msg_bin_clear(&sig);
    return r;
}

int enroll_run(const struct enroll_options *opt, const struct enroll_tpm *tpm,
               struct enroll_result *ret, char *ret_err, size_t cap)
{
    struct client c = {opt, NULL, ret_err, cap, "setup", NULL, NULL, 0};
    struct state st = {0};
    struct msg_bin blob = {0}, enc = {0};
    int r;

    ret_err[0] = '\0';
    if ((r = curl_setup(&c)) != AD_OK) {
        goto out;
    }
    if ((r = step_start(&c, tpm, &st, &blob, &enc)) != AD_OK ||
        (r = step_activate(&c, tpm, &st, &blob, &enc)) != AD_OK ||
        (r = step_quote(&c, tpm, &st)) != AD_OK || (r = step_certify(&c, tpm, &st, ret)) != AD_OK) {
        goto out;
    }
out:
    client_cleanup(&c);
    free(st.session);
    msg_bin_clear(&st.nonce);
    msg_bin_clear(&blob);
    msg_bin_clear(&enc);
    return r;
}

static int svid_request(struct client *c, const struct enroll_tpm *tpm, const char *host_id,
                        const char *path, struct enroll_result *ret)
{
    struct msg_bin nonce = {0}, key = {0}, att = {0}, sig = {0};
    struct msg_reply *rep = NULL;
    struct enroll_result res = {0};
    char *body = NULL, *session = NULL;
    int r;

    c->step = "workload challenge";
    if ((r = msg_encode(&body, "host_id", 's', host_id, MSG_END)) != AD_OK ||
        (r = post(c, "/v1/svid/challenge", body, &rep)) != AD_OK) {
        goto out;
    }
    if ((r = msg_reply_str(rep, "session", MSG_SESSION_LEN, &session)) != AD_OK ||
        (r = msg_reply_bin(rep, "nonce", MSG_NONCE_LEN, &nonce)) != AD_OK) {
        r = fail(c, AD_ERR_FORMAT, "malformed challenge from the CA");
        goto out;
    }
    c->step = "workload certify";
    if ((r = tpm->certify(tpm->ctx, &nonce, &key, &att, &sig)) != AD_OK) {
        r = fail(c, r, "creating or certifying the workload key failed: %s", ad_strerror(r));
        goto out;
    }
    free(body);
    body = NULL;
    msg_reply_free(rep);
    rep = NULL;
    if (enroll_faults & ENROLL_FAULT_SVID_NO_CERT) {
        /* A new connection, no resumed session (it would carry the certificate). */
        report(c, "(test fault) sending the workload certify without a client certificate");
        c->is_cert_withheld = 1;
        curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(c->curl, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    }
    if ((r = msg_encode(&body, "session", 's', session, "path", 's', path, "key_pub", 'b', key.data,
                        key.len, "attest", 'b', att.data, att.len, "signature", 'b', sig.data,
                        sig.len, MSG_END)) != AD_OK ||
        (r = post(c, "/v1/svid", body, &rep)) != AD_OK) {
        goto out;
    }
    if (msg_reply_str(rep, "spiffe_id", 2048, &res.spiffe_id) != AD_OK ||
        msg_reply_str(rep, "certificate", 16384, &res.cert_pem) != AD_OK ||
        msg_reply_str(rep, "bundle", 32768, &res.bundle_pem) != AD_OK) {
        enroll_result_clear(&res);
        r = fail(c, AD_ERR_FORMAT, "malformed certificate reply from the CA");
        goto out;
    }
    if ((r = check_issued(&res, &key)) != AD_OK) {
        enroll_result_clear(&res);
        r = fail(c, r, "the CA's certificate is not for our key or does not chain to its bundle");
        goto out;
    }
    *ret = res;
out:
    msg_reply_free(rep);
    free(body);
    free(session);
    msg_bin_clear(&nonce);
    msg_bin_clear(&key);
    msg_bin_clear(&att);
    msg_bin_clear(&sig);
    return r;
}

int enroll_svid(const struct enroll_options *opt, const struct enroll_tpm *tpm, const char *host_id,
                const char *path, struct enroll_result *ret, char *ret_err, size_t cap)
{
    struct client c = {opt, NULL, ret_err, cap, "setup", NULL, NULL, 0};
    int r;

    ret_err[0] = '\0';
    if ((r = curl_setup(&c)) == AD_OK) {
        r = svid_request(&c, tpm, host_id, path, ret);
    }
    client_cleanup(&c);
    return r;
}
