/*
 * TSS2 PRIVATE KEY files (TPM 2.0 Key File format, as written by
 * openssl_tpm2_engine and tpm2-openssl), with OpenSSL ASN.1 templates.
 */
#include "keyblob.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <tss2/tss2_mu.h>

#include "fsio.h"
#include "tpm_internal.h"

#define KEYBLOB_OID "2.23.133.10.1.3" /* id-loadablekey */
#define KEYBLOB_PEM_NAME "TSS2 PRIVATE KEY"

typedef struct {
    ASN1_OBJECT *type;
    ASN1_BOOLEAN emptyAuth; /* -1 when absent */
    ASN1_TYPE *policy;      /* [1]: present means a policy key: refused */
    ASN1_OCTET_STRING *secret;
    ASN1_TYPE *authPolicy; /* [3] (newer drafts): refused */
    ASN1_INTEGER *parent;
    ASN1_OCTET_STRING *pubkey;
    ASN1_OCTET_STRING *privkey;
} TSSPRIVKEY;

DECLARE_ASN1_FUNCTIONS(TSSPRIVKEY)

/* clang-format off */
ASN1_SEQUENCE(TSSPRIVKEY) = {
    ASN1_SIMPLE(TSSPRIVKEY, type, ASN1_OBJECT),
    ASN1_EXP_OPT(TSSPRIVKEY, emptyAuth, ASN1_BOOLEAN, 0),
    ASN1_EXP_OPT(TSSPRIVKEY, policy, ASN1_ANY, 1),
    ASN1_EXP_OPT(TSSPRIVKEY, secret, ASN1_OCTET_STRING, 2),
    ASN1_EXP_OPT(TSSPRIVKEY, authPolicy, ASN1_ANY, 3),
    ASN1_SIMPLE(TSSPRIVKEY, parent, ASN1_INTEGER),
    ASN1_SIMPLE(TSSPRIVKEY, pubkey, ASN1_OCTET_STRING),
    ASN1_SIMPLE(TSSPRIVKEY, privkey, ASN1_OCTET_STRING),
    /* cppcheck-suppress unknownMacro */
} ASN1_SEQUENCE_END(TSSPRIVKEY)

IMPLEMENT_ASN1_FUNCTIONS(TSSPRIVKEY)

/* Prove pub and priv are well-formed TPM2B_PUBLIC / TPM2B_PRIVATE with no trailing bytes. */
static int check_blobs(const uint8_t *pub, size_t pub_len, const uint8_t *priv, size_t priv_len)
{
    TPM2B_PUBLIC p = {0};
    TPM2B_PRIVATE s = {0};
    size_t off = 0;
    int r = AD_ERR_FORMAT;

    if (pub_len > KEYBLOB_PUB_MAX || priv_len > KEYBLOB_PRIV_MAX) {
        return AD_ERR_TOO_LARGE;
    }
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(pub, pub_len, &off, &p) != TSS2_RC_SUCCESS ||
        off != pub_len || p.size == 0) {
        goto out;
    }
    off = 0;
    if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(priv, priv_len, &off, &s) != TSS2_RC_SUCCESS ||
        off != priv_len || s.size == 0) {
        goto out;
    }
    r = AD_OK;
out:
    OPENSSL_cleanse(&s, sizeof(s));
    return r;
}

/* clang-format on */

