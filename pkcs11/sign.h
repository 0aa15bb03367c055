/*
 * Signing, verification and digests on a held session. The module never
 * signs: it checks the key and mechanism against the mechanism table,
 * accumulates input up to SIGN_INPUT_MAX and sends one SIGN, VERIFY or
 * DIGEST. Length queries are answered from the key's bits and cost nothing.
 */
#ifndef AGENTD_PKCS11_SIGN_H
#define AGENTD_PKCS11_SIGN_H

#include <p11-kit/pkcs11.h>

#include "session.h"

CK_RV sign_init(struct session *s, const CK_MECHANISM *mech, CK_OBJECT_HANDLE key);
CK_RV sign_once(struct session *s, const CK_BYTE *data, CK_ULONG len, CK_BYTE_PTR sig,
                CK_ULONG_PTR sig_len);
CK_RV sign_update(struct session *s, const CK_BYTE *data, CK_ULONG len);
CK_RV sign_final(struct session *s, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len);

CK_RV sign_verify_init(struct session *s, const CK_MECHANISM *mech, CK_OBJECT_HANDLE key);
CK_RV sign_verify_once(struct session *s, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                       CK_ULONG sig_len);
CK_RV sign_verify_update(struct session *s, const CK_BYTE *data, CK_ULONG len);
CK_RV sign_verify_final(struct session *s, const CK_BYTE *sig, CK_ULONG sig_len);

CK_RV sign_digest_init(struct session *s, const CK_MECHANISM *mech);
CK_RV sign_digest_once(struct session *s, const CK_BYTE *data, CK_ULONG len, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len);
CK_RV sign_digest_update(struct session *s, const CK_BYTE *data, CK_ULONG len);
CK_RV sign_digest_final(struct session *s, CK_BYTE_PTR out, CK_ULONG_PTR out_len);

#endif
