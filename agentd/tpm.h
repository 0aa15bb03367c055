/*
 * The TPM layer: the only code in agentd that calls ESYS, TCTI or the ESYS
 * parts of tss2-mu. Everyone else sees the small verbs below.
 *
 * Threading: single-threaded by contract. The daemon calls every function
 * taking a struct tpm * from one TPM worker thread. tpm_key_info() and the
 * keyblob/sigfmt helpers are pure and may be called from any thread.
 *
 * Errors: every fallible function returns 0 or a negative enum ad_err
 * (proto/err.h). TPM response codes are logged once, as
 * "agentd: tpm: <verb>: <Tss2_RC_Decode text>", through the log callback
 * (stderr by default) and become:
 *   AD_ERR_TPM        any other TPM or TSS failure
 *   AD_ERR_TPM_RETRY  TPM_RC_RETRY/YIELDED/TESTING persisted past opt->retries
 *   AD_ERR_TPM_LOST   the TCTI broke or the TPM restarted and recovery failed
 *   AD_ERR_INVALID    bad argument (digest length, unknown enum, ...)
 *   AD_ERR_UNSUPPORTED scheme/hash not usable with that key type
 *   AD_ERR_SHORT      *ret_sig_len too small (it is set to the needed size)
 *   AD_ERR_NOT_FOUND  NV index or persistent handle absent
 *
 * DA lockout: keys carry no noDA (the key template above), so the TPM's
 * dictionary-attack lockout applies to them even with empty auth. Each
 * unorderly TPM reset (power loss, swtpm killed) counts as a failure in
 * libtpms; after maxTries the TPM answers TPM_RC_LOCKOUT, logged and returned
 * as AD_ERR_TPM until recoveryTime passes or the owner clears it
 * (tpm2_dictionarylockout -c). The layer never clears it itself.
 *
 * Recovery: when the TCTI breaks or the TPM restarted (TPM_RC_INITIALIZE,
 * handles gone, connection refused/reset), the layer reopens the TCTI, runs
 * TPM2_Startup(CLEAR), re-creates the SRK and reloads keys from their blobs,
 * transparently, at most TPM_RECOVER_MAX times per call.
 */
#ifndef AGENTD_TPM_H
#define AGENTD_TPM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keyblob.h"

struct tpm;
struct tpm_key;

/* Defaults applied when the corresponding option is 0. */
#define TPM_DEFAULT_TCTI "device:/dev/tpmrm0"
#define TPM_DEFAULT_MAX_LOADED 2
#define TPM_DEFAULT_RETRIES 8
#define TPM_RECOVER_MAX 2
/* Largest signature tpm_sign produces (RSA-4096 would need 512). */
#define TPM_SIG_MAX 512
/* Persistent SRK handle conventionally used by tpm2-tools / tpm2-tss-engine. */
#define TPM_SRK_HANDLE_DEFAULT 0x81000001u

struct tpm_options {
    const char *tcti;    /* tctildr string: "device:/dev/tpmrm0", "tabrmd",
                          * "swtpm:host=127.0.0.1,port=N"; NULL = TPM_DEFAULT_TCTI */
    uint32_t srk_handle; /* 0: transient SRK from the TCG ECC P-256 SRK template
                          * (TCG Provisioning Guidance 7.5.1, "Storage Primary Key
                          * (SRK) Templates"); else a persistent handle that must exist */
    unsigned max_loaded; /* keys loaded at once, LRU evicted; 0 = 2 (swtpm has 3
                          * transient slots: SRK + 2 keys) */
    unsigned retries;    /* bound on TPM_RC_RETRY/YIELDED/TESTING retries; 0 = default */
};

enum tpm_key_type {
    TPM_KEY_EC_P256 = 1,
    TPM_KEY_EC_P384,
    TPM_KEY_RSA_2048,
    TPM_KEY_RSA_3072,
};

