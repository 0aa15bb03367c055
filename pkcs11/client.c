#include "client.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io.h"
#include "module.h"
#include "msg.h"

/*
 * Why a pool and not one multiplexed socket: a multiplexer needs either a
 * reader thread inside the application (bad across fork() and dlclose()) or
 * callers taking turns reading and routing each other's replies. agentd
 * serialises TPM work anyway, so one connection per concurrent caller costs
 * one fd each and keeps every call a plain write-then-read on its own socket.
 * Idle connections are kept (up to POOL_IDLE_MAX) with their buffers, so a
 * warm call is one write and one read and allocates nothing.
 */
#define POOL_IDLE_MAX 8
#define DEFAULT_SOCKET "/run/agentd/agentd.sock"

struct conn {
    int fd;
    bool is_busy;
    bool is_broken;    /* transport or framing failed: never reuse */
    bool is_reused;    /* taken from the idle pool for this call */
    uint32_t hello_id; /* HELLO sent, its answer not read yet (0: none) */
    struct buf *out;   /* request body */
    struct buf *in;    /* reply body */
    struct conn *next;
};

static struct conn *conns;      /* every open connection; guarded by the module mutex */
static atomic_uint request_id;  /* per process; echoed in replies */
static struct client_info info; /* from the first HELLO answer read; module mutex */
static bool has_info;

static const char *socket_path(void)
{
    const char *p = getenv("AGENTD_SOCKET");

    return (p != NULL && p[0] != '\0') ? p : DEFAULT_SOCKET;
}

CK_RV client_rv_from_status(uint32_t status)
{
    switch (status) {
    case STATUS_OK:
        return CKR_OK;
    case STATUS_BAD_REQUEST:
        return CKR_ARGUMENTS_BAD;
    case STATUS_DENIED:
    case STATUS_RATE_LIMITED:
        return CKR_FUNCTION_REJECTED;
    case STATUS_NOT_FOUND:
        return CKR_KEY_HANDLE_INVALID;
    case STATUS_MECHANISM_INVALID:
        return CKR_MECHANISM_INVALID;
    case STATUS_DATA_LEN_RANGE:
        return CKR_DATA_LEN_RANGE;
    case STATUS_KEY_TYPE:
        return CKR_KEY_TYPE_INCONSISTENT;
    case STATUS_UNSUPPORTED:
        return CKR_FUNCTION_NOT_SUPPORTED;
    case STATUS_NO_MEMORY:
        return CKR_DEVICE_MEMORY;
    case STATUS_EXISTS:
        return CKR_ATTRIBUTE_VALUE_INVALID;
    case STATUS_MECHANISM_PARAM:
        return CKR_MECHANISM_PARAM_INVALID;
    case STATUS_TPM_ERROR:
    case STATUS_BUSY:
    case STATUS_VERSION:
        return CKR_DEVICE_ERROR;
    case STATUS_INTERNAL:
    default:
        return CKR_GENERAL_ERROR;
    }
}

/*
 * Read the reply to request id of type into c->in. CKR_OK leaves c->in at the
 * OK reply's fields; a status from the daemon becomes its CK_RV; a transport
 * or framing failure is CKR_DEVICE_ERROR and marks c broken.
 */
static CK_RV read_reply(struct conn *c, uint8_t type, uint32_t id)
{
    struct frame_header h;
    struct msg_error e;
    uint32_t status;

    /* Wait in poll(), not read(): see io_wait_readable. */
    if (io_wait_readable(c->fd, -1) != 0 || io_read_frame(c->fd, c->in, &h) != 0) {
        module_debug("agentd: %s failed: %s", msg_lookup(type)->name, strerror(errno));
        c->is_broken = true;
        return CKR_DEVICE_ERROR;
    }
    if (h.type != (type | FRAME_REPLY) || h.request_id != id ||
        msg_status_peek(c->in, &status) != 0) {
        module_debug("agentd: bad reply to %s", msg_lookup(type)->name);
        c->is_broken = true;
        return CKR_DEVICE_ERROR;
    }
    if (status == STATUS_OK) {
        return CKR_OK;
    }
    if (msg_error_decode(c->in, &e) != 0) {
        c->is_broken = true;
        return CKR_DEVICE_ERROR;
    }
    module_debug("agentd: %s: %s \"%.*s\"", msg_lookup(type)->name, status_name(status),
                 (int)e.message.len, e.message.ptr);
    return client_rv_from_status(status);
}

