/*
 * agentd-enroll: enroll this host with agentd-ca through agentd's TPM layer
 * (agentd/tpm.h), printing each step. The daemon runs the same enroll_run()
 * and enroll_svid() through its TPM worker.
 *
 *   agentd-enroll --tcti T --url https://ca:8443 --cacert ca.pem
 *       [--class default] [--ek rsa2048|p256|p384] [--ak-out ak.key]
 *       [--out host.pem] [--key-out host.key] [--bundle-out bundle.pem]
 *       [--host-cert old.pem --host-key old.key]
 * A workload certificate for a new TPM key, certified by the saved AK:
 *   agentd-enroll --tcti T --url U --cacert ca.pem --svid PATH --ak ak.key
 *       --host-cert host.pem --host-key host.key [--out svid.pem] [--key-out svid.key]
 * --host-cert with --host-key (the host key file --key-out wrote at
 * enrollment) presents the host certificate over mutual TLS; the key signs
 * the handshake in this TPM. agentd-ca requires it for --svid by default.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "enroll.h"
#include "keyblob.h"
#include "tpm.h"

struct ctx {
    struct tpm *t;
    enum tpm_ek_type ek_type;
    struct keyblob *ak_blob;
    struct tpm_key *ak;
    struct keyblob *key_blob;  /* the last certified key, written to --key-out */
    struct keyblob *host_blob; /* --host-key: the host key, for TLS client signatures */
    struct tpm_key *host;
};

static int hash_of(size_t digest_len, enum tpm_hash *ret)
{
    switch (digest_len) {
    case 20:
        *ret = TPM_HASH_SHA1;
        return AD_OK;
    case 32:
        *ret = TPM_HASH_SHA256;
        return AD_OK;
    case 48:
        *ret = TPM_HASH_SHA384;
        return AD_OK;
    case 64:
        *ret = TPM_HASH_SHA512;
        return AD_OK;
    default:
        return AD_ERR_UNSUPPORTED;
    }
}

/* enroll_host_key.sign: the TLS handshake's signature, by the host key in the TPM. */
static int host_sign(void *arg, const uint8_t *digest, size_t digest_len, uint8_t *ret_sig,
                     size_t *ret_sig_len)
{
    struct ctx *c = arg;
    enum tpm_hash hash;
    int r;

    if ((r = hash_of(digest_len, &hash)) != AD_OK) {
        return r;
    }
    return tpm_sign(c->t, c->host, TPM_SIG_ECDSA, hash, digest, digest_len, ret_sig, ret_sig_len);
}

static int op_ek(void *arg, struct msg_bin *ret_cert, struct msg_bin *ret_pub)
{
    struct ctx *c = arg;
    struct tpm_bytes pub = {0};
    uint8_t *der = NULL;
    size_t len = 0;
    int r;

    if ((r = tpm_read_ek_cert(c->t, c->ek_type, &der, &len)) == AD_OK &&
        (r = tpm_ek_public(c->t, c->ek_type, &pub)) == AD_OK &&
        (r = msg_bin_copy(pub.data, pub.len, ret_pub)) == AD_OK) {
        ret_cert->data = der;
        ret_cert->len = len;
        der = NULL;
    }
    free(der);
    tpm_bytes_clear(&pub);
    return r;
}

static int op_ak(void *arg, struct msg_bin *ret_pub)
{
    struct ctx *c = arg;
    int r;

    if ((r = tpm_create_ak(c->t, &c->ak_blob)) != AD_OK ||
        (r = tpm_key_new(c->t, c->ak_blob, &c->ak)) != AD_OK) {
        return r;
    }
    return msg_bin_copy(c->ak_blob->pub, c->ak_blob->pub_len, ret_pub);
}

static int op_activate(void *arg, const struct msg_bin *blob, const struct msg_bin *enc,
                       struct msg_bin *ret_secret)
{
    struct ctx *c = arg;
    uint8_t secret[64];
    size_t len = sizeof(secret);
    int r;

    if ((r = tpm_activate_credential(c->t, c->ak, c->ek_type, blob->data, blob->len, enc->data,
                                     enc->len, secret, &len)) == AD_OK) {
        r = msg_bin_copy(secret, len, ret_secret);
    }
    explicit_bzero(secret, sizeof(secret));
    return r;
}

static int op_quote(void *arg, const struct msg_bin *nonce, uint32_t mask,
                    struct msg_bin *ret_attest, struct msg_bin *ret_sig)
{
    struct ctx *c = arg;
    struct tpm_bytes att = {0}, sig = {0};
    int r;

    if ((r = tpm_quote(c->t, c->ak, nonce->data, nonce->len, TPM_HASH_SHA256, mask, &att, &sig)) ==
            AD_OK &&
        (r = msg_bin_from_tpm2b(att.data, att.len, ret_attest)) == AD_OK) {
        r = msg_bin_copy(sig.data, sig.len, ret_sig);
    }
    tpm_bytes_clear(&att);
    tpm_bytes_clear(&sig);
    return r;
}

