/*
 * p11_procs: aggregate C_Sign throughput of many client *processes* through
 * one PKCS#11 module (the "64 client processes" case of issue 4).
 *
 *   p11_procs -m MODULE.so -l KEY_LABEL -M ecdsa|rsa-pkcs [-T TOKEN] [-p PIN]
 *             [-P PROCS] [-d SECONDS] [-w WARMUP] [-q TAG]
 *
 * Each of PROCS forked children dlopen()s the module, initializes, opens a
 * session, logs in (-p), finds the private key by label, signs WARMUP times
 * untimed (the first signature is verified with OpenSSL against the token's
 * public key, so a broken path cannot report fast figures), then waits at a
 * barrier. All children start together and sign (C_SignInit + C_Sign) until
 * the same deadline. The parent prints one RESULT line: aggregate ops/s over
 * the wall time from the start to the last child's last signature, and p50 /
 * p99 of every timed signature of every process.
 *
 * The untimed set-up runs one child at a time (a POSIX record lock on a
 * shared temporary file, released at exit too): SoftHSM2 rereads its file
 * store at C_Initialize and C_Login, and a process reading it while another
 * updates it found no token, a PIN "not initialized" or a general error, so
 * its 64-process case used to fail. The signing still starts all at once.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <p11-kit/pkcs11.h>

#define LAT_MAX 50000  /* latencies kept per process */
#define SETUP_MS 60000 /* a child not ready by then is stuck (e.g. a TPM without slots) */
#define GRACE_MS 30000 /* past the deadline: children still signing are stuck */

struct opts {
    const char *module, *label, *token, *pin, *tag;
    int is_rsa;
    int procs, warmup;
    double seconds;
};

/* One per process, in shared memory. */
struct slot {
    uint64_t end_ns; /* CLOCK_MONOTONIC after the last signature */
    uint64_t n_ops;  /* timed signatures */
    uint64_t n_lat;  /* of them recorded in lat[] */
    int failed;
    uint32_t lat_ns[LAT_MAX];
};

struct shared {
    uint64_t start_ns, deadline_ns;
    struct slot slots[];
};

static CK_FUNCTION_LIST *p11;

/* A fixed 32-byte digest to sign, and the DigestInfo prefix that makes it PKCS#1 v1.5 input. */
static const uint8_t digest[32] = {0x1b, 0x3a, 0x2b, 0x6d, 0x19, 0x8a, 0x6e, 0x21, 0x43, 0x1c, 0x5f,
                                   0x40, 0x5e, 0x7a, 0x37, 0x54, 0x8c, 0x2f, 0x4f, 0x0d, 0x13, 0x2b,
                                   0x17, 0x45, 0x31, 0x0a, 0x64, 0x2e, 0x51, 0x72, 0x0e, 0x11};
static const uint8_t sha256_prefix[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x01, 0x05, 0x00, 0x04, 0x20};

static uint64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int fail(const char *what, CK_RV rv)
{
    fprintf(stderr, "p11_procs[%d]: %s: 0x%lx\n", (int)getpid(), what, (unsigned long)rv);
    return -1;
}

static int find_key(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label,
                    CK_OBJECT_HANDLE *ret)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_ULONG n = 0;
    CK_RV rv;

    if ((rv = p11->C_FindObjectsInit(s, t, 2)) != CKR_OK) {
        return fail("C_FindObjectsInit", rv);
    }
    rv = p11->C_FindObjects(s, ret, 1, &n);
    p11->C_FindObjectsFinal(s);
    return rv == CKR_OK && n == 1 ? 0 : fail("C_FindObjects (key not found?)", rv);
}

static int attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, uint8_t *buf,
                CK_ULONG *len)
{
    CK_ATTRIBUTE a = {type, buf, *len};

    if (p11->C_GetAttributeValue(s, o, &a, 1) != CKR_OK) {
        return -1;
    }
    *len = a.ulValueLen;
    return 0;
}