/*
 * Signature schemes. RSA-PSS: the TPM (libtpms/swtpm and, per TPM 2.0 Part 1
 * §B.7 / FIPS 186-4 rules, hardware TPMs in FIPS mode) uses a salt length
 * equal to the digest length (sLen = hLen): OpenSSL verifies with
 * RSA_PSS_SALTLEN_DIGEST. tests/integration/tpm_keys.sh checks this with
 * `openssl pkeyutl -pkeyopt rsa_pss_saltlen:digest` (and that libtpms does not
 * use the maximum salt). The daemon must refuse CKM_RSA_PKCS_PSS with
 * sLen != hLen.
 */
enum tpm_sig {
    TPM_SIG_ECDSA,
    TPM_SIG_RSASSA, /* PKCS#1 v1.5; the digest is wrapped in DigestInfo by the TPM */
    TPM_SIG_RSAPSS,
};
#define TPM_PSS_SALT_IS_DIGEST_LEN 1

enum tpm_hash {
    TPM_HASH_SHA1,
    TPM_HASH_SHA256,
    TPM_HASH_SHA384,
    TPM_HASH_SHA512,
};

enum tpm_ek_type {
    TPM_EK_RSA_2048 = 1, /* cert NV 0x01c00002 */
    TPM_EK_EC_P256,      /* cert NV 0x01c0000a */
    TPM_EK_EC_P384,      /* cert NV 0x01c00016 (swtpm 0.7.1's ECC EK) */
};

#define TPM_NV_EK_CERT_RSA2048 0x01c00002u
#define TPM_NV_EK_CERT_P256 0x01c0000au
#define TPM_NV_EK_CERT_P384 0x01c00016u

/*
 * How bad a TPM layer log line is: ERROR, an operation failed; WARN, the
 * layer is recovering (a TPM restart, a reconnect) and the operation may
 * still succeed; INFO, expected after a restart (nothing left to flush).
 */
enum tpm_log_level {
    TPM_LOG_ERROR,
    TPM_LOG_WARN,
    TPM_LOG_INFO,
};

/*
 * Log sink: receives the level and "<verb>: <text>" (no "agentd: tpm: "
 * prefix, no newline); never secrets. NULL restores stderr ("agentd: tpm:
 * <verb>: <text>\n", every level). Not thread-safe: set it before the TPM
 * worker starts. tpm2-tss logs on its own too (WARNING:esys:...);
 * TSS2_LOG=all+none in the environment silences it.
 */
typedef void (*tpm_log_fn)(enum tpm_log_level level, const char *line);
void tpm_set_log(tpm_log_fn fn);

/*
 * Open the TCTI, start the TPM if it needs TPM2_Startup(CLEAR) and create (or
 * look up) the SRK. opt may be NULL (all defaults). *ret is owned by the
 * caller; free with tpm_close().
 */
AD_MUST_CHECK int tpm_open(const struct tpm_options *opt, struct tpm **ret);

/* Flush every loaded key and the SRK, close ESYS and the TCTI. NULL-tolerant. */
void tpm_close(struct tpm *t);

/*
 * Create a signing key (fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|
 * sign, empty auth, not restricted) under the SRK. RSA keys have exponent
 * 65537 and a NULL scheme (the scheme is chosen per tpm_sign call). The key is
 * not left loaded. *ret is owned by the caller (keyblob_free).
 */
AD_MUST_CHECK int tpm_create_key(struct tpm *t, enum tpm_key_type type, struct keyblob **ret);

/*
 * Make a key known to the layer. Copies kb (the caller keeps it) after
 * checking that it parses; does not necessarily load it. Free with
 * tpm_key_free(), which flushes it if loaded. Keys belong to t and must be
 * freed before tpm_close().
 */
AD_MUST_CHECK int tpm_key_new(struct tpm *t, const struct keyblob *kb, struct tpm_key **ret);
void tpm_key_free(struct tpm *t, struct tpm_key *k);

/* The key type of k (from its public area). */
enum tpm_key_type tpm_key_type(const struct tpm_key *k);

/* The blob k was made from (owned by k, valid until tpm_key_free); for tpm_key_info. */
const struct keyblob *tpm_key_blob(const struct tpm_key *k);

