/*
 * adclient: test client for agentd's identity tests (and anyone else's).
 *
 *   adclient -s SOCK whoami
 *   adclient -s SOCK list
 *   adclient -s SOCK sign KEY MECH INFILE OUTFILE
 *   adclient -s SOCK loop KEY MECH SECONDS [INFLIGHT]
 *   adclient -s SOCK hold-then-exec PROG [ARGS...]
 *   adclient -s SOCK hold-then-fork [--keep | --reuse-pid STATUSFILE] PROG [ARGS...]
 *   adclient use-fd whoami | list | sign ... | loop ...
 *   --wait-for FILE (before the command): wait until FILE exists, then start
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

#include "agentctl_wire.h"

#define EXIT_USAGE 2
#define EXIT_DENIED 3
#define EXIT_STATUS 4
#define EXIT_CLOSED 5

#define ADCLIENT_INPUT_MAX (256u * 1024u)
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

static const struct mech *mech_find(const char *name)
{
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        if (strcmp(mechs[i].name, name) == 0) {
            return &mechs[i];
        }
    }
    return NULL;
}

/* Exit status for a non-OK reply, after saying why on stderr. */
static int refused(const struct agentctl_wire_reply *rep, const char *what)
{
    fprintf(stderr, "adclient: %s: %s: %s\n", what, agentctl_wire_status_name(rep->status),
            rep->msg);
    return rep->status == AGENTCTL_ST_DENIED ? EXIT_DENIED : EXIT_STATUS;
}

static int recv_failed(int r, const char *what)
{
    if (r == AD_ERR_CLOSED) {
        fprintf(stderr, "adclient: %s: connection closed by agentd\n", what);
        return EXIT_CLOSED;
    }
    fprintf(stderr, "adclient: %s: %s (%s)\n", what, ad_strerror(r),
            r == AD_ERR_SYSTEM ? strerror(errno) : "bad frame");
    return 1;
}

/* Send an empty-bodied or prepared request and read the reply with the same id. */
static int roundtrip(struct agentctl_wire_w *w, struct agentctl_wire_reply *rep, const char *what)
{
    int r;

    if ((r = agentctl_wire_send(fd, w)) != 0) {
        agentctl_wire_w_free(w);
        if (r == AD_ERR_SYSTEM && (errno == EPIPE || errno == ECONNRESET)) {
            fprintf(stderr, "adclient: %s: connection closed by agentd\n", what);
            return EXIT_CLOSED;
        }
        fprintf(stderr, "adclient: %s: send: %s\n", what, strerror(errno));
        return 1;
    }
    agentctl_wire_w_free(w);
    if ((r = agentctl_wire_recv(fd, rep)) != 0) {
        return recv_failed(r, what);
    }
    if (rep->status != AGENTCTL_ST_OK) {
        int e = refused(rep, what);

        agentctl_wire_reply_free(rep);
        return e;
    }
    return 0;
}

static int simple(uint8_t type, struct agentctl_wire_reply *rep, const char *what)
{
    struct agentctl_wire_w w;

    if (agentctl_wire_begin(&w, type, next_id++) != 0) {
        return 1;
    }
    return roundtrip(&w, rep, what);
}

static int do_hello(void)
{
    struct agentctl_wire_w w;
    struct agentctl_wire_reply rep;
    int e;

    if (agentctl_wire_begin(&w, AGENTCTL_MT_HELLO, next_id++) != 0) {
        return 1;
    }
    agentctl_wire_put_u32(&w, 1); /* version_min */
    agentctl_wire_put_u32(&w, 1); /* version_max */
    agentctl_wire_put_str(&w, "adclient");
    if ((e = roundtrip(&w, &rep, "hello")) != 0) {
        return e;
    }
    agentctl_wire_reply_free(&rep);
    return 0;
}

static void print_str(const char *label, const uint8_t *v, size_t n)
{
    printf(" %s=%.*s", label, (int)n, (const char *)v);
}

