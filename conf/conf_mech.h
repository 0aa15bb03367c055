/*
 * Mechanism and key-type names accepted in the config file, with the
 * PKCS#11 values from proto/README.md. Kept in conf/ (libconfig + libc only)
 * so the config can be validated without the daemon.
 *
 * Row i is bit i of the wire mech_mask (policy_mech_mask()): the rows follow
 * proto/README.md's mechanism list, as pkcs11/mech.c's mask_bit column does.
 * Append only; test_policy pins the bit of every row.
 */
#ifndef AGENTD_CONF_CONF_MECH_H
#define AGENTD_CONF_CONF_MECH_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define CONF_CKK_RSA 0x0u
#define CONF_CKK_EC 0x3u

#define CONF_KEY_TYPE_NAMES "ec-p256, ec-p384, rsa-2048, rsa-3072"

struct conf_mech {
    const char *name;  /* spec name without CKM_ ("ECDSA_SHA256") */
    uint64_t ckm;      /* CKM_* value */
    uint64_t key_type; /* CKK_* the mechanism signs with; 0 for digests (is_sign false) */
    bool is_sign;      /* false: digest-only (SHA256, ...) */
};

/* Row by spec name (exact, case-sensitive), or NULL. */
const struct conf_mech *conf_mech_by_name(const char *name);

/* Row by CKM value, or NULL. */
const struct conf_mech *conf_mech_by_ckm(uint64_t ckm);

/* True when m can sign with a key of key_type. */
bool conf_mech_valid_for_key(const struct conf_mech *m, uint64_t key_type);

/* "ec-p256" -> CKK_EC, 256. Returns AD_OK or AD_ERR_NOT_FOUND. */
AD_MUST_CHECK int conf_key_type_by_name(const char *name, uint64_t *ret_key_type,
                                        uint32_t *ret_bits);

/* True when (key_type, bits) is one of the key types above. */
bool conf_key_type_valid(uint64_t key_type, uint32_t bits);

/* Row i of the table (for iteration), or NULL past the end. */
const struct conf_mech *conf_mech_at(unsigned i);

#endif
