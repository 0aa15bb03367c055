/*
 * A TLS client key whose private half never leaves the TPM: an EVP_PKEY
 * with the certificate's public key whose signatures are made by a
 * callback (the daemon's TPM worker, or agentd-enroll's own TPM). ECDSA
 * only: the host keys agentd creates are P-256 (identity_tpm.c,
 * enroll_main.c); other key types are refused with AD_ERR_UNSUPPORTED.
 */
#ifndef AGENTD_TLSKEY_H
#define AGENTD_TLSKEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"

/* ECDSA raw r||s is at most this long (P-521). */
#define TLSKEY_SIG_MAX 132

/*
 * Sign digest (digest_len bytes: 20, 32, 48 or 64, i.e. SHA-1/256/384/512)
 * with the key; write ECDSA r||s, each half the curve's size, to ret_sig
 * (*ret_sig_len: its size in, the length out). Returns 0 or an ad_err.
 */
typedef int (*tlskey_sign_fn)(void *ctx, const uint8_t *digest, size_t digest_len, uint8_t *ret_sig,
                              size_t *ret_sig_len);

/*
 * An EVP_PKEY for cert's public key (borrowed) that signs through
 * sign(ctx, ...). ctx must outlive every use of the key (the SSL_CTX it is
 * installed in). *ret is the caller's (EVP_PKEY_free). AD_ERR_UNSUPPORTED
 * if cert's key is not EC, AD_ERR_NOMEM/AD_ERR_INTERNAL otherwise.
 */
AD_MUST_CHECK int tlskey_new(X509 *cert, tlskey_sign_fn sign, void *ctx, EVP_PKEY **ret);

#endif
