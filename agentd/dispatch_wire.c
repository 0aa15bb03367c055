/* Wire glue of the dispatcher: reply encoders and request decoders (see dispatch_wire.h). */
#include "dispatch_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "frame.h"
#include "log.h"
#include "status.h"

#define REPLY_STACK 2048 /* sign, verify, digest, error replies fit: no malloc */

/* A reply under construction: a stack buffer, or a heap one for large replies. */
struct reply {
    struct buf stack_buf;
    uint8_t mem[REPLY_STACK];
    struct buf *b;
    struct buf *heap;
    size_t mark;
    int r;
};
static void reply_begin(struct reply *rp, uint8_t type, uint32_t id, bool is_large)
{
    rp->heap = NULL;
    if (is_large) {
        rp->heap = buf_new(FRAME_MAX);
        rp->b = rp->heap;
    } else {
        buf_init_fixed(&rp->stack_buf, rp->mem, sizeof(rp->mem));
        rp->b = &rp->stack_buf;
    }
    rp->r = rp->b == NULL ? AD_ERR_NOMEM
                          : frame_begin(rp->b, (uint8_t)(type | FRAME_REPLY), id, &rp->mark);
}

static int reply_send(struct reply *rp, struct conn *c)
{
    int r = rp->r;

    if (r == 0 && (r = frame_end(rp->b, rp->mark)) == 0) {
        r = conn_send(c, buf_ptr(rp->b), buf_remaining(rp->b));
    }
    if (r != 0) {
        log_error("dispatch: reply not sent: %s", ad_strerror(r));
    }
    buf_free(rp->heap);
    return r;
}

int glue_send_error(struct conn *c, uint8_t type, uint32_t id, uint32_t status, const char *msg)
{
    struct reply rp;

    reply_begin(&rp, type, id, false);
    if (rp.r == 0) {
        rp.r = msg_error_encode(rp.b, status, msg);
    }
    return reply_send(&rp, c);
}

int glue_send_protocol_error(struct conn *c, const struct frame_info *h, int err)
{
    /* Only an unknown type leaves a header we can trust enough to answer. */
    if (!h->has_ids) {
        return AD_OK;
    }
    return glue_send_error(c, h->type & (uint8_t)~FRAME_REPLY, h->request_id, STATUS_BAD_REQUEST,
                           ad_strerror(err));
}

int glue_send_bytes(struct conn *c, uint8_t type, uint32_t id, const uint8_t *p, size_t n)
{
    struct reply rp;

    reply_begin(&rp, type, id, n > 1024);
    if (rp.r == 0) {
        switch (type) {
        case MT_SIGN:
            rp.r = msg_sign_reply_encode(rp.b, &(struct msg_sign_reply){msg_bytes_of(p, n)});
            break;
        case MT_DIGEST:
            rp.r = msg_digest_reply_encode(rp.b, &(struct msg_digest_reply){msg_bytes_of(p, n)});
            break;
        default:
            rp.r = msg_random_reply_encode(rp.b, &(struct msg_random_reply){msg_bytes_of(p, n)});
            break;
        }
    }
    return reply_send(&rp, c);
}

int glue_send_u8(struct conn *c, uint8_t type, uint32_t id, uint8_t v)
{
    struct reply rp;

    reply_begin(&rp, type, id, false);
    if (rp.r == 0) {
        rp.r = msg_verify_reply_encode(rp.b, &(struct msg_verify_reply){v != 0});
    }
    return reply_send(&rp, c);
}

int glue_send_empty(struct conn *c, uint8_t type, uint32_t id)
{
    struct reply rp;

    reply_begin(&rp, type, id, false);
    if (rp.r == 0) {
        rp.r = msg_empty_reply_encode(rp.b);
    }
    return reply_send(&rp, c);
}

int glue_send_text(struct conn *c, uint8_t type, uint32_t id, const char *text)
{
    struct reply rp;

    reply_begin(&rp, type, id, true);
    if (rp.r == 0) {
        rp.r = msg_admin_reply_encode(rp.b, &(struct msg_admin_reply){msg_str_c(text)});
    }
    return reply_send(&rp, c);
}

int glue_send_hello(struct conn *c, uint8_t type, uint32_t id, const char *label,
                    const char *version)
{
    struct msg_hello_reply m = {
        .version = PROTO_VERSION,
        .token_label = msg_str_c(label),
        .manufacturer = msg_str_c("agentd"),
        .serial = msg_str_c("0000000000000001"),
        .daemon_version = msg_str_c(version),
    };
    struct reply rp;

    reply_begin(&rp, type, id, false);
    if (rp.r == 0) {
        rp.r = msg_hello_reply_encode(rp.b, &m);
    }
    return reply_send(&rp, c);
}