static void copy_str(char *out, size_t size, struct msg_str s)
{
    size_t n = s.len < size - 1 ? s.len : size - 1;

    memcpy(out, s.ptr, n);
    out[n] = '\0';
}

/*
 * Read the answer to the HELLO sent on c; the first one read fills the
 * token's info. A refused HELLO (no common version) breaks c: nothing more
 * is read from a daemon we cannot speak to.
 */
static CK_RV hello_finish(struct conn *c)
{
    struct msg_hello_reply rep;
    uint32_t id = c->hello_id;

    c->hello_id = 0;
    if (read_reply(c, MSG_HELLO, id) != CKR_OK) {
        c->is_broken = true;
        return CKR_DEVICE_ERROR;
    }
    if (msg_hello_reply_decode(c->in, &rep) != 0 || rep.version != PROTO_VERSION) {
        c->is_broken = true;
        return CKR_DEVICE_ERROR;
    }
    module_lock();
    if (!has_info) {
        copy_str(info.token_label, sizeof(info.token_label), rep.token_label);
        copy_str(info.manufacturer, sizeof(info.manufacturer), rep.manufacturer);
        copy_str(info.serial, sizeof(info.serial), rep.serial);
        copy_str(info.daemon_version, sizeof(info.daemon_version), rep.daemon_version);
        has_info = true;
    }
    module_unlock();
    return CKR_OK;
}

/* Send c->out as a request of type under a new request id; a failed write breaks c. */
static CK_RV send_request(struct conn *c, uint8_t type, uint32_t *ret_id)
{
    uint32_t id = atomic_fetch_add(&request_id, 1) + 1;

    if (io_write_frame(c->fd, type, id, c->out) != 0) {
        module_debug("agentd: %s failed: %s", msg_lookup(type)->name, strerror(errno));
        c->is_broken = true;
        return CKR_DEVICE_ERROR;
    }
    *ret_id = id;
    return CKR_OK;
}

/*
 * Send c->out as a request of type and read the reply into c->in (as
 * read_reply). A HELLO still unanswered on c is answered first: the request
 * went out behind it, so a new connection costs one round trip, not two.
 */
static CK_RV exchange(struct conn *c, uint8_t type)
{
    uint32_t id;
    CK_RV rv;

    if ((rv = send_request(c, type, &id)) != CKR_OK) {
        return rv;
    }
    if (c->hello_id != 0 && (rv = hello_finish(c)) != CKR_OK) {
        return rv;
    }
    return read_reply(c, type, id);
}

