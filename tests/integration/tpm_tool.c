/*
 * tpm_tool: a small driver of the TPM layer for tests/integration/tpm_*.sh.
 *
 *   tpm_tool TCTI create TYPE KEYFILE          TYPE: p256 p384 rsa2048 rsa3072;
 *                                               also writes KEYFILE.pub.pem
 *   tpm_tool TCTI sign KEYFILE SCHEME HASH MSG SIG [--pause]
 *        SCHEME: ecdsa rsassa rsapss; HASH: sha1 sha256 sha384 sha512.
 *        Signs MSG's digest, checks the signature in-process against the SPKI
 *        from tpm_key_info, writes SIG (ECDSA as DER, RSA raw). --pause: sign,
 *        print "paused", wait for a line on stdin, sign again into SIG.2 with
 *        the same tpm_key (the restart test restarts the TPM meanwhile).
 *   tpm_tool -    read KEYFILE                  keyblob_read_file; prints the result
 *   tpm_tool TCTI ekcert rsa|p256|p384 OUT.der
 *   tpm_tool TCTI random N                      N random bytes as hex
 *   tpm_tool TCTI pcr sha256 MASK               selected PCRs as "i hex" lines
 *   tpm_tool TCTI ekpub rsa|p256|p384 OUT       EK TPM2B_PUBLIC (tpm2-tools "tss" format)
 *   tpm_tool TCTI ak KEYFILE                    create an AK; prints its name as hex
 *   tpm_tool TCTI activate AKFILE rsa|p384 CRED OUT
 *        CRED: tpm2_makecredential output (8-byte header, TPM2B_ID_OBJECT,
 *        TPM2B_ENCRYPTED_SECRET); OUT receives the recovered secret
 *   tpm_tool TCTI quote AKFILE NONCEFILE MASK OUTPREFIX   OUTPREFIX.msg (TPMS_ATTEST),
 *        OUTPREFIX.sig (TPMT_SIGNATURE)
 *   tpm_tool TCTI certify AKFILE KEYFILE NONCEFILE OUTPREFIX   same outputs
 *   tpm_tool -    attest-verify PUB.pem MSG SIG  checks an ECDSA/SHA-256 TPMT_SIGNATURE
 *        over MSG (a TPMS_ATTEST) with the public key; exit 0 if valid
 * Environment: TPM_TOOL_SRK=HANDLE uses a persistent SRK (default: transient).
 * Exit status: 0 ok, 1 error (message on stderr), 2 usage.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "keyblob.h"
#include "sigfmt.h"
#include "tpm.h"

static int parse_type(const char *s, enum tpm_key_type *ret)
{
    static const struct {
        const char *name;
        enum tpm_key_type type;
    } types[] = {
        {"p256", TPM_KEY_EC_P256},
        {"p384", TPM_KEY_EC_P384},
        {"rsa2048", TPM_KEY_RSA_2048},
        {"rsa3072", TPM_KEY_RSA_3072},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(s, types[i].name) == 0) {
            *ret = types[i].type;
            return 0;
        }
    }
    return -1;
}

static int parse_hash(const char *s, enum tpm_hash *ret, const EVP_MD **ret_md)
{
    if (strcmp(s, "sha1") == 0) {
        *ret = TPM_HASH_SHA1;
        *ret_md = EVP_sha1();
    } else if (strcmp(s, "sha256") == 0) {
        *ret = TPM_HASH_SHA256;
        *ret_md = EVP_sha256();
    } else if (strcmp(s, "sha384") == 0) {
        *ret = TPM_HASH_SHA384;
        *ret_md = EVP_sha384();
    } else if (strcmp(s, "sha512") == 0) {
        *ret = TPM_HASH_SHA512;
        *ret_md = EVP_sha512();
    } else {
        return -1;
    }
    return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    ok = fwrite(data, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    return ok ? 0 : -1;
}

static int read_msg_digest(const char *path, const EVP_MD *md, uint8_t *digest, size_t *len)
{
    static uint8_t buf[1 << 16];
    FILE *f = fopen(path, "rb");
    size_t n;
    unsigned dlen = 0;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (!EVP_Digest(buf, n, digest, &dlen, md, NULL)) {
        return -1;
    }
    *len = dlen;
    return 0;
}

static int cmd_create(struct tpm *t, char **argv)
{
    enum tpm_key_type type;
    struct keyblob *kb = NULL;
    struct tpm_pubinfo info = {0};
    char path[4096], *pem = NULL;
    size_t pem_len = 0;
    int r;

    if (parse_type(argv[0], &type) != 0) {
        return 2;
    }
    snprintf(path, sizeof(path), "%s.pub.pem", argv[1]);
    if ((r = tpm_create_key(t, type, &kb)) != 0 || (r = keyblob_write_file(argv[1], kb)) != 0 ||
        (r = tpm_key_info(kb, &info)) != 0 ||
        (r = sigfmt_spki_to_pem(info.spki, info.spki_len, &pem, &pem_len)) != 0 ||
        (r = write_file(path, pem, pem_len)) != 0) {
        fprintf(stderr, "tpm_tool: create: %s\n", ad_strerror(r));
    } else if (info.type != type) {
        fprintf(stderr, "tpm_tool: create: key info reports type %d\n", info.type);
        r = -1;
    }
    free(pem);
    tpm_pubinfo_clear(&info);
    keyblob_free(kb);
    return r == 0 ? 0 : 1;
}

struct sign_req {
    enum tpm_sig sig;
    enum tpm_hash hash;
    uint8_t digest[64];
    size_t digest_len;
    struct tpm_pubinfo info;
};

/* Sign, verify in-process against the SPKI, write the signature in the form openssl wants. */
static int sign_once(struct tpm *t, struct tpm_key *k, struct sign_req *q, const char *out)
{
    uint8_t sig[TPM_SIG_MAX], *der = NULL;
    size_t sig_len = sizeof(sig), der_len = 0;
    enum sigfmt_pad pad = q->sig == TPM_SIG_RSAPSS   ? SIGFMT_PAD_PSS
                          : q->sig == TPM_SIG_RSASSA ? SIGFMT_PAD_PKCS1
                                                     : SIGFMT_PAD_NONE;
    int r;

    if ((r = tpm_sign(t, k, q->sig, q->hash, q->digest, q->digest_len, sig, &sig_len)) != 0) {
        fprintf(stderr, "tpm_tool: sign: %s\n", ad_strerror(r));
        return 1;
    }
    if (sig_len != tpm_sig_len(tpm_key_type(k))) {
        fprintf(stderr, "tpm_tool: sign: length %zu\n", sig_len);
        return 1;
    }
    if ((r = sigfmt_verify(q->info.spki, q->info.spki_len, (enum sigfmt_hash)q->hash, pad,
                           q->digest, q->digest_len, sig, sig_len)) != 0) {
        fprintf(stderr, "tpm_tool: in-process verify: %s\n", ad_strerror(r));
        return 1;
    }
    if (q->sig == TPM_SIG_ECDSA) {
        if ((r = sigfmt_ecdsa_raw_to_der(sig, sig_len, &der, &der_len)) != 0) {
            return 1;
        }
        r = write_file(out, der, der_len);
        free(der);
        return r == 0 ? 0 : 1;
    }
    return write_file(out, sig, sig_len) == 0 ? 0 : 1;
}

