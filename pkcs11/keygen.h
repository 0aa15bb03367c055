/*
 * C_GenerateKeyPair through GENERATE_KEY: EC P-256/P-384 chosen by
 * CKA_EC_PARAMS, RSA 2048/3072 by CKA_MODULUS_BITS. The key is a daemon key
 * named by CKA_LABEL (empty: the daemon picks); it is always sensitive and
 * never extractable, so a template asking otherwise is inconsistent.
 */
#ifndef AGENTD_PKCS11_KEYGEN_H
#define AGENTD_PKCS11_KEYGEN_H

#include <p11-kit/pkcs11.h>

CK_RV keygen_pair(const CK_MECHANISM *mech, const CK_ATTRIBUTE *pub, CK_ULONG n_pub,
                  const CK_ATTRIBUTE *priv, CK_ULONG n_priv, CK_OBJECT_HANDLE_PTR ret_pub,
                  CK_OBJECT_HANDLE_PTR ret_priv);

#endif
