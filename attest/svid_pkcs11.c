/*
 * CA keys behind PKCS#11 (an HSM, or SoftHSM2 in tests), reached through
 * libp11's "pkcs11" OpenSSL engine: Debian 12's OpenSSL 3.0 has no PKCS#11
 * provider, and the engine API is deprecated in 3.0, hence the suppression
 * below, confined to this file.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "svid_pkcs11.h"

#include <string.h>

#include <openssl/engine.h>
#include <openssl/err.h>

int svid_pkcs11_load_key(const char *uri, const char *module, EVP_PKEY **ret)
{
    ENGINE *e = NULL;
    EVP_PKEY *k = NULL;
    int is_init = 0, r = AD_ERR_CONFIG;

    if (strncmp(uri, "pkcs11:", 7) != 0 || module == NULL || module[0] == '\0') {
        return AD_ERR_INVALID;
    }
    ENGINE_load_dynamic();
    if ((e = ENGINE_by_id("pkcs11")) == NULL ||
        ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module, 0) != 1 || ENGINE_init(e) != 1) {
        goto out;
    }
    is_init = 1;
    /* The PIN comes in the URI ("pin-value=") or from the token's own policy. */
    if ((k = ENGINE_load_private_key(e, uri, NULL, NULL)) == NULL) {
        goto out;
    }
    *ret = k;
    r = AD_OK;
out:
    ERR_clear_error();
    if (is_init) {
        ENGINE_finish(e); /* the key keeps its own reference to the engine */
    }
    ENGINE_free(e);
    return r;
}