static int cmd_sign(struct tpm *t, int argc, char **argv)
{
    struct sign_req q = {0};
    struct keyblob *kb = NULL;
    struct tpm_key *k = NULL;
    const EVP_MD *md = NULL;
    char out2[4096], line[16];
    int r = 1;

    if (strcmp(argv[1], "ecdsa") == 0) {
        q.sig = TPM_SIG_ECDSA;
    } else if (strcmp(argv[1], "rsassa") == 0) {
        q.sig = TPM_SIG_RSASSA;
    } else if (strcmp(argv[1], "rsapss") == 0) {
        q.sig = TPM_SIG_RSAPSS;
    } else {
        return 2;
    }
    if (parse_hash(argv[2], &q.hash, &md) != 0 ||
        read_msg_digest(argv[3], md, q.digest, &q.digest_len) != 0) {
        return 2;
    }
    if ((r = keyblob_read_file(argv[0], &kb)) != 0 || (r = tpm_key_info(kb, &q.info)) != 0 ||
        (r = tpm_key_new(t, kb, &k)) != 0) {
        fprintf(stderr, "tpm_tool: key '%s': %s\n", argv[0], ad_strerror(r));
        r = 1;
        goto out;
    }
    if ((r = sign_once(t, k, &q, argv[4])) != 0 || argc < 6 || strcmp(argv[5], "--pause") != 0) {
        goto out;
    }
    printf("paused\n");
    fflush(stdout);
    if (fgets(line, sizeof(line), stdin) == NULL) {
        r = 1;
        goto out;
    }
    snprintf(out2, sizeof(out2), "%s.2", argv[4]);
    r = sign_once(t, k, &q, out2);
out:
    tpm_key_free(t, k);
    tpm_pubinfo_clear(&q.info);
    keyblob_free(kb);
    return r;
}

