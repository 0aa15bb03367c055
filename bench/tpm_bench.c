/*
 * tpm_bench: sign loops through the TPM layer (agentd/tpm.h) on a TCTI.
 *
 *   tpm_bench --tcti swtpm:host=127.0.0.1,port=N [--seconds 5] [--type p256|rsa2048|all]
 *             [--keys K] [--relay | --idle MS]
 *
 * For each key type: create a key under the SRK, make it known to the layer,
 * sign once to load it, then sign the same digest for --seconds and print
 * ops/s, p50 and p99 latency in microseconds, plus one RESULT line per type
 * for scripts. The first signature is verified with OpenSSL, so a broken
 * layer cannot produce fast numbers. --keys K (K > 2) signs round-robin with
 * K keys while the layer keeps 2 loaded: every signature is then a cache miss
 * (TPM2_FlushContext + TPM2_Load + TPM2_Sign), the cost of a cold key.
 *
 * --relay puts one process hop in front of the same loop and nothing else:
 * a forked client writes the digest to a Unix socket and waits in poll()
 * for the signature, as the PKCS#11 module does; this process waits in
 * epoll_wait(), reads it, signs and writes the reply back, as agentd's loop
 * does, without a frame, an identity check, a policy decision or an audit
 * record. What that costs against the plain loop is the floor under the
 * module's one-thread ratio on this machine: the part no daemon work can
 * win back (bench/README.md).
 *
 * --idle MS sleeps MS milliseconds before each timed signature, so every one
 * finds the machine and the TPM idle, as a cold start's first signature
 * does (on a VM, waking idle vCPUs and cold caches cost more than the
 * signature's own work). Its p50 is the floor under the module's cold start
 * that no client or daemon work can win back; ops/s counts signing time only.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "keyblob.h"
#include "sigfmt.h"
#include "tpm.h"

/* A whole option value as a number in [lo, hi]; false for "", "5x" or out of range. */
static bool parse_num(const char *text, double lo, double hi, double *ret)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !(v >= lo && v <= hi)) {
        return false;
    }
    *ret = v;
    return true;
}

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

static void report(const char *tool, const char *tcti, const char *name, unsigned nkeys,
                   double *lat, size_t n, double start, double end)
{
    qsort(lat, n, sizeof(*lat), cmp_double);
    printf("%-8s keys=%u %8.1f sign/s  p50 %7.0f us  p99 %7.0f us  (%zu signs in %.2f s)%s\n", name,
           nkeys, (double)n / ((end - start) / 1e6), lat[n / 2], lat[(n * 99) / 100], n,
           (end - start) / 1e6,
           strcmp(tool, "tpm_bench_relay") == 0  ? "  through one hop"
           : strcmp(tool, "tpm_bench_idle") == 0 ? "  each after idling"
                                                 : "");
    printf("RESULT tool=%s tcti=%s key=%s keys=%u ops=%zu ops_s=%.1f p50_us=%.0f "
           "p99_us=%.0f\n",
           tool, tcti, name, nkeys, n, (double)n / ((end - start) / 1e6), lat[n / 2],
           lat[(n * 99) / 100]);
}

/* --relay, the client side (a forked child): digest out, signature back, timed. */
static int relay_client(int fd, const char *tcti, const char *name, unsigned nkeys, double seconds,
                        double *lat, size_t cap)
{
    uint8_t digest[32], sig[TPM_SIG_MAX];
    double start, end;
    uint32_t len;
    size_t n = 0;

    memset(digest, 0x42, sizeof(digest));
    start = end = now_us();
    while (end - start < seconds * 1e6 && n < cap) {
        double t0 = end;

        if (io_write_all(fd, digest, sizeof(digest)) != 0 || io_wait_readable(fd, -1) != 0 ||
            io_read_all(fd, &len, sizeof(len)) != 0 || len > sizeof(sig) ||
            io_read_all(fd, sig, len) != 0) {
            fprintf(stderr, "tpm_bench: relay client: %s\n", strerror(errno));
            return 1;
        }
        end = now_us();
        lat[n++] = end - t0;
    }
    report("tpm_bench_relay", tcti, name, nkeys, lat, n, start, end);
    return 0;
}

/* --relay, the serving side: wait, read the digest, sign, reply; until EOF. */
static int relay_serve(struct tpm *t, struct bench *b, enum tpm_sig sig, int fd)
{
    uint8_t digest[32], out[TPM_SIG_MAX];
    struct epoll_event ev = {.events = EPOLLIN};
    int ep = epoll_create1(EPOLL_CLOEXEC);
    size_t n = 0;
    int r = AD_OK;

    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        r = AD_ERR_SYSTEM;
        goto out;
    }
    for (;;) {
        size_t len = sizeof(out);
        uint32_t len32;
        struct iovec iov[2];
        ssize_t got;

        if (epoll_wait(ep, &ev, 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            r = AD_ERR_SYSTEM;
            break;
        }
        if ((got = read(fd, digest, sizeof(digest))) == 0) {
            break; /* the client is done */
        }
        if (got < 0 || ((size_t)got < sizeof(digest) &&
                        io_read_all(fd, digest + got, sizeof(digest) - (size_t)got) != 0)) {
            r = AD_ERR_SYSTEM;
            break;
        }
        if ((r = tpm_sign(t, b->k[n++ % b->n], sig, TPM_HASH_SHA256, digest, 32, out, &len)) != 0) {
            break;
        }
        len32 = (uint32_t)len;
        iov[0] = (struct iovec){.iov_base = &len32, .iov_len = sizeof(len32)};
        iov[1] = (struct iovec){.iov_base = out, .iov_len = len};
        if (writev(fd, iov, 2) != (ssize_t)(sizeof(len32) + len)) {
            r = AD_ERR_SYSTEM;
            break;
        }
    }
out:
    if (ep >= 0) {
        close(ep);
    }
    return r;
}

