#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "module.h"
#include "wire.h"

/*
 * Why a pool and not one multiplexed socket: a multiplexer needs either a
 * reader thread inside the application (bad across fork() and dlclose()) or
 * callers taking turns reading and routing each other's replies. agentd
 * serialises TPM work anyway, so one connection per concurrent caller costs
 * one fd each and keeps every call a plain write-then-read on its own socket.
 * Idle connections are kept (up to POOL_IDLE_MAX) so a warm call is one
 * write and one read.
 */
#define POOL_IDLE_MAX 8
#define DEFAULT_SOCKET "/run/agentd/agentd.sock"
#define CLIENT_VERSION 1

struct conn {
    int fd;
    bool is_busy;
    struct conn *next;
};

static struct conn *conns;     /* every open connection; guarded by the module mutex */
static atomic_uint request_id; /* per process; echoed in replies */

static const char *socket_path(void)
{
    const char *p = getenv("AGENTD_SOCKET");

    return (p != NULL && p[0] != '\0') ? p : DEFAULT_SOCKET;
}

CK_RV client_rv_from_status(uint32_t status)
{
    switch (status) {
    case WIRE_OK:
        return CKR_OK;
    case WIRE_BAD_REQUEST:
        return CKR_ARGUMENTS_BAD;
    case WIRE_DENIED:
    case WIRE_RATE_LIMITED:
        return CKR_FUNCTION_REJECTED;
    case WIRE_NOT_FOUND:
        return CKR_KEY_HANDLE_INVALID;
    case WIRE_MECHANISM_INVALID:
        return CKR_MECHANISM_INVALID;
    case WIRE_DATA_LEN_RANGE:
        return CKR_DATA_LEN_RANGE;
    case WIRE_KEY_TYPE:
        return CKR_KEY_TYPE_INCONSISTENT;
    case WIRE_UNSUPPORTED:
        return CKR_FUNCTION_NOT_SUPPORTED;
    case WIRE_NO_MEMORY:
        return CKR_DEVICE_MEMORY;
    case WIRE_EXISTS:
        return CKR_ATTRIBUTE_VALUE_INVALID;
    case WIRE_MECHANISM_PARAM:
        return CKR_MECHANISM_PARAM_INVALID;
    case WIRE_TPM_ERROR:
    case WIRE_BUSY:
    case WIRE_VERSION_MISMATCH:
        return CKR_DEVICE_ERROR;
    case WIRE_INTERNAL:
    default:
        return CKR_GENERAL_ERROR;
    }
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One request/reply on fd. The reply body (after status) is left in *reply. */
static CK_RV exchange(int fd, uint8_t type, const struct wire *body, struct wire *reply)
{
    uint8_t hdr[WIRE_HEADER_LEN];
    struct wire_header h;
    uint32_t id = atomic_fetch_add(&request_id, 1) + 1;
    uint32_t status;
    CK_RV rv = CKR_DEVICE_ERROR;

    wire_header_encode(type, id, body->len, hdr);
    if (write_all(fd, hdr, sizeof(hdr)) != 0 || write_all(fd, body->ptr, body->len) != 0) {
        module_debug("agentd: write failed: %s", strerror(errno));
        return CKR_DEVICE_ERROR;
    }
    if (read_all(fd, hdr, sizeof(hdr)) != 0 || wire_header_decode(hdr, &h) != 0 ||
        h.type != (type | WIRE_REPLY) || h.request_id != id ||
        wire_reserve(reply, h.body_len) != 0 || read_all(fd, reply->ptr, h.body_len) != 0) {
        module_debug("agentd: bad or missing reply to type 0x%02x", type);
        return CKR_DEVICE_ERROR;
    }
    reply->len = h.body_len;
    if (wire_get_u32(reply, &status) != 0) {
        return CKR_DEVICE_ERROR;
    }
    rv = client_rv_from_status(status);
    if (rv != CKR_OK) {
        module_debug("agentd: type 0x%02x status %u", type, status);
    }
    return rv;
}

static int conn_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = socket_path();
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        module_debug("agentd: connect %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static CK_RV hello(int fd, struct client_info *ret_info)
{
    struct wire body = {0}, reply = {0};
    struct client_info info = {0};
    uint32_t version;
    CK_RV rv;

    if (wire_put_u32(&body, CLIENT_VERSION) != 0 ||        /* version_min */
        wire_put_u32(&body, CLIENT_VERSION) != 0 ||        /* version_max */
        wire_put_string(&body, "libagentd-pkcs11") != 0) { /* client_name */
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if ((rv = exchange(fd, WIRE_HELLO, &body, &reply)) != CKR_OK) {
        goto out;
    }
    if (wire_get_u32(&reply, &version) != 0 ||                                       /* version */
        wire_get_cstring(&reply, info.token_label, sizeof(info.token_label)) != 0 || /* label */
        wire_get_cstring(&reply, info.manufacturer, sizeof(info.manufacturer)) != 0 ||
        wire_get_cstring(&reply, info.serial, sizeof(info.serial)) != 0 || /* serial */
        wire_get_cstring(&reply, info.daemon_version, sizeof(info.daemon_version)) != 0 ||
        wire_expect_end(&reply) != 0 || version != CLIENT_VERSION) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    if (ret_info != NULL) {
        *ret_info = info;
    }
out:
    wire_free(&body);
    wire_free(&reply);
    return rv;
}

/* Take an idle connection or open a new one (HELLO included). */
static CK_RV conn_get(struct conn **ret)
{
    struct conn *c;
    CK_RV rv;
    int fd;

    module_lock();
    for (c = conns; c != NULL && c->is_busy; c = c->next) {
    }
    if (c != NULL) {
        c->is_busy = true;
    }
    module_unlock();
    if (c != NULL) {
        *ret = c;
        return CKR_OK;
    }
    if ((fd = conn_connect()) < 0) {
        return CKR_DEVICE_ERROR;
    }
    if ((rv = hello(fd, NULL)) != CKR_OK || (c = calloc(1, sizeof(*c))) == NULL) {
        close(fd);
        return rv != CKR_OK ? rv : CKR_HOST_MEMORY;
    }
    c->fd = fd;
    c->is_busy = true;
    module_lock();
    c->next = conns;
    conns = c;
    module_unlock();
    *ret = c;
    return CKR_OK;
}

/* Return c to the pool; a broken one (is_ok false) or one over the idle cap is closed. */
static void conn_put(struct conn *c, bool is_ok)
{
    struct conn **pp;
    size_t idle = 0;

    module_lock();
    for (pp = &conns; *pp != NULL; pp = &(*pp)->next) {
        idle += (*pp)->is_busy ? 0 : 1;
    }
    c->is_busy = false;
    if (is_ok && c->fd >= 0 && idle < POOL_IDLE_MAX) {
        module_unlock();
        return;
    }
    for (pp = &conns; *pp != NULL && *pp != c; pp = &(*pp)->next) {
    }
    if (*pp == c) {
        *pp = c->next;
    }
    module_unlock();
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c);
}

/* A transport failure (not a status the daemon sent) means the socket is unusable. */
static CK_RV call(uint8_t type, const struct wire *body, struct wire *reply)
{
    struct conn *c = NULL;
    CK_RV rv;

    if ((rv = conn_get(&c)) != CKR_OK) {
        return rv;
    }
    rv = exchange(c->fd, type, body, reply);
    conn_put(c, rv != CKR_DEVICE_ERROR);
    return rv;
}

CK_RV client_open(struct client_info *ret_info)
{
    struct conn *c = NULL;
    CK_RV rv;
    int fd;

    if ((fd = conn_connect()) < 0) {
        return CKR_DEVICE_ERROR;
    }
    if ((rv = hello(fd, ret_info)) != CKR_OK || (c = calloc(1, sizeof(*c))) == NULL) {
        close(fd);
        return rv != CKR_OK ? rv : CKR_HOST_MEMORY;
    }
    c->fd = fd;
    module_lock();
    c->next = conns;
    conns = c;
    module_unlock();
    return CKR_OK;
}

void client_close(bool is_child)
{
    struct conn *c, *next;
    struct conn *busy = NULL;

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
        close(c->fd);
        free(c);
    }
    conns = busy;
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

static int get_blob(struct wire *w, size_t max, struct blob *b)
{
    return wire_get_bytes_dup(w, max, &b->ptr, &b->len);
}

static int key_decode(struct wire *w, struct client_key *k)
{
    if (wire_get_cstring(w, k->name, sizeof(k->name)) != 0 || /* name */
        get_blob(w, 64, &k->id) != 0 ||                       /* id */
        wire_get_u64(w, &k->key_type) != 0 ||                 /* key_type */
        wire_get_u32(w, &k->bits) != 0 ||                     /* bits */
        wire_get_u64(w, &k->mech_mask) != 0 ||                /* mech_mask */
        get_blob(w, 2048, &k->spki) != 0 ||                   /* spki */
        get_blob(w, 64, &k->ec_params) != 0 ||                /* ec_params */
        get_blob(w, 256, &k->ec_point) != 0 ||                /* ec_point */
        get_blob(w, 512, &k->modulus) != 0 ||                 /* modulus */
        get_blob(w, 16, &k->exponent) != 0 ||                 /* public_exponent */
        get_blob(w, WIRE_CERT_MAX, &k->cert) != 0 ||          /* cert */
        get_blob(w, 1024, &k->cert_subject) != 0 ||           /* cert_subject */
        get_blob(w, 1024, &k->cert_issuer) != 0 ||            /* cert_issuer */
        get_blob(w, 64, &k->cert_serial) != 0) {              /* cert_serial */
        client_key_clear(k);
        return -1;
    }
    return 0;
}

static int ca_decode(struct wire *w, struct client_ca *ca)
{
    if (wire_get_cstring(w, ca->label, sizeof(ca->label)) != 0 || /* label */
        get_blob(w, WIRE_CERT_MAX, &ca->cert) != 0 ||             /* cert */
        get_blob(w, 1024, &ca->subject) != 0 ||                   /* subject */
        get_blob(w, 1024, &ca->issuer) != 0 ||                    /* issuer */
        get_blob(w, 64, &ca->serial) != 0) {                      /* serial */
        ca_clear(ca);
        return -1;
    }
    return 0;
}

static int list_decode(struct wire *w, struct client_list *l)
{
    uint32_t n;

    if (wire_get_u32(w, &n) != 0 || n > WIRE_KEYS_MAX) { /* n_keys */
        return -1;
    }
    if (n > 0 && (l->keys = calloc(n, sizeof(*l->keys))) == NULL) {
        return -1;
    }
    for (; l->n_keys < n; l->n_keys++) {
        if (key_decode(w, &l->keys[l->n_keys]) != 0) {
            return -1;
        }
    }
    if (wire_get_u32(w, &n) != 0 || n > WIRE_CAS_MAX) { /* n_cas */
        return -1;
    }
    if (n > 0 && (l->cas = calloc(n, sizeof(*l->cas))) == NULL) {
        return -1;
    }
    for (; l->n_cas < n; l->n_cas++) {
        if (ca_decode(w, &l->cas[l->n_cas]) != 0) {
            return -1;
        }
    }
    return wire_expect_end(w);
}

CK_RV client_list(struct client_list **ret)
{
    struct wire body = {0}, reply = {0};
    struct client_list *l = NULL;
    CK_RV rv;

    if ((rv = call(WIRE_LIST_OBJECTS, &body, &reply)) != CKR_OK) {
        goto out;
    }
    if ((l = calloc(1, sizeof(*l))) == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (list_decode(&reply, l) != 0) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    *ret = l;
    l = NULL;
out:
    client_list_free(l);
    wire_free(&reply);
    return rv;
}

static int put_key_mech(struct wire *w, const char *key, uint64_t mech,
                        const struct client_pss *pss)
{
    return wire_put_string(w, key) != 0 ||             /* key */
                   wire_put_u64(w, mech) != 0 ||       /* mechanism */
                   wire_put_u64(w, pss->hash) != 0 ||  /* pss hash_mech */
                   wire_put_u64(w, pss->mgf) != 0 ||   /* pss mgf */
                   wire_put_u64(w, pss->salt_len) != 0 /* pss salt_len */
               ? -1
               : 0;
}

CK_RV client_sign(const char *key, uint64_t mech, const struct client_pss *pss, const uint8_t *data,
                  size_t len, uint8_t *sig, size_t *ret_sig_len)
{
    struct wire body = {0}, reply = {0};
    const uint8_t *p;
    size_t n;
    CK_RV rv;

    if (put_key_mech(&body, key, mech, pss) != 0 || wire_put_bytes(&body, data, len) != 0) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if ((rv = call(WIRE_SIGN, &body, &reply)) != CKR_OK) {
        goto out;
    }
    if (wire_get_bytes_ref(&reply, CLIENT_SIG_MAX, &p, &n) != 0 || /* signature */
        wire_expect_end(&reply) != 0) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    memcpy(sig, p, n);
    *ret_sig_len = n;
out:
    wire_free(&body);
    wire_free(&reply);
    return rv;
}

CK_RV client_verify(const char *key, uint64_t mech, const struct client_pss *pss,
                    const uint8_t *data, size_t len, const uint8_t *sig, size_t sig_len,
                    bool *ret_is_valid)
{
    struct wire body = {0}, reply = {0};
    uint8_t valid;
    CK_RV rv;

    if (put_key_mech(&body, key, mech, pss) != 0 || wire_put_bytes(&body, data, len) != 0 ||
        wire_put_bytes(&body, sig, sig_len) != 0) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if ((rv = call(WIRE_VERIFY, &body, &reply)) != CKR_OK) {
        goto out;
    }
    if (wire_get_u8(&reply, &valid) != 0 || /* valid */
        wire_expect_end(&reply) != 0 || valid > 1) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    *ret_is_valid = valid == 1;
out:
    wire_free(&body);
    wire_free(&reply);
    return rv;
}

CK_RV client_digest(uint64_t mech, const uint8_t *data, size_t len, uint8_t *out, size_t *ret_len)
{
    struct wire body = {0}, reply = {0};
    const uint8_t *p;
    size_t n;
    CK_RV rv;

    if (wire_put_u64(&body, mech) != 0 || wire_put_bytes(&body, data, len) != 0) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if ((rv = call(WIRE_DIGEST, &body, &reply)) != CKR_OK) {
        goto out;
    }
    if (wire_get_bytes_ref(&reply, 64, &p, &n) != 0 || /* digest */
        wire_expect_end(&reply) != 0) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    memcpy(out, p, n);
    *ret_len = n;
out:
    wire_free(&body);
    wire_free(&reply);
    return rv;
}

static CK_RV random_chunk(uint8_t *out, size_t len)
{
    struct wire body = {0}, reply = {0};
    const uint8_t *p;
    size_t n;
    CK_RV rv;

    if (wire_put_u32(&body, (uint32_t)len) != 0) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if ((rv = call(WIRE_RANDOM, &body, &reply)) != CKR_OK) {
        goto out;
    }
    if (wire_get_bytes_ref(&reply, CLIENT_RANDOM_MAX, &p, &n) != 0 || /* random */
        wire_expect_end(&reply) != 0 || n != len) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    memcpy(out, p, n);
out:
    wire_free(&body);
    wire_free(&reply);
    return rv;
}

CK_RV client_random(uint8_t *out, size_t len)
{
    CK_RV rv = CKR_OK;

    while (len > 0 && rv == CKR_OK) {
        size_t n = len < CLIENT_RANDOM_MAX ? len : CLIENT_RANDOM_MAX;

        rv = random_chunk(out, n);
        out += n;
        len -= n;
    }
    return rv;
}

CK_RV client_generate(const char *name, uint64_t key_type, uint32_t bits,
                      struct client_key *ret_key)
{
    struct wire body = {0}, reply = {0};
    struct client_key k = {0};
    CK_RV rv;

    if (wire_put_string(&body, name) != 0 || wire_put_u64(&body, key_type) != 0 ||
        wire_put_u32(&body, bits) != 0) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if ((rv = call(WIRE_GENERATE_KEY, &body, &reply)) != CKR_OK) {
        goto out;
    }
    if (key_decode(&reply, &k) != 0 || wire_expect_end(&reply) != 0) {
        client_key_clear(&k);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    *ret_key = k;
out:
    wire_free(&body);
    wire_free(&reply);
    return rv;
}

CK_RV client_destroy(const char *key)
{
    struct wire body = {0}, reply = {0};
    CK_RV rv;

    if (wire_put_string(&body, key) != 0) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if ((rv = call(WIRE_DESTROY_KEY, &body, &reply)) != CKR_OK) {
        goto out;
    }
    if (wire_expect_end(&reply) != 0) {
        rv = CKR_DEVICE_ERROR;
    }
out:
    wire_free(&body);
    wire_free(&reply);
    return rv;
}
