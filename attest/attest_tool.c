/*
 * agentd-attest: the verifier's checks as offline verbs over files made by
 * tpm2-tools (TPM2B_PUBLIC, TPMS_ATTEST, TPMT_SIGNATURE), for tests and for
 * operators checking an artifact by hand. Exit 0 when the check passes, 1
 * with "refused: <reason>" when it does not, 2 on usage or I/O errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "ekcert.h"
#include "makecred.h"
#include "quote.h"
#include "svid.h"
#include "tpms.h"

#define FILE_MAX (64 * 1024)

static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(FILE_MAX + 1);
    size_t n = 0;

    if (f == NULL || buf == NULL) {
        fprintf(stderr, "agentd-attest: %s: %s\n", path, strerror(errno));
        free(buf);
        if (f != NULL) {
            fclose(f);
        }
        return 2;
    }
    n = fread(buf, 1, FILE_MAX + 1, f);
    fclose(f);
    if (n > FILE_MAX) {
        fprintf(stderr, "agentd-attest: %s: larger than %d bytes\n", path, FILE_MAX);
        free(buf);
        return 2;
    }
    *ret = buf;
    *ret_len = n;
    return 0;
}

static int read_public(const char *path, TPMT_PUBLIC *ret)
{
    TPM2B_PUBLIC pub;
    uint8_t *buf = NULL;
    size_t len = 0;
    int r;

    if (read_file(path, &buf, &len) != 0) {
        return 2;
    }
    r = tpms_public_decode(buf, len, &pub);
    free(buf);
    if (r != AD_OK) {
        fprintf(stderr, "agentd-attest: %s: not a TPM2B_PUBLIC: %s\n", path, ad_strerror(r));
        return 2;
    }
    *ret = pub.publicArea;
    return 0;
}

static int refused(const char *reason, int r)
{
    printf("refused: %s\n", reason != NULL ? reason : ad_strerror(r));
    return 1;
}

static int cmd_verify_ek(char **argv)
{
    struct ekcert_roots *roots = NULL;
    const char *reason = NULL;
    TPMT_PUBLIC ek;
    uint8_t *der = NULL;
    size_t len = 0;
    char id[65];
    int r, rc = 2;

    if (read_public(argv[2], &ek) != 0 || read_file(argv[1], &der, &len) != 0) {
        goto out;
    }
    if ((r = ekcert_roots_load(argv[0], &roots)) != AD_OK) {
        fprintf(stderr, "agentd-attest: %s: %s\n", argv[0], ad_strerror(r));
        goto out;
    }
    if ((r = ekcert_verify(roots, der, len, &ek, &reason)) != AD_OK) {
        rc = refused(reason, r);
        goto out;
    }
    if (ekcert_host_id(&ek, id) != AD_OK) {
        goto out;
    }
    printf("ok host=%s\n", id);
    rc = 0;
out:
    ekcert_roots_free(roots);
    free(der);
    return rc;
}

static void put_be32(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    fwrite(b, 1, 4, f);
}

/* Output in tpm2_makecredential's file format: magic, version 1, ID object, secret. */
static int cmd_makecred(char **argv)
{
    uint8_t *name = NULL, *secret = NULL, *blob = NULL, *enc = NULL;
    size_t name_len = 0, secret_len = 0, blob_len = 0, enc_len = 0;
    TPMT_PUBLIC ek;
    FILE *f = NULL;
    int r, rc = 2;

    if (read_public(argv[0], &ek) != 0 || read_file(argv[1], &name, &name_len) != 0 ||
        read_file(argv[2], &secret, &secret_len) != 0) {
        goto out;
    }
    if ((r = makecred_make(&ek, name, name_len, secret, secret_len, &blob, &blob_len, &enc,
                           &enc_len)) != AD_OK) {
        fprintf(stderr, "agentd-attest: makecred: %s\n", ad_strerror(r));
        goto out;
    }
    if ((f = fopen(argv[3], "wb")) == NULL) {
        goto out;
    }
    put_be32(f, 0xBADCC0DEu);
    put_be32(f, 1);
    fwrite(blob, 1, blob_len, f);
    fwrite(enc, 1, enc_len, f);
    rc = fclose(f) == 0 ? 0 : 2;
out:
    if (secret != NULL) {
        OPENSSL_cleanse(secret, secret_len);
    }
    free(name);
    free(secret);
    free(blob);
    free(enc);
    return rc;
}

/* "sha256:0,16" into a policy bank and mask. */
static int parse_sel(const char *s, struct quote_policy *p)
{
    char *end = NULL;
    long v;

    if (strncmp(s, "sha256:", 7) != 0) {
        return 2;
    }
    p->bank = TPM2_ALG_SHA256;
    s += 7;
    while (*s != '\0') {
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || v < 0 || v >= QUOTE_PCR_COUNT) {
            return 2;
        }
        p->mask |= 1u << v;
        s = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0') {
            return 2;
        }
    }
    return p->mask != 0 ? 0 : 2;
}