static int relay_run(struct tpm *t, struct bench *b, enum tpm_sig sig, const char *tcti,
                     const char *name, double seconds, double *lat, size_t cap)
{
    int sv[2], status = 0, r;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        return AD_ERR_SYSTEM;
    }
    fflush(stdout); /* or the child prints it again */
    if ((pid = fork()) < 0) {
        close(sv[0]);
        close(sv[1]);
        return AD_ERR_SYSTEM;
    }
    if (pid == 0) {
        close(sv[0]);
        r = relay_client(sv[1], tcti, name, b->n, seconds, lat, cap);
        fflush(stdout);
        _exit(r);
    }
    close(sv[1]);
    r = relay_serve(t, b, sig, sv[0]);
    close(sv[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        r = AD_ERR_SYSTEM;
    }
    return r;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int bench_one(struct tpm *t, const char *tcti, const char *name, enum tpm_key_type type,
                     double seconds, unsigned nkeys, bool relay, unsigned idle_ms)
{
    enum tpm_sig sig = type == TPM_KEY_EC_P256 ? TPM_SIG_ECDSA : TPM_SIG_RSASSA;
    uint8_t digest[32], out[TPM_SIG_MAX];
    struct bench b = {.n = nkeys};
    size_t cap = 1 << 20, n = 0, len;
    double *lat = malloc(cap * sizeof(*lat)), start, end, idle = 0;
    int r;

    memset(digest, 0x42, sizeof(digest));
    if (lat == NULL) {
        return AD_ERR_NOMEM;
    }
    if ((r = bench_setup(t, type, sig, digest, &b)) != 0) {
        fprintf(stderr, "tpm_bench: %s: setup: %s\n", name, ad_strerror(r));
        goto out;
    }
    if (relay) {
        if ((r = relay_run(t, &b, sig, tcti, name, seconds, lat, cap)) != 0) {
            fprintf(stderr, "tpm_bench: %s: relay: %s\n", name, ad_strerror(r));
        }
        goto out;
    }
    start = end = now_us();
    while (end - start < seconds * 1e6 && n < cap) {
        double t0 = end;

        if (idle_ms > 0) {
            sleep_ms(idle_ms);
            t0 = now_us();
            idle += t0 - end;
        }
        len = sizeof(out);
        if ((r = tpm_sign(t, b.k[n % nkeys], sig, TPM_HASH_SHA256, digest, 32, out, &len)) != 0) {
            fprintf(stderr, "tpm_bench: %s: sign: %s\n", name, ad_strerror(r));
            goto out;
        }
        end = now_us();
        lat[n++] = end - t0;
    }
    report(idle_ms > 0 ? "tpm_bench_idle" : "tpm_bench", tcti, name, nkeys, lat, n, start,
           end - idle);
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
        {"relay", no_argument, NULL, 'r'},
        {"idle", required_argument, NULL, 'i'},
        {NULL, 0, NULL, 0},
    };
    struct tpm_options opt = {0};
    const char *type = "all";
    double seconds = 5;
    unsigned nkeys = 1;
    bool relay = false;
    unsigned idle_ms = 0;
    struct tpm *t = NULL;
    double v;
    int c, r = 0;

    while ((c = getopt_long(argc, argv, "t:s:k:n:ri:", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            opt.tcti = optarg;
            break;
        case 's':
            if (!parse_num(optarg, 0.01, 3600, &seconds)) {
                fprintf(stderr, "tpm_bench: --seconds 0.01..3600\n");
                return 2;
            }
            break;
        case 'k':
            type = optarg;
            break;
        case 'n':
            if (!parse_num(optarg, 1, BENCH_KEYS_MAX, &v) || v != (unsigned)v) {
                fprintf(stderr, "tpm_bench: --keys 1..%d\n", BENCH_KEYS_MAX);
                return 2;
            }
            nkeys = (unsigned)v;
            break;
        case 'r':
            relay = true;
            break;
        case 'i':
            if (!parse_num(optarg, 0, 10000, &v) || v != (unsigned)v) {
                fprintf(stderr, "tpm_bench: --idle 0..10000 (ms)\n");
                return 2;
            }
            idle_ms = (unsigned)v;
            break;
        default:
            fprintf(stderr, "usage: tpm_bench --tcti TCTI [--seconds S] [--type p256|rsa2048|all] "
                            "[--keys K] [--relay | --idle MS]\n");
            return 2;
        }
    }
    if (relay && idle_ms > 0) {
        fprintf(stderr, "tpm_bench: --relay and --idle do not go together\n");
        return 2;
    }
    if ((r = tpm_open(&opt, &t)) != 0) {
        fprintf(stderr, "tpm_bench: open: %s\n", ad_strerror(r));
        return 1;
    }
    if (r == 0 && (strcmp(type, "all") == 0 || strcmp(type, "p256") == 0)) {
        r = bench_one(t, opt.tcti, "ecc-p256", TPM_KEY_EC_P256, seconds, nkeys, relay, idle_ms);
    }
    if (r == 0 && (strcmp(type, "all") == 0 || strcmp(type, "rsa2048") == 0)) {
        r = bench_one(t, opt.tcti, "rsa-2048", TPM_KEY_RSA_2048, seconds, nkeys, relay, idle_ms);
    }
    tpm_close(t);
    return r == 0 ? 0 : 1;
}