static int cmd_read(const char *path)
{
    struct keyblob *kb = NULL;
    int r = keyblob_read_file(path, &kb);

    printf("%s: %s\n", path, r == 0 ? "ok" : ad_strerror(r));
    keyblob_free(kb);
    return r == 0 ? 0 : r == AD_ERR_CORRUPT ? 3 : 1;
}

static int cmd_ekcert(struct tpm *t, char **argv)
{
    enum tpm_ek_type type = strcmp(argv[0], "rsa") == 0    ? TPM_EK_RSA_2048
                            : strcmp(argv[0], "p256") == 0 ? TPM_EK_EC_P256
                                                           : TPM_EK_EC_P384;
    uint8_t *der = NULL;
    size_t len = 0;
    int r;

    if ((r = tpm_read_ek_cert(t, type, &der, &len)) != 0) {
        fprintf(stderr, "tpm_tool: ekcert: %s\n", ad_strerror(r));
        return r == AD_ERR_NOT_FOUND ? 4 : 1;
    }
    r = write_file(argv[1], der, len);
    free(der);
    return r == 0 ? 0 : 1;
}

static int cmd_random(struct tpm *t, const char *n_str)
{
    size_t n = strtoul(n_str, NULL, 10);
    uint8_t *buf = calloc(1, n + 1);
    int r;

    if (buf == NULL) {
        return 1;
    }
    if ((r = tpm_get_random(t, buf, n)) != 0) {
        fprintf(stderr, "tpm_tool: random: %s\n", ad_strerror(r));
    } else {
        for (size_t i = 0; i < n; i++) {
            printf("%02x", buf[i]);
        }
        printf("\n");
    }
    free(buf);
    return r == 0 ? 0 : 1;
}

static int cmd_pcr(struct tpm *t, char **argv)
{
    static uint8_t vals[TPM_PCR_COUNT][64];
    const EVP_MD *md;
    enum tpm_hash bank;
    uint32_t mask = (uint32_t)strtoul(argv[1], NULL, 0);
    size_t dlen = 0;
    int r;

    if (parse_hash(argv[0], &bank, &md) != 0) {
        return 2;
    }
    if ((r = tpm_pcr_read(t, bank, mask, vals, &dlen)) != 0) {
        fprintf(stderr, "tpm_tool: pcr: %s\n", ad_strerror(r));
        return 1;
    }
    for (unsigned i = 0; i < TPM_PCR_COUNT; i++) {
        if (mask & (1u << i)) {
            printf("%u ", i);
            for (size_t j = 0; j < dlen; j++) {
                printf("%02x", vals[i][j]);
            }
            printf("\n");
        }
    }
    return 0;
}

static int read_all(const char *path, uint8_t *buf, size_t cap, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        perror(path);
        return -1;
    }
    *ret_len = fread(buf, 1, cap, f);
    fclose(f);
    return 0;
}

static int ek_type_of(const char *s)
{
    return strcmp(s, "rsa") == 0    ? TPM_EK_RSA_2048
           : strcmp(s, "p256") == 0 ? TPM_EK_EC_P256
                                    : TPM_EK_EC_P384;
}

static int cmd_ekpub(struct tpm *t, char **argv)
{
    struct tpm_bytes pub = {0};
    int r;

    if ((r = tpm_ek_public(t, (enum tpm_ek_type)ek_type_of(argv[0]), &pub)) != 0) {
        fprintf(stderr, "tpm_tool: ekpub: %s\n", ad_strerror(r));
        return 1;
    }
    r = write_file(argv[1], pub.data, pub.len);
    tpm_bytes_clear(&pub);
    return r == 0 ? 0 : 1;
}