/*
 * Sign digest (its length must match hash) with k, loading it first when it is
 * not loaded (LRU eviction keeps at most max_loaded keys loaded). A hot key
 * costs exactly one TPM command (TPM2_Sign, password session).
 * Output in PKCS#11 form: ECDSA raw r||s, each left-padded to the curve size
 * (64 bytes for P-256, 96 for P-384); RSA the modulus-sized big-endian integer.
 * *ret_sig_len: buffer size in, signature length out. If the buffer is too
 * small, returns AD_ERR_SHORT and sets *ret_sig_len to the size needed
 * (without using the TPM).
 */
AD_MUST_CHECK int tpm_sign(struct tpm *t, struct tpm_key *k, enum tpm_sig sig, enum tpm_hash hash,
                           const uint8_t *digest, size_t digest_len, uint8_t *ret_sig,
                           size_t *ret_sig_len);

/*
 * Work that overlaps a signature: fn(arg) runs while the TPM computes (the
 * command sent, its answer not yet read), so its time is hidden behind the
 * TPM's. It must not use this tpm. The caller of the event loop appends its
 * audit record there.
 */
struct tpm_meanwhile {
    void (*fn)(void *arg);
    void *arg;
};

/*
 * tpm_sign, running mw->fn exactly once before it returns, whatever the
 * outcome: during the first TPM2_Sign when the key is ready to sign, else
 * before returning. mw NULL is tpm_sign. Retries and recovery as tpm_sign.
 */
AD_MUST_CHECK int tpm_sign_meanwhile(struct tpm *t, struct tpm_key *k, enum tpm_sig sig,
                                     enum tpm_hash hash, const uint8_t *digest, size_t digest_len,
                                     const struct tpm_meanwhile *mw, uint8_t *ret_sig,
                                     size_t *ret_sig_len);

/* Size of a signature by a key of this type (64/96 for EC, 256/384 for RSA). */
size_t tpm_sig_len(enum tpm_key_type type);

/* Digest length of hash in bytes, 0 if unknown. */
size_t tpm_hash_len(enum tpm_hash hash);

/* Public facts about a key, derived from its blob alone. */
struct tpm_pubinfo {
    enum tpm_key_type type;
    unsigned bits; /* 256/384 for EC, modulus bits for RSA */
    uint8_t *spki; /* DER SubjectPublicKeyInfo */
    size_t spki_len;
    uint8_t *ec_params; /* EC: DER OBJECT IDENTIFIER of the curve (CKA_EC_PARAMS) */
    size_t ec_params_len;
    uint8_t *ec_point; /* EC: DER OCTET STRING of 04||x||y (CKA_EC_POINT) */
    size_t ec_point_len;
    uint8_t *rsa_n; /* RSA: modulus, big-endian, no leading zero (CKA_MODULUS) */
    size_t rsa_n_len;
    uint8_t *rsa_e; /* RSA: public exponent, big-endian (CKA_PUBLIC_EXPONENT) */
    size_t rsa_e_len;
    uint8_t *name; /* TPM name: nameAlg (2 bytes, big-endian) || digest of TPMT_PUBLIC */
    size_t name_len;
};

/*
 * Fill *ret from kb's public area. Pure: no TPM. Unused fields are NULL/0.
 * Free the fields with tpm_pubinfo_clear (also safe on a zeroed struct).
 * AD_ERR_FORMAT if the public area does not parse or has an unsupported type.
 */
AD_MUST_CHECK int tpm_key_info(const struct keyblob *kb, struct tpm_pubinfo *ret);
void tpm_pubinfo_clear(struct tpm_pubinfo *info);

/* Fill buf with len bytes from TPM2_GetRandom (loops over TPM-sized chunks). */
AD_MUST_CHECK int tpm_get_random(struct tpm *t, uint8_t *buf, size_t len);

/*
 * Read the PCRs in pcr_mask (bit i = PCR i, i < 24) of bank. ret_values[i]
 * receives PCR i's value for each selected i (others untouched);
 * *ret_digest_len the bank's digest length. AD_ERR_UNSUPPORTED if the bank is
 * not allocated.
 */
