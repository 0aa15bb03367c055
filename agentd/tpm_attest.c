/*
 * Attestation verbs: EK public areas, AK creation, credential activation,
 * quotes and certification. Inputs from the CA are marshalled TPM structures,
 * unmarshalled here with tss2-mu (bounds-checked) before any TPM command.
 */
#include "tpm.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include "tpm_internal.h"

/*
 * TCG EK Credential Profile 2.x authPolicy digests: PolicyA (SHA-256) =
 * TPM2_PolicySecret(TPM_RH_ENDORSEMENT) for the low-range templates L-1/L-2;
 * PolicyB (SHA-384) for the high-range template H-4 (ECC P-384), which also
 * sets userWithAuth, so its empty auth value works with a password session.
 * swtpm 0.7.1's P-384 EK certificate matches H-4 (checked by tests/integration/tpm_attest.sh).
 */
static const uint8_t ek_policy_sha256[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};
static const uint8_t ek_policy_b_sha384[48] = {
    0xb2, 0x6e, 0x7d, 0x28, 0xd1, 0x1a, 0x50, 0xbc, 0x53, 0xd8, 0x82, 0xbc, 0xf5, 0xfd, 0x3a, 0x1a,
    0x07, 0x41, 0x48, 0xbb, 0x35, 0xd3, 0xb4, 0xe4, 0xcb, 0x1c, 0x0a, 0xd9, 0xbd, 0xe4, 0x19, 0xca,
    0xcb, 0x47, 0xba, 0x09, 0x69, 0x96, 0x46, 0x15, 0x0f, 0x9f, 0xc0, 0x00, 0xf3, 0xf8, 0x0e, 0x12};

/* The EK template of type (EK Credential Profile 2.x, B.3.3/B.3.4 and the high range). */
static int ek_template(enum tpm_ek_type type, TPM2B_PUBLIC *pub)
{
    TPMT_PUBLIC *p = &pub->publicArea;

    memset(pub, 0, sizeof(*pub));
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    p->authPolicy.size = sizeof(ek_policy_sha256);
    memcpy(p->authPolicy.buffer, ek_policy_sha256, sizeof(ek_policy_sha256));
    switch (type) {
    case TPM_EK_RSA_2048: /* L-1 */
        p->type = TPM2_ALG_RSA;
        p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
        p->parameters.rsaDetail.symmetric.keyBits.aes = 128;
        p->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        p->parameters.rsaDetail.keyBits = 2048;
        p->unique.rsa.size = 256;
        return AD_OK;
    case TPM_EK_EC_P256: /* L-2 */
        p->type = TPM2_ALG_ECC;
        p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
        p->parameters.eccDetail.symmetric.keyBits.aes = 128;
        p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        p->unique.ecc.x.size = 32;
        p->unique.ecc.y.size = 32;
        return AD_OK;
    case TPM_EK_EC_P384: /* H-4: SHA-384, PolicyB, AES-256, userWithAuth, empty unique */
        p->type = TPM2_ALG_ECC;
        p->nameAlg = TPM2_ALG_SHA384;
        p->objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
        p->authPolicy.size = sizeof(ek_policy_b_sha384);
        memcpy(p->authPolicy.buffer, ek_policy_b_sha384, sizeof(ek_policy_b_sha384));
        p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
        p->parameters.eccDetail.symmetric.keyBits.aes = 256;
        p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
        p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        return AD_OK;
    default:
        return AD_ERR_INVALID;
    }
}

static int bytes_from(const uint8_t *src, size_t len, struct tpm_bytes *ret)
{
    if ((ret->data = malloc(len > 0 ? len : 1)) == NULL) {
        return AD_ERR_NOMEM;
    }
    memcpy(ret->data, src, len);
    ret->len = len;
    return AD_OK;
}

/* Make the EK primary; *ret_pub (optional) receives its public area. */
static TSS2_RC ek_create(struct tpm *t, enum tpm_ek_type type, ESYS_TR *ret_ek,
                         TPM2B_PUBLIC **ret_pub)
{
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TPM2B_PUBLIC tmpl;

    if (ek_template(type, &tmpl) != 0) {
        return TSS2_ESYS_RC_BAD_VALUE;
    }
    return Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                              ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, ret_ek, ret_pub, NULL,
                              NULL, NULL);
}

/* Free transient slots: the EK needs one next to the SRK and the AK (swtpm has 3). */
static void evict_except(struct tpm *t, const struct tpm_key *keep)
{
    for (struct tpm_key *k = t->keys; k != NULL; k = k->next) {
        if (k != keep && k->handle != ESYS_TR_NONE) {
            (void)Esys_FlushContext(t->esys, k->handle);
            k->handle = ESYS_TR_NONE;
            t->n_loaded--;
        }
    }
}

