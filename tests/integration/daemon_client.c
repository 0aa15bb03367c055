/*
 * Test client for the daemon_*.sh integration tests (the workload area's
 * adclient covers identity; this one drives the daemon core): pipelined
 * signs with per-request checks, many concurrent connections, raw bytes for
 * the malformed-frame cases, a line-driven session on one connection, and
 * audit chain verification through the audit_verify API.
 *
 *   daemon_client SOCK whoami | list
 *   daemon_client SOCK sign KEY MECH N          N signs, each verified locally
 *   daemon_client SOCK generate NAME ec|rsa BITS | destroy NAME
 *   daemon_client SOCK sign-data KEY MECH HEX [SALT]  one SIGN of these bytes, print status
 *   daemon_client SOCK verify KEY MECH          sign, then VERIFY it and a tampered copy
 *   daemon_client SOCK digest SHA256|SHA384|SHA512|SHA1 | random N
 *   daemon_client SOCK stream KEY MECH INFLIGHT sign until the daemon goes away
 *   daemon_client SOCK stress KEY MECH SECONDS CLIENTS INFLIGHT
 *   daemon_client SOCK raw HEX | raw-eof HEX     send bytes, report reply / close
 *   daemon_client SOCK stall SECONDS            half a frame, nothing, then open|closed
 *   daemon_client SOCK session                  commands from stdin, one per line
 *   daemon_client SOCK admin status|workloads|keys|tail N
 *   daemon_client - audit-verify PATH
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "audit.h"
#include "digest.h"

/*
 * Client-side wire helpers, written from proto/README.md on purpose rather
 * than with proto/'s encoders: the daemon decodes with proto/, so these
 * tests check the daemon against an independent reading of the spec (and
 * the malformed-frame cases need bytes proto/ would never produce).
 */
