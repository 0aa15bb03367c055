/*
 * adclient: test client for agentd's identity tests (and anyone else's).
 *
 *   adclient -s SOCK whoami
 *   adclient -s SOCK list
 *   adclient -s SOCK sign KEY MECH INFILE OUTFILE
 *   adclient -s SOCK loop KEY MECH SECONDS [INFLIGHT]
 *   adclient -s SOCK hold-then-exec PROG [ARGS...]
 *   adclient -s SOCK hold-then-fork [--keep | --reuse-pid STATUSFILE] PROG [ARGS...]
 *   adclient -s SOCK probe STOPFILE READYFILE [KEY MECH]
 *   adclient -s SOCK burst N
 *   adclient use-fd whoami | list | sign ... | loop ...
 *   --wait-for FILE (before the command): wait until FILE exists, then start
 *   --time (before the command): print "elapsed_us=N" to stderr at the end,
 *     the time from just before connect() to the command's last reply
 *
 * loop signs random data with up to INFLIGHT requests pipelined, verifies
 * every signature with OpenSSL against the key's SPKI from LIST_OBJECTS and
 * prints "count=N"; any mismatch is fatal.
 *
 * hold-then-exec connects, says HELLO, then execs PROG with the connected
 * socket's number in ADCLIENT_FD (same pid, new image). hold-then-fork
 * connects, says HELLO, forks, and exits; the child waits (on a pidfd) until
 * the connecting process is gone, then execs PROG with ADCLIENT_FD (new pid,
 * same binary and uid). With --keep the parent stays alive until the child
 * is done (the control case). With --reuse-pid the child also waits until
 * the parent is reaped, then (root: /proc/sys/kernel/ns_last_pid) runs PROG
 * under the parent's old pid number, a real pid reuse; PROG's exit status
 * goes to STATUSFILE. use-fd runs a command over ADCLIENT_FD.
 *
 * probe measures how promptly the daemon answers: round trips of a WHOAMI
 * (plus a SIGN of KEY when given, its signature not verified) until
 * STOPFILE exists; creates READYFILE after the first one; prints
 * "count=N max_us=M" (M: the slowest round trip).
 *
 * burst writes N WHOAMI requests before reading any reply, then requires
 * N OK replies in request order; prints "burst=N".
 *
 * Exit status: 0 done; 1 error; 2 usage; 3 the daemon answered DENIED;
 * 4 another non-OK status; 5 the daemon closed the connection.
 * SOCK defaults to $AGENTD_SOCKET.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <sys/socket.h>
#include <sys/un.h>

#include "buf.h"
#include "frame.h"
#include "io.h"
#include "msg.h"

#define EXIT_USAGE 2
#define EXIT_DENIED 3
#define EXIT_STATUS 4
#define EXIT_CLOSED 5

#define INFLIGHT_MAX 256u

enum kind { K_ECDSA_RAW, K_ECDSA, K_RSA_PKCS, K_RSA_PSS };

struct mech {
    const char *name;
    uint64_t ckm;
    enum kind kind;
    const char *md;    /* OpenSSL digest name */
    uint64_t pss_hash; /* CKM_SHA* for PSS params */
    uint64_t pss_mgf;  /* CKG_MGF1_* */
    uint64_t pss_salt; /* salt length */
};

static const struct mech mechs[] = {
    {"ECDSA", 0x1041, K_ECDSA_RAW, "SHA256", 0, 0, 0},
    {"ECDSA_SHA256", 0x1044, K_ECDSA, "SHA256", 0, 0, 0},
    {"ECDSA_SHA384", 0x1045, K_ECDSA, "SHA384", 0, 0, 0},
    {"ECDSA_SHA512", 0x1046, K_ECDSA, "SHA512", 0, 0, 0},
    {"SHA256_RSA_PKCS", 0x40, K_RSA_PKCS, "SHA256", 0, 0, 0},
    {"SHA384_RSA_PKCS", 0x41, K_RSA_PKCS, "SHA384", 0, 0, 0},
    {"SHA512_RSA_PKCS", 0x42, K_RSA_PKCS, "SHA512", 0, 0, 0},
    {"SHA256_RSA_PKCS_PSS", 0x43, K_RSA_PSS, "SHA256", 0x250, 0x2, 32},
    {"SHA384_RSA_PKCS_PSS", 0x44, K_RSA_PSS, "SHA384", 0x260, 0x3, 48},
    {"SHA512_RSA_PKCS_PSS", 0x45, K_RSA_PSS, "SHA512", 0x270, 0x4, 64},
};