int glue_send_whoami(struct conn *c, uint8_t type, uint32_t id, const struct caller_facts *f,
                     const struct workload_entry *e)
{
    struct msg_whoami_reply m = {
        .pid = (uint32_t)f->pid,
        .uid = (uint32_t)f->uid,
        .gid = (uint32_t)f->gid,
        .exe = msg_str_c(f->exe),
        .exe_sha256 = msg_bytes_of(f->exe_sha256, f->has_sha256 ? 32 : 0),
        .cgroup = msg_str_c(f->cgroup),
        .entry = msg_str_c(e != NULL ? e->name : NULL),
        .spiffe_id = msg_str_c(e != NULL ? e->spiffe_id : NULL),
        .tier = msg_str_c(e != NULL ? conf_tier_name(e->tier) : NULL),
    };
    struct reply rp;

    reply_begin(&rp, type, id, true);
    if (rp.r == 0) {
        rp.r = msg_whoami_reply_encode(rp.b, &m);
    }
    return reply_send(&rp, c);
}

static void keyrec_of(const struct keystore_pub *p, uint64_t mask, struct msg_key_record *k)
{
    memset(k, 0, sizeof(*k));
    k->name = msg_str_c(p->name);
    k->id = msg_bytes_of(p->id, sizeof(p->id));
    k->key_type = p->key_type;
    k->bits = p->bits;
    k->mech_mask = mask;
    k->spki = msg_bytes_of(p->spki, p->spki_len);
    k->ec_params = msg_bytes_of(p->ec_params, p->ec_params_len);
    k->ec_point = msg_bytes_of(p->ec_point, p->ec_point_len);
    k->modulus = msg_bytes_of(p->modulus, p->modulus_len);
    k->public_exponent = msg_bytes_of(p->exponent, p->exponent_len);
    /* Empty when no certificate was issued (or it expired: keystore_list drops it). */
    k->cert = msg_bytes_of(p->cert.der, p->cert.der_len);
    k->cert_subject = msg_bytes_of(p->cert.subject, p->cert.subject_len);
    k->cert_issuer = msg_bytes_of(p->cert.issuer, p->cert.issuer_len);
    k->cert_serial = msg_bytes_of(p->cert.serial, p->cert.serial_len);
}

/* A trust-bundle certificate: labelled by its position (the module shows it as a CA). */
static void carec_of(const struct certinfo *ci, size_t i, char *label, size_t size,
                     struct msg_ca_record *ret)
{
    snprintf(label, size, "agentd trust bundle %zu", i + 1);
    memset(ret, 0, sizeof(*ret));
    ret->label = msg_str_c(label);
    ret->cert = msg_bytes_of(ci->der, ci->der_len);
    ret->subject = msg_bytes_of(ci->subject, ci->subject_len);
    ret->issuer = msg_bytes_of(ci->issuer, ci->issuer_len);
    ret->serial = msg_bytes_of(ci->serial, ci->serial_len);
}

int glue_send_keyrec(struct conn *c, uint8_t type, uint32_t id, const struct keystore_pub *p,
                     uint64_t mask)
{
    struct msg_generate_key_reply m;
    struct reply rp;

    keyrec_of(p, mask, &m.key);
    reply_begin(&rp, type, id, true);
    if (rp.r == 0) {
        rp.r = msg_generate_key_reply_encode(rp.b, &m);
    }
    return reply_send(&rp, c);
}

int glue_send_list(struct conn *c, uint8_t type, uint32_t id, const struct workload_entry *e,
                   const struct keystore_pub *p, size_t n,
                   uint64_t (*mask)(const struct workload_entry *, const struct keystore_pub *),
                   const struct certinfo *cas, size_t n_cas)
{
    struct msg_list_objects_reply *m = calloc(1, sizeof(*m));
    char labels[CAS_MAX][CA_LABEL_MAX + 1];
    int64_t now = (int64_t)time(NULL);
    struct reply rp;
    int r;

    if (m == NULL) {
        return glue_send_error(c, type, id, STATUS_NO_MEMORY, "out of memory");
    }
    if (n > KEYS_MAX) {
        log_warn("dispatch: entry %s has %zu keys; listing the first %u", e->name, n, KEYS_MAX);
        n = KEYS_MAX;
    }
    m->n_keys = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        keyrec_of(&p[i], mask(e, &p[i]), &m->keys[i]);
    }
    for (size_t i = 0; i < n_cas && m->n_cas < CAS_MAX; i++) {
        if (cas[i].not_after > now) { /* an expired CA certificate is not listed either */
            carec_of(&cas[i], i, labels[m->n_cas], sizeof(labels[0]), &m->cas[m->n_cas]);
            m->n_cas++;
        }
    }
    reply_begin(&rp, type, id, true);
    if (rp.r == 0) {
        rp.r = msg_list_objects_reply_encode(rp.b, m);
    }
    r = reply_send(&rp, c);
    free(m);
    return r;
}

/* Copy a borrowed wire string into a NUL-terminated fixed buffer (size > max). */
static int str_in(struct msg_str s, char *out, size_t size)
{
    if (s.len >= size || memchr(s.ptr, '\0', s.len) != NULL) {
        return AD_ERR_FORMAT;
    }
    memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return AD_OK;
}