int tpm_ek_public(struct tpm *t, enum tpm_ek_type type, struct tpm_bytes *ret_pub)
{
    uint8_t buf[sizeof(TPM2B_PUBLIC)];
    TPM2B_PUBLIC *pub = NULL;
    ESYS_TR ek = ESYS_TR_NONE;
    struct tpm_try tr = {0};
    size_t len = 0;
    TSS2_RC rc;
    int r;

    do {
        if ((r = tpm_ready(t)) != 0) {
            return r;
        }
        evict_except(t, NULL);
        rc = ek_create(t, type, &ek, &pub);
    } while ((r = tpm_step(t, "ek_public", rc, &tr)) > 0);
    if (r != 0) {
        return r;
    }
    (void)Esys_FlushContext(t->esys, ek);
    if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &len) != 0) {
        r = AD_ERR_INTERNAL;
    } else {
        r = bytes_from(buf, len, ret_pub);
    }
    Esys_Free(pub);
    return r;
}

int tpm_create_ak(struct tpm *t, struct keyblob **ret)
{
    TPM2B_PUBLIC tmpl = {0};
    TPMT_PUBLIC *p = &tmpl.publicArea;

    /* TCG "TPM 2.0 Keys for Device Identity and Attestation" §7.3.4.1 style AK;
     * noDA for the reason given at key_template() in tpm.c (empty authValue). */
    p->type = TPM2_ALG_ECC;
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
    p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    p->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    return tpm_create_child(t, &tmpl, ret);
}

struct activate {
    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET secret;
    TPM2B_DIGEST *cert_info; /* out */
};

/* One attempt: EK, policy session with PolicySecret(endorsement), ActivateCredential. */
static TSS2_RC activate_once(struct tpm *t, struct tpm_key *ak, enum tpm_ek_type type,
                             struct activate *a)
{
    TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
    ESYS_TR ek = ESYS_TR_NONE, sess = ESYS_TR_NONE;
    TPM2B_TIMEOUT *timeout = NULL;
    TPMT_TK_AUTH *ticket = NULL;
    TSS2_RC rc;

    if ((rc = ek_create(t, type, &ek, NULL)) != TSS2_RC_SUCCESS) {
        return rc;
    }
    /*
     * Part 3 §12.5: keyHandle (the EK) needs the USER role. H-4 has
     * userWithAuth and an empty auth value: a password session will do.
     * L-1/L-2 need their policy, PolicySecret(TPM_RH_ENDORSEMENT).
     */
    if (type == TPM_EK_EC_P384) {
        rc = Esys_ActivateCredential(t->esys, ak->handle, ek, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD,
                                     ESYS_TR_NONE, &a->blob, &a->secret, &a->cert_info);
        (void)Esys_FlushContext(t->esys, ek);
        return rc;
    }
    rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &sess);
    if (rc == TSS2_RC_SUCCESS) {
        rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, sess, ESYS_TR_PASSWORD,
                               ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0, &timeout, &ticket);
    }
    if (rc == TSS2_RC_SUCCESS) {
        rc = Esys_ActivateCredential(t->esys, ak->handle, ek, ESYS_TR_PASSWORD, sess, ESYS_TR_NONE,
                                     &a->blob, &a->secret, &a->cert_info);
    }
    Esys_Free(timeout);
    Esys_Free(ticket);
    if (sess != ESYS_TR_NONE && t->esys != NULL) {
        (void)Esys_FlushContext(t->esys, sess); /* may already be gone: not an error */
    }
    if (t->esys != NULL) {
        (void)Esys_FlushContext(t->esys, ek);
    }
    return rc;
}

static int activate_parse(const uint8_t *blob, size_t blob_len, const uint8_t *secret,
                          size_t secret_len, struct activate *a)
{
    size_t off = 0;

    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blob, blob_len, &off, &a->blob) != 0 || off != blob_len) {
        return AD_ERR_FORMAT;
    }
    off = 0;
    if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(secret, secret_len, &off, &a->secret) != 0 ||
        off != secret_len) {
        return AD_ERR_FORMAT;
    }
    return AD_OK;
}

int tpm_activate_credential(struct tpm *t, struct tpm_key *ak, enum tpm_ek_type ek_type,
                            const uint8_t *credential_blob, size_t credential_blob_len,
                            const uint8_t *secret, size_t secret_len, uint8_t *ret_secret,
                            size_t *ret_secret_len)
{
    struct activate a = {0};
    struct tpm_try tr = {0};
    TSS2_RC rc;
    int r;

    if ((r = activate_parse(credential_blob, credential_blob_len, secret, secret_len, &a)) != 0) {
        return r;
    }
    do {
        if ((r = tpm_key_load(t, ak)) != 0) {
            goto out;
        }
        evict_except(t, ak);
        rc = activate_once(t, ak, ek_type, &a);
    } while ((r = tpm_step(t, "activate_credential", rc, &tr)) > 0);
    if (r != 0) {
        goto out;
    }
    if (a.cert_info->size > *ret_secret_len) {
        *ret_secret_len = a.cert_info->size;
        r = AD_ERR_SHORT;
        goto out;
    }
    memcpy(ret_secret, a.cert_info->buffer, a.cert_info->size);
    *ret_secret_len = a.cert_info->size;
out:
    if (a.cert_info != NULL) {
        OPENSSL_cleanse(a.cert_info, sizeof(*a.cert_info));
        Esys_Free(a.cert_info);
    }
    OPENSSL_cleanse(&a, sizeof(a));
    return r;
}