static int fd = -1;
static uint32_t next_id = 1;
static struct buf *req;   /* request body */
static struct buf *reply; /* reply body */

static const struct mech *mech_find(const char *name)
{
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        if (strcmp(mechs[i].name, name) == 0) {
            return &mechs[i];
        }
    }
    return NULL;
}

/* Exit status for a transport failure, after saying why. */
static int io_failed(int r, const char *what)
{
    if (r == AD_ERR_CLOSED) {
        fprintf(stderr, "adclient: %s: connection closed by agentd\n", what);
        return EXIT_CLOSED;
    }
    fprintf(stderr, "adclient: %s: %s (%s)\n", what, ad_strerror(r),
            r == AD_ERR_SYSTEM ? strerror(errno) : "bad frame");
    return 1;
}

/*
 * The reply in `reply` has status OK: return 0. Otherwise say why and return
 * EXIT_DENIED for DENIED, EXIT_STATUS for any other status, 1 when malformed.
 */
static int reply_check(const char *what)
{
    struct msg_error e;
    uint32_t st = 0;

    if (msg_status_peek(reply, &st) != 0) {
        fprintf(stderr, "adclient: %s: malformed reply\n", what);
        return 1;
    }
    if (st == STATUS_OK) {
        return 0;
    }
    if (msg_error_decode(reply, &e) != 0) {
        fprintf(stderr, "adclient: %s: malformed error reply\n", what);
        return 1;
    }
    fprintf(stderr, "adclient: %s: %s: %.*s\n", what, status_name(st), (int)e.message.len,
            e.message.ptr);
    return st == STATUS_DENIED ? EXIT_DENIED : EXIT_STATUS;
}

/* Send req as a frame of type with id. */
static int send_req(uint8_t type, uint32_t id, const char *what)
{
    int r = io_write_frame(fd, type, id, req);

    return r == 0 ? 0 : io_failed(r, what);
}

/* Read one reply frame into `reply`; *ret_id is its request id. */
static int recv_reply(uint8_t type, uint32_t *ret_id, const char *what)
{
    struct frame_header h;
    int r;

    if ((r = io_read_frame(fd, reply, &h)) != 0) {
        return io_failed(r, what);
    }
    if (h.type != (uint8_t)(type | FRAME_REPLY)) {
        fprintf(stderr, "adclient: %s: reply of type 0x%02x\n", what, h.type);
        return 1;
    }
    *ret_id = h.request_id;
    return 0;
}

/* One request (body already in req), its reply checked for status OK. */
static int call(uint8_t type, const char *what)
{
    uint32_t id = next_id++;
    uint32_t got = 0;
    int e;

    if ((e = send_req(type, id, what)) != 0 || (e = recv_reply(type, &got, what)) != 0) {
        return e;
    }
    if (got != id) {
        fprintf(stderr, "adclient: %s: reply for request %u, expected %u\n", what, got, id);
        return 1;
    }
    return reply_check(what);
}

static int call_empty(uint8_t type, const char *what)
{
    buf_reset(req);
    if (msg_empty_request_encode(req) != 0) {
        return 1;
    }
    return call(type, what);
}

