#include "ekcert.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "tpms.h"

struct ekcert_roots {
    X509_STORE *store;              /* trust anchors */
    STACK_OF(X509) * intermediates; /* untrusted, offered to chain building */
};

void ekcert_roots_free(struct ekcert_roots *roots)
{
    if (roots == NULL) {
        return;
    }
    X509_STORE_free(roots->store);
    sk_X509_pop_free(roots->intermediates, X509_free);
    free(roots);
}

static int has_cert_suffix(const char *name)
{
    static const char *const sfx[] = {".pem", ".crt", ".cer", ".der"};
    size_t n = strlen(name), i;

    for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        if (n > 4 && strcmp(name + n - 4, sfx[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Add one certificate: a self-signed one is an anchor, any other an intermediate. */
static int add_cert(struct ekcert_roots *roots, X509 *x, int *ret_anchors)
{
    if (X509_check_issued(x, x) == X509_V_OK) {
        if (X509_STORE_add_cert(roots->store, x) != 1) {
            return AD_ERR_NOMEM;
        }
        (*ret_anchors)++;
        return AD_OK;
    }
    if (X509_up_ref(x) != 1 || sk_X509_push(roots->intermediates, x) <= 0) {
        return AD_ERR_NOMEM;
    }
    return AD_OK;
}

/* A file may hold several PEM certificates, or one DER certificate. */
static int load_file(struct ekcert_roots *roots, int dfd, const char *name, int *ret_anchors)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    X509 *x = NULL;
    int r = AD_OK, cnt = 0;

    if (f == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return AD_ERR_SYSTEM;
    }
    while (cnt < EKCERT_DIR_FILES_MAX && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        r = add_cert(roots, x, ret_anchors);
        X509_free(x);
        cnt++;
        if (r != AD_OK) {
            goto out;
        }
    }
    ERR_clear_error();
    if (cnt == 0) {
        rewind(f);
        if ((x = d2i_X509_fp(f, NULL)) != NULL) {
            r = add_cert(roots, x, ret_anchors);
            X509_free(x);
        }
        ERR_clear_error();
    }
out:
    fclose(f);
    return r;
}

int ekcert_roots_load(const char *dir, struct ekcert_roots **ret)
{
    struct ekcert_roots *roots = calloc(1, sizeof(*roots));
    DIR *d = opendir(dir);
    struct dirent *de;
    int r = AD_ERR_NOMEM, anchors = 0, files = 0;

    if (d == NULL) {
        r = AD_ERR_SYSTEM;
        goto out;
    }
    if (roots == NULL || (roots->store = X509_STORE_new()) == NULL ||
        (roots->intermediates = sk_X509_new_null()) == NULL) {
        goto out;
    }
    while ((de = readdir(d)) != NULL && files < EKCERT_DIR_FILES_MAX) {
        if (de->d_name[0] == '.' || !has_cert_suffix(de->d_name)) {
            continue;
        }
        files++;
        if ((r = load_file(roots, dirfd(d), de->d_name, &anchors)) != AD_OK) {
            goto out;
        }
    }
    if (anchors == 0) {
        r = AD_ERR_NOT_FOUND;
        goto out;
    }
    *ret = roots;
    roots = NULL;
    r = AD_OK;
out:
    if (d != NULL) {
        closedir(d);
    }
    ekcert_roots_free(roots);
    return r;
}

/*
 * TCG EK Credential Profile 2.0 §3.2: EK certificates carry a critical
 * subjectAltName with the TPM manufacturer, model and version as a directory
 * name, which OpenSSL handles; any other unknown critical extension is refused.
 */
static int chain_ok(const struct ekcert_roots *roots, X509 *cert)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = 0;

    if (ctx != NULL && X509_STORE_CTX_init(ctx, roots->store, cert, roots->intermediates) == 1) {
        ok = X509_verify_cert(ctx) == 1;
    }
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static int ek_shape_ok(const TPMT_PUBLIC *ek)
{
    const TPMA_OBJECT need = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                             TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                             TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    TPMA_OBJECT a = ek->objectAttributes;

    return (a & need) == need && (a & TPMA_OBJECT_SIGN_ENCRYPT) == 0 &&
           (ek->type == TPM2_ALG_RSA || ek->type == TPM2_ALG_ECC) && tpms_md(ek->nameAlg) != NULL;
}

static int fail(const char *why, const char **ret_reason)
{
    if (ret_reason != NULL) {
        *ret_reason = why;
    }
    return AD_ERR_DENIED;
}

int ekcert_verify(const struct ekcert_roots *roots, const uint8_t *der, size_t len,
                  const TPMT_PUBLIC *ek, const char **ret_reason)
{
    const uint8_t *p = der;
    X509 *cert = NULL;
    EVP_PKEY *ekkey = NULL;
    int r;

    if (len == 0 || len > EKCERT_MAX) {
        return fail("EK certificate empty or too large", ret_reason);
    }
    if (!ek_shape_ok(ek)) {
        return fail("EK public area is not a restricted decryption key", ret_reason);
    }
    if ((cert = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
        r = fail("EK certificate does not parse", ret_reason);
        goto out;
    }
    if (!chain_ok(roots, cert)) {
        r = fail("EK certificate does not chain to a trusted TPM vendor root", ret_reason);
        goto out;
    }
    if ((r = tpms_public_pkey(ek, &ekkey)) != AD_OK) {
        r = fail("EK public key unusable", ret_reason);
        goto out;
    }
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), ekkey) != 1) {
        r = fail("EK certificate is for another key", ret_reason);
        goto out;
    }
    r = AD_OK;
out:
    ERR_clear_error();
    EVP_PKEY_free(ekkey);
    X509_free(cert);
    return r;
}

int ekcert_host_id(const TPMT_PUBLIC *ek, char ret_hex[65])
{
    static const char hex[] = "0123456789abcdef";
    EVP_PKEY *pkey = NULL;
    uint8_t *spki = NULL, md[32];
    int len, r, i;

    if ((r = tpms_public_pkey(ek, &pkey)) != AD_OK) {
        return r;
    }
    len = i2d_PUBKEY(pkey, &spki);
    EVP_PKEY_free(pkey);
    if (len <= 0) {
        return AD_ERR_NOMEM;
    }
    r = EVP_Digest(spki, (size_t)len, md, NULL, EVP_sha256(), NULL) == 1 ? AD_OK : AD_ERR_INTERNAL;
    OPENSSL_free(spki);
    for (i = 0; r == AD_OK && i < 32; i++) {
        ret_hex[2 * i] = hex[md[i] >> 4];
        ret_hex[2 * i + 1] = hex[md[i] & 15];
    }
    ret_hex[64] = '\0';
    return r;
}