static int op_certify(void *arg, const struct msg_bin *nonce, struct msg_bin *ret_key_pub,
                      struct msg_bin *ret_attest, struct msg_bin *ret_sig)
{
    struct ctx *c = arg;
    struct tpm_bytes att = {0}, sig = {0};
    struct keyblob *kb = NULL;
    struct tpm_key *key = NULL;
    int r;

    if ((r = tpm_create_key(c->t, TPM_KEY_EC_P256, &kb)) != AD_OK ||
        (r = tpm_key_new(c->t, kb, &key)) != AD_OK ||
        (r = tpm_certify(c->t, c->ak, key, nonce->data, nonce->len, &att, &sig)) != AD_OK ||
        (r = msg_bin_from_tpm2b(att.data, att.len, ret_attest)) != AD_OK ||
        (r = msg_bin_copy(sig.data, sig.len, ret_sig)) != AD_OK ||
        (r = msg_bin_copy(kb->pub, kb->pub_len, ret_key_pub)) != AD_OK) {
        goto out;
    }
    keyblob_free(c->key_blob);
    c->key_blob = kb;
    kb = NULL;
out:
    tpm_key_free(c->t, key);
    keyblob_free(kb);
    tpm_bytes_clear(&att);
    tpm_bytes_clear(&sig);
    return r;
}

static int write_text(const char *path, const char *text)
{
    FILE *f;

    if (path == NULL) {
        return 0;
    }
    if ((f = fopen(path, "w")) == NULL || fputs(text, f) < 0) {
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    return fclose(f);
}

/* The host id is the last segment of the host certificate's URI SAN. */
static int host_id_from_cert(const char *path, char ret[65])
{
    FILE *f = fopen(path, "re");
    X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    GENERAL_NAMES *san = x != NULL ? X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL) : NULL;
    const GENERAL_NAME *gn =
        san != NULL && sk_GENERAL_NAME_num(san) == 1 ? sk_GENERAL_NAME_value(san, 0) : NULL;
    const char *uri = NULL, *slash = NULL;
    int r = AD_ERR_FORMAT;

    if (gn != NULL && gn->type == GEN_URI &&
        (uri = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier)) != NULL &&
        strstr(uri, "/host/") != NULL && (slash = strrchr(uri, '/')) != NULL &&
        strlen(slash + 1) == 64) {
        memcpy(ret, slash + 1, 65);
        r = AD_OK;
    }
    GENERAL_NAMES_free(san);
    X509_free(x);
    if (f != NULL) {
        fclose(f);
    }
    return r;
}

/* The whole of a small text file (a PEM certificate), NUL-terminated; the caller frees. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf = f != NULL ? calloc(1, 65536) : NULL;
    size_t n = 0;

    if (buf != NULL) {
        n = fread(buf, 1, 65535, f);
        if (n == 0 || n == 65535) { /* empty, or larger than a certificate */
            free(buf);
            buf = NULL;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return buf;
}

/* --host-cert and --host-key: present the host certificate; the TPM signs the handshake. */
static int use_host_key(struct ctx *c, const char *cert_path, const char *key_path, char **ret_pem,
                        struct enroll_host_key *hk, struct enroll_options *eo)
{
    int r;

    if ((*ret_pem = read_text(cert_path)) == NULL) {
        fprintf(stderr, "agentd-enroll: cannot read %s\n", cert_path);
        return AD_ERR_SYSTEM;
    }
    if ((r = keyblob_read_file(key_path, &c->host_blob)) != AD_OK ||
        (r = tpm_key_new(c->t, c->host_blob, &c->host)) != AD_OK) {
        fprintf(stderr, "agentd-enroll: host key %s: %s\n", key_path, ad_strerror(r));
        return r;
    }
    *hk = (struct enroll_host_key){*ret_pem, host_sign, c};
    eo->host_key = hk;
    return AD_OK;
}

/* --svid: the AK from --ak certifies a new key; the CA issues PATH for it. */
static int run_svid(struct ctx *c, const struct enroll_options *eo, const struct enroll_tpm *ops,
                    const char *ak_path, const char *host_cert, const char *path,
                    struct enroll_result *ret)
{
    char host_id[65], err[512];
    int r;

    if ((r = keyblob_read_file(ak_path, &c->ak_blob)) != AD_OK ||
        (r = tpm_key_new(c->t, c->ak_blob, &c->ak)) != AD_OK) {
        fprintf(stderr, "agentd-enroll: AK %s: %s\n", ak_path, ad_strerror(r));
        return r;
    }
    if ((r = host_id_from_cert(host_cert, host_id)) != AD_OK) {
        fprintf(stderr, "agentd-enroll: %s is not a host certificate\n", host_cert);
        return r;
    }
    if ((r = enroll_svid(eo, ops, host_id, path, ret, err, sizeof(err))) != AD_OK) {
        fprintf(stderr, "agentd-enroll: workload certificate failed: %s\n", err);
    }
    return r;
}