static void conn_free(struct conn *c)
{
    if (c == NULL) {
        return;
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    buf_free(c->out);
    buf_free(c->in);
    free(c);
}

static int unix_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = socket_path();
    size_t len = strlen(path);
    int fd;

    if (len >= sizeof(sa.sun_path)) {
        return -1;
    }
    memcpy(sa.sun_path, path, len + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        module_debug("agentd: connect \"%s\": %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Send HELLO on a fresh connection; its answer is read later (hello_finish). */
static CK_RV hello_send(struct conn *c)
{
    struct msg_hello_request req = {PROTO_VERSION, PROTO_VERSION, msg_str_c("libagentd-pkcs11")};

    buf_reset(c->out);
    if (msg_hello_request_encode(c->out, &req) != 0) {
        return CKR_HOST_MEMORY;
    }
    return send_request(c, MSG_HELLO, &c->hello_id);
}

/* A new connection, HELLO sent, marked busy and listed in the pool. */
static CK_RV conn_open(struct conn **ret)
{
    struct conn *c = calloc(1, sizeof(*c));
    CK_RV rv;

    if (c == NULL) {
        return CKR_HOST_MEMORY;
    }
    c->fd = -1;
    if ((c->out = buf_new(FRAME_BODY_MAX)) == NULL || (c->in = buf_new(FRAME_BODY_MAX)) == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if ((c->fd = unix_connect()) < 0) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    if ((rv = hello_send(c)) != CKR_OK) {
        goto out;
    }
    c->is_busy = true;
    module_lock();
    c->next = conns;
    conns = c;
    module_unlock();
    *ret = c;
    c = NULL;
out:
    conn_free(c);
    return rv;
}

/* Take an idle connection or open a new one. */
static CK_RV conn_get(struct conn **ret)
{
    struct conn *c;

    module_lock();
    for (c = conns; c != NULL && c->is_busy; c = c->next) {
    }
    if (c != NULL) {
        c->is_busy = true;
        c->is_reused = true;
    }
    module_unlock();
    if (c == NULL) {
        return conn_open(ret);
    }
    *ret = c;
    return CKR_OK;
}

/* Return c to the pool; a broken one or one over the idle cap is closed. */
static void conn_put(struct conn *c)
{
    bool is_ok = !c->is_broken;

    struct conn **pp;
    size_t idle = 0;

    module_lock();
    for (pp = &conns; *pp != NULL; pp = &(*pp)->next) {
        idle += (*pp)->is_busy ? 0 : 1;
    }
    c->is_busy = false;
    if (is_ok && idle < POOL_IDLE_MAX) {
        module_unlock();
        return;
    }
    for (pp = &conns; *pp != NULL && *pp != c; pp = &(*pp)->next) {
    }
    if (*pp == c) {
        *pp = c->next;
    }
    module_unlock();
    conn_free(c);
}

CK_RV client_open(void)
{
    struct conn *c = NULL;
    CK_RV rv;

    if ((rv = conn_open(&c)) == CKR_OK) {
        conn_put(c);
    }
    return rv;
}

/*
 * attempt(arg), and once more on a new connection when it failed on a pooled
 * one agentd had closed meanwhile (idle, restarted): *ret_retry says so.
 */
static CK_RV with_retry(CK_RV (*attempt)(const void *arg, bool *ret_retry), const void *arg,
                        const char *what)
{
    bool is_retry;
    CK_RV rv = attempt(arg, &is_retry);

    if (is_retry && module_is_live()) {
        module_debug("agentd: pooled connection failed; retrying %s", what);
        rv = attempt(arg, &is_retry);
    }
    return rv;
}

/* Read a HELLO answer, sending the HELLO first if this connection has none pending. */
static CK_RV token_info_once(const void *arg, bool *ret_retry)
{
    struct conn *c = NULL;
    CK_RV rv;

    (void)arg;
    *ret_retry = false;
    if ((rv = conn_get(&c)) != CKR_OK) {
        return rv;
    }
    if (c->hello_id != 0 || (rv = hello_send(c)) == CKR_OK) {
        rv = hello_finish(c);
    }
    *ret_retry = c->is_broken && c->is_reused;
    conn_put(c);
    return rv;
}

CK_RV client_token_info(struct client_info *ret)
{
    bool is_known;
    CK_RV rv = CKR_OK;

    module_lock();
    is_known = has_info;
    module_unlock();
    if (!is_known) {
        rv = with_retry(token_info_once, NULL, "HELLO");
    }
    module_lock();
    *ret = info;
    module_unlock();
    return rv;
}

void client_close(bool is_child)
{
    struct conn *c, *next, *busy = NULL;

    if (!is_child) {
        module_lock();
    }
    for (c = conns; c != NULL; c = next) {
        next = c->next;
        if (c->is_busy && !is_child) {
            /* Its caller still owns it: wake it up; conn_put() frees it later. */
            shutdown(c->fd, SHUT_RDWR);
            c->next = busy;
            busy = c;
            continue;
        }
        /* In a child these are copies of the parent's sockets: close, never shutdown. */
        conn_free(c);
    }
    conns = busy;
    has_info = false; /* the next C_Initialize may meet another daemon */
    if (!is_child) {
        module_unlock();
    }
}

static void blob_clear(struct blob *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
}

static int blob_set(struct blob *b, struct msg_bytes src)
{
    b->ptr = NULL;
    b->len = 0;
    if (src.len == 0) {
        return 0;
    }
    if ((b->ptr = malloc(src.len)) == NULL) {
        return -1;
    }
    memcpy(b->ptr, src.ptr, src.len);
    b->len = src.len;
    return 0;
}

void client_key_clear(struct client_key *k)
{
    blob_clear(&k->id);
    blob_clear(&k->spki);
    blob_clear(&k->ec_params);
    blob_clear(&k->ec_point);
    blob_clear(&k->modulus);
    blob_clear(&k->exponent);
    blob_clear(&k->cert);
    blob_clear(&k->cert_subject);
    blob_clear(&k->cert_issuer);
    blob_clear(&k->cert_serial);
}

static void ca_clear(struct client_ca *ca)
{
    blob_clear(&ca->cert);
    blob_clear(&ca->subject);
    blob_clear(&ca->issuer);
    blob_clear(&ca->serial);
}

void client_list_free(struct client_list *list)
{
    size_t i;

    if (list == NULL) {
        return;
    }
    for (i = 0; i < list->n_keys; i++) {
        client_key_clear(&list->keys[i]);
    }
    for (i = 0; i < list->n_cas; i++) {
        ca_clear(&list->cas[i]);
    }
    free(list->keys);
    free(list->cas);
    free(list);
}

/* Own copy of a decoded key record (which borrows from the reply buffer). */
static int key_copy(const struct msg_key_record *r, struct client_key *k)
{
    memset(k, 0, sizeof(*k));
    copy_str(k->name, sizeof(k->name), r->name);
    k->key_type = r->key_type;
    k->bits = r->bits;
    k->mech_mask = r->mech_mask;
    if (r->name.len > KEY_NAME_MAX || memchr(r->name.ptr, 0, r->name.len) != NULL ||
        blob_set(&k->id, r->id) != 0 || blob_set(&k->spki, r->spki) != 0 ||
        blob_set(&k->ec_params, r->ec_params) != 0 || blob_set(&k->ec_point, r->ec_point) != 0 ||
        blob_set(&k->modulus, r->modulus) != 0 || blob_set(&k->exponent, r->public_exponent) != 0 ||
        blob_set(&k->cert, r->cert) != 0 || blob_set(&k->cert_subject, r->cert_subject) != 0 ||
        blob_set(&k->cert_issuer, r->cert_issuer) != 0 ||
        blob_set(&k->cert_serial, r->cert_serial) != 0) {
        client_key_clear(k);
        return -1;
    }
    return 0;
}

static int ca_copy(const struct msg_ca_record *r, struct client_ca *ca)
{
    memset(ca, 0, sizeof(*ca));
    copy_str(ca->label, sizeof(ca->label), r->label);
    if (blob_set(&ca->cert, r->cert) != 0 || blob_set(&ca->subject, r->subject) != 0 ||
        blob_set(&ca->issuer, r->issuer) != 0 || blob_set(&ca->serial, r->serial) != 0) {
        ca_clear(ca);
        return -1;
    }
    return 0;
}

static CK_RV list_copy(const struct msg_list_objects_reply *r, struct client_list *l)
{
    if ((r->n_keys > 0 && (l->keys = calloc(r->n_keys, sizeof(*l->keys))) == NULL) ||
        (r->n_cas > 0 && (l->cas = calloc(r->n_cas, sizeof(*l->cas))) == NULL)) {
        return CKR_HOST_MEMORY;
    }
    for (; l->n_keys < r->n_keys; l->n_keys++) {
        if (key_copy(&r->keys[l->n_keys], &l->keys[l->n_keys]) != 0) {
            return CKR_DEVICE_ERROR;
        }
    }
    for (; l->n_cas < r->n_cas; l->n_cas++) {
        if (ca_copy(&r->cas[l->n_cas], &l->cas[l->n_cas]) != 0) {
            return CKR_DEVICE_ERROR;
        }
    }
    return CKR_OK;
}

/*
 * One request and its reply. encode() writes the request into c->out; on an
 * OK reply decode() reads c->in into reply and use() copies what the caller
 * needs while c->in is still ours.
 */
struct call {
    uint8_t type;
    CK_RV encode_rv; /* what a request that does not encode means */
    int (*encode)(struct buf *out, const void *req);
    const void *req;
    int (*decode)(struct buf *in, void *reply);
    void *reply;
    CK_RV (*use)(void *reply, void *ctx);
    void *ctx;
};

static CK_RV call_once(const void *arg, bool *ret_retry)
{
    const struct call *k = arg;
    struct conn *c = NULL;
    CK_RV rv;

    *ret_retry = false;
    if ((rv = conn_get(&c)) != CKR_OK) {
        return rv;
    }
    buf_reset(c->out);
    if (k->encode(c->out, k->req) != 0) {
        rv = k->encode_rv;
    } else if ((rv = exchange(c, k->type)) == CKR_OK) {
        rv = k->decode(c->in, k->reply) == 0 ? k->use(k->reply, k->ctx) : CKR_DEVICE_ERROR;
    }
    /* agentd closes idle connections: a pooled one may be dead before it is used. */
    *ret_retry = c->is_broken && c->is_reused;
    conn_put(c);
    return rv;
}

static CK_RV call_do(const struct call *k)
{
    return with_retry(call_once, k, msg_lookup(k->type)->name);
}

static int enc_empty(struct buf *out, const void *req)
{
    (void)req;
    return msg_empty_request_encode(out);
}

static int dec_list(struct buf *in, void *reply)
{
    return msg_list_objects_reply_decode(in, reply);
}

static CK_RV use_list(void *reply, void *ctx)
{
    return list_copy(reply, ctx);
}

CK_RV client_list(struct client_list **ret)
{
    struct msg_list_objects_reply *rep = malloc(sizeof(*rep)); /* ~19 KiB */
    struct client_list *l = calloc(1, sizeof(*l));
    struct call k = {
        MSG_LIST_OBJECTS, CKR_HOST_MEMORY, enc_empty, NULL, dec_list, rep, use_list, l};
    CK_RV rv = CKR_HOST_MEMORY;

    if (rep != NULL && l != NULL && (rv = call_do(&k)) == CKR_OK) {
        *ret = l;
        l = NULL;
    }
    client_list_free(l);
    free(rep);
    return rv;
}

/* Output buffer for a byte-string reply. */
struct out_bytes {
    uint8_t *ptr;
    size_t max;
    size_t *ret_len;
    size_t want; /* 0: any length up to max */
};

static CK_RV use_bytes(struct msg_bytes b, struct out_bytes *o)
{
    if (b.len > o->max || (o->want != 0 && b.len != o->want)) {
        return CKR_DEVICE_ERROR;
    }
    memcpy(o->ptr, b.ptr, b.len);
    if (o->ret_len != NULL) {
        *o->ret_len = b.len;
    }
    return CKR_OK;
}

static int enc_sign(struct buf *out, const void *req)
{
    return msg_sign_request_encode(out, req);
}

static int dec_sign(struct buf *in, void *reply)
{
    return msg_sign_reply_decode(in, reply);
}

static CK_RV use_sign(void *reply, void *ctx)
{
    return use_bytes(((struct msg_sign_reply *)reply)->signature, ctx);
}

CK_RV client_sign(const char *key, uint64_t mech, const struct client_pss *pss, const uint8_t *data,
                  size_t len, uint8_t *sig, size_t *ret_sig_len)
{
    struct msg_sign_request req = {
        msg_str_c(key), mech, {pss->hash, pss->mgf, pss->salt_len}, msg_bytes_of(data, len)};
    struct msg_sign_reply rep;
    struct out_bytes o = {sig, SIGNATURE_MAX, ret_sig_len, 0};
    struct call k = {MSG_SIGN, CKR_DATA_LEN_RANGE, enc_sign, &req, dec_sign, &rep, use_sign, &o};

    return call_do(&k);
}

static int enc_verify(struct buf *out, const void *req)
{
    return msg_verify_request_encode(out, req);
}

static int dec_verify(struct buf *in, void *reply)
{
    return msg_verify_reply_decode(in, reply);
}

static CK_RV use_verify(void *reply, void *ctx)
{
    *(bool *)ctx = ((struct msg_verify_reply *)reply)->is_valid;
    return CKR_OK;
}

CK_RV client_verify(const char *key, uint64_t mech, const struct client_pss *pss,
                    const uint8_t *data, size_t len, const uint8_t *sig, size_t sig_len,
                    bool *ret_is_valid)
{
    struct msg_verify_request req = {msg_str_c(key),
                                     mech,
                                     {pss->hash, pss->mgf, pss->salt_len},
                                     msg_bytes_of(data, len),
                                     msg_bytes_of(sig, sig_len)};
    struct msg_verify_reply rep;
    struct call k = {MSG_VERIFY, CKR_DATA_LEN_RANGE, enc_verify,  &req, dec_verify,
                     &rep,       use_verify,         ret_is_valid};

    return call_do(&k);
}

static int enc_digest(struct buf *out, const void *req)
{
    return msg_digest_request_encode(out, req);
}

static int dec_digest(struct buf *in, void *reply)
{
    return msg_digest_reply_decode(in, reply);
}

static CK_RV use_digest(void *reply, void *ctx)
{
    return use_bytes(((struct msg_digest_reply *)reply)->digest, ctx);
}

CK_RV client_digest(uint64_t mech, const uint8_t *data, size_t len, uint8_t *out, size_t *ret_len)
{
    struct msg_digest_request req = {mech, msg_bytes_of(data, len)};
    struct msg_digest_reply rep;
    struct out_bytes o = {out, DIGEST_MAX, ret_len, 0};
    struct call k = {MSG_DIGEST, CKR_DATA_LEN_RANGE, enc_digest, &req, dec_digest,
                     &rep,       use_digest,         &o};

    return call_do(&k);
}

static int enc_random(struct buf *out, const void *req)
{
    return msg_random_request_encode(out, req);
}

static int dec_random(struct buf *in, void *reply)
{
    return msg_random_reply_decode(in, reply);
}

static CK_RV use_random(void *reply, void *ctx)
{
    return use_bytes(((struct msg_random_reply *)reply)->random, ctx);
}

CK_RV client_random(uint8_t *out, size_t len)
{
    CK_RV rv = CKR_OK;

    while (len > 0 && rv == CKR_OK) {
        size_t n = len < RANDOM_MAX ? len : RANDOM_MAX;
        struct msg_random_request req = {(uint32_t)n};
        struct msg_random_reply rep;
        struct out_bytes o = {out, n, NULL, n};
        struct call k = {MSG_RANDOM, CKR_HOST_MEMORY, enc_random, &req, dec_random,
                         &rep,       use_random,      &o};

        rv = call_do(&k);
        out += n;
        len -= n;
    }
    return rv;
}

static int enc_generate(struct buf *out, const void *req)
{
    return msg_generate_key_request_encode(out, req);
}

static int dec_generate(struct buf *in, void *reply)
{
    return msg_generate_key_reply_decode(in, reply);
}

static CK_RV use_generate(void *reply, void *ctx)
{
    const struct msg_generate_key_reply *r = reply;

    return key_copy(&r->key, ctx) == 0 ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV client_generate(const char *name, uint64_t key_type, uint32_t bits,
                      struct client_key *ret_key)
{
    struct msg_generate_key_request req = {msg_str_c(name), key_type, bits};
    struct msg_generate_key_reply rep;
    struct call k = {MSG_GENERATE_KEY, CKR_ATTRIBUTE_VALUE_INVALID,
                     enc_generate,     &req,
                     dec_generate,     &rep,
                     use_generate,     ret_key};

    return call_do(&k);
}

static int enc_destroy(struct buf *out, const void *req)
{
    return msg_destroy_key_request_encode(out, req);
}

static int dec_empty(struct buf *in, void *reply)
{
    (void)reply;
    return msg_empty_reply_decode(in);
}

static CK_RV use_nothing(void *reply, void *ctx)
{
    (void)reply, (void)ctx;
    return CKR_OK;
}

CK_RV client_destroy(const char *key)
{
    struct msg_destroy_key_request req = {msg_str_c(key)};
    struct call k = {
        MSG_DESTROY_KEY, CKR_HOST_MEMORY, enc_destroy, &req, dec_empty, NULL, use_nothing, NULL};

    return call_do(&k);
}
