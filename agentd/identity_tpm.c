#include "identity_tpm.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keystore.h"
#include "log.h"
#include "tpm.h"
#include "worker.h"

static enum tpm_ek_type ek_of(enum conf_ek_type t)
{
    switch (t) {
    case CONF_EK_EC_P256:
        return TPM_EK_EC_P256;
    case CONF_EK_EC_P384:
        return TPM_EK_EC_P384;
    default:
        return TPM_EK_RSA_2048;
    }
}

/* One call to the worker: the op's arguments and results. */
struct call {
    struct identity_tpm *it;
    const struct msg_bin *in1;
    const struct msg_bin *in2;
    uint32_t mask;
    const struct keyblob *blob;
    struct msg_bin *out1;
    struct msg_bin *out2;
    struct msg_bin *out3;
    int r;
};

static void run_load_ak(void *ctx, void *arg)
{
    struct call *c = arg;
    struct tpm *t = keystore_tpm(ctx);
    struct keyblob *kb = NULL;
    struct tpm_key *k = NULL;

    if ((c->r = keyblob_dup(c->blob, &kb)) != AD_OK || (c->r = tpm_key_new(t, kb, &k)) != AD_OK) {
        keyblob_free(kb);
        return;
    }
    tpm_key_free(t, c->it->ak);
    keyblob_free(c->it->ak_blob);
    c->it->ak = k;
    c->it->ak_blob = kb;
}

int identity_tpm_load_ak(struct identity_tpm *it, const struct keyblob *blob)
{
    struct call c = {.it = it, .blob = blob};

    worker_run_sync(it->w, run_load_ak, &c);
    return c.r;
}

static void run_load_host(void *ctx, void *arg)
{
    struct call *c = arg;
    struct tpm *t = keystore_tpm(ctx);
    struct tpm_key *k = NULL;

    if ((c->r = tpm_key_new(t, c->blob, &k)) != AD_OK) {
        return;
    }
    tpm_key_free(t, c->it->host);
    c->it->host = k;
}

int identity_tpm_load_host(struct identity_tpm *it, const struct keyblob *blob)
{
    struct call c = {.it = it, .blob = blob};

    worker_run_sync(it->w, run_load_host, &c);
    return c.r;
}

struct sign_call {
    struct identity_tpm *it;
    enum tpm_hash hash;
    const uint8_t *digest;
    size_t digest_len;
    uint8_t *sig;
    size_t *sig_len;
    int r;
};

static void run_host_sign(void *ctx, void *arg)
{
    struct sign_call *c = arg;

    if (c->it->host == NULL) {
        c->r = AD_ERR_NOT_FOUND;
        return;
    }
    c->r = tpm_sign(keystore_tpm(ctx), c->it->host, TPM_SIG_ECDSA, c->hash, c->digest,
                    c->digest_len, c->sig, c->sig_len);
}

int identity_tpm_host_sign(void *it, const uint8_t *digest, size_t digest_len, uint8_t *ret_sig,
                           size_t *ret_sig_len)
{
    struct sign_call c = {it,          TPM_HASH_SHA1,     digest, digest_len, ret_sig,
                          ret_sig_len, AD_ERR_UNSUPPORTED};

    /* TLS 1.3 pairs each ECDSA curve with its hash: SHA-256 for the P-256 host key. */
    while (tpm_hash_len(c.hash) != digest_len && c.hash < TPM_HASH_SHA512) {
        c.hash++;
    }
    if (tpm_hash_len(c.hash) == digest_len) {
        worker_run_sync(c.it->w, run_host_sign, &c);
    }
    if (c.r != AD_OK) {
        log_warn("identity: TLS client signature by the host key failed: %s", ad_strerror(c.r));
    }
    return c.r;
}

static void run_ek(void *ctx, void *arg)
{
    struct call *c = arg;
    struct tpm *t = keystore_tpm(ctx);
    struct tpm_bytes pub = {0};
    uint8_t *der = NULL;
    size_t len = 0;

    if ((c->r = tpm_read_ek_cert(t, ek_of(c->it->ek), &der, &len)) == AD_OK &&
        (c->r = tpm_ek_public(t, ek_of(c->it->ek), &pub)) == AD_OK &&
        (c->r = msg_bin_copy(pub.data, pub.len, c->out2)) == AD_OK) {
        c->out1->data = der;
        c->out1->len = len;
        der = NULL;
    }
    free(der);
    tpm_bytes_clear(&pub);
}