static int do_hello(void)
{
    struct msg_hello_request m = {1, 1, msg_str_c("adclient")};
    struct msg_hello_reply rep;
    int e;

    buf_reset(req);
    if (msg_hello_request_encode(req, &m) != 0) {
        return 1;
    }
    if ((e = call(MSG_HELLO, "hello")) != 0) {
        return e;
    }
    if (msg_hello_reply_decode(reply, &rep) != 0) {
        fprintf(stderr, "adclient: hello: malformed reply\n");
        return 1;
    }
    return 0;
}

static void print_str(const char *label, struct msg_str v)
{
    printf(" %s=%.*s", label, (int)v.len, v.ptr);
}

static int cmd_whoami(void)
{
    struct msg_whoami_reply m;
    int e;

    if ((e = call_empty(MSG_WHOAMI, "whoami")) != 0) {
        return e;
    }
    if (msg_whoami_reply_decode(reply, &m) != 0) {
        fprintf(stderr, "adclient: whoami: malformed reply\n");
        return 1;
    }
    printf("pid=%u uid=%u gid=%u", m.pid, m.uid, m.gid);
    print_str("exe", m.exe);
    printf(" sha256=");
    for (size_t i = 0; i < m.exe_sha256.len; i++) {
        printf("%02x", m.exe_sha256.ptr[i]);
    }
    print_str("cgroup", m.cgroup);
    print_str("entry", m.entry);
    print_str("spiffe_id", m.spiffe_id);
    print_str("tier", m.tier);
    printf("\n");
    return 0;
}

/*
 * LIST_OBJECTS. With want == NULL print every key; otherwise copy the SPKI
 * of key want into a new buffer (*ret_spki). Returns an exit status.
 */
static int list_keys(const char *want, uint8_t **ret_spki, size_t *ret_len)
{
    struct msg_list_objects_reply *m = NULL;
    int e;

    if ((e = call_empty(MSG_LIST_OBJECTS, "list")) != 0) {
        return e;
    }
    e = 1;
    if ((m = malloc(sizeof(*m))) == NULL) {
        goto out;
    }
    if (msg_list_objects_reply_decode(reply, m) != 0) {
        fprintf(stderr, "adclient: list: malformed reply\n");
        goto out;
    }
    for (uint32_t i = 0; i < m->n_keys; i++) {
        const struct msg_key_record *k = &m->keys[i];

        if (want == NULL) {
            printf("%.*s %s %u mask=0x%llx\n", (int)k->name.len, k->name.ptr,
                   k->key_type == 3 ? "ec" : "rsa", k->bits, (unsigned long long)k->mech_mask);
            continue;
        }
        if (msg_str_eq(k->name, want)) {
            if ((*ret_spki = malloc(k->spki.len)) == NULL) {
                goto out;
            }
            memcpy(*ret_spki, k->spki.ptr, k->spki.len);
            *ret_len = k->spki.len;
            e = 0;
            goto out;
        }
    }
    if (want != NULL) {
        fprintf(stderr, "adclient: key %s is not listed for this caller\n", want);
        e = EXIT_DENIED; /* invisible to this caller: the daemon's refusal */
        goto out;
    }
    e = 0;
out:
    free(m);
    return e;
}

static int send_sign(const char *key, const struct mech *m, const uint8_t *data, size_t n,
                     uint32_t id)
{
    struct msg_sign_request rq = {
        .key = msg_str_c(key),
        .mechanism = m->ckm,
        .pss = {m->pss_hash, m->pss_mgf, m->pss_salt},
        .data = msg_bytes_of(data, n),
    };

    buf_reset(req);
    if (msg_sign_request_encode(req, &rq) != 0) {
        fprintf(stderr, "adclient: sign: request does not encode\n");
        return 1;
    }
    return send_req(MSG_SIGN, id, "sign");
}

