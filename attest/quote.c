#include "quote.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tpms.h"

static int fail(const char *why, const char **ret_reason)
{
    if (ret_reason != NULL) {
        *ret_reason = why;
    }
    return AD_ERR_DENIED;
}

static TPMI_ALG_HASH sig_hash(const TPMT_SIGNATURE *s)
{
    /* ECDSA, RSASSA and RSAPSS all start with the hash algorithm. */
    return s->signature.any.hashAlg;
}

/* Parse both halves and check type, nonce and signature: common to quote and certify. */
static int check_signed(const TPMT_PUBLIC *ak, const uint8_t *attest, size_t attest_len,
                        const uint8_t *sig, size_t sig_len, TPMI_ST_ATTEST type,
                        const uint8_t *nonce, size_t nonce_len, TPMS_ATTEST *ret_a,
                        TPMT_SIGNATURE *ret_s, const char **ret_reason)
{
    if (nonce_len > QUOTE_NONCE_MAX) {
        return fail("nonce too long", ret_reason);
    }
    if (tpms_attest_decode(attest, attest_len, ret_a) != AD_OK) {
        return fail("attestation structure does not parse", ret_reason);
    }
    if (tpms_signature_decode(sig, sig_len, ret_s) != AD_OK) {
        return fail("signature structure does not parse", ret_reason);
    }
    if (ret_a->type != type) {
        return fail("attestation is of the wrong type", ret_reason);
    }
    if (ret_a->extraData.size != nonce_len ||
        CRYPTO_memcmp(ret_a->extraData.buffer, nonce, nonce_len) != 0) {
        return fail("stale or foreign nonce", ret_reason);
    }
    if (tpms_verify_signature(ak, attest, attest_len, ret_s) != AD_OK) {
        return fail("signature by the AK does not verify", ret_reason);
    }
    return AD_OK;
}

/* Part 3 §18.4: pcrDigest = H_sig(PCR values in selection order, lowest index first). */
static int pcr_digest_ok(const TPMS_QUOTE_INFO *q, const struct quote_policy *p, TPMI_ALG_HASH hash,
                         const char **ret_reason)
{
    const TPMS_PCR_SELECTION *sel = &q->pcrSelect.pcrSelections[0];
    const EVP_MD *bank = tpms_md(p->bank), *md = tpms_md(hash);
    uint8_t digest[EVP_MAX_MD_SIZE];
    EVP_MD_CTX *c = NULL;
    uint32_t mask = 0;
    unsigned int i, len = 0;
    int ok;

    if (q->pcrSelect.count != 1 || sel->hash != p->bank || bank == NULL || md == NULL ||
        sel->sizeofSelect < 3 || sel->sizeofSelect > 4) {
        return fail("quote covers other PCR banks than the policy", ret_reason);
    }
    for (i = 0; i < 3; i++) {
        mask |= (uint32_t)sel->pcrSelect[i] << (8 * i);
    }
    if (mask != p->mask || (sel->sizeofSelect == 4 && sel->pcrSelect[3] != 0)) {
        return fail("quote covers other PCRs than the policy", ret_reason);
    }
    if ((c = EVP_MD_CTX_new()) == NULL) {
        return AD_ERR_NOMEM;
    }
    ok = EVP_DigestInit_ex(c, md, NULL) == 1;
    for (i = 0; ok && i < QUOTE_PCR_COUNT; i++) {
        if ((p->mask >> i) & 1u) {
            ok = EVP_DigestUpdate(c, p->values[i], (size_t)EVP_MD_get_size(bank)) == 1;
        }
    }
    ok = ok && EVP_DigestFinal_ex(c, digest, &len) == 1;
    EVP_MD_CTX_free(c);
    if (!ok) {
        return AD_ERR_INTERNAL;
    }
    if (q->pcrDigest.size != len || CRYPTO_memcmp(q->pcrDigest.buffer, digest, len) != 0) {
        return fail("PCR values do not match the policy", ret_reason);
    }
    return AD_OK;
}

int quote_verify(const TPMT_PUBLIC *ak, const uint8_t *attest, size_t attest_len,
                 const uint8_t *sig, size_t sig_len, const uint8_t *nonce, size_t nonce_len,
                 const struct quote_policy *policy, struct quote_clock *ret_clock,
                 const char **ret_reason)
{
    TPMS_ATTEST a;
    TPMT_SIGNATURE s;
    int r;

    if ((r = check_signed(ak, attest, attest_len, sig, sig_len, TPM2_ST_ATTEST_QUOTE, nonce,
                          nonce_len, &a, &s, ret_reason)) != AD_OK) {
        return r;
    }
    if ((r = pcr_digest_ok(&a.attested.quote, policy, sig_hash(&s), ret_reason)) != AD_OK) {
        return r;
    }
    /* tss2-mu allows sizeof(TPMU_NAME), 68 with its padding; a name is at most 66. */
    if (a.qualifiedSigner.size > sizeof(ret_clock->signer)) {
        return fail("attestation signer name is too long", ret_reason);
    }
    ret_clock->clock = a.clockInfo.clock;
    ret_clock->reset_count = a.clockInfo.resetCount;
    ret_clock->restart_count = a.clockInfo.restartCount;
    memcpy(ret_clock->signer, a.qualifiedSigner.name, a.qualifiedSigner.size);
    ret_clock->signer_len = a.qualifiedSigner.size;
    return AD_OK;
}