static int cmd_ak(struct tpm *t, const char *path)
{
    struct keyblob *kb = NULL;
    struct tpm_pubinfo info = {0};
    int r;

    char pub_path[4096], *pem = NULL;
    size_t pem_len = 0;

    snprintf(pub_path, sizeof(pub_path), "%s.pub.pem", path);
    if ((r = tpm_create_ak(t, &kb)) != 0 || (r = keyblob_write_file(path, kb)) != 0 ||
        (r = tpm_key_info(kb, &info)) != 0 ||
        (r = sigfmt_spki_to_pem(info.spki, info.spki_len, &pem, &pem_len)) != 0 ||
        (r = write_file(pub_path, pem, pem_len)) != 0) {
        fprintf(stderr, "tpm_tool: ak: %s\n", ad_strerror(r));
    } else {
        for (size_t i = 0; i < info.name_len; i++) {
            printf("%02x", info.name[i]);
        }
        printf("\n");
    }
    free(pem);
    tpm_pubinfo_clear(&info);
    keyblob_free(kb);
    return r == 0 ? 0 : 1;
}

static int load_key(struct tpm *t, const char *path, struct keyblob **kb, struct tpm_key **k)
{
    int r;

    if ((r = keyblob_read_file(path, kb)) != 0 || (r = tpm_key_new(t, *kb, k)) != 0) {
        fprintf(stderr, "tpm_tool: key '%s': %s\n", path, ad_strerror(r));
        return 1;
    }
    return 0;
}

static int cmd_activate(struct tpm *t, char **argv)
{
    static uint8_t cred[4096];
    uint8_t secret[64];
    size_t len = 0, blob_len, secret_len = sizeof(secret);
    struct keyblob *kb = NULL;
    struct tpm_key *ak = NULL;
    int r = 1;

    if (load_key(t, argv[0], &kb, &ak) != 0 || read_all(argv[2], cred, sizeof(cred), &len) != 0 ||
        len < 10) {
        goto out;
    }
    blob_len = 2 + ((size_t)cred[8] << 8 | cred[9]); /* after the 8-byte tpm2-tools header */
    if (8 + blob_len > len) {
        goto out;
    }
    if ((r = tpm_activate_credential(t, ak, (enum tpm_ek_type)ek_type_of(argv[1]), cred + 8,
                                     blob_len, cred + 8 + blob_len, len - 8 - blob_len, secret,
                                     &secret_len)) != 0) {
        fprintf(stderr, "tpm_tool: activate: %s\n", ad_strerror(r));
        r = 1;
        goto out;
    }
    r = write_file(argv[3], secret, secret_len) == 0 ? 0 : 1;
out:
    tpm_key_free(t, ak);
    keyblob_free(kb);
    return r;
}

static int write_attest(const char *prefix, const struct tpm_bytes *att,
                        const struct tpm_bytes *sig)
{
    char path[4096];

    /* tpm2_checkquote wants TPMS_ATTEST: drop the TPM2B size. */
    snprintf(path, sizeof(path), "%s.msg", prefix);
    if (att->len < 2 || write_file(path, att->data + 2, att->len - 2) != 0) {
        return 1;
    }
    snprintf(path, sizeof(path), "%s.sig", prefix);
    return write_file(path, sig->data, sig->len) == 0 ? 0 : 1;
}

static int cmd_quote(struct tpm *t, char **argv, bool is_certify)
{
    uint8_t nonce[64];
    size_t nonce_len = 0;
    struct keyblob *kb = NULL, *kb2 = NULL;
    struct tpm_key *ak = NULL, *k = NULL;
    struct tpm_bytes att = {0}, sig = {0};
    int r = 1;

    if (load_key(t, argv[0], &kb, &ak) != 0 ||
        (is_certify && load_key(t, argv[1], &kb2, &k) != 0) ||
        read_all(argv[is_certify ? 2 : 1], nonce, sizeof(nonce), &nonce_len) != 0) {
        goto out;
    }
    r = is_certify ? tpm_certify(t, ak, k, nonce, nonce_len, &att, &sig)
                   : tpm_quote(t, ak, nonce, nonce_len, TPM_HASH_SHA256,
                               (uint32_t)strtoul(argv[2], NULL, 0), &att, &sig);
    if (r != 0) {
        fprintf(stderr, "tpm_tool: %s: %s\n", is_certify ? "certify" : "quote", ad_strerror(r));
        r = 1;
        goto out;
    }
    r = write_attest(argv[3], &att, &sig);
out:
    tpm_bytes_clear(&att);
    tpm_bytes_clear(&sig);
    tpm_key_free(t, k);
    tpm_key_free(t, ak);
    keyblob_free(kb);
    keyblob_free(kb2);
    return r;
}