/* The signature of an OK SIGN reply in `reply` (borrowed from it). */
static int sign_reply_sig(const uint8_t **sig, size_t *n)
{
    struct msg_sign_reply m;

    if (msg_sign_reply_decode(reply, &m) != 0) {
        return AD_ERR_FORMAT;
    }
    *sig = m.signature.ptr;
    *n = m.signature.len;
    return AD_OK;
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    size_t n;

    if (f == NULL || (b = malloc(SIGN_INPUT_MAX + 1)) == NULL) {
        if (f != NULL) {
            fclose(f);
        }
        return AD_ERR_SYSTEM;
    }
    n = fread(b, 1, SIGN_INPUT_MAX + 1, f);
    fclose(f);
    if (n > SIGN_INPUT_MAX) {
        free(b);
        return AD_ERR_TOO_LARGE;
    }
    *ret = b;
    *ret_len = n;
    return AD_OK;
}

static int cmd_sign(const char *key, const char *mech, const char *in, const char *out)
{
    const struct mech *m = mech_find(mech);
    uint8_t *data = NULL;
    const uint8_t *sig;
    size_t n = 0;
    size_t sig_n = 0;
    uint32_t id = next_id++;
    uint32_t got = 0;
    FILE *f;
    int e;

    if (m == NULL) {
        fprintf(stderr, "adclient: unknown mechanism %s\n", mech);
        return EXIT_USAGE;
    }
    if (read_file(in, &data, &n) != 0) {
        fprintf(stderr, "adclient: cannot read %s\n", in);
        return 1;
    }
    e = send_sign(key, m, data, n, id);
    free(data);
    if (e != 0 || (e = recv_reply(MSG_SIGN, &got, "sign")) != 0 || (e = reply_check("sign")) != 0) {
        return e;
    }
    if (got != id || sign_reply_sig(&sig, &sig_n) != 0) {
        fprintf(stderr, "adclient: sign: malformed reply\n");
        return 1;
    }
    if ((f = fopen(out, "wb")) == NULL || fwrite(sig, 1, sig_n, f) != sig_n || fclose(f) != 0) {
        fprintf(stderr, "adclient: cannot write %s\n", out);
        return 1;
    }
    printf("ok %zu\n", sig_n);
    return 0;
}

/* PKCS#11 ECDSA r||s to DER. */
static int ec_raw_to_der(const uint8_t *sig, size_t n, uint8_t **ret, size_t *ret_len)
{
    ECDSA_SIG *s = NULL;
    BIGNUM *r = NULL;
    BIGNUM *sv = NULL;
    unsigned char *der = NULL;
    int len;

    if (n == 0 || n % 2 != 0 || (s = ECDSA_SIG_new()) == NULL ||
        (r = BN_bin2bn(sig, (int)(n / 2), NULL)) == NULL ||
        (sv = BN_bin2bn(sig + n / 2, (int)(n / 2), NULL)) == NULL ||
        ECDSA_SIG_set0(s, r, sv) != 1) {
        BN_free(r);
        BN_free(sv);
        ECDSA_SIG_free(s);
        return -1;
    }
    len = i2d_ECDSA_SIG(s, &der);
    ECDSA_SIG_free(s);
    if (len <= 0) {
        return -1;
    }
    *ret = der;
    *ret_len = (size_t)len;
    return 0;
}

/* 1: valid, 0: invalid, -1: error. */
static int verify(EVP_PKEY *pk, const struct mech *m, const uint8_t *data, size_t n,
                  const uint8_t *sig, size_t sig_n)
{
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t *der = NULL;
    size_t der_n = 0;
    int ok = -1;

    if (m->kind == K_ECDSA_RAW || m->kind == K_ECDSA) {
        if (ec_raw_to_der(sig, sig_n, &der, &der_n) != 0) {
            return 0;
        }
        sig = der;
        sig_n = der_n;
    }
    if (m->kind == K_ECDSA_RAW) {
        if ((pctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL || EVP_PKEY_verify_init(pctx) != 1) {
            goto out;
        }
        ok = EVP_PKEY_verify(pctx, sig, sig_n, data, n) == 1;
        goto out;
    }
    if ((mctx = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestVerifyInit_ex(mctx, &pctx, m->md, NULL, NULL, pk, NULL) != 1) {
        pctx = NULL;
        goto out;
    }
    if (m->kind == K_RSA_PSS && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                                 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)m->pss_salt) != 1 ||
                                 EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, m->md, NULL) != 1)) {
        pctx = NULL;
        goto out;
    }
    pctx = NULL; /* owned by mctx */
    ok = EVP_DigestVerify(mctx, sig, sig_n, data, n) == 1;
