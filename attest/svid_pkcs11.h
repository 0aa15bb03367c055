/* CA private keys on a PKCS#11 token. */
#ifndef AGENTD_ATTEST_SVID_PKCS11_H
#define AGENTD_ATTEST_SVID_PKCS11_H

#include <openssl/evp.h>

#include "err.h"

/*
 * Load the private key named by an RFC 7512 "pkcs11:" uri through module
 * (the token's PKCS#11 library). *ret signs on the token. AD_ERR_CONFIG if
 * the engine, module or key is unusable; AD_ERR_INVALID for a non-pkcs11 uri.
 */
AD_MUST_CHECK int svid_pkcs11_load_key(const char *uri, const char *module, EVP_PKEY **ret);

#endif