static int op_ek(void *arg, struct msg_bin *ret_cert, struct msg_bin *ret_pub)
{
    struct call c = {.it = arg, .out1 = ret_cert, .out2 = ret_pub};

    worker_run_sync(c.it->w, run_ek, &c);
    return c.r;
}

static void drop_new(struct tpm *t, struct identity_tpm *it)
{
    tpm_key_free(t, it->new_ak);
    it->new_ak = NULL;
    keyblob_free(it->new_ak_blob);
    it->new_ak_blob = NULL;
    keyblob_free(it->new_host_blob);
    it->new_host_blob = NULL;
}

static void run_ak(void *ctx, void *arg)
{
    struct call *c = arg;
    struct tpm *t = keystore_tpm(ctx);

    drop_new(t, c->it);
    if ((c->r = tpm_create_ak(t, &c->it->new_ak_blob)) != AD_OK ||
        (c->r = tpm_key_new(t, c->it->new_ak_blob, &c->it->new_ak)) != AD_OK) {
        return;
    }
    c->r = msg_bin_copy(c->it->new_ak_blob->pub, c->it->new_ak_blob->pub_len, c->out1);
}

static int op_ak(void *arg, struct msg_bin *ret_pub)
{
    struct call c = {.it = arg, .out1 = ret_pub};

    worker_run_sync(c.it->w, run_ak, &c);
    return c.r;
}

static void run_activate(void *ctx, void *arg)
{
    struct call *c = arg;
    uint8_t secret[64];
    size_t len = sizeof(secret);

    if (c->it->new_ak == NULL) {
        c->r = AD_ERR_INTERNAL;
        return;
    }
    c->r = tpm_activate_credential(keystore_tpm(ctx), c->it->new_ak, ek_of(c->it->ek), c->in1->data,
                                   c->in1->len, c->in2->data, c->in2->len, secret, &len);
    if (c->r == AD_OK) {
        c->r = msg_bin_copy(secret, len, c->out1);
    }
    OPENSSL_cleanse(secret, sizeof(secret));
}

static int op_activate(void *arg, const struct msg_bin *blob, const struct msg_bin *enc,
                       struct msg_bin *ret_secret)
{
    struct call c = {.it = arg, .in1 = blob, .in2 = enc, .out1 = ret_secret};

    worker_run_sync(c.it->w, run_activate, &c);
    return c.r;
}

static void run_quote(void *ctx, void *arg)
{
    struct call *c = arg;
    struct tpm_bytes att = {0}, sig = {0};

    if (c->it->new_ak == NULL) {
        c->r = AD_ERR_INTERNAL;
        return;
    }
    if ((c->r = tpm_quote(keystore_tpm(ctx), c->it->new_ak, c->in1->data, c->in1->len,
                          TPM_HASH_SHA256, c->mask, &att, &sig)) == AD_OK &&
        (c->r = msg_bin_from_tpm2b(att.data, att.len, c->out1)) == AD_OK) {
        c->r = msg_bin_copy(sig.data, sig.len, c->out2);
    }
    tpm_bytes_clear(&att);
    tpm_bytes_clear(&sig);
}

static int op_quote(void *arg, const struct msg_bin *nonce, uint32_t mask,
                    struct msg_bin *ret_attest, struct msg_bin *ret_sig)
{
    struct call c = {.it = arg, .in1 = nonce, .mask = mask, .out1 = ret_attest, .out2 = ret_sig};

    worker_run_sync(c.it->w, run_quote, &c);
    return c.r;
}

/* Host key: a new P-256 key certified by the new AK; kept for identity_tpm_commit. */
static void run_certify_host(void *ctx, void *arg)
{
    struct call *c = arg;
    struct tpm *t = keystore_tpm(ctx);
    struct tpm_bytes att = {0}, sig = {0};
    struct keyblob *kb = NULL;
    struct tpm_key *key = NULL;

    if (c->it->new_ak == NULL) {
        c->r = AD_ERR_INTERNAL;
        return;
    }
    if ((c->r = tpm_create_key(t, TPM_KEY_EC_P256, &kb)) != AD_OK ||
        (c->r = tpm_key_new(t, kb, &key)) != AD_OK ||
        (c->r = tpm_certify(t, c->it->new_ak, key, c->in1->data, c->in1->len, &att, &sig)) !=
            AD_OK ||
        (c->r = msg_bin_from_tpm2b(att.data, att.len, c->out2)) != AD_OK ||
        (c->r = msg_bin_copy(sig.data, sig.len, c->out3)) != AD_OK ||
        (c->r = msg_bin_copy(kb->pub, kb->pub_len, c->out1)) != AD_OK) {
        goto out;
    }
    keyblob_free(c->it->new_host_blob);
    c->it->new_host_blob = kb;
    kb = NULL;
out:
    tpm_key_free(t, key); /* registered again by identity_tpm_commit once the CA issued */
    keyblob_free(kb);
    tpm_bytes_clear(&att);
    tpm_bytes_clear(&sig);
}