static int cmd_attest_verify(char **argv)
{
    static uint8_t msg[4096];
    uint8_t sigbuf[512], raw[64], digest[32], *spki = NULL;
    size_t msg_len = 0, sig_len = 0, off = 0;
    TPMT_SIGNATURE sig = {0};
    unsigned dlen = 0;
    EVP_PKEY *pk = NULL;
    FILE *f;
    int spki_len, r = 1;

    if ((f = fopen(argv[0], "r")) == NULL) {
        return 1;
    }
    pk = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (pk == NULL || (spki_len = i2d_PUBKEY(pk, &spki)) <= 0 ||
        read_all(argv[1], msg, sizeof(msg), &msg_len) != 0 ||
        read_all(argv[2], sigbuf, sizeof(sigbuf), &sig_len) != 0 ||
        Tss2_MU_TPMT_SIGNATURE_Unmarshal(sigbuf, sig_len, &off, &sig) != 0 || off != sig_len ||
        sig.sigAlg != TPM2_ALG_ECDSA || sig.signature.ecdsa.signatureR.size > 32 ||
        sig.signature.ecdsa.signatureS.size > 32 ||
        !EVP_Digest(msg, msg_len, digest, &dlen, EVP_sha256(), NULL)) {
        fprintf(stderr, "tpm_tool: attest-verify: bad input\n");
        goto out;
    }
    memset(raw, 0, sizeof(raw));
    memcpy(raw + 32 - sig.signature.ecdsa.signatureR.size, sig.signature.ecdsa.signatureR.buffer,
           sig.signature.ecdsa.signatureR.size);
    memcpy(raw + 64 - sig.signature.ecdsa.signatureS.size, sig.signature.ecdsa.signatureS.buffer,
           sig.signature.ecdsa.signatureS.size);
    r = sigfmt_verify(spki, (size_t)spki_len, SIGFMT_SHA256, SIGFMT_PAD_NONE, digest, dlen, raw,
                      64) == 0
            ? 0
            : 1;
out:
    OPENSSL_free(spki);
    EVP_PKEY_free(pk);
    return r;
}

int main(int argc, char **argv)
{
    struct tpm_options opt = {0};
    struct tpm *t = NULL;
    int r;

    if (argc < 3) {
        fprintf(stderr, "usage: tpm_tool TCTI create|sign|read|ekcert|random|pcr ARGS\n");
        return 2;
    }
    if (strcmp(argv[2], "read") == 0 && argc == 4) {
        return cmd_read(argv[3]);
    }
    if (strcmp(argv[2], "attest-verify") == 0 && argc == 6) {
        return cmd_attest_verify(argv + 3);
    }
    opt.tcti = argv[1];
    /* TPM_TOOL_SRK=0x81000001: use that persistent SRK instead of a transient one. */
    if (getenv("TPM_TOOL_SRK") != NULL) {
        opt.srk_handle = (uint32_t)strtoul(getenv("TPM_TOOL_SRK"), NULL, 0);
    }
    if ((r = tpm_open(&opt, &t)) != 0) {
        fprintf(stderr, "tpm_tool: open '%s': %s\n", argv[1], ad_strerror(r));
        return 1;
    }
    if (strcmp(argv[2], "create") == 0 && argc == 5) {
        r = cmd_create(t, argv + 3);
    } else if (strcmp(argv[2], "sign") == 0 && argc >= 8) {
        r = cmd_sign(t, argc - 3, argv + 3);
    } else if (strcmp(argv[2], "ekcert") == 0 && argc == 5) {
        r = cmd_ekcert(t, argv + 3);
    } else if (strcmp(argv[2], "random") == 0 && argc == 4) {
        r = cmd_random(t, argv[3]);
    } else if (strcmp(argv[2], "pcr") == 0 && argc == 5) {
        r = cmd_pcr(t, argv + 3);
    } else if (strcmp(argv[2], "ekpub") == 0 && argc == 5) {
        r = cmd_ekpub(t, argv + 3);
    } else if (strcmp(argv[2], "ak") == 0 && argc == 4) {
        r = cmd_ak(t, argv[3]);
    } else if (strcmp(argv[2], "activate") == 0 && argc == 7) {
        r = cmd_activate(t, argv + 3);
    } else if (strcmp(argv[2], "quote") == 0 && argc == 7) {
        r = cmd_quote(t, argv + 3, false);
    } else if (strcmp(argv[2], "certify") == 0 && argc == 7) {
        r = cmd_quote(t, argv + 3, true);
    } else {
        r = 2;
    }
    tpm_close(t);
    return r;
}