out:
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_CTX_free(pctx);
    OPENSSL_free(der);
    return ok;
}

struct slot {
    bool is_busy;
    uint32_t id;
    size_t len;
    uint8_t data[64];
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_loop(const char *key, const char *mech, const char *secs, const char *inflight_s)
{
    const struct mech *m = mech_find(mech);
    struct slot slots[INFLIGHT_MAX];
    uint8_t *spki = NULL;
    size_t spki_n = 0;
    const unsigned char *pp;
    EVP_PKEY *pk = NULL;
    unsigned inflight = inflight_s != NULL ? (unsigned)strtoul(inflight_s, NULL, 10) : 1;
    double end = now_s() + strtod(secs, NULL);
    unsigned busy = 0;
    unsigned long count = 0;
    int e;

    if (m == NULL || inflight == 0 || inflight > INFLIGHT_MAX) {
        fprintf(stderr, "adclient: loop: bad mechanism or in-flight count\n");
        return EXIT_USAGE;
    }
    if ((e = list_keys(key, &spki, &spki_n)) != 0) {
        return e;
    }
    pp = spki;
    pk = d2i_PUBKEY(NULL, &pp, (long)spki_n);
    free(spki);
    if (pk == NULL) {
        fprintf(stderr, "adclient: loop: bad SPKI for %s\n", key);
        return 1;
    }
    memset(slots, 0, sizeof(slots));
    e = 0;
    for (;;) {
        const uint8_t *sig;
        size_t sig_n;
        struct slot *s = NULL;
        uint32_t got = 0;

        while (busy < inflight && now_s() < end) {
            for (unsigned i = 0; i < inflight; i++) {
                if (!slots[i].is_busy) {
                    s = &slots[i];
                    break;
                }
            }
            s->len = m->kind == K_ECDSA_RAW ? 32 : sizeof(s->data);
            if (RAND_bytes(s->data, (int)s->len) != 1) {
                e = 1;
                goto out;
            }
            s->id = next_id++;
            if ((e = send_sign(key, m, s->data, s->len, s->id)) != 0) {
                goto out;
            }
            s->is_busy = true;
            busy++;
        }
        if (busy == 0) {
            break;
        }
        if ((e = recv_reply(MSG_SIGN, &got, "loop")) != 0) {
            goto out;
        }
        s = NULL;
        for (unsigned i = 0; i < inflight; i++) {
            if (slots[i].is_busy && slots[i].id == got) {
                s = &slots[i];
                break;
            }
        }
        if (s == NULL) {
            fprintf(stderr, "adclient: loop: reply for unknown request %u\n", got);
            e = 1;
            goto out;
        }
        if ((e = reply_check("loop sign")) != 0) {
            goto out;
        }
        if (sign_reply_sig(&sig, &sig_n) != 0 || verify(pk, m, s->data, s->len, sig, sig_n) != 1) {
            fprintf(stderr, "adclient: loop: signature %lu does not verify\n", count);
            e = 1;
            goto out;
        }
        s->is_busy = false;
        busy--;
        count++;
    }
    printf("count=%lu\n", count);
out:
    EVP_PKEY_free(pk);
    return e;
}

/* Create path (empty file), for a test waiting on it. */
static int touch(const char *path)
{
    int tfd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

    if (tfd < 0) {
        fprintf(stderr, "adclient: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    close(tfd);
    return 0;
}

/* One probe round trip: WHOAMI, then SIGN of key when not NULL. */
static int probe_once(const char *key, const struct mech *m)
{
    uint8_t data[32];
    uint32_t id;
    uint32_t got = 0;
    int e;

    if ((e = call_empty(MSG_WHOAMI, "probe whoami")) != 0 || key == NULL) {
        return e;
    }
    if (RAND_bytes(data, (int)sizeof(data)) != 1) {
        return 1;
    }
    id = next_id++;
    if ((e = send_sign(key, m, data, sizeof(data), id)) != 0 ||
        (e = recv_reply(MSG_SIGN, &got, "probe sign")) != 0) {
        return e;
    }
    if (got != id) {
        fprintf(stderr, "adclient: probe: reply for request %u, expected %u\n", got, id);
        return 1;
    }
    return reply_check("probe sign");
}

static int cmd_probe(const char *stop, const char *ready, const char *key, const char *mech)
{
    const struct mech *m = key != NULL ? mech_find(mech) : NULL;
    unsigned long count = 0;
    double max = 0;
    int e;

    if (key != NULL && m == NULL) {
        fprintf(stderr, "adclient: unknown mechanism %s\n", mech);
        return EXIT_USAGE;
    }
    while (count == 0 || access(stop, F_OK) != 0) {
        double t0 = now_s();
        double dt;

        if ((e = probe_once(key, m)) != 0) {
            return e;
        }
        dt = now_s() - t0;
        max = dt > max ? dt : max;
        if (count++ == 0 && touch(ready) != 0) {
            return 1;
        }
    }
    printf("count=%lu max_us=%.0f\n", count, max * 1e6);
    return 0;
}

static int cmd_burst(const char *n_s)
{
    unsigned long n = strtoul(n_s, NULL, 10);
    uint32_t first = next_id;
    uint32_t got = 0;
    int e;

    if (n == 0 || n > INFLIGHT_MAX) {
        return EXIT_USAGE;
    }
    buf_reset(req);
    if (msg_empty_request_encode(req) != 0) {
        return 1;
    }
    for (unsigned long i = 0; i < n; i++) {
        if ((e = send_req(MSG_WHOAMI, next_id++, "burst")) != 0) {
            return e;
        }
    }
    for (unsigned long i = 0; i < n; i++) {
        if ((e = recv_reply(MSG_WHOAMI, &got, "burst")) != 0 || (e = reply_check("burst")) != 0) {
            return e;
        }
        if (got != first + i) {
            fprintf(stderr, "adclient: burst: reply %lu is for request %u\n", i, got);
            return 1;
        }
    }
    printf("burst=%lu\n", n);
    return 0;
}

static int connect_to(const char *sock)
{
    if (sock == NULL) {
        fprintf(stderr, "adclient: no socket (-s SOCK or AGENTD_SOCKET)\n");
        return EXIT_USAGE;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};

    if (strlen(sock) >= sizeof(a.sun_path)) {
        fprintf(stderr, "adclient: socket path too long: %s\n", sock);
        return EXIT_USAGE;
    }
    memcpy(a.sun_path, sock, strlen(sock) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(fd, (const struct sockaddr *)&a, sizeof(a)) != 0) {
        fprintf(stderr, "adclient: agentd is not running at %s (connect: %s)\n", sock,
                strerror(errno));
        return 1;
    }
    return 0;
}

/* Make fd survive exec and publish its number. */
static int export_fd(void)
{
    char num[16];
    int fl = fcntl(fd, F_GETFD);

    if (fl < 0 || fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) != 0) {
        return 1;
    }
    snprintf(num, sizeof(num), "%d", fd);
    return setenv("ADCLIENT_FD", num, 1) != 0;
}

static int cmd_hold_then_exec(char **argv)
{
    int e;

    if ((e = do_hello()) != 0 || (e = export_fd()) != 0) {
        return e;
    }
    fflush(NULL);
    execvp(argv[0], argv);
    fprintf(stderr, "adclient: exec %s: %s\n", argv[0], strerror(errno));
    return 1;
}

/* Wait until pid is gone and reaped (kill says ESRCH). */
static void wait_reaped(pid_t pid)
{
    while (kill(pid, 0) == 0 || errno != ESRCH) {
        usleep(1000);
    }
}

/*
 * Fork until a child gets pid want (the kernel hands out ns_last_pid + 1
 * next), then that child execs argv. Needs root (ns_last_pid is the
 * checkpoint/restore knob). Other processes forking at the same moment can
 * take the number first: retry. Returns only on failure.
 */
static int exec_as_pid(pid_t want, char **argv)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
        pid_t c;
        int st = 0;

        if (f == NULL) {
            fprintf(stderr, "adclient: ns_last_pid: %s\n", strerror(errno));
            return 1;
        }
        fprintf(f, "%d", (int)want - 1);
        if (fclose(f) != 0) {
            fprintf(stderr, "adclient: ns_last_pid: %s\n", strerror(errno));
            return 1;
        }
        if ((c = fork()) < 0) {
            return 1;
        }
        if (c == 0) {
            if (getpid() != want) {
                _exit(99);
            }
            execvp(argv[0], argv);
            _exit(1);
        }
        if (waitpid(c, &st, 0) != c) {
            return 1;
        }
        if (WIFEXITED(st) && WEXITSTATUS(st) == 99) {
            continue; /* someone else got the number: try again */
        }
        fprintf(stderr, "adclient: ran %s as reused pid %d\n", argv[0], (int)want);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    fprintf(stderr, "adclient: could not get pid %d back\n", (int)want);
    return 1;
}

enum fork_mode { FORK_EXIT, FORK_KEEP, FORK_REUSE_PID };

/*
 * FORK_EXIT: the child waits until we (the connecting process) have exited,
 * then execs argv. FORK_KEEP: we wait for the child instead (control).
 * FORK_REUSE_PID: like FORK_EXIT, then the child waits until we are reaped
 * and runs argv under our old pid number (exec_as_pid); its exit status is
 * written to status_file when given, since nobody waits for it.
 */
static int cmd_hold_then_fork(enum fork_mode mode, const char *status_file, char **argv)
{
    int ready[2];
    pid_t parent = getpid();
    pid_t child;
    char c = 0;
    int e;

    if ((e = do_hello()) != 0 || (e = export_fd()) != 0) {
        return e;
    }
    if (pipe(ready) != 0) {
        return 1;
    }
    fflush(NULL);
    if ((child = fork()) < 0) {
        return 1;
    }
    if (child == 0) {
        int pfd = (int)syscall(SYS_pidfd_open, parent, 0);
        struct pollfd p = {.fd = pfd, .events = POLLIN};

        close(ready[0]);
        if (pfd < 0 || write(ready[1], "r", 1) != 1) {
            _exit(1);
        }
        close(ready[1]);
        if (mode != FORK_KEEP) {
            /* Wait until the connecting process has exited. */
            while (poll(&p, 1, -1) < 0 && errno == EINTR) {
            }
        }
        close(pfd);
        if (mode == FORK_REUSE_PID) {
            FILE *f;

            wait_reaped(parent);
            e = exec_as_pid(parent, argv);
            if (status_file != NULL && (f = fopen(status_file, "w")) != NULL) {
                fprintf(f, "%d\n", e);
                fclose(f);
            }
            _exit(e);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "adclient: exec %s: %s\n", argv[0], strerror(errno));
        _exit(1);
    }
    close(ready[1]);
    if (read(ready[0], &c, 1) != 1) {
        return 1;
    }
    if (mode == FORK_KEEP) {
        int st = 0;

        if (waitpid(child, &st, 0) != child) {
            return 1;
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    printf("parent=%d child=%d\n", (int)parent, (int)child);
    return 0; /* the child carries on with our connection */
}

static int usage(void)
{
    fprintf(stderr,
            "usage: adclient [-s SOCK] whoami | list | sign KEY MECH IN OUT |\n"
            "       loop KEY MECH SECONDS [INFLIGHT] | hold-then-exec PROG ARGS... |\n"
            "       hold-then-fork [--keep | --reuse-pid STATUSFILE] PROG ARGS... |\n"
            "       probe STOPFILE READYFILE [KEY MECH] | burst N |\n"
            "       use-fd COMMAND ARGS...   (options: -s SOCK, --wait-for FILE, --time)\n");
    return EXIT_USAGE;
}

static int run(int argc, char **argv)
{
    if (argc < 1) {
        return usage();
    }
    if (strcmp(argv[0], "whoami") == 0 && argc == 1) {
        return cmd_whoami();
    }
    if (strcmp(argv[0], "list") == 0 && argc == 1) {
        return list_keys(NULL, NULL, NULL);
    }
    if (strcmp(argv[0], "sign") == 0 && argc == 5) {
        return cmd_sign(argv[1], argv[2], argv[3], argv[4]);
    }
    if (strcmp(argv[0], "probe") == 0 && (argc == 3 || argc == 5)) {
        return cmd_probe(argv[1], argv[2], argc == 5 ? argv[3] : NULL, argc == 5 ? argv[4] : NULL);
    }
    if (strcmp(argv[0], "burst") == 0 && argc == 2) {
        return cmd_burst(argv[1]);
    }
    if (strcmp(argv[0], "loop") == 0 && (argc == 4 || argc == 5)) {
        return cmd_loop(argv[1], argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    }
    if (strcmp(argv[0], "hold-then-exec") == 0 && argc >= 2) {
        return cmd_hold_then_exec(argv + 1);
    }
    if (strcmp(argv[0], "hold-then-fork") == 0 && argc >= 2) {
        if (strcmp(argv[1], "--keep") == 0 && argc >= 3) {
            return cmd_hold_then_fork(FORK_KEEP, NULL, argv + 2);
        }
        if (strcmp(argv[1], "--reuse-pid") == 0 && argc >= 4) {
            return cmd_hold_then_fork(FORK_REUSE_PID, argv[2], argv + 3);
        }
        return cmd_hold_then_fork(FORK_EXIT, NULL, argv + 1);
    }
    return usage();
}

int main(int argc, char **argv)
{
    const char *sock = getenv("AGENTD_SOCKET");
    bool is_timed = false;
    double t0;
    int i = 1;
    int e;

    if ((req = buf_new(FRAME_BODY_MAX)) == NULL || (reply = buf_new(FRAME_BODY_MAX)) == NULL) {
        fprintf(stderr, "adclient: out of memory\n");
        return 1;
    }

    for (;;) {
        if (i + 1 < argc && strcmp(argv[i], "-s") == 0) {
            sock = argv[i + 1];
            i += 2;
        } else if (i + 1 < argc && strcmp(argv[i], "--wait-for") == 0) {
            /* Start now, connect later: lets a test swap the binary's path meanwhile. */
            while (access(argv[i + 1], F_OK) != 0) {
                usleep(10000);
            }
            i += 2;
        } else if (i < argc && strcmp(argv[i], "--time") == 0) {
            is_timed = true;
            i++;
        } else {
            break;
        }
    }
    if (i < argc && strcmp(argv[i], "use-fd") == 0) {
        const char *v = getenv("ADCLIENT_FD");
        char *end = NULL;
        long n = v != NULL ? strtol(v, &end, 10) : -1;
        struct stat st;

        if (v == NULL || *end != '\0' || n < 0 || n > 65535 || fstat((int)n, &st) != 0 ||
            !S_ISSOCK(st.st_mode)) {
            fprintf(stderr, "adclient: use-fd: ADCLIENT_FD is not an open socket\n");
            return EXIT_USAGE;
        }
        fd = (int)n;
        fprintf(stderr, "adclient: pid %d using inherited fd %d\n", (int)getpid(), fd);
        return run(argc - i - 1, argv + i + 1);
    }
    t0 = now_s();
    if ((e = connect_to(sock)) != 0) {
        return e;
    }
    e = run(argc - i, argv + i);
    if (is_timed) {
        fprintf(stderr, "elapsed_us=%.0f\n", (now_s() - t0) * 1e6);
    }
    close(fd);
    return e;
}