int keyblob_new(const uint8_t *pub, size_t pub_len, const uint8_t *priv, size_t priv_len,
                uint32_t parent, bool is_empty_auth, struct keyblob **ret)
{
    struct keyblob *kb = NULL;
    int r;

    if ((r = check_blobs(pub, pub_len, priv, priv_len)) != 0) {
        return r;
    }
    if ((kb = calloc(1, sizeof(*kb))) == NULL || (kb->pub = malloc(pub_len)) == NULL ||
        (kb->priv = malloc(priv_len)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    memcpy(kb->pub, pub, pub_len);
    kb->pub_len = pub_len;
    memcpy(kb->priv, priv, priv_len);
    kb->priv_len = priv_len;
    kb->parent = parent;
    kb->is_empty_auth = is_empty_auth;
    *ret = kb; /* caller owns it now */
    kb = NULL;
    r = AD_OK;
out:
    keyblob_free(kb);
    return r;
}

int keyblob_dup(const struct keyblob *kb, struct keyblob **ret)
{
    return keyblob_new(kb->pub, kb->pub_len, kb->priv, kb->priv_len, kb->parent, kb->is_empty_auth,
                       ret);
}

void keyblob_free(struct keyblob *kb)
{
    if (kb == NULL) {
        return;
    }
    if (kb->priv != NULL) {
        OPENSSL_cleanse(kb->priv, kb->priv_len);
    }
    free(kb->priv);
    free(kb->pub);
    OPENSSL_cleanse(kb, sizeof(*kb));
    free(kb);
}

static int to_asn1(const struct keyblob *kb, TSSPRIVKEY **ret)
{
    TSSPRIVKEY *k = NULL;
    int r = AD_ERR_NOMEM;

    if (kb->pub_len > KEYBLOB_PUB_MAX || kb->priv_len > KEYBLOB_PRIV_MAX) {
        return AD_ERR_TOO_LARGE;
    }
    if ((k = TSSPRIVKEY_new()) == NULL || (k->type = OBJ_txt2obj(KEYBLOB_OID, 1)) == NULL ||
        !ASN1_INTEGER_set_uint64(k->parent, kb->parent) ||
        !ASN1_OCTET_STRING_set(k->pubkey, kb->pub, (int)kb->pub_len) ||
        !ASN1_OCTET_STRING_set(k->privkey, kb->priv, (int)kb->priv_len)) {
        goto out;
    }
    /* openssl_tpm2_engine writes emptyAuth only when TRUE; so do we. */
    k->emptyAuth = kb->is_empty_auth ? 0xff : -1;
    *ret = k;
    k = NULL;
    r = AD_OK;
out:
    TSSPRIVKEY_free(k);
    return r;
}

int keyblob_encode_der(const struct keyblob *kb, uint8_t **ret_der, size_t *ret_len)
{
    TSSPRIVKEY *k = NULL;
    uint8_t *der = NULL;
    int len, r;

    if ((r = to_asn1(kb, &k)) != 0) {
        goto out;
    }
    if ((len = i2d_TSSPRIVKEY(k, &der)) <= 0) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    *ret_der = der;
    *ret_len = (size_t)len;
    der = NULL;
out:
    OPENSSL_free(der);
    TSSPRIVKEY_free(k);
    return r;
}

int keyblob_encode_pem(const struct keyblob *kb, char **ret_pem, size_t *ret_len)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    BIO *bio = NULL;
    char *pem = NULL, *mem = NULL;
    long n;
    int r;

    if ((r = keyblob_encode_der(kb, &der, &der_len)) != 0) {
        goto out;
    }
    r = AD_ERR_NOMEM;
    if ((bio = BIO_new(BIO_s_mem())) == NULL ||
        PEM_write_bio(bio, KEYBLOB_PEM_NAME, "", der, (long)der_len) <= 0 ||
        (n = BIO_get_mem_data(bio, &mem)) <= 0 || (pem = malloc((size_t)n + 1)) == NULL) {
        goto out;
    }
    memcpy(pem, mem, (size_t)n);
    pem[n] = '\0';
    *ret_pem = pem;
    *ret_len = (size_t)n;
    pem = NULL;
    r = AD_OK;
out:
    free(pem);
    BIO_free(bio);
    OPENSSL_free(der);
    return r;
}

static int from_asn1(const TSSPRIVKEY *k, struct keyblob **ret)
{
    ASN1_OBJECT *want = NULL;
    uint64_t parent = 0;
    int r = AD_ERR_UNSUPPORTED;

    if ((want = OBJ_txt2obj(KEYBLOB_OID, 1)) == NULL) {
        return AD_ERR_NOMEM;
    }
    /* Only loadable keys with neither policy nor import secret are ours. */
    if (OBJ_cmp(k->type, want) != 0 || k->policy != NULL || k->secret != NULL ||
        k->authPolicy != NULL) {
        goto out;
    }
    r = AD_ERR_FORMAT;
    if (!ASN1_INTEGER_get_uint64(&parent, k->parent) || parent > UINT32_MAX) {
        goto out;
    }
    if (k->pubkey->length <= 0 || k->privkey->length <= 0) {
        goto out;
    }
    r = keyblob_new(k->pubkey->data, (size_t)k->pubkey->length, k->privkey->data,
                    (size_t)k->privkey->length, (uint32_t)parent, k->emptyAuth > 0, ret);
out:
    ASN1_OBJECT_free(want);
    return r;
}

int keyblob_decode_der(const uint8_t *der, size_t len, struct keyblob **ret)
{
    TSSPRIVKEY *k = NULL;
    const unsigned char *p = der;
    uint8_t *again = NULL;
    int n, r = AD_ERR_FORMAT;

    if (len == 0) {
        return AD_ERR_SHORT;
    }
    if (len > KEYBLOB_DER_MAX) {
        return AD_ERR_TOO_LARGE;
    }
    if ((k = d2i_TSSPRIVKEY(NULL, &p, (long)len)) == NULL) {
        goto out;
    }
    if (p != der + len) {
        r = AD_ERR_TRAILING;
        goto out;
    }
    /* d2i accepts some BER; insist on the one DER encoding by re-encoding. */
    if ((n = i2d_TSSPRIVKEY(k, &again)) <= 0 || (size_t)n != len ||
        CRYPTO_memcmp(again, der, len) != 0) {
        goto out;
    }
    r = from_asn1(k, ret);
out:
    OPENSSL_free(again);
    TSSPRIVKEY_free(k);
    return r;
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            return false;
        }
    }
    return true;
}