static int cmd_whoami(void)
{
    struct agentctl_wire_reply rep;
    struct agentctl_wire_r *r = &rep.body;
    uint32_t pid, uid, gid;
    const uint8_t *exe, *sha, *cg, *entry, *spiffe, *tier;
    size_t exe_n, sha_n, cg_n, entry_n, spiffe_n, tier_n;
    int e;

    if ((e = simple(AGENTCTL_MT_WHOAMI, &rep, "whoami")) != 0) {
        return e;
    }
    if (agentctl_wire_get_u32(r, &pid) != 0 ||                       /* pid */
        agentctl_wire_get_u32(r, &uid) != 0 ||                       /* uid */
        agentctl_wire_get_u32(r, &gid) != 0 ||                       /* gid */
        agentctl_wire_get_bytes(r, 4096, &exe, &exe_n) != 0 ||       /* exe */
        agentctl_wire_get_bytes(r, 32, &sha, &sha_n) != 0 ||         /* exe_sha256 */
        agentctl_wire_get_bytes(r, 4096, &cg, &cg_n) != 0 ||         /* cgroup */
        agentctl_wire_get_bytes(r, 128, &entry, &entry_n) != 0 ||    /* entry */
        agentctl_wire_get_bytes(r, 2048, &spiffe, &spiffe_n) != 0 || /* spiffe_id */
        agentctl_wire_get_bytes(r, 16, &tier, &tier_n) != 0 ||       /* tier */
        agentctl_wire_get_end(r) != 0) {
        fprintf(stderr, "adclient: whoami: malformed reply\n");
        agentctl_wire_reply_free(&rep);
        return 1;
    }
    printf("pid=%u uid=%u gid=%u", pid, uid, gid);
    print_str("exe", exe, exe_n);
    printf(" sha256=");
    for (size_t i = 0; i < sha_n; i++) {
        printf("%02x", sha[i]);
    }
    print_str("cgroup", cg, cg_n);
    print_str("entry", entry, entry_n);
    print_str("spiffe_id", spiffe, spiffe_n);
    print_str("tier", tier, tier_n);
    printf("\n");
    agentctl_wire_reply_free(&rep);
    return 0;
}

struct keyrec {
    const uint8_t *name;
    size_t name_len;
    uint64_t key_type;
    uint32_t bits;
    uint64_t mech_mask;
    const uint8_t *spki;
    size_t spki_len;
};

static int get_keyrec(struct agentctl_wire_r *r, struct keyrec *k)
{
    const uint8_t *v;
    size_t n;

    if (agentctl_wire_get_bytes(r, 64, &k->name, &k->name_len) != 0 ||   /* name */
        agentctl_wire_get_bytes(r, 64, &v, &n) != 0 ||                   /* id */
        agentctl_wire_get_u64(r, &k->key_type) != 0 ||                   /* key_type */
        agentctl_wire_get_u32(r, &k->bits) != 0 ||                       /* bits */
        agentctl_wire_get_u64(r, &k->mech_mask) != 0 ||                  /* mech_mask */
        agentctl_wire_get_bytes(r, 2048, &k->spki, &k->spki_len) != 0 || /* spki */
        agentctl_wire_get_bytes(r, 64, &v, &n) != 0 ||                   /* ec_params */
        agentctl_wire_get_bytes(r, 256, &v, &n) != 0 ||                  /* ec_point */
        agentctl_wire_get_bytes(r, 512, &v, &n) != 0 ||                  /* modulus */
        agentctl_wire_get_bytes(r, 16, &v, &n) != 0 ||                   /* public_exponent */
        agentctl_wire_get_bytes(r, 65536, &v, &n) != 0 ||                /* cert */
        agentctl_wire_get_bytes(r, 1024, &v, &n) != 0 ||                 /* cert_subject */
        agentctl_wire_get_bytes(r, 1024, &v, &n) != 0 ||                 /* cert_issuer */
        agentctl_wire_get_bytes(r, 64, &v, &n) != 0) {                   /* cert_serial */
        return AD_ERR_FORMAT;
    }
    return AD_OK;
}