struct glue_reply {
    uint8_t type;
    uint32_t id;
    uint32_t status;
    const uint8_t *body; /* after status */
    size_t body_len;
    const uint8_t *bytes; /* first bytes field (SIGN/DIGEST/RANDOM) */
    size_t bytes_len;
    const char *text; /* error message or admin/whoami text */
    size_t text_len;
    size_t frame_len;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int glue_frame_total(const uint8_t *p, size_t len, size_t *total)
{
    if (len < 4) {
        return -1;
    }
    *total = 4 + (size_t)be32(p);
    return 0;
}

struct w {
    uint8_t *p;
    size_t len;
    size_t max;
    bool is_bad;
};

static void w_raw(struct w *w, const void *v, size_t n)
{
    if (w->is_bad || w->max - w->len < n) {
        w->is_bad = true;
        return;
    }
    memcpy(w->p + w->len, v, n);
    w->len += n;
}

static void w_u32(struct w *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    w_raw(w, b, 4);
}

static void w_u64(struct w *w, uint64_t v)
{
    w_u32(w, (uint32_t)(v >> 32));
    w_u32(w, (uint32_t)v);
}

static void w_bytes(struct w *w, const void *v, size_t n)
{
    w_u32(w, (uint32_t)n);
    w_raw(w, v, n);
}

static void w_str(struct w *w, const char *s)
{
    w_bytes(w, s, s != NULL ? strlen(s) : 0);
}

static void w_begin(struct w *w, uint8_t *out, size_t max, uint8_t type, uint32_t id)
{
    uint8_t hdr[2] = {1, type};

    *w = (struct w){out, 0, max, false};
    w_u32(w, 0);
    w_raw(w, hdr, 2);
    w_u32(w, id);
}

static int w_end(struct w *w, size_t *ret_len)
{
    if (w->is_bad) {
        return -1;
    }
    w->p[0] = (uint8_t)((w->len - 4) >> 24);
    w->p[1] = (uint8_t)((w->len - 4) >> 16);
    w->p[2] = (uint8_t)((w->len - 4) >> 8);
    w->p[3] = (uint8_t)(w->len - 4);
    *ret_len = w->len;
    return 0;
}

struct r {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

static int r_u32(struct r *r, uint32_t *v)
{
    if (r->len - r->pos < 4) {
        return -1;
    }
    *v = be32(r->p + r->pos);
    r->pos += 4;
    return 0;
}

static int r_u64(struct r *r, uint64_t *v)
{
    uint32_t hi;
    uint32_t lo;

    if (r_u32(r, &hi) != 0 || r_u32(r, &lo) != 0) {
        return -1;
    }
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

static int r_bytes(struct r *r, const uint8_t **v, size_t *n)
{
    uint32_t len;

    if (r_u32(r, &len) != 0 || r->len - r->pos < len) {
        return -1;
    }
    *v = r->p + r->pos;
    *n = len;
    r->pos += len;
    return 0;
}

static int r_keyrec(struct r *r, const uint8_t **name, size_t *name_len, const uint8_t **spki,
                    size_t *spki_len, uint64_t *key_type, uint32_t *bits);

static char text_buf[16384];

/* WHOAMI reply as "pid=.. uid=.. gid=.. exe=.. entry=.. spiffe_id=.. tier=..". */
static int whoami_text(struct r *r, struct glue_reply *ret)
{
    uint32_t pid, uid, gid;
    const uint8_t *exe, *sha, *cg, *entry, *spiffe, *tier;
    size_t exe_n, sha_n, cg_n, entry_n, spiffe_n, tier_n;
    int n;

    if (r_u32(r, &pid) != 0 || r_u32(r, &uid) != 0 || r_u32(r, &gid) != 0 ||
        r_bytes(r, &exe, &exe_n) != 0 || r_bytes(r, &sha, &sha_n) != 0 ||
        r_bytes(r, &cg, &cg_n) != 0 || r_bytes(r, &entry, &entry_n) != 0 ||
        r_bytes(r, &spiffe, &spiffe_n) != 0 || r_bytes(r, &tier, &tier_n) != 0 ||
        r->pos != r->len) {
        return -1;
    }
    n = snprintf(text_buf, sizeof(text_buf),
                 "pid=%u uid=%u gid=%u exe=%.*s sha256=%zu cgroup=%.*s entry=%.*s spiffe_id=%.*s "
                 "tier=%.*s",
                 pid, uid, gid, (int)exe_n, (const char *)exe, sha_n, (int)cg_n, (const char *)cg,
                 (int)entry_n, (const char *)entry, (int)spiffe_n, (const char *)spiffe,
                 (int)tier_n, (const char *)tier);
    ret->text = text_buf;
    ret->text_len = n > 0 ? (size_t)n : 0;
    return 0;
}

/* LIST_OBJECTS reply as "name:type:bits ..." */
static int list_text(struct glue_reply *ret)
{
    struct r r = {ret->body, ret->body_len, 0};
    uint32_t cnt;
    size_t n = 0;

    if (r_u32(&r, &cnt) != 0) {
        return -1;
    }
    text_buf[0] = '\0';
    for (uint32_t i = 0; i < cnt; i++) {
        const uint8_t *name, *spki;
        size_t name_len, spki_len;
        uint64_t kt;
        uint32_t bits;

        if (r_keyrec(&r, &name, &name_len, &spki, &spki_len, &kt, &bits) != 0) {
            return -1;
        }
        n += (size_t)snprintf(text_buf + n, sizeof(text_buf) - n, "%s%.*s:%s:%u", i ? " " : "",
                              (int)name_len, (const char *)name, kt == 3 ? "ec" : "rsa", bits);
        if (n >= sizeof(text_buf)) {
            return -1;
        }
    }
    ret->text = text_buf;
    ret->text_len = n;
    return 0;
}

static int glue_reply_parse(const uint8_t *p, size_t len, struct glue_reply *ret)
{
    struct r r = {p, len, 0};
    uint32_t flen;
    uint8_t ver;
    const uint8_t *v = NULL;
    size_t n = 0;

    memset(ret, 0, sizeof(*ret));
    if (r_u32(&r, &flen) != 0 || flen + 4 != len || len < 14) {
        return -1;
    }
    ver = p[4];
    ret->type = p[5];
    r.pos = 6;
    if (ver != 1 || !(ret->type & 0x80) || r_u32(&r, &ret->id) != 0 ||
        r_u32(&r, &ret->status) != 0) {
        return -1;
    }
    ret->body = p + r.pos;
    ret->body_len = len - r.pos;
    if (ret->status != 0 || (ret->type & 0x7f) >= 0x20) {
        if (r_bytes(&r, &v, &n) != 0) {
            return -1;
        }
        ret->text = (const char *)v;
        ret->text_len = n;
        return 0;
    }
    switch (ret->type & 0x7f) {
    case 0x05:
        if (r.len - r.pos != 1) {
            return -1;
        }
        ret->bytes = p + r.pos;
        ret->bytes_len = 1;
        break;
    case 0x02:
        return whoami_text(&r, ret);
    case 0x03:
        return list_text(ret);
    case 0x04:
    case 0x06:
    case 0x07:
        if (r_bytes(&r, &ret->bytes, &ret->bytes_len) != 0) {
            return -1;
        }
        break;
    default:
        break;
    }
    return 0;
}

static int glue_list_request(uint32_t id, uint8_t *out, size_t max, size_t *len)
{
    struct w w;

    w_begin(&w, out, max, 0x03, id);
    return w_end(&w, len);
}

/* Skip one key record; name, spki and key_type point into the reply. */
static int r_keyrec(struct r *r, const uint8_t **name, size_t *name_len, const uint8_t **spki,
                    size_t *spki_len, uint64_t *key_type, uint32_t *bits)
{
    const uint8_t *v;
    size_t n;
    uint64_t mask;

    if (r_bytes(r, name, name_len) != 0 || r_bytes(r, &v, &n) != 0 || r_u64(r, key_type) != 0 ||
        r_u32(r, bits) != 0 || r_u64(r, &mask) != 0 || r_bytes(r, spki, spki_len) != 0) {
        return -1;
    }
    for (int i = 0; i < 8; i++) { /* ec_params .. cert_serial */
        if (r_bytes(r, &v, &n) != 0) {
            return -1;
        }
    }
    return 0;
}

static int glue_list_find(const struct glue_reply *rep, const char *key, uint8_t *spki,
                          size_t *spki_len, uint64_t *key_type)
{
    struct r r = {rep->body, rep->body_len, 0};
    uint32_t cnt;

    if (rep->status != 0 || r_u32(&r, &cnt) != 0) {
        return -1;
    }
    for (uint32_t i = 0; i < cnt; i++) {
        const uint8_t *name;
        const uint8_t *s;
        size_t name_len;
        size_t s_len;
        uint32_t bits;

        if (r_keyrec(&r, &name, &name_len, &s, &s_len, key_type, &bits) != 0) {
            return -1;
        }
        if (name_len == strlen(key) && memcmp(name, key, name_len) == 0 && s_len <= *spki_len) {
            memcpy(spki, s, s_len);
            *spki_len = s_len;
            return 0;
        }
    }
    return -1;
}

static int glue_sign_request(uint32_t id, const char *key, uint64_t ckm, bool is_pss,
                             const uint8_t *d, size_t n, uint8_t *out, size_t max, size_t *len)
{
    struct w w;

    w_begin(&w, out, max, 0x04, id);
    w_str(&w, key);
    w_u64(&w, ckm);
    w_u64(&w, is_pss ? 0x250 : 0); /* CKM_SHA256 */
    w_u64(&w, is_pss ? 0x2 : 0);   /* CKG_MGF1_SHA256 */
    w_u64(&w, is_pss ? 32 : 0);
    w_bytes(&w, d, n);
    return w_end(&w, len);
}

/* type 0x04 SIGN or 0x05 VERIFY (sig != NULL). */
static int glue_sigver_request(uint8_t type, uint32_t id, const char *key, uint64_t ckm,
                               bool is_pss, const uint8_t *d, size_t n, const uint8_t *sig,
                               size_t sig_len, uint8_t *out, size_t max, size_t *len)
{
    struct w w;

    w_begin(&w, out, max, type, id);
    w_str(&w, key);
    w_u64(&w, ckm);
    w_u64(&w, is_pss ? 0x250 : 0);
    w_u64(&w, is_pss ? 0x2 : 0);
    w_u64(&w, is_pss ? 32 : 0);
    w_bytes(&w, d, n);
    if (type == 0x05) {
        w_bytes(&w, sig, sig_len);
    }
    return w_end(&w, len);
}

static int glue_digest_request(uint32_t id, uint64_t ckm, const uint8_t *d, size_t n, uint8_t *out,
                               size_t max, size_t *len)
{
    struct w w;

    w_begin(&w, out, max, 0x06, id);
    w_u64(&w, ckm);
    w_bytes(&w, d, n);
    return w_end(&w, len);
}

static int glue_random_request(uint32_t id, uint32_t n, uint8_t *out, size_t max, size_t *len)
{
    struct w w;

    w_begin(&w, out, max, 0x07, id);
    w_u32(&w, n);
    return w_end(&w, len);
}

static int glue_whoami_request(uint32_t id, const char *a, const char *b, const char *c,
                               uint8_t *out, size_t max, size_t *len)
{
    struct w w;

    (void)a;
    (void)b;
    (void)c;
    w_begin(&w, out, max, 0x02, id);
    return w_end(&w, len);
}

static int glue_list_text_request(uint32_t id, const char *a, const char *b, const char *c,
                                  uint8_t *out, size_t max, size_t *len)
{
    (void)a;
    (void)b;
    (void)c;
    return glue_list_request(id, out, max, len);
}

static int glue_generate_request(uint32_t id, const char *name, const char *type, const char *bits,
                                 uint8_t *out, size_t max, size_t *len)
{
    struct w w;

    w_begin(&w, out, max, 0x08, id);
    w_str(&w, name);
    w_u64(&w, strcmp(type, "ec") == 0 ? 0x3 : 0x0);
    w_u32(&w, (uint32_t)atoi(bits));
    return w_end(&w, len);
}

static int glue_destroy_request(uint32_t id, const char *key, const char *b, const char *c,
                                uint8_t *out, size_t max, size_t *len)
{
    struct w w;

    (void)b;
    (void)c;
    w_begin(&w, out, max, 0x09, id);
    w_str(&w, key);
    return w_end(&w, len);
}

/* admin status|workloads|keys [ENTRY]|tail N */
static int glue_admin_request(uint32_t id, const char *what, const char *arg, const char *c,
                              uint8_t *out, size_t max, size_t *len)
{
    struct w w;

    (void)c;
    if (strcmp(what, "status") == 0) {
        w_begin(&w, out, max, 0x20, id);
    } else if (strcmp(what, "workloads") == 0) {
        w_begin(&w, out, max, 0x21, id);
    } else if (strcmp(what, "keys") == 0) {
        w_begin(&w, out, max, 0x22, id);
        w_str(&w, arg != NULL ? arg : "");
    } else if (strcmp(what, "tail") == 0) {
        w_begin(&w, out, max, 0x25, id);
        w_u32(&w, (uint32_t)(arg != NULL ? atoi(arg) : 10));
    } else {
        return -1;
    }
    return w_end(&w, len);
}

static const char *sock_path;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int dial(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A connection with a receive buffer. */
struct cl {
    int fd;
    uint8_t buf[300 * 1024];
    size_t len;
};

/* Read one whole frame into c->buf; returns its total length, 0 on EOF, -1 on error/timeout. */
static ssize_t cl_read_frame(struct cl *c, int timeout_ms)
{
    for (;;) {
        size_t total = 0;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        ssize_t n;

        if (glue_frame_total(c->buf, c->len, &total) == 0 && c->len >= total) {
            return (ssize_t)total;
        }
        if (poll(&pfd, 1, timeout_ms) <= 0) {
            return -1;
        }
        n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
        if (n == 0) {
            return 0;
        }
        if (n < 0) {
            return errno == ECONNRESET ? 0 : -1;
        }
        c->len += (size_t)n;
    }
}

static void cl_consume(struct cl *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Send one request and wait for its reply (no pipelining). */
static int cl_call(struct cl *c, const uint8_t *req, size_t req_len, struct glue_reply *ret)
{
    ssize_t n;

    if (write_all(c->fd, req, req_len) != 0 || (n = cl_read_frame(c, 30000)) <= 0) {
        return -1;
    }
    if (glue_reply_parse(c->buf, (size_t)n, ret) != 0) {
        return -1;
    }
    ret->frame_len = (size_t)n;
    return 0;
}

/* Public key of KEY from LIST_OBJECTS. */
static int get_spki(struct cl *c, const char *key, uint8_t *spki, size_t *spki_len,
                    uint64_t *key_type)
{
    uint8_t req[64];
    size_t req_len = 0;
    struct glue_reply rep;
    int r;

    if (glue_list_request(1, req, sizeof(req), &req_len) != 0 ||
        cl_call(c, req, req_len, &rep) != 0) {
        return -1;
    }
    r = glue_list_find(&rep, key, spki, spki_len, key_type);
    cl_consume(c, rep.frame_len);
    return r;
}

/* How to build input for MECH and check its signature locally. */
struct mech_plan {
    const char *name;
    uint64_t ckm;
    enum digest_scheme scheme;
    enum digest_alg hash;
    bool is_raw; /* data is the digest (ECDSA) or a DigestInfo (RSA_PKCS) */
    bool is_pss;
};

static const struct mech_plan plans[] = {
    {"ECDSA", 0x1041, DIGEST_SCHEME_ECDSA, DIGEST_SHA256, true, false},
    {"ECDSA_SHA256", 0x1044, DIGEST_SCHEME_ECDSA, DIGEST_SHA256, false, false},
    {"ECDSA_SHA384", 0x1045, DIGEST_SCHEME_ECDSA, DIGEST_SHA384, false, false},
    {"ECDSA_SHA512", 0x1046, DIGEST_SCHEME_ECDSA, DIGEST_SHA512, false, false},
    {"RSA_PKCS", 0x1, DIGEST_SCHEME_RSA_PKCS1, DIGEST_SHA256, true, false},
    {"SHA256_RSA_PKCS", 0x40, DIGEST_SCHEME_RSA_PKCS1, DIGEST_SHA256, false, false},
    {"RSA_PKCS_PSS", 0xd, DIGEST_SCHEME_RSA_PSS, DIGEST_SHA256, true, true},
    {"SHA256_RSA_PKCS_PSS", 0x43, DIGEST_SCHEME_RSA_PSS, DIGEST_SHA256, false, true},
};

static const struct mech_plan *plan_find(const char *name)
{
    for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
        if (strcmp(plans[i].name, name) == 0) {
            return &plans[i];
        }
    }
    return NULL;
}

/* One request's data: random message, or a random digest / DigestInfo for raw mechanisms. */
static void make_data(const struct mech_plan *p, uint8_t *data, size_t *len)
{
    uint8_t h[DIGEST_MAX];

    RAND_bytes(h, 32);
    if (!p->is_raw) {
        RAND_bytes(data, 100);
        *len = 100;
    } else if (p->scheme == DIGEST_SCHEME_RSA_PKCS1) {
        if (digest_info_encode(DIGEST_SHA256, h, data, len) != 0) {
            abort();
        }
    } else {
        memcpy(data, h, 32);
        *len = 32;
    }
}

static bool check_sig(const struct mech_plan *p, const uint8_t *spki, size_t spki_len,
                      const uint8_t *data, size_t len, const uint8_t *sig, size_t sig_len)
{
    uint8_t tbs[DIGEST_INFO_MAX];
    uint8_t h[DIGEST_MAX];
    size_t tbs_len = 0;
    size_t h_len = 0;
    bool ok = false;

    if (p->is_raw) {
        memcpy(tbs, data, len);
        tbs_len = len;
    } else {
        if (digest_compute(p->hash, data, len, h, &h_len) != 0) {
            return false;
        }
        if (p->scheme == DIGEST_SCHEME_RSA_PKCS1) {
            if (digest_info_encode(p->hash, h, tbs, &tbs_len) != 0) {
                return false;
            }
        } else {
            memcpy(tbs, h, h_len);
            tbs_len = h_len;
        }
    }
    if (digest_verify(spki, spki_len, p->scheme, p->hash, digest_size(p->hash), tbs, tbs_len, sig,
                      sig_len, &ok) != 0) {
        return false;
    }
    return ok;
}

/*
 * Sign on one connection with up to inflight requests outstanding, until
 * deadline (0: until the daemon goes away) or max signatures. Every reply
 * is matched to its request by id and its signature checked against that
 * request's data. Returns signatures; *bad counts wrong replies.
 */
struct slot {
    bool is_used;
    uint32_t id;
    uint8_t data[256];
    size_t len;
};

static long sign_loop(const char *key, const struct mech_plan *p, unsigned inflight,
                      uint64_t deadline, long max, bool is_verbose, long *bad)
{
    struct cl *c = calloc(1, sizeof(*c));
    struct slot *slots = calloc(inflight, sizeof(*slots));
    uint8_t spki[4096];
    size_t spki_len = sizeof(spki);
    uint64_t key_type = 0;
    uint32_t next_id = 100;
    long sent = 0;
    long done = 0;
    unsigned out = 0;

    *bad = 0;
    if (c == NULL || slots == NULL || (c->fd = dial()) < 0 ||
        get_spki(c, key, spki, &spki_len, &key_type) != 0) {
        fprintf(stderr, "sign_loop: cannot connect or find key %s\n", key);
        *bad = 1;
        goto out;
    }
    for (;;) {
        bool is_stopping = (deadline != 0 && now_ms() >= deadline) || (max > 0 && sent >= max);
        struct glue_reply rep;
        ssize_t n;

        while (!is_stopping && out < inflight) {
            uint8_t req[1024];
            size_t req_len = 0;
            unsigned i = 0;

            while (slots[i].is_used) {
                i++;
            }
            slots[i].is_used = true;
            slots[i].id = next_id++;
            make_data(p, slots[i].data, &slots[i].len);
            if (glue_sign_request(slots[i].id, key, p->ckm, p->is_pss, slots[i].data, slots[i].len,
                                  req, sizeof(req), &req_len) != 0 ||
                write_all(c->fd, req, req_len) != 0) {
                goto out; /* daemon went away */
            }
            out++;
            sent++;
        }
        if (out == 0) {
            break;
        }
        if ((n = cl_read_frame(c, 30000)) <= 0) {
            break;
        }
        if (glue_reply_parse(c->buf, (size_t)n, &rep) != 0) {
            fprintf(stderr, "unparsable reply\n");
            (*bad)++;
            break;
        }
        {
            unsigned i;

            for (i = 0; i < inflight && !(slots[i].is_used && slots[i].id == rep.id); i++) {
            }
            if (i == inflight) {
                fprintf(stderr, "reply for unknown request id %u\n", rep.id);
                (*bad)++;
            } else if (rep.status != 0) {
                fprintf(stderr, "request %u: status %u\n", rep.id, rep.status);
                (*bad)++;
                slots[i].is_used = false;
                out--;
            } else {
                if (!check_sig(p, spki, spki_len, slots[i].data, slots[i].len, rep.bytes,
                               rep.bytes_len)) {
                    fprintf(stderr, "request %u: signature does not verify for its data\n", rep.id);
                    (*bad)++;
                } else {
                    done++;
                    if (is_verbose && done % 100 == 0) {
                        printf("signed %ld\n", done);
                        fflush(stdout);
                    }
                }
                slots[i].is_used = false;
                out--;
            }
        }
        cl_consume(c, (size_t)n);
    }
out:
    if (c != NULL && c->fd >= 0) {
        close(c->fd);
    }
    free(c);
    free(slots);
    return done;
}

struct stress_arg {
    const char *key;
    const struct mech_plan *p;
    unsigned inflight;
    uint64_t deadline;
    long done;
    long bad;
};

static void *stress_thread(void *arg)
{
    struct stress_arg *a = arg;

    a->done = sign_loop(a->key, a->p, a->inflight, a->deadline, 0, false, &a->bad);
    return NULL;
}

static int cmd_stress(const char *key, const struct mech_plan *p, unsigned seconds,
                      unsigned clients, unsigned inflight)
{
    struct stress_arg *args = calloc(clients, sizeof(*args));
    pthread_t *th = calloc(clients, sizeof(*th));
    uint64_t t0 = now_ms();
    long total = 0;
    long bad = 0;
    unsigned idle = 0;

    if (args == NULL || th == NULL) {
        return 1;
    }
    for (unsigned i = 0; i < clients; i++) {
        args[i] = (struct stress_arg){key, p, inflight, t0 + seconds * 1000ULL, 0, 0};
        pthread_create(&th[i], NULL, stress_thread, &args[i]);
    }
    for (unsigned i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        total += args[i].done;
        bad += args[i].bad;
        idle += args[i].done == 0;
    }
    printf("clients=%u inflight=%u seconds=%u signatures=%ld bad=%ld starved=%u rate=%.1f/s\n",
           clients, inflight, seconds, total, bad, idle,
           (double)total * 1000.0 / (double)(now_ms() - t0));
    free(args);
    free(th);
    return bad == 0 && idle == 0 ? 0 : 1;
}

static int unhex(const char *s, uint8_t *out, size_t max, size_t *ret_len)
{
    size_t n = 0;
    int hi = -1;

    for (; *s != '\0'; s++) {
        int v;

        if (*s == ' ') {
            continue;
        }
        if (*s >= '0' && *s <= '9') {
            v = *s - '0';
        } else if (*s >= 'a' && *s <= 'f') {
            v = *s - 'a' + 10;
        } else {
            return -1;
        }
        if (hi < 0) {
            hi = v;
        } else {
            if (n == max) {
                return -1;
            }
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    *ret_len = n;
    return hi < 0 ? 0 : -1;
}

/* Is the peer gone? (EOF or reset within timeout_ms) */
static bool peer_closed(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    uint8_t b;

    if (poll(&pfd, 1, timeout_ms) <= 0) {
        return false;
    }
    return read(fd, &b, 1) <= 0;
}

/* Prints "reply status=N open|closed" or "closed". */
static int cmd_raw(const char *hex, bool is_eof)
{
    struct cl *c = calloc(1, sizeof(*c));
    static uint8_t bytes[4096];
    size_t len = 0;
    struct glue_reply rep;
    ssize_t n;

    if (c == NULL || unhex(hex, bytes, sizeof(bytes), &len) != 0 || (c->fd = dial()) < 0 ||
        write_all(c->fd, bytes, len) != 0) {
        fprintf(stderr, "raw: setup failed\n");
        return 1;
    }
    if (is_eof) {
        shutdown(c->fd, SHUT_WR);
    }
    n = cl_read_frame(c, 3000);
    if (n < 0) {
        printf("no reply and still open\n");
    } else if (n == 0) {
        printf("closed\n");
    } else if (glue_reply_parse(c->buf, (size_t)n, &rep) != 0) {
        printf("unparsable reply\n");
    } else {
        printf("reply status=%u %s\n", rep.status, peer_closed(c->fd, 1000) ? "closed" : "open");
    }
    close(c->fd);
    free(c);
    return 0;
}

/*
 * Half a frame, then nothing for SECONDS; then say whether the daemon still
 * holds the connection open ("open") or has closed it ("closed"): the
 * caller checks a stalled client is neither served nor dropped early.
 */
static int cmd_stall(unsigned seconds)
{
    static const uint8_t half[] = {0x00, 0x00, 0x00, 0x20, 0x01};
    struct pollfd p = {.events = POLLIN};
    int fd = dial();
    uint8_t byte;
    int n;

    if (fd < 0 || write_all(fd, half, sizeof(half)) != 0) {
        return 1;
    }
    sleep(seconds);
    p.fd = fd;
    n = poll(&p, 1, 0);
    if (n < 0) {
        close(fd);
        return 1;
    }
    /* Readable: a close (EOF or reset) or, wrongly, a reply to half a frame. */
    if (n == 0) {
        printf("open\n");
    } else if (read(fd, &byte, 1) <= 0) {
        printf("closed\n");
    } else {
        printf("replied\n");
    }
    close(fd);
    return 0;
}

static void print_reply_text(const struct glue_reply *rep)
{
    if (rep->status != 0) {
        printf("status=%u %.*s\n", rep->status, (int)rep->text_len, rep->text);
    } else {
        printf("%.*s\n", (int)rep->text_len, rep->text);
    }
}

static int one_call(struct cl *c,
                    int (*build)(uint32_t, const char *, const char *, const char *, uint8_t *,
                                 size_t, size_t *),
                    const char *a1, const char *a2, const char *a3, struct glue_reply *rep)
{
    uint8_t req[2048];
    size_t req_len = 0;

    if (build(7, a1, a2, a3, req, sizeof(req), &req_len) != 0) {
        fprintf(stderr, "cannot build request\n");
        return -1;
    }
    return cl_call(c, req, req_len, rep);
}

/* Sign once on c and check; prints "ok" or "status=N ..." or "bad". */
static int session_sign(struct cl *c, const char *key, const char *mech)
{
    const struct mech_plan *p = plan_find(mech);
    uint8_t spki[4096];
    size_t spki_len = sizeof(spki);
    uint64_t kt = 0;
    uint8_t data[256];
    size_t len = 0;
    uint8_t req[1024];
    size_t req_len = 0;
    struct glue_reply rep;
    bool have_spki;

    if (p == NULL) {
        printf("bad mechanism\n");
        return 0;
    }
    have_spki = get_spki(c, key, spki, &spki_len, &kt) == 0;
    make_data(p, data, &len);
    if (glue_sign_request(9, key, p->ckm, p->is_pss, data, len, req, sizeof(req), &req_len) != 0 ||
        cl_call(c, req, req_len, &rep) != 0) {
        printf("closed\n");
        return -1;
    }
    if (rep.status != 0) {
        printf("status=%u %.*s\n", rep.status, (int)rep.text_len, rep.text);
    } else if (!have_spki || !check_sig(p, spki, spki_len, data, len, rep.bytes, rep.bytes_len)) {
        printf("bad signature\n");
    } else {
        printf("ok\n");
    }
    cl_consume(c, rep.frame_len);
    return 0;
}

static int session(void)
{
    struct cl *c = calloc(1, sizeof(*c));
    char line[512];

    if (c == NULL || (c->fd = dial()) < 0) {
        printf("closed\n");
        return 1;
    }
    while (fgets(line, sizeof(line), stdin) != NULL) {
        char a[128] = "";
        char b[128] = "";
        struct glue_reply rep;

        if (sscanf(line, "sign %127s %127s", a, b) == 2) {
            if (session_sign(c, a, b) != 0) {
                break;
            }
        } else if (strncmp(line, "whoami", 6) == 0) {
            if (one_call(c, glue_whoami_request, NULL, NULL, NULL, &rep) != 0) {
                printf("closed\n");
                break;
            }
            print_reply_text(&rep);
            cl_consume(c, rep.frame_len);
        } else {
            printf("unknown command\n");
        }
        fflush(stdout);
    }
    close(c->fd);
    free(c);
    return 0;
}

/* SIGN with caller-given data and PSS salt; prints "ok len=N" or "status=N msg". */
static int cmd_sign_data(struct cl *c, const char *key, const char *mech, const char *hex,
                         const char *salt)
{
    const struct mech_plan *p = plan_find(mech);
    static uint8_t data[4096];
    size_t len = 0;
    uint8_t req[8192];
    size_t req_len = 0;
    struct glue_reply rep;
    struct w w;

    if (p == NULL || unhex(hex, data, sizeof(data), &len) != 0) {
        return 2;
    }
    w_begin(&w, req, sizeof(req), 0x04, 11);
    w_str(&w, key);
    w_u64(&w, p->ckm);
    w_u64(&w, p->is_pss ? 0x250 : 0);
    w_u64(&w, p->is_pss ? 0x2 : 0);
    w_u64(&w, p->is_pss ? (uint64_t)atoi(salt) : 0);
    w_bytes(&w, data, len);
    if (w_end(&w, &req_len) != 0 || cl_call(c, req, req_len, &rep) != 0) {
        printf("failed\n");
        return 1;
    }
    if (rep.status != 0) {
        printf("status=%u %.*s\n", rep.status, (int)rep.text_len, rep.text);
    } else {
        printf("ok len=%zu\n", rep.bytes_len);
    }
    return 0;
}

/* Sign with the daemon, then VERIFY the signature, and a tampered copy. */
static int cmd_verify(struct cl *c, const char *key, const char *mech)
{
    const struct mech_plan *p = plan_find(mech);
    uint8_t data[256];
    size_t len = 0;
    uint8_t req[2048];
    size_t req_len = 0;
    uint8_t sig[1024];
    size_t sig_len;
    struct glue_reply rep;
    int valid[2] = {-1, -1};

    if (p == NULL) {
        return 2;
    }
    make_data(p, data, &len);
    if (glue_sigver_request(0x04, 1, key, p->ckm, p->is_pss, data, len, NULL, 0, req, sizeof(req),
                            &req_len) != 0 ||
        cl_call(c, req, req_len, &rep) != 0 || rep.status != 0 || rep.bytes_len > sizeof(sig)) {
        printf("sign failed\n");
        return 1;
    }
    memcpy(sig, rep.bytes, rep.bytes_len);
    sig_len = rep.bytes_len;
    cl_consume(c, rep.frame_len);
    for (int i = 0; i < 2; i++) {
        if (i == 1) {
            sig[sig_len / 2] ^= 0x01;
        }
        if (glue_sigver_request(0x05, 2, key, p->ckm, p->is_pss, data, len, sig, sig_len, req,
                                sizeof(req), &req_len) != 0 ||
            cl_call(c, req, req_len, &rep) != 0) {
            printf("verify failed\n");
            return 1;
        }
        if (rep.status != 0) {
            printf("verify status=%u %.*s\n", rep.status, (int)rep.text_len, rep.text);
            return 1;
        }
        valid[i] = rep.bytes[0];
        cl_consume(c, rep.frame_len);
    }
    printf("valid=%d tampered=%d\n", valid[0], valid[1]);
    return valid[0] == 1 && valid[1] == 0 ? 0 : 1;
}

/* DIGEST of a fixed message, compared with a local hash. */
static int cmd_digest(struct cl *c, const char *mech)
{
    static const uint8_t msg[] = "agentd digest test";
    uint64_t ckm = strcmp(mech, "SHA256") == 0   ? 0x250
                   : strcmp(mech, "SHA384") == 0 ? 0x260
                   : strcmp(mech, "SHA512") == 0 ? 0x270
                                                 : 0x220;
    enum digest_alg alg = ckm == 0x250   ? DIGEST_SHA256
                          : ckm == 0x260 ? DIGEST_SHA384
                          : ckm == 0x270 ? DIGEST_SHA512
                                         : DIGEST_SHA1;
    uint8_t req[256];
    size_t req_len = 0;
    uint8_t h[DIGEST_MAX];
    size_t h_len = 0;
    struct glue_reply rep;

    if (glue_digest_request(3, ckm, msg, sizeof(msg) - 1, req, sizeof(req), &req_len) != 0 ||
        cl_call(c, req, req_len, &rep) != 0 ||
        digest_compute(alg, msg, sizeof(msg) - 1, h, &h_len) != 0) {
        printf("digest failed\n");
        return 1;
    }
    if (rep.status != 0) {
        printf("status=%u %.*s\n", rep.status, (int)rep.text_len, rep.text);
        return 1;
    }
    if (rep.bytes_len != h_len || memcmp(rep.bytes, h, h_len) != 0) {
        printf("digest mismatch\n");
        return 1;
    }
    printf("ok len=%zu\n", h_len);
    return 0;
}

static int cmd_random(struct cl *c, uint32_t n)
{
    uint8_t req[64];
    size_t req_len = 0;
    struct glue_reply rep;

    if (glue_random_request(4, n, req, sizeof(req), &req_len) != 0 ||
        cl_call(c, req, req_len, &rep) != 0) {
        printf("random failed\n");
        return 1;
    }
    if (rep.status != 0) {
        printf("status=%u %.*s\n", rep.status, (int)rep.text_len, rep.text);
        return 1;
    }
    printf("ok len=%zu\n", rep.bytes_len);
    return rep.bytes_len == n ? 0 : 1;
}

static int audit_verify_cmd(const char *path)
{
    struct audit_verify_report rep;
    int r = audit_verify(path, &rep);

    printf("records=%llu first=%llu last=%llu head_checked=%d: %s\n",
           (unsigned long long)rep.records, (unsigned long long)rep.first_seq,
           (unsigned long long)rep.last_seq, rep.head_checked ? 1 : 0, r == 0 ? "ok" : rep.message);
    return r == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *cmd;
    struct cl *c = NULL;
    struct glue_reply rep;
    int rc = 1;

    if (argc < 3) {
        fprintf(stderr, "usage: see the comment at the top of daemon_client.c\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a daemon that goes away is an outcome, not a crash */
    sock_path = argv[1];
    cmd = argv[2];
    if (strcmp(cmd, "audit-verify") == 0 && argc == 4) {
        return audit_verify_cmd(argv[3]);
    }
    if (strcmp(cmd, "raw") == 0 && argc == 4) {
        return cmd_raw(argv[3], false);
    }
    if (strcmp(cmd, "raw-eof") == 0 && argc == 4) {
        return cmd_raw(argv[3], true);
    }
    if (strcmp(cmd, "stall") == 0 && argc == 4) {
        return cmd_stall((unsigned)atoi(argv[3]));
    }
    if (strcmp(cmd, "session") == 0) {
        return session();
    }
    if ((strcmp(cmd, "sign") == 0 && argc == 6) || (strcmp(cmd, "stream") == 0 && argc == 6)) {
        const struct mech_plan *p = plan_find(argv[4]);
        bool is_stream = cmd[1] == 't';
        long bad = 0;
        long n;

        if (p == NULL) {
            fprintf(stderr, "unknown mechanism %s\n", argv[4]);
            return 2;
        }
        if (is_stream) {
            n = sign_loop(argv[3], p, (unsigned)atoi(argv[5]), 0, 0, true, &bad);
            printf("signed=%ld bad=%ld\n", n, bad);
            return bad == 0 ? 0 : 1;
        }
        n = sign_loop(argv[3], p, 1, 0, atol(argv[5]), false, &bad);
        printf("signed=%ld bad=%ld\n", n, bad);
        return bad == 0 && n == atol(argv[5]) ? 0 : 1;
    }
    if (strcmp(cmd, "stress") == 0 && argc == 8) {
        const struct mech_plan *p = plan_find(argv[4]);

        if (p == NULL) {
            return 2;
        }
        return cmd_stress(argv[3], p, (unsigned)atoi(argv[5]), (unsigned)atoi(argv[6]),
                          (unsigned)atoi(argv[7]));
    }
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->fd = dial()) < 0) {
        fprintf(stderr, "cannot connect to %s\n", sock_path);
        free(c);
        return 1;
    }
    if (strcmp(cmd, "sign-data") == 0 && (argc == 6 || argc == 7)) {
        rc = cmd_sign_data(c, argv[3], argv[4], argv[5], argc == 7 ? argv[6] : "32");
        close(c->fd);
        free(c);
        return rc;
    }
    if (strcmp(cmd, "verify") == 0 && argc == 5) {
        rc = cmd_verify(c, argv[3], argv[4]);
        close(c->fd);
        free(c);
        return rc;
    }
    if ((strcmp(cmd, "digest") == 0 && argc == 4) || (strcmp(cmd, "random") == 0 && argc == 4)) {
        rc = cmd[0] == 'd' ? cmd_digest(c, argv[3]) : cmd_random(c, (uint32_t)atoi(argv[3]));
        close(c->fd);
        free(c);
        return rc;
    }
    if (strcmp(cmd, "whoami") == 0) {
        rc = one_call(c, glue_whoami_request, NULL, NULL, NULL, &rep);
    } else if (strcmp(cmd, "list") == 0) {
        rc = one_call(c, glue_list_text_request, NULL, NULL, NULL, &rep);
    } else if (strcmp(cmd, "generate") == 0 && argc == 6) {
        rc = one_call(c, glue_generate_request, argv[3], argv[4], argv[5], &rep);
    } else if (strcmp(cmd, "destroy") == 0 && argc == 4) {
        rc = one_call(c, glue_destroy_request, argv[3], NULL, NULL, &rep);
    } else if (strcmp(cmd, "admin") == 0 && argc >= 4) {
        rc = one_call(c, glue_admin_request, argv[3], argc > 4 ? argv[4] : NULL, NULL, &rep);
    } else {
        fprintf(stderr, "unknown command %s\n", cmd);
        rc = -1;
    }
    if (rc == 0) {
        print_reply_text(&rep);
        rc = rep.status == 0 ? 0 : 1;
    } else {
        rc = 1;
    }
    close(c->fd);
    free(c);
    return rc;
}