/* The public key of the object labelled like the private key, as OpenSSL sees it. */
static EVP_PKEY *public_key(CK_SESSION_HANDLE s, const struct opts *o)
{
    uint8_t a[1024], b[16];
    CK_ULONG alen = sizeof(a), blen = sizeof(b);
    CK_OBJECT_HANDLE pub;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM *n = NULL, *e = NULL;
    const uint8_t *pt = a;
    size_t pt_len;

    if (bld == NULL || find_key(s, CKO_PUBLIC_KEY, o->label, &pub) != 0) {
        goto out;
    }
    if (!o->is_rsa) {
        if (attr(s, pub, CKA_EC_POINT, a, &alen) != 0) {
            goto out;
        }
        pt_len = alen;
        if (alen > 2 && a[0] == 0x04 && a[1] == alen - 2) { /* DER OCTET STRING wrapper */
            pt += 2;
            pt_len -= 2;
        }
        if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, pt_len)) {
            goto out;
        }
    } else {
        if (attr(s, pub, CKA_MODULUS, a, &alen) != 0 ||
            attr(s, pub, CKA_PUBLIC_EXPONENT, b, &blen) != 0) {
            goto out;
        }
        n = BN_bin2bn(a, (int)alen, NULL);
        e = BN_bin2bn(b, (int)blen, NULL);
        if (n == NULL || e == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
            goto out;
        }
    }
    if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, o->is_rsa ? "RSA" : "EC", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        pk = NULL;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pk;
}

/* Verify a raw r||s (ECDSA) or PKCS#1 v1.5 signature over the fixed digest. */
static int verify(EVP_PKEY *pk, const struct opts *o, const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    uint8_t der[80], *p = der;
    const uint8_t *s = sig;
    size_t s_len = sig_len;
    int ok = 0;

    if (!o->is_rsa) { /* r||s → DER ECDSA-Sig-Value */
        ECDSA_SIG *es = ECDSA_SIG_new();

        ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)sig_len / 2, NULL),
                       BN_bin2bn(sig + sig_len / 2, (int)sig_len / 2, NULL));
        s_len = (size_t)i2d_ECDSA_SIG(es, &p);
        s = der;
        ECDSA_SIG_free(es);
    }
    if (ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
        (!o->is_rsa || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1) &&
        (!o->is_rsa || EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1)) {
        ok = EVP_PKEY_verify(ctx, s, s_len, digest, sizeof(digest)) == 1;
    }
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static CK_RV sign_once(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const struct opts *o,
                       uint8_t *sig, CK_ULONG *sig_len)
{
    CK_MECHANISM m = {o->is_rsa ? CKM_RSA_PKCS : CKM_ECDSA, NULL, 0};
    uint8_t in[sizeof(sha256_prefix) + sizeof(digest)];
    CK_ULONG in_len = sizeof(digest);
    CK_RV rv;

    if (o->is_rsa) {
        memcpy(in, sha256_prefix, sizeof(sha256_prefix));
        memcpy(in + sizeof(sha256_prefix), digest, sizeof(digest));
        in_len = sizeof(in);
    } else {
        memcpy(in, digest, sizeof(digest));
    }
    if ((rv = p11->C_SignInit(s, &m, key)) != CKR_OK) {
        return rv;
    }
    return p11->C_Sign(s, in, in_len, sig, sig_len);
}

/* The set-up turn: a write lock on byte 0 of the shared file, per process. */
static int setup_turn(int fd, short type)
{
    struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    int r;

    while ((r = fcntl(fd, F_SETLKW, &l)) != 0 && errno == EINTR) {
    }
    return r;
}

