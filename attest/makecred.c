#include "makecred.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "tpms.h"

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_be16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* HMAC_hash(key, parts[0] || ... || parts[n-1]) into ret (digest size of hash). */
static int hmac(TPMI_ALG_HASH hash, const uint8_t *key, size_t key_len, const uint8_t *const *parts,
                const size_t *lens, size_t n, uint8_t *ret, size_t *ret_len)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    size_t i;
    int ok;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)EVP_MD_get0_name(tpms_md(hash)), 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = ctx != NULL && EVP_MAC_init(ctx, key, key_len, params) == 1;
    for (i = 0; ok && i < n; i++) {
        ok = lens[i] == 0 || EVP_MAC_update(ctx, parts[i], lens[i]) == 1;
    }
    ok = ok && EVP_MAC_final(ctx, ret, ret_len, EVP_MAX_MD_SIZE) == 1;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? AD_OK : AD_ERR_INTERNAL;
}

int makecred_kdfa(TPMI_ALG_HASH hash, const uint8_t *key, size_t key_len, const char *label,
                  const uint8_t *ctx_u, size_t ctx_u_len, const uint8_t *ctx_v, size_t ctx_v_len,
                  uint32_t bits, uint8_t *ret)
{
    uint8_t cnt[4], nbits[4], block[EVP_MAX_MD_SIZE];
    size_t want = bits / 8, done = 0, n, blen = 0;
    uint32_t i;
    int r = AD_OK;

    if (tpms_md(hash) == NULL || bits % 8 != 0) {
        return AD_ERR_UNSUPPORTED;
    }
    put_be32(nbits, bits);
    for (i = 1; done < want; i++) {
        /* The label is used with its terminating NUL (Part 1 §11.4.10.2). */
        const uint8_t *parts[] = {cnt, (const uint8_t *)label, ctx_u, ctx_v, nbits};
        const size_t lens[] = {4, strlen(label) + 1, ctx_u_len, ctx_v_len, 4};

        put_be32(cnt, i);
        if ((r = hmac(hash, key, key_len, parts, lens, 5, block, &blen)) != AD_OK) {
            break;
        }
        n = want - done < blen ? want - done : blen;
        memcpy(ret + done, block, n);
        done += n;
    }
    OPENSSL_cleanse(block, sizeof(block));
    return r;
}

int makecred_kdfe(TPMI_ALG_HASH hash, const uint8_t *z, size_t z_len, const char *label,
                  const uint8_t *party_u, size_t party_u_len, const uint8_t *party_v,
                  size_t party_v_len, uint32_t bits, uint8_t *ret)
{
    const EVP_MD *md = tpms_md(hash);
    uint8_t cnt[4], block[EVP_MAX_MD_SIZE];
    size_t want = bits / 8, done = 0, n;
    EVP_MD_CTX *c = NULL;
    unsigned int blen = 0;
    uint32_t i;
    int r = AD_ERR_INTERNAL;

    if (md == NULL || bits % 8 != 0) {
        return AD_ERR_UNSUPPORTED;
    }
    if ((c = EVP_MD_CTX_new()) == NULL) {
        return AD_ERR_NOMEM;
    }
    for (i = 1; done < want; i++) {
        put_be32(cnt, i);
        if (EVP_DigestInit_ex(c, md, NULL) != 1 || EVP_DigestUpdate(c, cnt, 4) != 1 ||
            EVP_DigestUpdate(c, z, z_len) != 1 ||
            EVP_DigestUpdate(c, label, strlen(label) + 1) != 1 ||
            EVP_DigestUpdate(c, party_u, party_u_len) != 1 ||
            EVP_DigestUpdate(c, party_v, party_v_len) != 1 ||
            EVP_DigestFinal_ex(c, block, &blen) != 1) {
            goto out;
        }
        n = want - done < blen ? want - done : blen;
        memcpy(ret + done, block, n);
        done += n;
    }
    r = AD_OK;
out:
    OPENSSL_cleanse(block, sizeof(block));
    EVP_MD_CTX_free(c);
    return r;
}

/* Part 1 Annex B.10.3: the seed is RSA-OAEP encrypted with label "IDENTITY\0". */
static int rsa_seed(const TPMT_PUBLIC *ek, size_t seed_len, uint8_t *ret_seed, uint8_t **ret_enc,
                    size_t *ret_enc_len)
{
    static const char label[] = "IDENTITY";
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *enc = NULL;
    void *lbl = NULL;
    size_t len = 0;
    int r;

    if ((r = tpms_public_pkey(ek, &pkey)) != AD_OK) {
        return r;
    }
    r = AD_ERR_NOMEM;
    if (RAND_bytes(ret_seed, (int)seed_len) != 1 || (ctx = EVP_PKEY_CTX_new(pkey, NULL)) == NULL ||
        (lbl = OPENSSL_memdup(label, sizeof(label))) == NULL) {
        goto out;
    }
    if (EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, tpms_md(ek->nameAlg)) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, tpms_md(ek->nameAlg)) != 1 ||
        EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, lbl, (int)sizeof(label)) != 1) {
        goto out;
    }
    lbl = NULL; /* ctx owns it */
    if (EVP_PKEY_encrypt(ctx, NULL, &len, ret_seed, seed_len) != 1 || (enc = malloc(len)) == NULL ||
        EVP_PKEY_encrypt(ctx, enc, &len, ret_seed, seed_len) != 1) {
        goto out;
    }
    *ret_enc = enc;
    *ret_enc_len = len;
    enc = NULL;
    r = AD_OK;
