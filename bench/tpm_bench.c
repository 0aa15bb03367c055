/*
 * tpm_bench: sign loops through the TPM layer (agentd/tpm.h) on a TCTI.
 *
 *   tpm_bench --tcti swtpm:host=127.0.0.1,port=N [--seconds 5] [--type p256|rsa2048|all]
 *             [--keys K]
 *
 * For each key type: create a key under the SRK, make it known to the layer,
 * sign once to load it, then sign the same digest for --seconds and print
 * ops/s, p50 and p99 latency in microseconds, plus one RESULT line per type
 * for scripts. The first signature is verified with OpenSSL, so a broken
 * layer cannot produce fast numbers. --keys K (K > 2) signs round-robin with
 * K keys while the layer keeps 2 loaded: every signature is then a cache miss
 * (TPM2_FlushContext + TPM2_Load + TPM2_Sign), the cost of a cold key.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyblob.h"
#include "sigfmt.h"
#include "tpm.h"

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int first_sign(struct tpm *t, struct tpm_key *k, const struct keyblob *kb, enum tpm_sig sig,
                      const uint8_t *digest)
{
    uint8_t out[TPM_SIG_MAX];
    size_t len = sizeof(out);
    struct tpm_pubinfo info = {0};
    int r;

    if ((r = tpm_sign(t, k, sig, TPM_HASH_SHA256, digest, 32, out, &len)) != 0 ||
        (r = tpm_key_info(kb, &info)) != 0) {
        return r;
    }
    r = sigfmt_verify(info.spki, info.spki_len, SIGFMT_SHA256,
                      sig == TPM_SIG_ECDSA ? SIGFMT_PAD_NONE : SIGFMT_PAD_PKCS1, digest, 32, out,
                      len);
    tpm_pubinfo_clear(&info);
    return r;
}

#define BENCH_KEYS_MAX 8

struct bench {
    struct keyblob *kb[BENCH_KEYS_MAX];
    struct tpm_key *k[BENCH_KEYS_MAX];
    unsigned n;
};

static int bench_setup(struct tpm *t, enum tpm_key_type type, enum tpm_sig sig,
                       const uint8_t *digest, struct bench *b)
{
    int r;

    for (unsigned i = 0; i < b->n; i++) {
        if ((r = tpm_create_key(t, type, &b->kb[i])) != 0 ||
            (r = tpm_key_new(t, b->kb[i], &b->k[i])) != 0 ||
            (r = first_sign(t, b->k[i], b->kb[i], sig, digest)) != 0) {
            return r;
        }
    }
    return AD_OK;
}

static void bench_clear(struct tpm *t, struct bench *b)
{
    for (unsigned i = 0; i < b->n; i++) {
        tpm_key_free(t, b->k[i]);
        keyblob_free(b->kb[i]);
    }
}

static int bench_one(struct tpm *t, const char *tcti, const char *name, enum tpm_key_type type,
                     double seconds, unsigned nkeys)
{
    enum tpm_sig sig = type == TPM_KEY_EC_P256 ? TPM_SIG_ECDSA : TPM_SIG_RSASSA;
    uint8_t digest[32], out[TPM_SIG_MAX];
    struct bench b = {.n = nkeys};
    size_t cap = 1 << 20, n = 0, len;
    double *lat = malloc(cap * sizeof(*lat)), start, end;
    int r;

    memset(digest, 0x42, sizeof(digest));
    if (lat == NULL) {
        return AD_ERR_NOMEM;
    }
    if ((r = bench_setup(t, type, sig, digest, &b)) != 0) {
        fprintf(stderr, "tpm_bench: %s: setup: %s\n", name, ad_strerror(r));
        goto out;
    }
    start = end = now_us();
    while (end - start < seconds * 1e6 && n < cap) {
        double t0 = end;
        len = sizeof(out);
        if ((r = tpm_sign(t, b.k[n % nkeys], sig, TPM_HASH_SHA256, digest, 32, out, &len)) != 0) {
            fprintf(stderr, "tpm_bench: %s: sign: %s\n", name, ad_strerror(r));
            goto out;
        }
        end = now_us();
        lat[n++] = end - t0;
    }
    qsort(lat, n, sizeof(*lat), cmp_double);
    printf("%-8s keys=%u %8.1f sign/s  p50 %7.0f us  p99 %7.0f us  (%zu signs in %.2f s)\n", name,
           nkeys, (double)n / ((end - start) / 1e6), lat[n / 2], lat[(n * 99) / 100], n,
           (end - start) / 1e6);
    printf("RESULT tool=tpm_bench tcti=%s key=%s keys=%u ops=%zu ops_s=%.1f p50_us=%.0f "
           "p99_us=%.0f\n",
           tcti, name, nkeys, n, (double)n / ((end - start) / 1e6), lat[n / 2],
           lat[(n * 99) / 100]);
out:
    bench_clear(t, &b);
    free(lat);
    return r;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tcti", required_argument, NULL, 't'},
        {"seconds", required_argument, NULL, 's'},
        {"type", required_argument, NULL, 'k'},
        {"keys", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    struct tpm_options opt = {0};
    const char *type = "all";
    double seconds = 5;
    unsigned nkeys = 1;
    struct tpm *t = NULL;
    int c, r = 0;

    while ((c = getopt_long(argc, argv, "t:s:k:n:", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            opt.tcti = optarg;
            break;
        case 's':
            seconds = strtod(optarg, NULL);
            break;
        case 'k':
            type = optarg;
            break;
        case 'n':
            nkeys = (unsigned)strtoul(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: tpm_bench --tcti TCTI [--seconds S] [--type p256|rsa2048|all] "
                            "[--keys K]\n");
            return 2;
        }
    }
    if (nkeys < 1 || nkeys > BENCH_KEYS_MAX) {
        fprintf(stderr, "tpm_bench: --keys 1..%d\n", BENCH_KEYS_MAX);
        return 2;
    }
    if ((r = tpm_open(&opt, &t)) != 0) {
        fprintf(stderr, "tpm_bench: open: %s\n", ad_strerror(r));
        return 1;
    }
    if (r == 0 && (strcmp(type, "all") == 0 || strcmp(type, "p256") == 0)) {
        r = bench_one(t, opt.tcti, "ecc-p256", TPM_KEY_EC_P256, seconds, nkeys);
    }
    if (r == 0 && (strcmp(type, "all") == 0 || strcmp(type, "rsa2048") == 0)) {
        r = bench_one(t, opt.tcti, "rsa-2048", TPM_KEY_RSA_2048, seconds, nkeys);
    }
    tpm_close(t);
    return r == 0 ? 0 : 1;
}