/* Marshal the attestation structure and its signature into ret_attest / ret_sig. */
static int attest_out(const TPM2B_ATTEST *att, const TPMT_SIGNATURE *sig,
                      struct tpm_bytes *ret_attest, struct tpm_bytes *ret_sig)
{
    uint8_t abuf[sizeof(TPM2B_ATTEST)], sbuf[sizeof(TPMT_SIGNATURE)];
    size_t alen = 0, slen = 0;
    int r;

    if (Tss2_MU_TPM2B_ATTEST_Marshal(att, abuf, sizeof(abuf), &alen) != 0 ||
        Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sbuf, sizeof(sbuf), &slen) != 0) {
        return AD_ERR_INTERNAL;
    }
    if ((r = bytes_from(abuf, alen, ret_attest)) != 0) {
        return r;
    }
    if ((r = bytes_from(sbuf, slen, ret_sig)) != 0) {
        tpm_bytes_clear(ret_attest);
    }
    return r;
}

static int nonce_data(const uint8_t *nonce, size_t nonce_len, TPM2B_DATA *ret)
{
    if (nonce_len > sizeof(ret->buffer)) {
        return AD_ERR_TOO_LARGE;
    }
    ret->size = (UINT16)nonce_len;
    if (nonce_len > 0) {
        memcpy(ret->buffer, nonce, nonce_len);
    }
    return AD_OK;
}

int tpm_quote(struct tpm *t, struct tpm_key *ak, const uint8_t *nonce, size_t nonce_len,
              enum tpm_hash bank, uint32_t pcr_mask, struct tpm_bytes *ret_attest,
              struct tpm_bytes *ret_sig)
{
    TPMT_SIG_SCHEME scheme = {0};
    TPML_PCR_SELECTION sel = {.count = 1};
    TPM2B_DATA qual = {0};
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *sig = NULL;
    struct tpm_try tr = {0};
    TSS2_RC rc;
    int r;

    scheme.scheme = TPM2_ALG_NULL; /* the AK's own scheme, ECDSA/SHA-256 */
    if ((r = nonce_data(nonce, nonce_len, &qual)) != 0) {
        return r;
    }
    if (tpm_hash_alg(bank) == TPM2_ALG_ERROR || (pcr_mask >> TPM_PCR_COUNT) != 0) {
        return AD_ERR_INVALID;
    }
    sel.pcrSelections[0].hash = tpm_hash_alg(bank);
    sel.pcrSelections[0].sizeofSelect = 3;
    sel.pcrSelections[0].pcrSelect[0] = (uint8_t)pcr_mask;
    sel.pcrSelections[0].pcrSelect[1] = (uint8_t)(pcr_mask >> 8);
    sel.pcrSelections[0].pcrSelect[2] = (uint8_t)(pcr_mask >> 16);
    do {
        if ((r = tpm_key_load(t, ak)) != 0) {
            return r;
        }
        rc = Esys_Quote(t->esys, ak->handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qual,
                        &scheme, &sel, &quoted, &sig);
    } while ((r = tpm_step(t, "quote", rc, &tr)) > 0);
    if (r == 0) {
        r = attest_out(quoted, sig, ret_attest, ret_sig);
    }
    Esys_Free(quoted);
    Esys_Free(sig);
    return r;
}

int tpm_certify(struct tpm *t, struct tpm_key *ak, struct tpm_key *key, const uint8_t *nonce,
                size_t nonce_len, struct tpm_bytes *ret_attest, struct tpm_bytes *ret_sig)
{
    TPMT_SIG_SCHEME scheme = {0};
    TPM2B_DATA qual = {0};
    TPM2B_ATTEST *info = NULL;
    TPMT_SIGNATURE *sig = NULL;
    struct tpm_try tr = {0};
    TSS2_RC rc;
    int r;

    scheme.scheme = TPM2_ALG_NULL;
    if ((r = nonce_data(nonce, nonce_len, &qual)) != 0) {
        return r;
    }
    if (t->max_loaded < 2 || ak == key) {
        return AD_ERR_INVALID; /* both must be loaded at once */
    }
    do {
        if ((r = tpm_key_load(t, key)) != 0 || (r = tpm_key_load(t, ak)) != 0) {
            return r;
        }
        rc = Esys_Certify(t->esys, key->handle, ak->handle, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD,
                          ESYS_TR_NONE, &qual, &scheme, &info, &sig);
    } while ((r = tpm_step(t, "certify", rc, &tr)) > 0);
    if (r == 0) {
        r = attest_out(info, sig, ret_attest, ret_sig);
    }
    Esys_Free(info);
    Esys_Free(sig);
    return r;
}