/* Set up (in turn), warm up, report ready, wait for the start, sign until the deadline. */
static int child(const struct opts *o, struct shared *sh, struct slot *me, int ready_fd, int go_fd,
                 int turn_fd)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_C_GetFunctionList get;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    uint8_t sig[512], one = 1;
    CK_ULONG sig_len;
    EVP_PKEY *pk;
    void *lib;
    CK_RV rv;
    int i;

    if (setup_turn(turn_fd, F_WRLCK) != 0) {
        return fail("set-up lock", 0);
    }
    if ((lib = dlopen(o->module, RTLD_NOW | RTLD_LOCAL)) == NULL ||
        (get = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList")) == NULL ||
        get(&p11) != CKR_OK) {
        return fail("dlopen/C_GetFunctionList", 0);
    }
    if ((rv = p11->C_Initialize(&args)) != CKR_OK) {
        return fail("C_Initialize", rv);
    }
    {
        CK_SLOT_ID slots[16];
        CK_ULONG n, k;
        int tries;
        CK_TOKEN_INFO ti;
        size_t tl = o->token != NULL ? strlen(o->token) : 0;

        /* SoftHSM2 sometimes misses its token while many processes read the store: retry. */
        for (tries = 0;; tries++) {
            n = 16;
            if ((rv = p11->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
                return fail("C_GetSlotList", rv);
            }
            for (k = 0; o->token != NULL && k < n; k++) {
                if (p11->C_GetTokenInfo(slots[k], &ti) == CKR_OK && tl <= 32 &&
                    memcmp(ti.label, o->token, tl) == 0 && (tl == 32 || ti.label[tl] == ' ')) {
                    break;
                }
            }
            if (n > 0 && k < n) {
                break;
            }
            if (tries == 50) {
                return fail("token not found", 0);
            }
            nanosleep(&(struct timespec){0, 20000000}, NULL);
        }
        if ((rv = p11->C_OpenSession(slots[o->token != NULL ? k : 0], CKF_SERIAL_SESSION, NULL,
                                     NULL, &s)) != CKR_OK) {
            return fail("C_OpenSession", rv);
        }
    }
    if (o->pin != NULL) {
        rv = p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)o->pin, strlen(o->pin));
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
            return fail("C_Login", rv);
        }
    }
    if (find_key(s, CKO_PRIVATE_KEY, o->label, &key) != 0) {
        return -1;
    }
    for (i = 0; i < o->warmup || i == 0; i++) {
        sig_len = sizeof(sig);
        if ((rv = sign_once(s, key, o, sig, &sig_len)) != CKR_OK) {
            return fail("warm-up C_Sign", rv);
        }
    }
    pk = public_key(s, o);
    if (pk == NULL || !verify(pk, o, sig, sig_len)) {
        EVP_PKEY_free(pk);
        return fail("signature does not verify with the token's public key", 0);
    }
    EVP_PKEY_free(pk);
    if (setup_turn(turn_fd, F_UNLCK) != 0) {
        return fail("set-up unlock", 0);
    }
    /* Close the ready pipe once written: a child that failed earlier exited, so the
     * parent's read() sees EOF when every live child is ready. */
    if (write(ready_fd, &one, 1) != 1 || close(ready_fd) != 0 || read(go_fd, &one, 1) != 0) {
        return fail("barrier", 0); /* EOF on go_fd is the start */
    }
    for (;;) {
        uint64_t t0 = now_ns(), t1;

        if (t0 >= sh->deadline_ns) {
            break;
        }
        sig_len = sizeof(sig);
        if ((rv = sign_once(s, key, o, sig, &sig_len)) != CKR_OK) {
            return fail("C_Sign", rv);
        }
        t1 = now_ns();
        if (me->n_lat < LAT_MAX) {
            me->lat_ns[me->n_lat++] = (uint32_t)(t1 - t0 > UINT32_MAX ? UINT32_MAX : t1 - t0);
        }
        me->n_ops++;
        me->end_ns = t1;
    }
    p11->C_CloseSession(s);
    p11->C_Finalize(NULL);
    return 0;
}

/* Count ready bytes until every child is ready, all ready ends closed, or SETUP_MS. */
static int wait_ready(int fd, int procs)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint64_t limit = now_ns() + SETUP_MS * 1000000ull;
    int n = 0;
    uint8_t b;

    while (n < procs) {
        uint64_t now = now_ns();

        if (now >= limit || poll(&p, 1, (int)((limit - now) / 1000000u) + 1) <= 0) {
            break;
        }
        if (read(fd, &b, 1) != 1) {
            break; /* EOF: the rest exited */
        }
        n++;
    }
    return n;
}

/* Wait for every child until limit_ns, then SIGKILL the ones we started that
 * are still there. Returns how many failed (or were killed). */