int glue_sign_decode(const uint8_t *body, size_t n, bool is_verify, struct glue_sign *m)
{
    struct buf in;
    struct msg_sign_request s;
    struct msg_verify_request v;
    int r;

    memset(m, 0, sizeof(*m));
    buf_init_static(&in, body, n);
    if (is_verify) {
        if ((r = msg_verify_request_decode(&in, &v)) != 0) {
            return r;
        }
        s.key = v.key;
        s.mechanism = v.mechanism;
        s.pss = v.pss;
        s.data = v.data;
        m->sig = v.signature.ptr;
        m->sig_len = v.signature.len;
    } else if ((r = msg_sign_request_decode(&in, &s)) != 0) {
        return r;
    }
    m->mechanism = s.mechanism;
    m->pss.hash_mech = s.pss.hash_mech;
    m->pss.mgf = s.pss.mgf;
    m->pss.salt_len = s.pss.salt_len;
    m->data = s.data.ptr;
    m->data_len = s.data.len;
    return str_in(s.key, m->key, sizeof(m->key));
}

int glue_digest_decode(const uint8_t *body, size_t n, struct glue_digest *m)
{
    struct buf in;
    struct msg_digest_request d;
    int r;

    buf_init_static(&in, body, n);
    if ((r = msg_digest_request_decode(&in, &d)) != 0) {
        return r;
    }
    m->mechanism = d.mechanism;
    m->data = d.data.ptr;
    m->data_len = d.data.len;
    return AD_OK;
}

int glue_random_decode(const uint8_t *body, size_t n, uint32_t *ret)
{
    struct buf in;
    struct msg_random_request m;
    int r;

    buf_init_static(&in, body, n);
    if ((r = msg_random_request_decode(&in, &m)) != 0) {
        return r;
    }
    *ret = m.length;
    return AD_OK;
}

int glue_empty_decode(const uint8_t *body, size_t n)
{
    struct buf in;

    buf_init_static(&in, body, n);
    return msg_empty_request_decode(&in);
}

int glue_generate_decode(const uint8_t *body, size_t n, struct glue_generate *m)
{
    struct buf in;
    struct msg_generate_key_request g;
    int r;

    buf_init_static(&in, body, n);
    if ((r = msg_generate_key_request_decode(&in, &g)) != 0) {
        return r;
    }
    m->key_type = g.key_type;
    m->bits = g.bits;
    return str_in(g.name, m->name, sizeof(m->name));
}

int glue_key_decode(const uint8_t *body, size_t n, struct glue_key *m)
{
    struct buf in;
    struct msg_destroy_key_request d;
    int r;

    buf_init_static(&in, body, n);
    if ((r = msg_destroy_key_request_decode(&in, &d)) != 0) {
        return r;
    }
    return str_in(d.key, m->key, sizeof(m->key));
}

int glue_hello_decode(const uint8_t *body, size_t n, uint32_t *vmin, uint32_t *vmax)
{
    struct buf in;
    struct msg_hello_request h;
    int r;

    buf_init_static(&in, body, n);
    if ((r = msg_hello_request_decode(&in, &h)) != 0) {
        return r;
    }
    *vmin = h.version_min;
    *vmax = h.version_max;
    return AD_OK;
}

int glue_admin_decode(uint8_t type, const uint8_t *body, size_t n, struct glue_admin *m)
{
    union msg_request rq;
    struct buf in;
    int r;

    memset(m, 0, sizeof(*m));
    buf_init_static(&in, body, n);
    if ((r = msg_request_decode(type, &in, &rq)) != 0) {
        return r;
    }
    switch (type) {
    case MT_ADMIN_KEYS:
        return str_in(rq.admin_keys.entry, m->entry, sizeof(m->entry));
    case MT_ADMIN_KEY_CREATE:
        m->key_type = rq.admin_key_create.key_type;
        m->bits = rq.admin_key_create.bits;
        if ((r = str_in(rq.admin_key_create.entry, m->entry, sizeof(m->entry))) != 0) {
            return r;
        }
        return str_in(rq.admin_key_create.name, m->key, sizeof(m->key));
    case MT_ADMIN_KEY_DELETE:
        if ((r = str_in(rq.admin_key_delete.entry, m->entry, sizeof(m->entry))) != 0) {
            return r;
        }
        return str_in(rq.admin_key_delete.name, m->key, sizeof(m->key));
    case MT_ADMIN_AUDIT_TAIL:
        m->count = rq.admin_audit_tail.count;
        return AD_OK;
    case MT_ADMIN_ENROLL:
        m->flags = rq.admin_enroll.flags;
        return AD_OK;
    default:
        return AD_OK;
    }
}

const char *glue_admin_op_name(uint8_t type)
{
    switch (type) {
    case MT_ADMIN_STATUS:
        return "admin_status";
    case MT_ADMIN_WORKLOADS:
        return "admin_workloads";
    case MT_ADMIN_KEYS:
        return "admin_keys";
    case MT_ADMIN_KEY_CREATE:
        return "admin_key_create";
    case MT_ADMIN_KEY_DELETE:
        return "admin_key_delete";
    case MT_ADMIN_AUDIT_TAIL:
        return "admin_audit_tail";
    case MT_ADMIN_ENROLL:
        return "admin_enroll";
    default:
        return "admin";
    }
}