static int op_certify_host(void *arg, const struct msg_bin *nonce, struct msg_bin *ret_key_pub,
                           struct msg_bin *ret_attest, struct msg_bin *ret_sig)
{
    struct call c = {
        .it = arg, .in1 = nonce, .out1 = ret_key_pub, .out2 = ret_attest, .out3 = ret_sig};

    worker_run_sync(c.it->w, run_certify_host, &c);
    return c.r;
}

/* Workload key: the existing keystore key, certified by the enrolled AK. */
static void run_certify_workload(void *ctx, void *arg)
{
    struct call *c = arg;
    struct tpm_bytes pub = {0}, att = {0}, sig = {0};

    if (c->it->ak == NULL) {
        c->r = AD_ERR_INTERNAL;
        return;
    }
    if ((c->r = keystore_certify(ctx, c->it->e, c->it->key, c->it->ak, c->in1->data, c->in1->len,
                                 &pub, &att, &sig)) == AD_OK &&
        (c->r = msg_bin_from_tpm2b(att.data, att.len, c->out2)) == AD_OK &&
        (c->r = msg_bin_copy(sig.data, sig.len, c->out3)) == AD_OK) {
        c->r = msg_bin_copy(pub.data, pub.len, c->out1);
    }
    tpm_bytes_clear(&pub);
    tpm_bytes_clear(&att);
    tpm_bytes_clear(&sig);
}

static int op_certify_workload(void *arg, const struct msg_bin *nonce, struct msg_bin *ret_key_pub,
                               struct msg_bin *ret_attest, struct msg_bin *ret_sig)
{
    struct call c = {
        .it = arg, .in1 = nonce, .out1 = ret_key_pub, .out2 = ret_attest, .out3 = ret_sig};

    worker_run_sync(c.it->w, run_certify_workload, &c);
    return c.r;
}

void identity_tpm_host_ops(struct identity_tpm *it, struct enroll_tpm *ret)
{
    *ret = (struct enroll_tpm){it, op_ek, op_ak, op_activate, op_quote, op_certify_host};
}

void identity_tpm_workload_ops(struct identity_tpm *it, const struct workload_entry *e,
                               const char *key, struct enroll_tpm *ret)
{
    it->e = e;
    it->key = key;
    *ret = (struct enroll_tpm){it, op_ek, op_ak, op_activate, op_quote, op_certify_workload};
}

static void run_commit(void *ctx, void *arg)
{
    struct identity_tpm *it = arg;
    struct tpm *t = keystore_tpm(ctx);
    struct tpm_key *host = NULL;
    int r;

    tpm_key_free(t, it->ak);
    keyblob_free(it->ak_blob);
    it->ak = it->new_ak;
    it->ak_blob = it->new_ak_blob;
    it->new_ak = NULL;
    it->new_ak_blob = NULL;
    /* tpm_key_new only parses and copies the blob: it fails only for want of memory, and then
     * the next requests go without a client certificate until the next enrollment. */
    if (it->new_host_blob != NULL && (r = tpm_key_new(t, it->new_host_blob, &host)) != AD_OK) {
        log_warn("identity: host key not registered (%s): no TLS client certificate",
                 ad_strerror(r));
    }
    tpm_key_free(t, it->host);
    it->host = host;
    keyblob_free(it->new_host_blob);
    it->new_host_blob = NULL;
}

void identity_tpm_commit(struct identity_tpm *it)
{
    worker_run_sync(it->w, run_commit, it);
}

static void run_abort(void *ctx, void *arg)
{
    drop_new(keystore_tpm(ctx), arg);
}

void identity_tpm_abort(struct identity_tpm *it)
{
    worker_run_sync(it->w, run_abort, it);
}

static void run_clear(void *ctx, void *arg)
{
    struct identity_tpm *it = arg;

    drop_new(keystore_tpm(ctx), it);
    tpm_key_free(keystore_tpm(ctx), it->ak);
    it->ak = NULL;
    tpm_key_free(keystore_tpm(ctx), it->host);
    it->host = NULL;
    keyblob_free(it->ak_blob);
    it->ak_blob = NULL;
}

void identity_tpm_clear(struct identity_tpm *it)
{
    if (it == NULL || it->w == NULL) {
        return;
    }
    worker_run_sync(it->w, run_clear, it);
}