#define TPM_PCR_COUNT 24
AD_MUST_CHECK int tpm_pcr_read(struct tpm *t, enum tpm_hash bank, uint32_t pcr_mask,
                               uint8_t ret_values[TPM_PCR_COUNT][64], size_t *ret_digest_len);

/*
 * Read the whole of NV index nv_index (chunked by the TPM's max NV buffer).
 * *ret is malloc'd, owned by the caller. AD_ERR_NOT_FOUND if undefined.
 */
AD_MUST_CHECK int tpm_read_nv(struct tpm *t, uint32_t nv_index, uint8_t **ret, size_t *ret_len);

/* Read the EK certificate of type (DER, caller frees). AD_ERR_NOT_FOUND if absent. */
AD_MUST_CHECK int tpm_read_ek_cert(struct tpm *t, enum tpm_ek_type type, uint8_t **ret_der,
                                   size_t *ret_len);

/* --- Attestation verbs (agentd/tpm_attest.c) ---------------------------- */

/* A marshalled TPM structure and its length (caller frees data). */
struct tpm_bytes {
    uint8_t *data;
    size_t len;
};
void tpm_bytes_clear(struct tpm_bytes *b); /* frees and zeroes; NULL-tolerant */

/*
 * Public area of the EK primary created from the TCG default EK template
 * (TCG EK Credential Profile 2.x: L-1 RSA-2048, L-2 ECC P-256, H-4 ECC
 * P-384 with SHA-384 and PolicyB), as marshalled TPM2B_PUBLIC bytes (the
 * form tpm2_makecredential -u reads). It matches the public key in the EK
 * certificate (checked for swtpm's RSA and P-384 EKs). The EK is flushed
 * afterwards.
 */
AD_MUST_CHECK int tpm_ek_public(struct tpm *t, enum tpm_ek_type type, struct tpm_bytes *ret_pub);

/*
 * Create an AK: restricted signing key, ECC P-256, ECDSA/SHA-256, under the
 * owner-hierarchy SRK. *ret is owned by the caller (keyblob_free).
 */
AD_MUST_CHECK int tpm_create_ak(struct tpm *t, struct keyblob **ret);

/*
 * TPM2_ActivateCredential with the AK (ak) and the EK of ek_type (L-1/L-2:
 * policy session with PolicySecret(TPM_RH_ENDORSEMENT); H-4 has userWithAuth
 * and empty auth, so a password session). credential_blob is a
 * marshalled TPM2B_ID_OBJECT, secret a marshalled TPM2B_ENCRYPTED_SECRET; both
 * are unmarshalled with bounds checks first (AD_ERR_FORMAT). The recovered
 * secret is written to ret_secret (at most 64 bytes; buffer of ret_secret_len
 * in, length out); the caller wipes it.
 */
AD_MUST_CHECK int tpm_activate_credential(struct tpm *t, struct tpm_key *ak,
                                          enum tpm_ek_type ek_type, const uint8_t *credential_blob,
                                          size_t credential_blob_len, const uint8_t *secret,
                                          size_t secret_len, uint8_t *ret_secret,
                                          size_t *ret_secret_len);

/*
 * TPM2_Quote with ak over the PCRs in pcr_mask of bank, qualifying data nonce
 * (at most 64 bytes). ret_attest: marshalled TPM2B_ATTEST; ret_sig: marshalled
 * TPMT_SIGNATURE (ECDSA/SHA-256). Caller clears both.
 */
AD_MUST_CHECK int tpm_quote(struct tpm *t, struct tpm_key *ak, const uint8_t *nonce,
                            size_t nonce_len, enum tpm_hash bank, uint32_t pcr_mask,
                            struct tpm_bytes *ret_attest, struct tpm_bytes *ret_sig);

/*
 * TPM2_Certify: ak certifies key (both empty auth), qualifying data nonce.
 * Outputs as for tpm_quote.
 */
AD_MUST_CHECK int tpm_certify(struct tpm *t, struct tpm_key *ak, struct tpm_key *key,
                              const uint8_t *nonce, size_t nonce_len, struct tpm_bytes *ret_attest,
                              struct tpm_bytes *ret_sig);

#endif