int keyblob_decode_pem(const char *pem, size_t len, struct keyblob **ret)
{
    static const char begin[] = "-----BEGIN " KEYBLOB_PEM_NAME "-----";
    BIO *bio = NULL;
    char *name = NULL, *header = NULL, *rest = NULL;
    unsigned char *data = NULL;
    long n = 0, rest_len;
    size_t skip = 0;
    int r = AD_ERR_FORMAT;

    if (len == 0) {
        return AD_ERR_SHORT;
    }
    if (len > KEYBLOB_FILE_MAX) {
        return AD_ERR_TOO_LARGE;
    }
    while (skip < len && is_blank(pem + skip, 1)) {
        skip++;
    }
    /* PEM_read_bio skips text before BEGIN; we do not accept any. */
    if (len - skip < sizeof(begin) - 1 || memcmp(pem + skip, begin, sizeof(begin) - 1) != 0) {
        goto out;
    }
    if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if (!PEM_read_bio(bio, &name, &header, &data, &n) || strcmp(name, KEYBLOB_PEM_NAME) != 0 ||
        header[0] != '\0') {
        goto out;
    }
    rest_len = BIO_get_mem_data(bio, &rest);
    if (rest_len > 0 && !is_blank(rest, (size_t)rest_len)) {
        r = AD_ERR_TRAILING;
        goto out;
    }
    r = keyblob_decode_der(data, (size_t)n, ret);
out:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
    return r;
}

int keyblob_write_file(const char *path, const struct keyblob *kb)
{
    char tmp[PATH_MAX];
    char *pem = NULL;
    size_t len = 0;
    int fd = -1, r;

    if ((r = keyblob_encode_pem(kb, &pem, &len)) != 0) {
        goto out;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp)) {
        r = AD_ERR_INVALID;
        goto out;
    }
    r = AD_ERR_SYSTEM;
    /* mkstemp creates the file with mode 0600. */
    if ((fd = mkstemp(tmp)) < 0) {
        tpm_logf("keyblob_write_file: mkstemp '%s': %s", tmp, strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0600) != 0 || fsio_write_all(fd, pem, len) != AD_OK || fsync(fd) != 0) {
        tpm_logf("keyblob_write_file: write '%s': %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0 || (fd = -1, rename(tmp, path) != 0)) {
        fd = -1;
        tpm_logf("keyblob_write_file: rename to '%s': %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (fsio_fsync_dir_of(path) != AD_OK) {
        tpm_logf("keyblob_write_file: fsync dir of '%s': %s", path, strerror(errno));
        goto out;
    }
    r = AD_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    free(pem);
    return r;
}

/* Read at most KEYBLOB_FILE_MAX bytes; more is AD_ERR_TOO_LARGE. */
static int read_capped(const char *path, char *buf, size_t *ret_len)
{
    size_t len = 0;
    int fd, r = AD_ERR_SYSTEM;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        if (errno == ENOENT) {
            return AD_ERR_NOT_FOUND;
        }
        tpm_logf("keyblob_read_file: open '%s': %s", path, strerror(errno));
        return AD_ERR_SYSTEM;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, KEYBLOB_FILE_MAX + 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            tpm_logf("keyblob_read_file: read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len > KEYBLOB_FILE_MAX) {
            r = AD_ERR_TOO_LARGE;
            goto out;
        }
    }
    *ret_len = len;
    r = AD_OK;
out:
    close(fd);
    return r;
}

int keyblob_read_file(const char *path, struct keyblob **ret)
{
    char *buf = NULL;
    size_t len = 0;
    int r;

    if ((buf = malloc(KEYBLOB_FILE_MAX + 1)) == NULL) {
        return AD_ERR_NOMEM;
    }
    if ((r = read_capped(path, buf, &len)) != 0) {
        goto out;
    }
    if (len > 0 && (buf[0] == '-' || is_blank(buf, 1))) {
        r = keyblob_decode_pem(buf, len, ret);
    } else {
        r = keyblob_decode_der((const uint8_t *)buf, len, ret);
    }
    /* The file is within the cap but does not parse: corrupt, whatever the detail. */
    if (r == AD_ERR_FORMAT || r == AD_ERR_SHORT || r == AD_ERR_TRAILING || r == AD_ERR_TOO_LARGE) {
        r = AD_ERR_CORRUPT;
    }
out:
    free(buf);
    return r;
}
