/* TPM reads that need no key: random bytes, PCRs, NV indices, EK certificates. */
#include "tpm.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <tss2/tss2_esys.h>

#include "tpm_internal.h"

#define TPM_RANDOM_CHUNK 32  /* every TPM returns at least a SHA-256 digest's worth */
#define TPM_NV_SIZE_MAX 8192 /* EK certificates are ~1-2 KiB */
#define TPM_NV_CHUNK_DFLT 512

int tpm_get_random(struct tpm *t, uint8_t *buf, size_t len)
{
    while (len > 0) {
        TPM2B_DIGEST *rnd = NULL;
        struct tpm_try tr = {0};
        TSS2_RC rc;
        int r;

        do {
            if ((r = tpm_ready(t)) != 0) {
                return r;
            }
            rc = Esys_GetRandom(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                len < TPM_RANDOM_CHUNK ? (UINT16)len : TPM_RANDOM_CHUNK, &rnd);
        } while ((r = tpm_step(t, "get_random", rc, &tr)) > 0);
        if (r != 0) {
            return r;
        }
        /* The TPM may return fewer bytes than asked (Part 3 §16.1); take what came. */
        size_t n = rnd->size < len ? rnd->size : len;
        memcpy(buf, rnd->buffer, n);
        OPENSSL_cleanse(rnd, sizeof(*rnd));
        Esys_Free(rnd);
        if (n == 0) {
            tpm_logf("get_random: TPM returned no bytes");
            return AD_ERR_TPM;
        }
        buf += n;
        len -= n;
    }
    return AD_OK;
}

/* Store each digest of vals at its PCR index from sel; clear those bits from *mask. */
static int pcr_store(const TPML_PCR_SELECTION *sel, const TPML_DIGEST *vals, size_t dlen,
                     uint32_t *mask, uint8_t ret_values[TPM_PCR_COUNT][64])
{
    uint32_t k = 0;

    if (sel->count == 0) {
        return AD_ERR_UNSUPPORTED;
    }
    for (unsigned i = 0; i < TPM_PCR_COUNT && i / 8 < sel->pcrSelections[0].sizeofSelect; i++) {
        if (!(sel->pcrSelections[0].pcrSelect[i / 8] & (1u << (i % 8)))) {
            continue;
        }
        if (k >= vals->count || vals->digests[k].size != dlen) {
            tpm_logf("pcr_read: response does not match its selection");
            return AD_ERR_TPM;
        }
        memcpy(ret_values[i], vals->digests[k].buffer, dlen);
        *mask &= ~(1u << i);
        k++;
    }
    return k == 0 ? AD_ERR_UNSUPPORTED : AD_OK;
}

int tpm_pcr_read(struct tpm *t, enum tpm_hash bank, uint32_t pcr_mask,
                 uint8_t ret_values[TPM_PCR_COUNT][64], size_t *ret_digest_len)
{
    size_t dlen = tpm_hash_len(bank);
    int r = AD_OK;

    if (dlen == 0 || pcr_mask == 0 || (pcr_mask >> TPM_PCR_COUNT) != 0) {
        return AD_ERR_INVALID;
    }
    /* The TPM returns at most 8 digests per call; ask again for the rest. */
    while (pcr_mask != 0 && r == 0) {
        TPML_PCR_SELECTION in = {.count = 1}, *out_sel = NULL;
        TPML_DIGEST *vals = NULL;
        struct tpm_try tr = {0};
        TSS2_RC rc;

        in.pcrSelections[0].hash = tpm_hash_alg(bank);
        in.pcrSelections[0].sizeofSelect = 3;
        in.pcrSelections[0].pcrSelect[0] = (uint8_t)pcr_mask;
        in.pcrSelections[0].pcrSelect[1] = (uint8_t)(pcr_mask >> 8);
        in.pcrSelections[0].pcrSelect[2] = (uint8_t)(pcr_mask >> 16);
        do {
            if ((r = tpm_ready(t)) != 0) {
                return r;
            }
            rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &in, NULL,
                               &out_sel, &vals);
        } while ((r = tpm_step(t, "pcr_read", rc, &tr)) > 0);
        if (r == 0) {
            r = pcr_store(out_sel, vals, dlen, &pcr_mask, ret_values);
        }
        Esys_Free(out_sel);
        Esys_Free(vals);
    }
    if (r == 0) {
        *ret_digest_len = dlen;
    }
    return r;
}

static uint32_t nv_chunk(struct tpm *t)
{
    TPMS_CAPABILITY_DATA *cap = NULL;

    if (t->nv_buffer_max != 0) {
        return t->nv_buffer_max;
    }
    t->nv_buffer_max = TPM_NV_CHUNK_DFLT;
    if (Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                           TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1, NULL,
                           &cap) == TSS2_RC_SUCCESS &&
        cap->data.tpmProperties.count == 1 &&
        cap->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX &&
        cap->data.tpmProperties.tpmProperty[0].value > 0 &&
        cap->data.tpmProperties.tpmProperty[0].value <=
            sizeof(((TPM2B_MAX_NV_BUFFER *)0)->buffer)) {
        t->nv_buffer_max = cap->data.tpmProperties.tpmProperty[0].value;
    }
    Esys_Free(cap);
    return t->nv_buffer_max;
}

