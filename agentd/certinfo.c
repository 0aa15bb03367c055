#include "certinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

void certinfo_clear(struct certinfo *c)
{
    if (c == NULL) {
        return;
    }
    free(c->der);
    free(c->subject);
    free(c->issuer);
    free(c->serial);
    free(c->uri);
    memset(c, 0, sizeof(*c));
}

void certinfo_list_free(struct certinfo *list, size_t n)
{
    if (list == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        certinfo_clear(&list[i]);
    }
    free(list);
}

/* i2d of an OpenSSL object into a fresh buffer of at most max bytes. */
static int der_of(int len, uint8_t *tmp, size_t max, uint8_t **ret, size_t *ret_len)
{
    uint8_t *p;

    if (len <= 0 || tmp == NULL) {
        return AD_ERR_FORMAT;
    }
    if ((size_t)len > max) {
        return AD_ERR_TOO_LARGE;
    }
    if ((p = malloc((size_t)len)) == NULL) {
        return AD_ERR_NOMEM;
    }
    memcpy(p, tmp, (size_t)len);
    *ret = p;
    *ret_len = (size_t)len;
    return AD_OK;
}

static int name_der(const X509_NAME *n, uint8_t **ret, size_t *ret_len)
{
    uint8_t *tmp = NULL;
    int len = i2d_X509_NAME(n, &tmp);
    int r = der_of(len, tmp, CERTINFO_NAME_MAX, ret, ret_len);

    OPENSSL_free(tmp);
    return r;
}

static int serial_der(const ASN1_INTEGER *s, struct certinfo *c)
{
    uint8_t *tmp = NULL;
    int len = i2d_ASN1_INTEGER(s, &tmp);
    int r = der_of(len, tmp, CERTINFO_SERIAL_MAX, &c->serial, &c->serial_len);
    size_t hdr = 2; /* tag and one length byte: the serial caps keep the length short */

    OPENSSL_free(tmp);
    for (size_t i = hdr; r == AD_OK && i < c->serial_len; i++) {
        snprintf(c->serial_hex + 2 * (i - hdr), 3, "%02x", c->serial[i]);
    }
    return r;
}

static int time_of(const ASN1_TIME *t, int64_t *ret)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return AD_ERR_FORMAT;
    }
    *ret = (int64_t)timegm(&tm);
    return AD_OK;
}

static int uri_of(X509 *x, char **ret)
{
    GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int r = AD_OK;

    *ret = NULL;
    for (int i = 0; san != NULL && i < sk_GENERAL_NAME_num(san); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
        int len;

        if (gn->type != GEN_URI) {
            continue;
        }
        len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
        if (len <= 0 || len > CERTINFO_URI_MAX) {
            r = AD_ERR_FORMAT;
        } else if ((*ret = strndup(
                        (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
                        (size_t)len)) == NULL) {
            r = AD_ERR_NOMEM;
        }
        break;
    }
    GENERAL_NAMES_free(san);
    return r;
}

static int from_x509(X509 *x, struct certinfo *ret)
{
    struct certinfo c;
    uint8_t *tmp = NULL;
    int len;
    int r;

    memset(&c, 0, sizeof(c));
    len = i2d_X509(x, &tmp);
    if ((r = der_of(len, tmp, CERTINFO_DER_MAX, &c.der, &c.der_len)) != AD_OK ||
        (r = name_der(X509_get_subject_name(x), &c.subject, &c.subject_len)) != AD_OK ||
        (r = name_der(X509_get_issuer_name(x), &c.issuer, &c.issuer_len)) != AD_OK ||
        (r = serial_der(X509_get0_serialNumber(x), &c)) != AD_OK ||
        (r = time_of(X509_get0_notBefore(x), &c.not_before)) != AD_OK ||
        (r = time_of(X509_get0_notAfter(x), &c.not_after)) != AD_OK ||
        (r = uri_of(x, &c.uri)) != AD_OK) {
        certinfo_clear(&c);
    } else {
        *ret = c;
    }
    OPENSSL_free(tmp);
    return r;
}

int certinfo_from_der(const uint8_t *der, size_t len, struct certinfo *ret)
{
    const uint8_t *p = der;
    X509 *x;
    int r;

    if (len == 0 || len > CERTINFO_DER_MAX) {
        return len == 0 ? AD_ERR_FORMAT : AD_ERR_TOO_LARGE;
    }
    if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
        X509_free(x);
        ERR_clear_error();
        return AD_ERR_FORMAT;
    }
    r = from_x509(x, ret);
    X509_free(x);
    return r;
}

int certinfo_list_from_pem(const char *pem, struct certinfo **ret, size_t *ret_n)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    struct certinfo *list = calloc(CERTINFO_LIST_MAX, sizeof(*list));
    size_t n = 0;
    X509 *x = NULL;
    int r = AD_OK;

    if (b == NULL || list == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    while (r == AD_OK && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (n == CERTINFO_LIST_MAX) {
            r = AD_ERR_TOO_LARGE;
        } else if ((r = from_x509(x, &list[n])) == AD_OK) {
            n++;
        }
        X509_free(x);
    }
    ERR_clear_error(); /* the read that ends the loop leaves "no start line" */
    if (r == AD_OK && n == 0) {
        r = AD_ERR_FORMAT;
    }
    if (r != AD_OK) {
        goto out;
    }
    *ret = list;
    *ret_n = n;
    list = NULL;
out:
    certinfo_list_free(list, n);
    BIO_free(b);
    return r;
}

int certinfo_from_pem(const char *pem, struct certinfo *ret)
{
    struct certinfo *list = NULL;
    size_t n = 0;
    int r;

    if ((r = certinfo_list_from_pem(pem, &list, &n)) != AD_OK) {
        return r;
    }
    *ret = list[0]; /* ownership of the fields moves to ret */
    memset(&list[0], 0, sizeof(list[0]));
    certinfo_list_free(list, n);
    return AD_OK;
}

static int dup_field(const uint8_t *src, size_t len, uint8_t **ret)
{
    *ret = NULL;
    if (src == NULL || len == 0) {
        return AD_OK;
    }
    if ((*ret = malloc(len)) == NULL) {
        return AD_ERR_NOMEM;
    }
    memcpy(*ret, src, len);
    return AD_OK;
}

int certinfo_copy(const struct certinfo *src, struct certinfo *dst)
{
    struct certinfo c = *src;

    c.der = c.subject = c.issuer = c.serial = NULL;
    c.uri = NULL;
    if (dup_field(src->der, src->der_len, &c.der) != AD_OK ||
        dup_field(src->subject, src->subject_len, &c.subject) != AD_OK ||
        dup_field(src->issuer, src->issuer_len, &c.issuer) != AD_OK ||
        dup_field(src->serial, src->serial_len, &c.serial) != AD_OK ||
        (src->uri != NULL && (c.uri = strdup(src->uri)) == NULL)) {
        certinfo_clear(&c);
        return AD_ERR_NOMEM;
    }
    *dst = c;
    return AD_OK;
}

bool certinfo_has_spki(const struct certinfo *c, const uint8_t *spki, size_t len)
{
    const uint8_t *p = c->der;
    X509 *x = c->der != NULL ? d2i_X509(NULL, &p, (long)c->der_len) : NULL;
    uint8_t *tmp = NULL;
    int n = x != NULL ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &tmp) : -1;
    bool is_same = n > 0 && (size_t)n == len && CRYPTO_memcmp(tmp, spki, len) == 0;

    OPENSSL_free(tmp);
    X509_free(x);
    ERR_clear_error();
    return is_same;
}
