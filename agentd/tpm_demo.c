/*
 * agentd-tpm-demo --tcti T --dir D: create an ECC P-256 key in the TPM, write
 * its blob (D/key.tss2.pem), public key (D/pub.pem), a message (D/msg) and a
 * DER ECDSA signature over it (D/sig.der), so that
 *   openssl dgst -sha256 -verify D/pub.pem -signature D/sig.der D/msg
 * verifies. With --key, reuse an existing blob instead of creating one.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "keyblob.h"
#include "sigfmt.h"
#include "tpm.h"

static const char demo_msg[] = "hello from agentd: this message was signed inside the TPM\n";

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL) {
        perror(path);
        return AD_ERR_SYSTEM;
    }
    ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    return ok ? AD_OK : AD_ERR_SYSTEM;
}

static int sign_msg(struct tpm *t, const struct keyblob *kb, const char *dir)
{
    uint8_t digest[32], sig[TPM_SIG_MAX], *der = NULL;
    size_t sig_len = sizeof(sig), der_len = 0;
    struct tpm_key *k = NULL;
    unsigned dlen = 0;
    int r;

    if (!EVP_Digest(demo_msg, strlen(demo_msg), digest, &dlen, EVP_sha256(), NULL)) {
        return AD_ERR_INTERNAL;
    }
    if ((r = tpm_key_new(t, kb, &k)) != 0 ||
        (r = tpm_sign(t, k, TPM_SIG_ECDSA, TPM_HASH_SHA256, digest, dlen, sig, &sig_len)) != 0 ||
        (r = sigfmt_ecdsa_raw_to_der(sig, sig_len, &der, &der_len)) != 0 ||
        (r = write_file(dir, "msg", demo_msg, strlen(demo_msg))) != 0 ||
        (r = write_file(dir, "sig.der", der, der_len)) != 0) {
        goto out;
    }
out:
    free(der);
    tpm_key_free(t, k);
    return r;
}

static int run(const char *tcti, const char *dir, const char *key_path)
{
    struct tpm_options opt = {.tcti = tcti};
    struct tpm_pubinfo info = {0};
    struct keyblob *kb = NULL;
    struct tpm *t = NULL;
    char path[4096], *pem = NULL;
    size_t pem_len = 0;
    int r;

    if ((r = tpm_open(&opt, &t)) != 0) {
        goto out;
    }
    if (key_path != NULL) {
        r = keyblob_read_file(key_path, &kb);
    } else {
        snprintf(path, sizeof(path), "%s/key.tss2.pem", dir);
        if ((r = tpm_create_key(t, TPM_KEY_EC_P256, &kb)) == 0) {
            r = keyblob_write_file(path, kb);
        }
    }
    if (r != 0) {
        fprintf(stderr, "agentd-tpm-demo: key '%s': %s\n", key_path ? key_path : path,
                ad_strerror(r));
        goto out;
    }
    if ((r = tpm_key_info(kb, &info)) != 0 ||
        (r = sigfmt_spki_to_pem(info.spki, info.spki_len, &pem, &pem_len)) != 0 ||
        (r = write_file(dir, "pub.pem", pem, pem_len)) != 0 || (r = sign_msg(t, kb, dir)) != 0) {
        goto out;
    }
    printf("wrote %s/{key.tss2.pem,pub.pem,msg,sig.der}\n", dir);
out:
    if (r != 0) {
        fprintf(stderr, "agentd-tpm-demo: %s\n", ad_strerror(r));
    }
    free(pem);
    tpm_pubinfo_clear(&info);
    keyblob_free(kb);
    tpm_close(t);
    return r;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tcti", required_argument, NULL, 't'},
        {"dir", required_argument, NULL, 'd'},
        {"key", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    const char *tcti = NULL, *dir = NULL, *key = NULL;
    int c;

    while ((c = getopt_long(argc, argv, "t:d:k:", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            tcti = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        default:
            fprintf(stderr, "usage: agentd-tpm-demo --tcti TCTI --dir DIR [--key BLOB]\n");
            return 2;
        }
    }
    if (dir == NULL) {
        fprintf(stderr, "usage: agentd-tpm-demo --tcti TCTI --dir DIR [--key BLOB]\n");
        return 2;
    }
    return run(tcti, dir, key) == 0 ? 0 : 1;
}