/*
 * Which quotes can be compared. [TPM 2.0 Part 2 §10.12.12 TPMS_ATTEST] "When
 * the structure is signed by a key in the Storage hierarchy, the values of
 * clockInfo.resetCount, clockInfo.restartCount, and firmwareVersion are
 * obfuscated with a per-key obfuscation value." The reference implementation
 * (Part 4, FillInAttestInfo) does it for any signing key outside the
 * endorsement and platform hierarchies: it adds, modulo 2^32, values derived
 * by KDFa(shProof, "OBFUSCATE", qualifiedSigner). agentd's AK is a child of
 * the SRK and every enrollment creates a new one, so counters from two AKs
 * are offset by two unrelated random values, and ordering them refused
 * re-enrollments at random and locked the host.
 *
 * Another AK, or an unknown one: nothing is compared. Clock itself is not
 * obfuscated, but it is not monotonic across AKs: TPM2_Clear sets it to zero
 * (and a new SRK forces a new AK), and after a disorderly shutdown it resumes
 * from its last NV copy, which may be 2^22 ms (69.9 minutes) old (Part 2
 * §10.11.1); without comparable reset counts such a legitimate step back
 * cannot be told from a rollback. Freshness then rests on the single-use CA
 * nonce the quote signs (extraData, checked in check_signed).
 *
 * The same AK: the same qualifiedSigner is the same key under the same
 * parents, and shProof changes only with TPM2_Clear, which replaces every
 * owner-hierarchy key (only a null-hierarchy AK kept loaded across a
 * TPM2_Clear would change its offset). One offset k is added to both quotes,
 * so the difference of the obfuscated values is the true difference modulo
 * 2^32, but their plain order is not the true order when true + k wraps past
 * 2^32 between the two (k is random: the wrap can fall between any two
 * counts). Hence counter_cmp, serial-number arithmetic (RFC 1982): exact
 * while a counter moves by less than 2^31 between two quotes. A counter that
 * truly advanced by 2^31 or more would be refused as going back, and a
 * rollback by as much accepted; either takes two billion TPM resets.
 */
static int counter_cmp(uint32_t cur, uint32_t prev)
{
    uint32_t d = cur - prev; /* unsigned: wraps by definition */

    if (d == 0) {
        return 0;
    }
    return d < UINT32_C(0x80000000) ? 1 : -1;
}

static int same_signer(const struct quote_clock *a, const struct quote_clock *b)
{
    return a->signer_len > 0 && a->signer_len == b->signer_len &&
           CRYPTO_memcmp(a->signer, b->signer, a->signer_len) == 0;
}

int quote_check_clock(const struct quote_clock *prev, const struct quote_clock *cur,
                      const char **ret_reason)
{
    int c;

    if (prev == NULL || !same_signer(prev, cur)) {
        return AD_OK; /* nothing comparable: see above */
    }
    if ((c = counter_cmp(cur->reset_count, prev->reset_count)) < 0) {
        return fail("TPM reset counter went backwards", ret_reason);
    }
    if (c > 0) {
        return AD_OK; /* a TPM Reset: Clock may resume from an older NV copy */
    }
    if ((c = counter_cmp(cur->restart_count, prev->restart_count)) < 0) {
        return fail("TPM restart counter went backwards", ret_reason);
    }
    if (c == 0 && cur->clock <= prev->clock) {
        return fail("quote is not newer than the last one (replay)", ret_reason);
    }
    return AD_OK;
}

int quote_verify_certify(const TPMT_PUBLIC *ak, const uint8_t *attest, size_t attest_len,
                         const uint8_t *sig, size_t sig_len, const uint8_t *nonce, size_t nonce_len,
                         const uint8_t *key_pub, size_t key_pub_len, TPMT_PUBLIC *ret_key,
                         const char **ret_reason)
{
    uint8_t name[TPMS_NAME_MAX];
    size_t name_len = 0;
    TPM2B_PUBLIC key;
    TPMS_ATTEST a;
    TPMT_SIGNATURE s;
    int r;

    if (tpms_public_decode(key_pub, key_pub_len, &key) != AD_OK) {
        return fail("certified key public area does not parse", ret_reason);
    }
    if ((r = check_signed(ak, attest, attest_len, sig, sig_len, TPM2_ST_ATTEST_CERTIFY, nonce,
                          nonce_len, &a, &s, ret_reason)) != AD_OK) {
        return r;
    }
    if (tpms_public_name(&key.publicArea, name, &name_len) != AD_OK) {
        return fail("certified key has an unsupported name algorithm", ret_reason);
    }
    /* Part 2 §10.12.3 TPMS_CERTIFY_INFO.name is the certified object's name. */
    if (a.attested.certify.name.size != name_len ||
        CRYPTO_memcmp(a.attested.certify.name.name, name, name_len) != 0) {
        return fail("certified name is not the key's name", ret_reason);
    }
    if ((r = tpms_check_identity_key(&key.publicArea, ret_reason)) != AD_OK) {
        return AD_ERR_DENIED;
    }
    *ret_key = key.publicArea;
    return AD_OK;
}
