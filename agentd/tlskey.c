/*
 * Why deprecated APIs, and only here: OpenSSL 3.0 (Debian 12) has no
 * public way to give a provider key a remote private half short of writing
 * a provider (key management, signature and store for one operation). A
 * legacy EC_KEY with its own EC_KEY_METHOD is "foreign" to OpenSSL 3
 * (ossl_ec_key_is_foreign): the EVP layer then never exports it to a
 * provider and signs through the method, the same path libp11's engine
 * keys take. EC_KEY_* and EVP_PKEY_assign are deprecated since 3.0, so
 * this one file silences -Wdeprecated-declarations and nothing else.
 */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#include "tlskey.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>

/* What the key signs with; owned by the EC_KEY (ex_data, freed with it). */
struct signer {
    tlskey_sign_fn sign;
    void *ctx;
};

static int ex_index = -1;
static EC_KEY_METHOD *method;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void signer_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

/* The signature from the callback, r||s, as an ECDSA_SIG. */
static ECDSA_SIG *sign_sig(const unsigned char *dgst, int dgst_len, const BIGNUM *kinv,
                           const BIGNUM *rp, EC_KEY *ec)
{
    const struct signer *s = EC_KEY_get_ex_data(ec, ex_index);
    uint8_t raw[TLSKEY_SIG_MAX];
    size_t len = sizeof(raw);
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *sv = NULL;

    (void)kinv; /* precomputed nonces are the software path's; the TPM makes its own */
    (void)rp;
    if (s == NULL || dgst_len <= 0 || s->sign(s->ctx, dgst, (size_t)dgst_len, raw, &len) != AD_OK ||
        len == 0 || len % 2 != 0 || len > sizeof(raw)) {
        goto out;
    }
    if ((r = BN_bin2bn(raw, (int)(len / 2), NULL)) == NULL ||
        (sv = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL)) == NULL ||
        (sig = ECDSA_SIG_new()) == NULL || ECDSA_SIG_set0(sig, r, sv) != 1) {
        ECDSA_SIG_free(sig);
        sig = NULL;
        goto out;
    }
    r = NULL; /* sig owns them now */
    sv = NULL;
out:
    BN_free(r);
    BN_free(sv);
    OPENSSL_cleanse(raw, sizeof(raw));
    return sig;
}

/* ECDSA_sign's form: DER into sig (ECDSA_size(ec) bytes). */
static int sign_der(int type, const unsigned char *dgst, int dlen, unsigned char *sig,
                    unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r, EC_KEY *ec)
{
    ECDSA_SIG *s = sign_sig(dgst, dlen, kinv, r, ec);
    int n;

    (void)type;
    if (s == NULL) {
        return 0;
    }
    n = i2d_ECDSA_SIG(s, &sig);
    ECDSA_SIG_free(s);
    if (n <= 0) {
        return 0;
    }
    *siglen = (unsigned int)n;
    return 1;
}

static void init_once(void)
{
    int (*o_sign)(int, const unsigned char *, int, unsigned char *, unsigned int *, const BIGNUM *,
                  const BIGNUM *, EC_KEY *) = NULL;
    int (*o_setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **) = NULL;
    ECDSA_SIG *(*o_sig)(const unsigned char *, int, const BIGNUM *, const BIGNUM *, EC_KEY *) =
        NULL;

    ex_index = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, signer_free);
    if (ex_index < 0 || (method = EC_KEY_METHOD_new(EC_KEY_OpenSSL())) == NULL) {
        return;
    }
    EC_KEY_METHOD_get_sign(EC_KEY_OpenSSL(), &o_sign, &o_setup, &o_sig);
    EC_KEY_METHOD_set_sign(method, sign_der, o_setup, sign_sig);
}

/* A public-only EC_KEY with our method and cert's point; the method first (it makes the key
 * foreign when EVP_PKEY_assign looks). */
static EC_KEY *foreign_key(const EC_KEY *pub, struct signer *s)
{
    EC_KEY *ec = EC_KEY_new();

    if (ec == NULL || EC_KEY_set_method(ec, method) != 1 ||
        EC_KEY_set_group(ec, EC_KEY_get0_group(pub)) != 1 ||
        EC_KEY_set_public_key(ec, EC_KEY_get0_public_key(pub)) != 1 ||
        EC_KEY_set_ex_data(ec, ex_index, s) != 1) {
        EC_KEY_free(ec);
        return NULL;
    }
    return ec;
}

int tlskey_new(X509 *cert, tlskey_sign_fn sign, void *ctx, EVP_PKEY **ret)
{
    EVP_PKEY *cert_key = X509_get0_pubkey(cert);
    const EC_KEY *pub;
    struct signer *s = NULL;
    EVP_PKEY *pkey = NULL;
    EC_KEY *ec = NULL;

    if (pthread_once(&once, init_once) != 0 || method == NULL || ex_index < 0) {
        return AD_ERR_INTERNAL;
    }
    if (cert_key == NULL || EVP_PKEY_get_base_id(cert_key) != EVP_PKEY_EC ||
        (pub = EVP_PKEY_get0_EC_KEY(cert_key)) == NULL) {
        return AD_ERR_UNSUPPORTED;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return AD_ERR_NOMEM;
    }
    s->sign = sign;
    s->ctx = ctx;
    if ((ec = foreign_key(pub, s)) == NULL) {
        free(s);
        return AD_ERR_NOMEM;
    }
    /* From here s belongs to ec (freed by signer_free). */
    if ((pkey = EVP_PKEY_new()) == NULL || EVP_PKEY_assign_EC_KEY(pkey, ec) != 1) {
        EVP_PKEY_free(pkey);
        EC_KEY_free(ec);
        return AD_ERR_NOMEM;
    }
    *ret = pkey; /* pkey owns ec */
    return AD_OK;
}