out:
    free(enc);
    OPENSSL_free(lbl);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return r;
}

/* Ephemeral key on the EK's curve; Z = x of d_e * Q_ek. */
static int ecdh(EVP_PKEY *ekkey, EVP_PKEY **ret_eph, uint8_t *ret_z, size_t *ret_z_len)
{
    EVP_PKEY_CTX *gen = EVP_PKEY_CTX_new(ekkey, NULL), *dctx = NULL;
    EVP_PKEY *eph = NULL;
    int r = AD_ERR_INTERNAL;

    if (gen == NULL || EVP_PKEY_keygen_init(gen) != 1 || EVP_PKEY_keygen(gen, &eph) != 1) {
        goto out;
    }
    if ((dctx = EVP_PKEY_CTX_new(eph, NULL)) == NULL || EVP_PKEY_derive_init(dctx) != 1 ||
        EVP_PKEY_derive_set_peer(dctx, ekkey) != 1 ||
        EVP_PKEY_derive(dctx, ret_z, ret_z_len) != 1) {
        goto out;
    }
    *ret_eph = eph;
    eph = NULL;
    r = AD_OK;
out:
    EVP_PKEY_free(eph);
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_CTX_free(gen);
    return r;
}

/*
 * Part 1 Annex C.6.4 (CryptSecretEncrypt, ECC): seed = KDFe(nameAlg, Z,
 * "IDENTITY", x_e, x_ek, digest bits); the encrypted secret is the
 * ephemeral public point as a TPMS_ECC_POINT.
 */
static int ecc_seed(const TPMT_PUBLIC *ek, size_t seed_len, uint8_t *ret_seed, uint8_t **ret_enc,
                    size_t *ret_enc_len)
{
    uint8_t z[66], pt[1 + 2 * 66], *enc = NULL;
    size_t zlen = sizeof(z), ptlen = 0, cs;
    EVP_PKEY *ekkey = NULL, *eph = NULL;
    int r;

    if ((r = tpms_public_pkey(ek, &ekkey)) != AD_OK) {
        return r;
    }
    if ((r = ecdh(ekkey, &eph, z, &zlen)) != AD_OK) {
        goto out;
    }
    r = AD_ERR_INTERNAL;
    if (EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &ptlen) !=
            1 ||
        ptlen != 1 + 2 * zlen || pt[0] != 0x04) {
        goto out;
    }
    cs = zlen;
    /* KDFe's partyVInfo is the EK's x as the TPM holds it (its unique.ecc.x). */
    if ((r = makecred_kdfe(ek->nameAlg, z, zlen, "IDENTITY", pt + 1, cs, ek->unique.ecc.x.buffer,
                           ek->unique.ecc.x.size, (uint32_t)seed_len * 8, ret_seed)) != AD_OK) {
        goto out;
    }
    r = AD_ERR_NOMEM;
    if ((enc = malloc(4 + 2 * cs)) == NULL) {
        goto out;
    }
    put_be16(enc, cs);
    memcpy(enc + 2, pt + 1, cs);
    put_be16(enc + 2 + cs, cs);
    memcpy(enc + 4 + cs, pt + 1 + cs, cs);
    *ret_enc = enc;
    *ret_enc_len = 4 + 2 * cs;
    r = AD_OK;
out:
    OPENSSL_cleanse(z, sizeof(z));
    EVP_PKEY_free(eph);
    EVP_PKEY_free(ekkey);
    return r;
}

/* AES-CFB with a zero IV (Part 1 §24.4: the key is used once, so no IV is needed). */
static int aes_cfb(const uint8_t *key, uint16_t key_bits, const uint8_t *in, size_t len,
                   uint8_t *out)
{
    const EVP_CIPHER *c = key_bits == 128   ? EVP_aes_128_cfb128()
                          : key_bits == 256 ? EVP_aes_256_cfb128()
                          : key_bits == 192 ? EVP_aes_192_cfb128()
                                            : NULL;
    static const uint8_t iv[16];
    EVP_CIPHER_CTX *ctx = NULL;
    int n1 = 0, n2 = 0, r = AD_ERR_INTERNAL;

    if (c == NULL) {
        return AD_ERR_UNSUPPORTED;
    }
    if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
        return AD_ERR_NOMEM;
    }
    if (EVP_EncryptInit_ex(ctx, c, NULL, key, iv) == 1 &&
        EVP_EncryptUpdate(ctx, out, &n1, in, (int)len) == 1 &&
        EVP_EncryptFinal_ex(ctx, out + n1, &n2) == 1 && (size_t)(n1 + n2) == len) {
        r = AD_OK;
    }
    EVP_CIPHER_CTX_free(ctx);
    return r;
}

