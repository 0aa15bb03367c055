/*
 * The mechanism table: one const row per mechanism, read by
 * C_GetMechanismList/Info, C_SignInit, C_VerifyInit and C_DigestInit. The
 * mech_mask bit of a mechanism is its row in proto/mech.h's table.
 */
#ifndef AGENTD_PKCS11_MECH_H
#define AGENTD_PKCS11_MECH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "client.h"

struct mech_desc {
    CK_MECHANISM_TYPE type;
    CK_KEY_TYPE key_type; /* CK_UNAVAILABLE_INFORMATION: keyless (digest) */
    CK_ULONG min_bits;
    CK_ULONG max_bits;
    CK_FLAGS flags;
    CK_MECHANISM_TYPE hash; /* digest the daemon applies; 0: none */
    size_t hash_len;        /* output of hash, or of the digest mechanism itself */
    bool has_pss_params;
};

/* Row for type, or NULL. */
const struct mech_desc *mech_find(CK_MECHANISM_TYPE type);

/* m's bit in a key's mech_mask (proto/mech.h row index), -1 when not on the wire. */
int mech_mask_bit(const struct mech_desc *m);

/* True when mech_mask allows m (always for digests and key generation). */
bool mech_is_allowed(const struct mech_desc *m, uint64_t mech_mask);

/*
 * Check pMechanism's parameters against row m and fill *ret_pss (zeros when the
 * mechanism takes none). CKR_MECHANISM_PARAM_INVALID when they do not fit.
 */
CK_RV mech_params(const struct mech_desc *m, const CK_MECHANISM *mech, struct client_pss *ret_pss);

/* Signature length for a key (from its bits): EC r||s, RSA modulus size. */
CK_ULONG mech_sig_len(CK_KEY_TYPE key_type, CK_ULONG bits);

/*
 * C_GetMechanismList: the mechanisms in union_mask plus digests and key
 * generation. Length-query and CKR_BUFFER_TOO_SMALL semantics per spec.
 */
CK_RV mech_list(uint64_t union_mask, CK_MECHANISM_TYPE_PTR out, CK_ULONG_PTR count);

/* C_GetMechanismInfo; CKR_MECHANISM_INVALID when not offered under union_mask. */
CK_RV mech_info(uint64_t union_mask, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);

/* CKA_ALLOWED_MECHANISMS of a key: writes up to max types, returns how many it has. */
size_t mech_allowed(uint64_t mech_mask, CK_KEY_TYPE key_type, CK_MECHANISM_TYPE *out, size_t max);

#endif