static int reap(pid_t *pids, int procs, uint64_t limit_ns)
{
    struct timespec ms10 = {0, 10000000};
    int left = procs, failed = 0, status, i;

    while (left > 0) {
        pid_t p = waitpid(-1, &status, WNOHANG);

        if (p > 0) {
            for (i = 0; i < procs && pids[i] != p; i++) {
            }
            if (i < procs) {
                pids[i] = 0;
                left--;
                failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
            }
            continue;
        }
        if (p < 0 && errno != EINTR) {
            break;
        }
        if (now_ns() >= limit_ns) {
            for (i = 0; i < procs; i++) {
                if (pids[i] > 0) {
                    fprintf(stderr, "p11_procs: process %d stuck: killed\n", (int)pids[i]);
                    kill(pids[i], SIGKILL);
                }
            }
            limit_ns = UINT64_MAX;
        }
        nanosleep(&ms10, NULL);
    }
    return failed;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr, "usage: p11_procs -m MODULE -l LABEL -M ecdsa|rsa-pkcs [-T TOKEN] [-p PIN]"
                    " [-P PROCS] [-d SECONDS] [-w WARMUP] [-q TAG]\n");
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    int c;

    *o = (struct opts){.procs = 64, .seconds = 3, .warmup = 3, .tag = "-"};
    while ((c = getopt(argc, argv, "m:l:M:T:p:P:d:w:q:")) != -1) {
        switch (c) {
        case 'm':
            o->module = optarg;
            break;
        case 'l':
            o->label = optarg;
            break;
        case 'M':
            o->is_rsa = strcmp(optarg, "rsa-pkcs") == 0;
            break;
        case 'T':
            o->token = optarg;
            break;
        case 'p':
            o->pin = optarg;
            break;
        case 'P':
            o->procs = atoi(optarg);
            break;
        case 'd':
            o->seconds = atof(optarg);
            break;
        case 'w':
            o->warmup = atoi(optarg);
            break;
        case 'q':
            o->tag = optarg;
            break;
        default:
            usage();
        }
    }
    if (o->module == NULL || o->label == NULL || o->procs < 1 || o->procs > 1024 ||
        o->seconds <= 0) {
        usage();
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    struct shared *sh;
    size_t size;
    int ready[2], go[2], i, failed, n_ready;
    pid_t *pids;
    uint64_t n_ops = 0, n_lat = 0, end = 0;
    uint32_t *all;
    double wall;
    FILE *turn;

    parse(argc, argv, &o);
    if ((turn = tmpfile()) == NULL) { /* removed when the last process exits */
        perror("p11_procs: tmpfile");
        return 1;
    }
    size = sizeof(*sh) + (size_t)o.procs * sizeof(struct slot);
    sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pids = calloc((size_t)o.procs, sizeof(*pids));
    if (sh == MAP_FAILED || pids == NULL || pipe(ready) != 0 || pipe(go) != 0) {
        perror("p11_procs");
        fclose(turn);
        return 1;
    }
    for (i = 0; i < o.procs; i++) {
        pid_t pid = fork();

        if (pid < 0) {
            perror("fork");
            fclose(turn);
            return 1;
        }
        pids[i] = pid;
        if (pid == 0) {
            close(ready[0]);
            close(go[1]);
            sh->slots[i].failed = child(&o, sh, &sh->slots[i], ready[1], go[0], fileno(turn)) != 0;
            _exit(sh->slots[i].failed);
        }
    }
    close(ready[1]);
    close(go[0]);
    n_ready = wait_ready(ready[0], o.procs);
    if (n_ready < o.procs) {
        fprintf(stderr, "p11_procs: only %d of %d processes got ready\n", n_ready, o.procs);
    }
    sh->start_ns = now_ns();
    sh->deadline_ns = sh->start_ns + (uint64_t)(o.seconds * 1e9);
    close(go[1]); /* every child's read() returns 0: go */
    failed = reap(pids, o.procs, sh->deadline_ns + GRACE_MS * 1000000ull);
    for (i = 0; i < o.procs; i++) {
        n_ops += sh->slots[i].n_ops;
        n_lat += sh->slots[i].n_lat;
        end = sh->slots[i].end_ns > end ? sh->slots[i].end_ns : end;
    }
    if ((all = malloc((n_lat + 1) * sizeof(*all))) == NULL) {
        fclose(turn);
        return 1;
    }
    for (i = 0, n_lat = 0; i < o.procs; i++) {
        memcpy(all + n_lat, sh->slots[i].lat_ns, sh->slots[i].n_lat * sizeof(*all));
        n_lat += sh->slots[i].n_lat;
    }
    qsort(all, n_lat, sizeof(*all), cmp_u32);
    wall = end > sh->start_ns ? (double)(end - sh->start_ns) / 1e9 : 0;
    printf("RESULT tag=%s mech=%s procs=%d failed=%d ops=%llu wall_s=%.4f ops_s=%.2f "
           "p50_us=%.1f p99_us=%.1f\n",
           o.tag, o.is_rsa ? "rsa-pkcs" : "ecdsa", o.procs, failed, (unsigned long long)n_ops, wall,
           wall > 0 ? (double)n_ops / wall : 0, n_lat ? all[n_lat / 2] / 1e3 : 0.0,
           n_lat ? all[(n_lat * 99) / 100] / 1e3 : 0.0);
    free(all);
    free(pids);
    fclose(turn);
    munmap(sh, size);
    return failed != 0 || n_ops == 0;
}