/* PCR values file: the selected PCRs' values concatenated, lowest index first. */
static int fill_values(const char *path, struct quote_policy *p)
{
    uint8_t *buf = NULL;
    size_t len = 0, pos = 0;
    unsigned i;
    int rc = 0;

    if (read_file(path, &buf, &len) != 0) {
        return 2;
    }
    for (i = 0; i < QUOTE_PCR_COUNT && rc == 0; i++) {
        if ((p->mask >> i) & 1u) {
            if (len - pos < 32) {
                rc = 2;
            } else {
                memcpy(p->values[i], buf + pos, 32);
                pos += 32;
            }
        }
    }
    free(buf);
    return rc == 0 && pos == len ? 0 : 2;
}

static int cmd_verify_quote(char **argv)
{
    uint8_t *att = NULL, *sig = NULL, *nonce = NULL;
    size_t att_len = 0, sig_len = 0, nonce_len = 0;
    struct quote_policy pol = {0};
    struct quote_clock clk;
    const char *reason = NULL;
    TPMT_PUBLIC ak;
    int r, rc = 2;

    if (read_public(argv[0], &ak) != 0 || read_file(argv[1], &att, &att_len) != 0 ||
        read_file(argv[2], &sig, &sig_len) != 0 || read_file(argv[3], &nonce, &nonce_len) != 0 ||
        parse_sel(argv[4], &pol) != 0 || fill_values(argv[5], &pol) != 0) {
        fprintf(stderr, "agentd-attest: verify-quote: bad input\n");
        goto out;
    }
    if ((r = tpms_check_ak(&ak)) != AD_OK) {
        rc = refused("AK is not a restricted signing key bound to its TPM", r);
        goto out;
    }
    if ((r = quote_verify(&ak, att, att_len, sig, sig_len, nonce, nonce_len, &pol, &clk,
                          &reason)) != AD_OK) {
        rc = refused(reason, r);
        goto out;
    }
    printf("ok clock=%llu reset=%u restart=%u\n", (unsigned long long)clk.clock, clk.reset_count,
           clk.restart_count);
    rc = 0;
out:
    free(att);
    free(sig);
    free(nonce);
    return rc;
}

static int cmd_verify_certify(char **argv)
{
    uint8_t *att = NULL, *sig = NULL, *nonce = NULL, *key = NULL;
    size_t att_len = 0, sig_len = 0, nonce_len = 0, key_len = 0;
    const char *reason = NULL;
    TPMT_PUBLIC ak, kpub;
    int r, rc = 2;

    if (read_public(argv[0], &ak) != 0 || read_file(argv[1], &att, &att_len) != 0 ||
        read_file(argv[2], &sig, &sig_len) != 0 || read_file(argv[3], &nonce, &nonce_len) != 0 ||
        read_file(argv[4], &key, &key_len) != 0) {
        goto out;
    }
    if ((r = quote_verify_certify(&ak, att, att_len, sig, sig_len, nonce, nonce_len, key, key_len,
                                  &kpub, &reason)) != AD_OK) {
        rc = refused(reason, r);
        goto out;
    }
    printf("ok\n");
    rc = 0;
out:
    free(att);
    free(sig);
    free(nonce);
    free(key);
    return rc;
}

static int cmd_issue(char **argv)
{
    struct svid_ca *ca = NULL;
    EVP_PKEY *pkey = NULL;
    uint8_t *der = NULL;
    const uint8_t *p;
    size_t len = 0;
    TPMT_PUBLIC kpub;
    X509 *x = NULL;
    FILE *f = NULL;
    int r, rc = 2;

    if (read_public(argv[4], &kpub) != 0) {
        goto out;
    }
    if ((r = svid_ca_load(argv[0], argv[1], getenv("AGENTD_PKCS11_MODULE"), &ca)) != AD_OK ||
        (r = tpms_public_pkey(&kpub, &pkey)) != AD_OK ||
        (r = svid_issue(ca, argv[2], argv[3], pkey, (unsigned)strtoul(argv[5], NULL, 10), &der,
                        &len)) != AD_OK) {
        fprintf(stderr, "agentd-attest: issue: %s\n", ad_strerror(r));
        goto out;
    }
    p = der;
    if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || (f = fopen(argv[6], "w")) == NULL ||
        PEM_write_X509(f, x) != 1) {
        goto out;
    }
    rc = 0;
out:
    if (f != NULL && fclose(f) != 0) {
        rc = 2;
    }
    X509_free(x);
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);
    svid_ca_free(ca);
    return rc;
}

static const struct {
    const char *name;
    int argc;
    int (*fn)(char **argv);
    const char *usage;
} cmds[] = {
    {"verify-ek", 3, cmd_verify_ek, "ROOTS_DIR EK_CERT.der EK.pub"},
    {"makecred", 4, cmd_makecred, "EK.pub AK.name SECRET OUT"},
    {"verify-quote", 6, cmd_verify_quote, "AK.pub ATTEST SIG NONCE sha256:I,J,.. PCR_VALUES"},
    {"verify-certify", 5, cmd_verify_certify, "AK.pub ATTEST SIG NONCE KEY.pub"},
    {"issue", 7, cmd_issue, "CA.pem CAKEY.pem TRUST_DOMAIN ID KEY.pub SECONDS OUT"},
};

int main(int argc, char **argv)
{
    size_t i;

    for (i = 0; argc >= 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0 && argc - 2 == cmds[i].argc) {
            return cmds[i].fn(argv + 2);
        }
    }
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        fprintf(stderr, "usage: agentd-attest %s %s\n", cmds[i].name, cmds[i].usage);
    }
    return 2;
}
