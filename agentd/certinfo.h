/*
 * One X.509 certificate as the daemon keeps it: the DER and the fields
 * PKCS#11 exposes (CKA_SUBJECT, CKA_ISSUER as DER Names, CKA_SERIAL_NUMBER
 * as the DER INTEGER), its validity and its URI SAN. Parsed once with
 * OpenSSL when a certificate is stored or read back; pure, thread-safe.
 */
#ifndef AGENTD_CERTINFO_H
#define AGENTD_CERTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CERTINFO_DER_MAX 8192  /* proto CERT_MAX */
#define CERTINFO_NAME_MAX 1024 /* proto CERT_NAME_MAX */
#define CERTINFO_SERIAL_MAX 64 /* proto CERT_SERIAL_MAX */
#define CERTINFO_URI_MAX 2048
#define CERTINFO_LIST_MAX 16 /* proto CAS_MAX: certificates taken from one bundle */

struct certinfo {
    uint8_t *der; /* NULL: no certificate (every other field empty) */
    size_t der_len;
    uint8_t *subject;
    size_t subject_len;
    uint8_t *issuer;
    size_t issuer_len;
    uint8_t *serial; /* DER INTEGER */
    size_t serial_len;
    char serial_hex[2 * CERTINFO_SERIAL_MAX + 1];
    int64_t not_before; /* seconds since the epoch */
    int64_t not_after;
    char *uri; /* the first URI subjectAltName, NULL when none */
};

/*
 * Parse one DER certificate. Returns 0, AD_ERR_FORMAT (not a certificate,
 * trailing bytes), AD_ERR_TOO_LARGE (over the proto caps), AD_ERR_NOMEM.
 * *ret is filled only on success.
 */
AD_MUST_CHECK int certinfo_from_der(const uint8_t *der, size_t len, struct certinfo *ret);

/* The first certificate of a PEM text. Errors as certinfo_from_der. */
AD_MUST_CHECK int certinfo_from_pem(const char *pem, struct certinfo *ret);

/*
 * Every certificate of a PEM bundle (1..CERTINFO_LIST_MAX). *ret is an
 * array the caller frees with certinfo_list_free.
 */
AD_MUST_CHECK int certinfo_list_from_pem(const char *pem, struct certinfo **ret, size_t *ret_n);
void certinfo_list_free(struct certinfo *list, size_t n);

/* Deep copy (src may be empty). Returns 0 or AD_ERR_NOMEM. */
AD_MUST_CHECK int certinfo_copy(const struct certinfo *src, struct certinfo *dst);

/* Free the fields and zero c; NULL and an empty c are fine. */
void certinfo_clear(struct certinfo *c);

/* True when the certificate's SubjectPublicKeyInfo is exactly spki (DER). */
bool certinfo_has_spki(const struct certinfo *c, const uint8_t *spki, size_t len);

#endif