/*
 * Part 1 §24.4-24.5: symKey = KDFa(seed, "STORAGE", name), encIdentity =
 * AES-CFB(symKey, TPM2B_DIGEST(secret)); hmacKey = KDFa(seed, "INTEGRITY");
 * outerHMAC = HMAC(hmacKey, encIdentity || name). Builds the TPM2B_ID_OBJECT.
 */
static int wrap(const TPMT_PUBLIC *ek, const uint8_t *seed, size_t dlen, const uint8_t *name,
                size_t name_len, const uint8_t *secret, size_t secret_len, uint8_t **ret_blob,
                size_t *ret_blob_len)
{
    uint16_t kbits = ek->parameters.asymDetail.symmetric.keyBits.aes;
    uint8_t symkey[32], hkey[EVP_MAX_MD_SIZE], plain[2 + 64], *blob = NULL;
    size_t enc_len = 2 + secret_len, total = 2 + 2 + dlen + enc_len;
    int r;

    if (ek->parameters.asymDetail.symmetric.algorithm != TPM2_ALG_AES ||
        ek->parameters.asymDetail.symmetric.mode.aes != TPM2_ALG_CFB || kbits > 256) {
        return AD_ERR_UNSUPPORTED;
    }
    if ((blob = malloc(total)) == NULL) {
        return AD_ERR_NOMEM;
    }
    put_be16(plain, secret_len);
    memcpy(plain + 2, secret, secret_len);
    if ((r = makecred_kdfa(ek->nameAlg, seed, dlen, "STORAGE", name, name_len, NULL, 0, kbits,
                           symkey)) != AD_OK ||
        (r = aes_cfb(symkey, kbits, plain, enc_len, blob + 4 + dlen)) != AD_OK ||
        (r = makecred_kdfa(ek->nameAlg, seed, dlen, "INTEGRITY", NULL, 0, NULL, 0,
                           (uint32_t)dlen * 8, hkey)) != AD_OK) {
        goto out;
    }
    {
        const uint8_t *parts[] = {blob + 4 + dlen, name};
        const size_t lens[] = {enc_len, name_len};
        size_t hlen = 0;

        if ((r = hmac(ek->nameAlg, hkey, dlen, parts, lens, 2, blob + 4, &hlen)) != AD_OK) {
            goto out;
        }
    }
    put_be16(blob, total - 2);
    put_be16(blob + 2, dlen);
    *ret_blob = blob;
    *ret_blob_len = total;
    blob = NULL;
    r = AD_OK;
out:
    OPENSSL_cleanse(symkey, sizeof(symkey));
    OPENSSL_cleanse(hkey, sizeof(hkey));
    OPENSSL_cleanse(plain, sizeof(plain));
    free(blob);
    return r;
}

int makecred_make(const TPMT_PUBLIC *ek, const uint8_t *name, size_t name_len,
                  const uint8_t *secret, size_t secret_len, uint8_t **ret_blob,
                  size_t *ret_blob_len, uint8_t **ret_secret, size_t *ret_secret_len)
{
    const EVP_MD *md = tpms_md(ek->nameAlg);
    uint8_t seed[EVP_MAX_MD_SIZE], *enc = NULL, *blob = NULL;
    size_t dlen, enc_len = 0, blob_len = 0;
    int r;

    if (md == NULL) {
        return AD_ERR_UNSUPPORTED;
    }
    dlen = (size_t)EVP_MD_get_size(md);
    /* Part 3 §12.6.1: the credential may be no larger than the nameAlg digest. */
    if (secret_len == 0 || secret_len > dlen || name_len < 2 || name_len > TPMS_NAME_MAX) {
        return AD_ERR_INVALID;
    }
    if (ek->type == TPM2_ALG_RSA) {
        r = rsa_seed(ek, dlen, seed, &enc, &enc_len);
    } else if (ek->type == TPM2_ALG_ECC) {
        r = ecc_seed(ek, dlen, seed, &enc, &enc_len);
    } else {
        r = AD_ERR_UNSUPPORTED;
    }
    if (r != AD_OK ||
        (r = wrap(ek, seed, dlen, name, name_len, secret, secret_len, &blob, &blob_len)) != AD_OK) {
        goto out;
    }
    /* TPM2B_ENCRYPTED_SECRET: u16 size || secret. */
    r = AD_ERR_NOMEM;
    if ((*ret_secret = malloc(2 + enc_len)) == NULL) {
        goto out;
    }
    put_be16(*ret_secret, enc_len);
    memcpy(*ret_secret + 2, enc, enc_len);
    *ret_secret_len = 2 + enc_len;
    *ret_blob = blob;
    *ret_blob_len = blob_len;
    blob = NULL;
    r = AD_OK;
out:
    OPENSSL_cleanse(seed, sizeof(seed));
    free(enc);
    free(blob);
    return r;
}