/*
 * LIST_OBJECTS. With want == NULL print every key; otherwise copy the SPKI
 * of key want into a new buffer (*ret_spki). Returns an exit status.
 */
static int list_keys(const char *want, uint8_t **ret_spki, size_t *ret_len)
{
    struct agentctl_wire_reply rep;
    uint32_t cnt = 0;
    int e;

    if ((e = simple(AGENTCTL_MT_LIST_OBJECTS, &rep, "list")) != 0) {
        return e;
    }
    e = 1;
    if (agentctl_wire_get_u32(&rep.body, &cnt) != 0) { /* n_keys */
        fprintf(stderr, "adclient: list: malformed reply\n");
        goto out;
    }
    for (uint32_t i = 0; i < cnt; i++) {
        struct keyrec k;

        if (get_keyrec(&rep.body, &k) != 0) {
            fprintf(stderr, "adclient: list: malformed key record\n");
            goto out;
        }
        if (want == NULL) {
            printf("%.*s %s %u mask=0x%llx\n", (int)k.name_len, (const char *)k.name,
                   k.key_type == 3 ? "ec" : "rsa", k.bits, (unsigned long long)k.mech_mask);
            continue;
        }
        if (k.name_len == strlen(want) && memcmp(k.name, want, k.name_len) == 0) {
            if ((*ret_spki = malloc(k.spki_len)) == NULL) {
                goto out;
            }
            memcpy(*ret_spki, k.spki, k.spki_len);
            *ret_len = k.spki_len;
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
    agentctl_wire_reply_free(&rep);
    return e;
}

static int send_sign(const char *key, const struct mech *m, const uint8_t *data, size_t n,
                     uint32_t id)
{
    struct agentctl_wire_w w;
    int r;

    if (agentctl_wire_begin(&w, AGENTCTL_MT_SIGN, id) != 0) {
        return AD_ERR_NOMEM;
    }
    agentctl_wire_put_str(&w, key);         /* key */
    agentctl_wire_put_u64(&w, m->ckm);      /* mechanism */
    agentctl_wire_put_u64(&w, m->pss_hash); /* pss hash_mech */
    agentctl_wire_put_u64(&w, m->pss_mgf);  /* pss mgf */
    agentctl_wire_put_u64(&w, m->pss_salt); /* pss salt_len */
    agentctl_wire_put_bytes(&w, data, n);   /* data */
    r = agentctl_wire_send(fd, &w);
    agentctl_wire_w_free(&w);
    return r;
}

/* The signature bytes of an OK SIGN reply (borrowed from rep). */
static int sign_reply_sig(struct agentctl_wire_reply *rep, const uint8_t **sig, size_t *n)
{
    if (agentctl_wire_get_bytes(&rep->body, 1024, sig, n) != 0 ||
        agentctl_wire_get_end(&rep->body) != 0) {
        return AD_ERR_FORMAT;
    }
    return AD_OK;
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    size_t n;

    if (f == NULL || (b = malloc(ADCLIENT_INPUT_MAX + 1)) == NULL) {
        if (f != NULL) {
            fclose(f);
        }
        return AD_ERR_SYSTEM;
    }
    n = fread(b, 1, ADCLIENT_INPUT_MAX + 1, f);
    fclose(f);
    if (n > ADCLIENT_INPUT_MAX) {
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
    struct agentctl_wire_reply rep;
    uint8_t *data = NULL;
    const uint8_t *sig;
    size_t n = 0;
    size_t sig_n = 0;
    FILE *f;
    int r;

    if (m == NULL) {
        fprintf(stderr, "adclient: unknown mechanism %s\n", mech);
        return EXIT_USAGE;
    }
    if (read_file(in, &data, &n) != 0) {
        fprintf(stderr, "adclient: cannot read %s\n", in);
        return 1;
    }
    r = send_sign(key, m, data, n, next_id++);
    free(data);
    if (r != 0) {
        fprintf(stderr, "adclient: sign: send: %s\n", strerror(errno));
        return errno == EPIPE || errno == ECONNRESET ? EXIT_CLOSED : 1;
    }
    if ((r = agentctl_wire_recv(fd, &rep)) != 0) {
        return recv_failed(r, "sign");
    }
    if (rep.status != AGENTCTL_ST_OK) {
        r = refused(&rep, "sign");
        agentctl_wire_reply_free(&rep);
        return r;
    }
    if (sign_reply_sig(&rep, &sig, &sig_n) != 0) {
        fprintf(stderr, "adclient: sign: malformed reply\n");
        agentctl_wire_reply_free(&rep);
        return 1;
    }
    if ((f = fopen(out, "wb")) == NULL || fwrite(sig, 1, sig_n, f) != sig_n || fclose(f) != 0) {
        fprintf(stderr, "adclient: cannot write %s\n", out);
        agentctl_wire_reply_free(&rep);
        return 1;
    }
    printf("ok %zu\n", sig_n);
    agentctl_wire_reply_free(&rep);
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
        struct agentctl_wire_reply rep;
        const uint8_t *sig;
        size_t sig_n;
        struct slot *s = NULL;
        int r;

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
            if (send_sign(key, m, s->data, s->len, s->id) != 0) {
                fprintf(stderr, "adclient: loop: send: %s\n", strerror(errno));
                e = errno == EPIPE || errno == ECONNRESET ? EXIT_CLOSED : 1;
                goto out;
            }
            s->is_busy = true;
            busy++;
        }
        if (busy == 0) {
            break;
        }
        if ((r = agentctl_wire_recv(fd, &rep)) != 0) {
            e = recv_failed(r, "loop");
            goto out;
        }
        s = NULL;
        for (unsigned i = 0; i < inflight; i++) {
            if (slots[i].is_busy && slots[i].id == rep.id) {
                s = &slots[i];
                break;
            }
        }
        if (s == NULL) {
            fprintf(stderr, "adclient: loop: reply for unknown request %u\n", rep.id);
            agentctl_wire_reply_free(&rep);
            e = 1;
            goto out;
        }
        if (rep.status != AGENTCTL_ST_OK) {
            e = refused(&rep, "loop sign");
            agentctl_wire_reply_free(&rep);
            goto out;
        }
        if (sign_reply_sig(&rep, &sig, &sig_n) != 0 ||
            verify(pk, m, s->data, s->len, sig, sig_n) != 1) {
            fprintf(stderr, "adclient: loop: signature %lu does not verify\n", count);
            agentctl_wire_reply_free(&rep);
            e = 1;
            goto out;
        }
        agentctl_wire_reply_free(&rep);
        s->is_busy = false;
        busy--;
        count++;
    }
    printf("count=%lu\n", count);
out:
    EVP_PKEY_free(pk);
    return e;
}

static int connect_to(const char *sock)
{
    if (sock == NULL) {
        fprintf(stderr, "adclient: no socket (-s SOCK or AGENTD_SOCKET)\n");
        return EXIT_USAGE;
    }
    if (agentctl_wire_connect(sock, &fd) != 0) {
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
    fprintf(stderr, "usage: adclient [-s SOCK] whoami | list | sign KEY MECH IN OUT |\n"
                    "       loop KEY MECH SECONDS [INFLIGHT] | hold-then-exec PROG ARGS... |\n"
                    "       hold-then-fork [--keep | --reuse-pid STATUSFILE] PROG ARGS... |\n"
                    "       use-fd COMMAND ARGS...   (options: -s SOCK, --wait-for FILE)\n");
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
    int i = 1;
    int e;

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
    if ((e = connect_to(sock)) != 0) {
        return e;
    }
    e = run(argc - i, argv + i);
    close(fd);
    return e;
}