/* Open nv_index as an ESYS_TR and read its public area. */
static int nv_open(struct tpm *t, uint32_t nv_index, ESYS_TR *ret_tr, TPMS_NV_PUBLIC *ret_pub)
{
    TPM2B_NV_PUBLIC *pub = NULL;
    struct tpm_try tr = {0};
    TSS2_RC rc;
    int r;

    do {
        if ((r = tpm_ready(t)) != 0) {
            return r;
        }
        rc = Esys_TR_FromTPMPublic(t->esys, nv_index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   ret_tr);
        /* An absent index is an answer, not a lost TPM. */
        /* TPM_RC_HANDLE is a format-one code: mask off the handle number (Part 2 §6.6.3). */
        if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && (rc & TPM2_RC_FMT1) &&
            (rc & (TPM2_RC_FMT1 | 0x3f)) == TPM2_RC_HANDLE) {
            return AD_ERR_NOT_FOUND;
        }
    } while ((r = tpm_step(t, "nv_read: open", rc, &tr)) > 0);
    if (r != 0) {
        return r;
    }
    rc = Esys_NV_ReadPublic(t->esys, *ret_tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        tpm_log_rc("nv_read: read public", rc);
        (void)Esys_TR_Close(t->esys, ret_tr);
        return tpm_rc_to_err(rc);
    }
    *ret_pub = pub->nvPublic;
    Esys_Free(pub);
    return AD_OK;
}

static int nv_read_all(struct tpm *t, ESYS_TR nv, const TPMS_NV_PUBLIC *pub, uint8_t *buf)
{
    /* Read with the index's own (empty) auth if it allows that, else as owner. */
    ESYS_TR auth = (pub->attributes & TPMA_NV_AUTHREAD) ? nv : ESYS_TR_RH_OWNER;
    uint32_t chunk = nv_chunk(t);

    for (uint16_t off = 0; off < pub->dataSize;) {
        uint32_t left = (uint32_t)pub->dataSize - off;
        uint16_t n = (uint16_t)(left < chunk ? left : chunk);
        TPM2B_MAX_NV_BUFFER *data = NULL;
        TSS2_RC rc = Esys_NV_Read(t->esys, auth, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                  n, off, &data);
        if (rc != TSS2_RC_SUCCESS) {
            tpm_log_rc("nv_read", rc);
            return tpm_rc_to_err(rc);
        }
        if (data->size != n) {
            Esys_Free(data);
            tpm_logf("nv_read: short read");
            return AD_ERR_TPM;
        }
        memcpy(buf + off, data->buffer, n);
        Esys_Free(data);
        off = (uint16_t)(off + n);
    }
    return AD_OK;
}

int tpm_read_nv(struct tpm *t, uint32_t nv_index, uint8_t **ret, size_t *ret_len)
{
    TPMS_NV_PUBLIC pub = {0};
    ESYS_TR nv = ESYS_TR_NONE;
    uint8_t *buf = NULL;
    int r;

    if ((r = nv_open(t, nv_index, &nv, &pub)) != 0) {
        return r;
    }
    if (pub.dataSize == 0 || pub.dataSize > TPM_NV_SIZE_MAX) {
        r = pub.dataSize == 0 ? AD_ERR_NOT_FOUND : AD_ERR_TOO_LARGE;
        goto out;
    }
    if ((buf = malloc(pub.dataSize)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if ((r = nv_read_all(t, nv, &pub, buf)) != 0) {
        goto out;
    }
    *ret = buf;
    *ret_len = pub.dataSize;
    buf = NULL;
out:
    free(buf);
    if (t->esys != NULL) {
        (void)Esys_TR_Close(t->esys, &nv);
    }
    return r;
}

int tpm_read_ek_cert(struct tpm *t, enum tpm_ek_type type, uint8_t **ret_der, size_t *ret_len)
{
    uint8_t *der = NULL;
    size_t len = 0;
    uint32_t idx;
    int r;

    switch (type) {
    case TPM_EK_RSA_2048:
        idx = TPM_NV_EK_CERT_RSA2048;
        break;
    case TPM_EK_EC_P256:
        idx = TPM_NV_EK_CERT_P256;
        break;
    case TPM_EK_EC_P384:
        idx = TPM_NV_EK_CERT_P384;
        break;
    default:
        return AD_ERR_INVALID;
    }
    if ((r = tpm_read_nv(t, idx, &der, &len)) != 0) {
        return r;
    }
    /* Some vendors pad the NV index; the DER SEQUENCE says how long the certificate is. */
    if (len >= 4 && der[0] == 0x30 && der[1] == 0x82) {
        size_t inner = ((size_t)der[2] << 8 | der[3]) + 4;
        if (inner <= len) {
            len = inner;
        }
    }
    *ret_der = der;
    *ret_len = len;
    return AD_OK;
}

void tpm_bytes_clear(struct tpm_bytes *b)
{
    if (b == NULL) {
        return;
    }
    free(b->data);
    b->data = NULL;
    b->len = 0;
}
