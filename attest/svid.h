/*
 * X.509-SVID issuing (SPIFFE X509-SVID §4/§5): one URI SAN
 * spiffe://<trust-domain>/<path>, not a CA, digitalSignature only, short
 * lifetime, signed by the CA key.
 */
#ifndef AGENTD_ATTEST_SVID_H
#define AGENTD_ATTEST_SVID_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"

/* SPIFFE ID §2.3/§2.4: the whole ID is at most 2048 bytes, the trust domain 255. */
#define SVID_ID_MAX 2048
#define SVID_TRUST_DOMAIN_MAX 255
#define SVID_LIFETIME_MAX (30u * 24 * 3600)

struct svid_ca;

/*
 * Load the CA certificate (PEM file) and its private key: a PEM file, or a
 * "pkcs11:" URI on a token whose PKCS#11 library is pkcs11_module. The key
 * must match the certificate, and the certificate must be a CA. Free with
 * svid_ca_free (which frees the key). AD_ERR_CONFIG on mismatch or an
 * unusable key; AD_ERR_SYSTEM if a file cannot be read.
 */
AD_MUST_CHECK int svid_ca_load(const char *cert_pem, const char *key, const char *pkcs11_module,
                               struct svid_ca **ret);
void svid_ca_free(struct svid_ca *ca);

/* The CA certificate (borrowed, valid while ca lives). */
X509 *svid_ca_cert(const struct svid_ca *ca);

/*
 * Check that id is spiffe://<trust_domain>/<path> with a lowercase trust
 * domain of [a-z0-9.-_], a non-empty path of segments of [A-Za-z0-9.-_]
 * (no "." or ".." segment, no empty segment), no query or fragment.
 */
AD_MUST_CHECK int svid_id_check(const char *trust_domain, const char *id);

/*
 * Issue a certificate for subject (public key) with the SPIFFE ID id,
 * valid from now - 60 s (clock skew) for lifetime_s seconds (1 ..
 * SVID_LIFETIME_MAX, and never past the CA's own notAfter). *ret_der is
 * owned by the caller (OPENSSL_free).
 */
AD_MUST_CHECK int svid_issue(const struct svid_ca *ca, const char *trust_domain, const char *id,
                             EVP_PKEY *subject, unsigned lifetime_s, uint8_t **ret_der,
                             size_t *ret_len);

#endif
