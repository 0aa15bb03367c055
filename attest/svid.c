#include "svid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "svid_pkcs11.h"

struct svid_ca {
    X509 *cert;
    EVP_PKEY *key;
};

void svid_ca_free(struct svid_ca *ca)
{
    if (ca == NULL) {
        return;
    }
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    free(ca);
}

X509 *svid_ca_cert(const struct svid_ca *ca)
{
    return ca->cert;
}

static int load_key(const char *key, const char *pkcs11_module, EVP_PKEY **ret)
{
    FILE *f;

    if (strncmp(key, "pkcs11:", 7) == 0) {
        return svid_pkcs11_load_key(key, pkcs11_module, ret);
    }
    if ((f = fopen(key, "re")) == NULL) {
        return AD_ERR_SYSTEM;
    }
    *ret = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return *ret != NULL ? AD_OK : AD_ERR_CONFIG;
}

int svid_ca_load(const char *cert_pem, const char *key, const char *pkcs11_module,
                 struct svid_ca **ret)
{
    struct svid_ca *ca = calloc(1, sizeof(*ca));
    FILE *fc = fopen(cert_pem, "re");
    int r = AD_ERR_SYSTEM;

    if (ca == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if (fc == NULL) {
        goto out;
    }
    r = AD_ERR_CONFIG;
    if ((ca->cert = PEM_read_X509(fc, NULL, NULL, NULL)) == NULL) {
        goto out;
    }
    if ((r = load_key(key, pkcs11_module, &ca->key)) != AD_OK) {
        goto out;
    }
    r = AD_ERR_CONFIG;
    if (X509_check_private_key(ca->cert, ca->key) != 1 || X509_check_ca(ca->cert) == 0) {
        goto out;
    }
    *ret = ca;
    ca = NULL;
    r = AD_OK;
out:
    ERR_clear_error();
    if (fc != NULL) {
        fclose(fc);
    }
    svid_ca_free(ca);
    return r;
}

static int is_td_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static int is_path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* SPIFFE ID §2.2: segments are non-empty and never "." or "..". */
static int path_ok(const char *p)
{
    const char *seg = p;

    for (;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t n = (size_t)(p - seg);
            if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
                return 0;
            }
            if (*p == '\0') {
                return 1;
            }
            seg = p + 1;
        } else if (!is_path_char(*p)) {
            return 0;
        }
    }
}

int svid_id_check(const char *trust_domain, const char *id)
{
    static const char scheme[] = "spiffe://";
    size_t td = strlen(trust_domain), i;

    if (td == 0 || td > SVID_TRUST_DOMAIN_MAX || strnlen(id, SVID_ID_MAX + 1) > SVID_ID_MAX) {
        return AD_ERR_INVALID;
    }
    for (i = 0; i < td; i++) {
        if (!is_td_char(trust_domain[i])) {
            return AD_ERR_INVALID;
        }
    }
    if (strncmp(id, scheme, sizeof(scheme) - 1) != 0) {
        return AD_ERR_INVALID;
    }
    id += sizeof(scheme) - 1;
    if (strncmp(id, trust_domain, td) != 0 || id[td] != '/') {
        return AD_ERR_INVALID;
    }
    return path_ok(id + td + 1) ? AD_OK : AD_ERR_INVALID;
}

static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    int ok = e != NULL && X509_add_ext(x, e, -1) == 1;

    X509_EXTENSION_free(e);
    return ok;
}

/* A positive random 127-bit serial (RFC 5280 §4.1.2.2: at most 20 octets, unique). */
static int set_serial(X509 *x)
{
    uint8_t rnd[16];
    BIGNUM *bn = NULL;
    int ok;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return 0;
    }
    rnd[0] &= 0x7f;
    rnd[0] |= 0x01;
    bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static int set_times(const struct svid_ca *ca, X509 *x, unsigned lifetime_s)
{
    time_t now = time(NULL);
    ASN1_TIME *nb = X509_time_adj_ex(X509_getm_notBefore(x), 0, -60, &now);
    ASN1_TIME *na = X509_time_adj_ex(X509_getm_notAfter(x), 0, (long)lifetime_s, &now);

    /* Never outlive the issuer: a verifier would refuse the chain anyway. */
    if (nb == NULL || na == NULL) {
        return 0;
    }
    if (ASN1_TIME_compare(na, X509_get0_notAfter(ca->cert)) > 0) {
        return X509_set1_notAfter(x, X509_get0_notAfter(ca->cert)) == 1;
    }
    return 1;
}

static int build(const struct svid_ca *ca, const char *id, EVP_PKEY *subject, unsigned lifetime_s,
                 X509 *x)
{
    X509V3_CTX v3;
    char san[SVID_ID_MAX + 8];
    X509_NAME *nm = X509_get_subject_name(x);

    snprintf(san, sizeof(san), "URI:%s", id);
    if (X509_set_version(x, X509_VERSION_3) != 1 || !set_serial(x) ||
        X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1 ||
        X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const uint8_t *)"agentd", -1, -1, 0) !=
            1 ||
        X509_set_pubkey(x, subject) != 1 || !set_times(ca, x, lifetime_s)) {
        return 0;
    }
    X509V3_set_ctx(&v3, ca->cert, x, NULL, NULL, 0);
    return add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") &&
           add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") &&
           add_ext(x, &v3, NID_ext_key_usage, "serverAuth,clientAuth") &&
           add_ext(x, &v3, NID_subject_key_identifier, "hash") &&
           add_ext(x, &v3, NID_authority_key_identifier, "keyid:always") &&
           add_ext(x, &v3, NID_subject_alt_name, san) && X509_sign(x, ca->key, EVP_sha256()) > 0;
}

int svid_issue(const struct svid_ca *ca, const char *trust_domain, const char *id,
               EVP_PKEY *subject, unsigned lifetime_s, uint8_t **ret_der, size_t *ret_len)
{
    X509 *x = NULL;
    uint8_t *der = NULL;
    int len, r;

    if (lifetime_s == 0 || lifetime_s > SVID_LIFETIME_MAX) {
        return AD_ERR_INVALID;
    }
    if ((r = svid_id_check(trust_domain, id)) != AD_OK) {
        return r;
    }
    r = AD_ERR_INTERNAL;
    if ((x = X509_new()) == NULL || !build(ca, id, subject, lifetime_s, x)) {
        goto out;
    }
    if ((len = i2d_X509(x, &der)) <= 0) {
        goto out;
    }
    *ret_der = der;
    *ret_len = (size_t)len;
    r = AD_OK;
out:
    ERR_clear_error();
    X509_free(x);
    return r;
}