static int parse_ek(const char *s, enum tpm_ek_type *ret)
{
    if (strcmp(s, "rsa2048") == 0) {
        *ret = TPM_EK_RSA_2048;
    } else if (strcmp(s, "p256") == 0) {
        *ret = TPM_EK_EC_P256;
    } else if (strcmp(s, "p384") == 0) {
        *ret = TPM_EK_EC_P384;
    } else {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tcti", 1, NULL, 't'},     {"url", 1, NULL, 'u'},        {"cacert", 1, NULL, 'c'},
        {"class", 1, NULL, 'k'},    {"ek", 1, NULL, 'e'},         {"out", 1, NULL, 'o'},
        {"key-out", 1, NULL, 'K'},  {"bundle-out", 1, NULL, 'b'}, {"ak-out", 1, NULL, 'A'},
        {"ak", 1, NULL, 'a'},       {"svid", 1, NULL, 's'},       {"host-cert", 1, NULL, 'H'},
        {"host-key", 1, NULL, 'P'}, {NULL, 0, NULL, 0},
    };
    struct ctx c = {.ek_type = TPM_EK_RSA_2048};
    struct tpm_options to = {0};
    struct enroll_options eo = {0};
    struct enroll_result res = {0};
    struct enroll_tpm ops = {&c, op_ek, op_ak, op_activate, op_quote, op_certify};
    const char *out = NULL, *key_out = NULL, *bundle_out = NULL, *ak_out = NULL, *ak = NULL;
    const char *svid = NULL, *host_cert = NULL, *host_key = NULL;
    struct enroll_host_key hk;
    char err[512], *host_pem = NULL;
    int opt, r, rc = 1;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            to.tcti = optarg;
            break;
        case 'u':
            eo.url = optarg;
            break;
        case 'c':
            eo.ca_bundle = optarg;
            break;
        case 'k':
            eo.host_class = optarg;
            break;
        case 'e':
            if (parse_ek(optarg, &c.ek_type) != 0) {
                return 2;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'K':
            key_out = optarg;
            break;
        case 'b':
            bundle_out = optarg;
            break;
        case 'A':
            ak_out = optarg;
            break;
        case 'a':
            ak = optarg;
            break;
        case 's':
            svid = optarg;
            break;
        case 'H':
            host_cert = optarg;
            break;
        case 'P':
            host_key = optarg;
            break;
        default:
            return 2;
        }
    }
    if (eo.url == NULL || eo.ca_bundle == NULL ||
        (svid != NULL && (ak == NULL || host_cert == NULL)) ||
        (host_key != NULL && host_cert == NULL)) {
        fprintf(stderr, "agentd-enroll: --url and --cacert are required (--svid needs --ak and "
                        "--host-cert; --host-key needs --host-cert)\n");
        return 2;
    }
    if ((r = tpm_open(&to, &c.t)) != AD_OK) {
        fprintf(stderr, "agentd-enroll: cannot open the TPM: %s\n", ad_strerror(r));
        return 1;
    }
    if (host_key != NULL && use_host_key(&c, host_cert, host_key, &host_pem, &hk, &eo) != AD_OK) {
        goto out;
    }
    if (svid != NULL) {
        if (run_svid(&c, &eo, &ops, ak, host_cert, svid, &res) != AD_OK) {
            goto out;
        }
    } else if ((r = enroll_run(&eo, &ops, &res, err, sizeof(err))) != AD_OK) {
        fprintf(stderr, "agentd-enroll: enrollment failed: %s\n", err);
        goto out;
    }
    if (write_text(out, res.cert_pem) != 0 || write_text(bundle_out, res.bundle_pem) != 0 ||
        (key_out != NULL && keyblob_write_file(key_out, c.key_blob) != AD_OK) ||
        (ak_out != NULL && svid == NULL && keyblob_write_file(ak_out, c.ak_blob) != AD_OK)) {
        fprintf(stderr, "agentd-enroll: cannot write the results\n");
        goto out;
    }
    printf("%s %s\n", svid != NULL ? "issued" : "enrolled as", res.spiffe_id);
    rc = 0;
out:
    enroll_result_clear(&res);
    free(host_pem);
    tpm_key_free(c.t, c.host);
    keyblob_free(c.host_blob);
    keyblob_free(c.key_blob);
    tpm_key_free(c.t, c.ak);
    keyblob_free(c.ak_blob);
    tpm_close(c.t);
    return rc;
}
