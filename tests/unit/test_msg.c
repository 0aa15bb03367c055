/*
 * proto/msg*.c, status.c, mech.c.
 *
 * Every decoder is checked against an independent schema written from
 * proto/README.md (the strings below): a body built from the schema decodes;
 * every strict prefix is AD_ERR_SHORT; one trailing byte is AD_ERR_TRAILING;
 * each variable field at its maximum decodes, at maximum + 1 is
 * AD_ERR_TOO_LARGE, at zero length decodes; a NUL inside a string is
 * AD_ERR_FORMAT. Then decode(encode(m)) == m for every request and reply,
 * the table-index test, and the range checks of single fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf_mech.h"
#include "frame.h"
#include "mech.h"
#include "msg.h"
#include "status.h"

/* ---- schemas: u8 u32 u64, s<max> string, b<max> bytes, S status OK ---- */

#define KEY_REC "s64 b64 u64 u32 u64 b2048 b64 b256 b512 b16 b8192 b1024 b1024 b64"
#define CA_REC "s64 b8192 b1024 b1024 b64"

struct schema {
    uint8_t type;
    int is_reply;
    const char *fields;
};

static const struct schema schemas[] = {
    {MSG_HELLO, 0, "u32 u32 s64"},
    {MSG_WHOAMI, 0, ""},
    {MSG_LIST_OBJECTS, 0, ""},
    {MSG_SIGN, 0, "s64 u64 u64 u64 u64 b65536"},
    {MSG_VERIFY, 0, "s64 u64 u64 u64 u64 b65536 b1024"},
    {MSG_DIGEST, 0, "u64 b65536"},
    {MSG_RANDOM, 0, "u32"},
    {MSG_GENERATE_KEY, 0, "s64 u64 u32"},
    {MSG_DESTROY_KEY, 0, "s64"},
    {MSG_ADMIN_STATUS, 0, ""},
    {MSG_ADMIN_WORKLOADS, 0, ""},
    {MSG_ADMIN_KEYS, 0, "s128"},
    {MSG_ADMIN_KEY_CREATE, 0, "s128 s64 u64 u32"},
    {MSG_ADMIN_KEY_DELETE, 0, "s128 s64"},
    {MSG_ADMIN_AUDIT_TAIL, 0, "u32"},
    {MSG_ADMIN_ENROLL, 0, "u32"},
    {MSG_HELLO, 1, "S u32 s32 s32 s16 s64"},
    {MSG_WHOAMI, 1, "S u32 u32 u32 s4096 b32 s4096 s128 s2048 s16"},
    {MSG_LIST_OBJECTS, 1, "S u32 " KEY_REC " u32 " CA_REC},
    {MSG_SIGN, 1, "S b1024"},
    {MSG_VERIFY, 1, "S u8"},
    {MSG_DIGEST, 1, "S b64"},
    {MSG_RANDOM, 1, "S b4096"},
    {MSG_GENERATE_KEY, 1, "S " KEY_REC},
    {MSG_DESTROY_KEY, 1, "S"},
    {MSG_ADMIN_STATUS, 1, "S s200000"},
    {MSG_ADMIN_WORKLOADS, 1, "S s200000"},
    {MSG_ADMIN_KEYS, 1, "S s200000"},
    {MSG_ADMIN_KEY_CREATE, 1, "S s200000"},
    {MSG_ADMIN_KEY_DELETE, 1, "S s200000"},
    {MSG_ADMIN_AUDIT_TAIL, 1, "S s200000"},
    {MSG_ADMIN_ENROLL, 1, "S s200000"},
};
#define N_SCHEMAS (sizeof(schemas) / sizeof(schemas[0]))

enum mode {
    M_SMALL, /* every variable field 3 bytes (or its max when smaller) */
    M_MAX,   /* every variable field at its max */
    M_OVER,  /* field `which` at max + 1 */
    M_ZERO,  /* field `which` empty */
    M_NUL,   /* field `which` 3 bytes with a NUL in the middle */
};

/* Build a body; returns the number of variable fields; *ret_kind[i] is 's' or 'b'. */
static size_t build(const struct schema *s, enum mode mode, size_t which, struct buf *out,
                    char *ret_kinds)
{
    const char *p = s->fields;
    size_t var = 0;
    size_t max;
    size_t len;
    char *end;
    uint8_t *payload;

    buf_reset(out);
    while (*p != '\0') {
        if (*p == ' ') {
            p++;
            continue;
        }
        if (*p == 'S') {
            assert_int_equal(buf_put_u32(out, STATUS_OK), 0);
            p++;
        } else if (strncmp(p, "u8", 2) == 0) {
            assert_int_equal(buf_put_u8(out, 1), 0);
            p += 2;
        } else if (strncmp(p, "u32", 3) == 0) {
            assert_int_equal(buf_put_u32(out, 1), 0); /* 1 is valid for every u32 field */
            p += 3;
        } else if (strncmp(p, "u64", 3) == 0) {
            assert_int_equal(buf_put_u64(out, 1), 0);
            p += 3;
        } else {
            assert_true(*p == 's' || *p == 'b');
            if (ret_kinds != NULL) {
                ret_kinds[var] = *p;
            }
            max = strtoul(p + 1, &end, 10);
            len = mode == M_MAX ? max : (max < 3 ? max : 3);
            if (var == which) {
                len = mode == M_OVER ? max + 1 : mode == M_ZERO ? 0 : len;
            }
            payload = malloc(len + 1);
            assert_non_null(payload);
            memset(payload, 'a', len);
            if (mode == M_NUL && var == which && len > 1) {
                payload[1] = 0;
            }
            assert_int_equal(buf_put_u32(out, (uint32_t)len), 0);
            assert_int_equal(buf_put_raw(out, payload, len), 0);
            free(payload);
            var++;
            p = end;
        }
    }
    return var;
}

static int decode(const struct schema *s, const uint8_t *p, size_t len)
{
    union msg_request req;
    static union msg_reply rep; /* ~19 KiB: not on the test stack */
    struct buf in;

    buf_init_static(&in, p, len);
    if (s->is_reply) {
        return msg_reply_decode(s->type, &in, &rep);
    }
    return msg_request_decode(s->type, &in, &req);
}

static const char *sname(const struct schema *s)
{
    static char name[64];

    snprintf(name, sizeof(name), "%s %s", msg_lookup(s->type)->name,
             s->is_reply ? "reply" : "request");
    return name;
}

static void expect(const struct schema *s, const char *what, int got, int want)
{
    if (got != want) {
        fail_msg("%s, %s: got %d (%s), want %d", sname(s), what, got, ad_strerror(got), want);
    }
}

static void test_schema_valid_and_truncated(void **state)
{
    struct buf *b = buf_new(2 * FRAME_MAX);
    uint8_t *copy;

    (void)state;
    assert_non_null(b);
    for (size_t i = 0; i < N_SCHEMAS; i++) {
        const struct schema *s = &schemas[i];

        (void)build(s, M_SMALL, SIZE_MAX, b, NULL);
        expect(s, "valid body", decode(s, buf_data(b), buf_len(b)), 0);
        for (size_t n = 0; n < buf_len(b); n++) {
            expect(s, "truncated", decode(s, buf_data(b), n), AD_ERR_SHORT);
        }
        copy = malloc(buf_len(b) + 1);
        assert_non_null(copy);
        memcpy(copy, buf_data(b), buf_len(b));
        copy[buf_len(b)] = 0;
        expect(s, "trailing byte", decode(s, copy, buf_len(b) + 1), AD_ERR_TRAILING);
        free(copy);
    }
    buf_free(b);
}

static void test_schema_field_limits(void **state)
{
    struct buf *b = buf_new(2 * FRAME_MAX);
    char kinds[32];
    size_t n_var;

    (void)state;
    assert_non_null(b);
    for (size_t i = 0; i < N_SCHEMAS; i++) {
        const struct schema *s = &schemas[i];
        const struct msg_info *info = msg_lookup(s->type);

        n_var = build(s, M_MAX, SIZE_MAX, b, kinds);
        expect(s, "all fields at max", decode(s, buf_data(b), buf_len(b)), 0);
        /* the table's max size is the schema's maximum (LIST_OBJECTS: one record each) */
        if (s->type != MSG_LIST_OBJECTS || !s->is_reply) {
            assert_int_equal(buf_len(b), s->is_reply ? info->reply_max : info->request_max);
        }
        for (size_t f = 0; f < n_var; f++) {
            (void)build(s, M_OVER, f, b, NULL);
            expect(s, "field over max", decode(s, buf_data(b), buf_len(b)), AD_ERR_TOO_LARGE);
            (void)build(s, M_ZERO, f, b, NULL);
            expect(s, "zero-length field", decode(s, buf_data(b), buf_len(b)), 0);
            (void)build(s, M_NUL, f, b, NULL);
            expect(s, "NUL in field", decode(s, buf_data(b), buf_len(b)),
                   kinds[f] == 's' ? AD_ERR_FORMAT : 0);
        }
    }
    buf_free(b);
}

static void test_table_index(void **state)
{
    size_t n = 0;

    (void)state;
    for (size_t i = 0; i < MSG_TABLE_LEN; i++) {
        if (msg_table[i].name == NULL) {
            assert_null(msg_lookup((uint8_t)i));
            continue;
        }
        assert_int_equal(msg_table[i].type, i);
        assert_ptr_equal(msg_lookup((uint8_t)i), &msg_table[i]);
        assert_ptr_equal(msg_lookup((uint8_t)(i | 0x80)), &msg_table[i]);
        assert_true(msg_table[i].request_max <= FRAME_BODY_MAX);
        assert_true(msg_table[i].reply_max <= FRAME_BODY_MAX);
        assert_int_equal(msg_table[i].is_admin, i >= 0x20);
        n++;
    }
    assert_int_equal(n, 16);
    assert_null(msg_lookup(0x27));
    assert_null(msg_lookup(0xff));
    assert_string_equal(msg_lookup(MSG_SIGN)->name, "SIGN");
    /* every schema type is in the table, every table row has both schemas */
    for (size_t i = 0; i < N_SCHEMAS; i++) {
        assert_non_null(msg_lookup(schemas[i].type));
    }
    assert_int_equal(N_SCHEMAS, 2 * n);
}

static void test_unknown_type(void **state)
{
    union msg_request req;
    union msg_reply *rep = malloc(sizeof(*rep));
    struct buf in;

    (void)state;
    assert_non_null(rep);
    buf_init_static(&in, "", 0);
    assert_int_equal(msg_request_decode(0, &in, &req), AD_ERR_UNSUPPORTED);
    assert_int_equal(msg_request_decode(0x0a, &in, &req), AD_ERR_UNSUPPORTED);
    assert_int_equal(msg_reply_decode(0x1f, &in, rep), AD_ERR_UNSUPPORTED);
    free(rep);
}

/* ---- round trips ---- */

#define assert_str(a, b)                                                                           \
    do {                                                                                           \
        assert_int_equal((a).len, (b).len);                                                        \
        if ((a).len > 0) {                                                                         \
            assert_memory_equal((a).ptr, (b).ptr, (a).len);                                        \
        }                                                                                          \
    } while (0)

static struct buf *encoded;

static int setup(void **state)
{
    (void)state;
    encoded = buf_new(FRAME_MAX);
    return encoded == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    buf_free(encoded);
    return 0;
}

static struct buf *fresh(void)
{
    buf_reset(encoded);
    return encoded;
}

static const uint8_t blob[300] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0xff};

static void test_rt_hello(void **state)
{
    struct msg_hello_request q = {1, 3, msg_str_c("pkcs11 module")}, q2;
    struct msg_hello_reply p = {1, msg_str_c("agentd"), msg_str_c("maker"), msg_str_c("01ab"),
                                msg_str_c("0.1.0")},
                           p2;

    (void)state;
    assert_int_equal(msg_hello_request_encode(fresh(), &q), 0);
    assert_int_equal(msg_hello_request_decode(encoded, &q2), 0);
    assert_int_equal(q2.version_min, 1);
    assert_int_equal(q2.version_max, 3);
    assert_str(q2.client_name, q.client_name);
    assert_int_equal(msg_hello_reply_encode(fresh(), &p), 0);
    assert_int_equal(msg_hello_reply_decode(encoded, &p2), 0);
    assert_int_equal(p2.version, 1);
    assert_str(p2.token_label, p.token_label);
    assert_str(p2.manufacturer, p.manufacturer);
    assert_str(p2.serial, p.serial);
    assert_str(p2.daemon_version, p.daemon_version);
    /* version_min > version_max, version_min 0 */
    q.version_min = 4;
    assert_int_equal(msg_hello_request_encode(fresh(), &q), 0);
    assert_int_equal(msg_hello_request_decode(encoded, &q2), AD_ERR_INVALID);
    q.version_min = 0;
    assert_int_equal(msg_hello_request_encode(fresh(), &q), 0);
    assert_int_equal(msg_hello_request_decode(encoded, &q2), AD_ERR_INVALID);
    /* encoders refuse what decoders would refuse */
    q.client_name = msg_str_c(
        "an overly long client name that goes well past sixty-four bytes, so the encoder refuses");
    assert_int_equal(msg_hello_request_encode(fresh(), &q), AD_ERR_TOO_LARGE);
}

static void test_rt_whoami(void **state)
{
    struct msg_whoami_reply p = {4242,
                                 1000,
                                 1001,
                                 msg_str_c("/usr/bin/curl"),
                                 msg_bytes_of(blob, 32),
                                 msg_str_c("/system.slice/x.service"),
                                 msg_str_c("web"),
                                 msg_str_c("spiffe://example.org/web"),
                                 msg_str_c("gold")},
                            p2;

    (void)state;
    assert_int_equal(msg_empty_request_encode(fresh()), 0);
    assert_int_equal(buf_len(encoded), 0);
    assert_int_equal(msg_empty_request_decode(encoded), 0);
    assert_int_equal(msg_whoami_reply_encode(fresh(), &p), 0);
    assert_int_equal(msg_whoami_reply_decode(encoded, &p2), 0);
    assert_int_equal(p2.pid, 4242);
    assert_int_equal(p2.uid, 1000);
    assert_int_equal(p2.gid, 1001);
    assert_str(p2.exe, p.exe);
    assert_str(p2.exe_sha256, p.exe_sha256);
    assert_str(p2.cgroup, p.cgroup);
    assert_str(p2.entry, p.entry);
    assert_str(p2.spiffe_id, p.spiffe_id);
    assert_str(p2.tier, p.tier);
    p.exe_sha256 = msg_bytes_of(blob, 33);
    assert_int_equal(msg_whoami_reply_encode(fresh(), &p), AD_ERR_TOO_LARGE);
}

static void fill_key(struct msg_key_record *k, const char *name, int i)
{
    memset(k, 0, sizeof(*k));
    k->name = msg_str_c(name);
    k->id = msg_bytes_of(blob + i, 20);
    k->key_type = i % 2 ? PROTO_CKK_EC : PROTO_CKK_RSA;
    k->bits = i % 2 ? 256 : 2048;
    k->mech_mask = UINT64_C(0x7fff) >> i;
    k->spki = msg_bytes_of(blob, 91 + i);
    k->ec_params = msg_bytes_of(blob + 1, i % 2 ? 10 : 0);
    k->ec_point = msg_bytes_of(blob + 2, i % 2 ? 67 : 0);
    k->modulus = msg_bytes_of(blob + 3, i % 2 ? 0 : 256);
    k->public_exponent = msg_bytes_of(blob + 4, i % 2 ? 0 : 3);
    k->cert = msg_bytes_of(blob + 5, i == 0 ? 0 : 290);
    k->cert_subject = msg_bytes_of(blob + 6, 40);
    k->cert_issuer = msg_bytes_of(blob + 7, 41);
    k->cert_serial = msg_bytes_of(blob + 8, 9);
}

static void assert_key(const struct msg_key_record *a, const struct msg_key_record *b)
{
    assert_str(a->name, b->name);
    assert_str(a->id, b->id);
    assert_true(a->key_type == b->key_type);
    assert_int_equal(a->bits, b->bits);
    assert_true(a->mech_mask == b->mech_mask);
    assert_str(a->spki, b->spki);
    assert_str(a->ec_params, b->ec_params);
    assert_str(a->ec_point, b->ec_point);
    assert_str(a->modulus, b->modulus);
    assert_str(a->public_exponent, b->public_exponent);
    assert_str(a->cert, b->cert);
    assert_str(a->cert_subject, b->cert_subject);
    assert_str(a->cert_issuer, b->cert_issuer);
    assert_str(a->cert_serial, b->cert_serial);
}

static void test_rt_list_objects(void **state)
{
    struct msg_list_objects_reply *p = calloc(1, sizeof(*p));
    struct msg_list_objects_reply *p2 = calloc(1, sizeof(*p2));
    static const uint8_t over[] = {0, 0, 0, 0, 0, 0, 0, KEYS_MAX + 1};
    struct buf in;

    (void)state;
    assert_non_null(p);
    assert_non_null(p2);
    /* empty lists */
    assert_int_equal(msg_list_objects_reply_encode(fresh(), p), 0);
    assert_int_equal(msg_list_objects_reply_decode(encoded, p2), 0);
    assert_int_equal(p2->n_keys, 0);
    assert_int_equal(p2->n_cas, 0);
    p->n_keys = 5;
    for (int i = 0; i < 5; i++) {
        fill_key(&p->keys[i], i % 2 ? "ec-key" : "rsa-key", i);
    }
    p->n_cas = 2;
    for (int i = 0; i < 2; i++) {
        p->cas[i].label = msg_str_c(i ? "root" : "intermediate");
        p->cas[i].cert = msg_bytes_of(blob, 200 + i);
        p->cas[i].subject = msg_bytes_of(blob + 1, 30);
        p->cas[i].issuer = msg_bytes_of(blob + 2, 31);
        p->cas[i].serial = msg_bytes_of(blob + 3, 8);
    }
    assert_int_equal(msg_list_objects_reply_encode(fresh(), p), 0);
    assert_int_equal(msg_list_objects_reply_decode(encoded, p2), 0);
    assert_int_equal(p2->n_keys, 5);
    assert_int_equal(p2->n_cas, 2);
    for (int i = 0; i < 5; i++) {
        assert_key(&p2->keys[i], &p->keys[i]);
    }
    for (int i = 0; i < 2; i++) {
        assert_str(p2->cas[i].label, p->cas[i].label);
        assert_str(p2->cas[i].cert, p->cas[i].cert);
        assert_str(p2->cas[i].subject, p->cas[i].subject);
        assert_str(p2->cas[i].issuer, p->cas[i].issuer);
        assert_str(p2->cas[i].serial, p->cas[i].serial);
    }
    /* counts over the limit, both ways */
    p->n_keys = KEYS_MAX + 1;
    assert_int_equal(msg_list_objects_reply_encode(fresh(), p), AD_ERR_TOO_LARGE);
    p->n_keys = 0;
    p->n_cas = CAS_MAX + 1;
    assert_int_equal(msg_list_objects_reply_encode(fresh(), p), AD_ERR_TOO_LARGE);
    buf_init_static(&in, over, sizeof(over));
    assert_int_equal(msg_list_objects_reply_decode(&in, p2), AD_ERR_TOO_LARGE);
    free(p);
    free(p2);
}

static void test_rt_sign_verify(void **state)
{
    struct msg_sign_request q = {msg_str_c("k1"),
                                 PROTO_CKM_SHA256_RSA_PKCS_PSS,
                                 {PROTO_CKM_SHA256, PROTO_CKG_MGF1_SHA256, 32},
                                 msg_bytes_of(blob, 300)},
                            q2;
    struct msg_sign_reply p = {msg_bytes_of(blob, 256)}, p2;
    struct msg_verify_request v = {msg_str_c("k1"),
                                   PROTO_CKM_ECDSA,
                                   {0, 0, 0},
                                   msg_bytes_of(blob, 32),
                                   msg_bytes_of(blob, 64)},
                              v2;
    struct msg_verify_reply vr = {true}, vr2 = {false};
    static const uint8_t bad_valid[] = {0, 0, 0, 0, 2};
    struct buf in;

    (void)state;
    assert_int_equal(msg_sign_request_encode(fresh(), &q), 0);
    assert_int_equal(msg_sign_request_decode(encoded, &q2), 0);
    assert_str(q2.key, q.key);
    assert_true(q2.mechanism == q.mechanism);
    assert_true(q2.pss.hash_mech == q.pss.hash_mech && q2.pss.mgf == q.pss.mgf &&
                q2.pss.salt_len == q.pss.salt_len);
    assert_str(q2.data, q.data);
    assert_int_equal(msg_sign_reply_encode(fresh(), &p), 0);
    assert_int_equal(msg_sign_reply_decode(encoded, &p2), 0);
    assert_str(p2.signature, p.signature);
    assert_int_equal(msg_verify_request_encode(fresh(), &v), 0);
    assert_int_equal(msg_verify_request_decode(encoded, &v2), 0);
    assert_str(v2.key, v.key);
    assert_true(v2.mechanism == v.mechanism);
    assert_str(v2.data, v.data);
    assert_str(v2.signature, v.signature);
    assert_int_equal(msg_verify_reply_encode(fresh(), &vr), 0);
    assert_int_equal(msg_verify_reply_decode(encoded, &vr2), 0);
    assert_true(vr2.is_valid);
    vr.is_valid = false;
    assert_int_equal(msg_verify_reply_encode(fresh(), &vr), 0);
    assert_int_equal(msg_verify_reply_decode(encoded, &vr2), 0);
    assert_false(vr2.is_valid);
    buf_init_static(&in, bad_valid, sizeof(bad_valid));
    assert_int_equal(msg_verify_reply_decode(&in, &vr2), AD_ERR_FORMAT);
}

static void test_rt_digest_random(void **state)
{
    struct msg_digest_request q = {PROTO_CKM_SHA384, msg_bytes_of(blob, 0)}, q2;
    struct msg_digest_reply p = {msg_bytes_of(blob, 48)}, p2;
    struct msg_random_request r = {RANDOM_MAX}, r2;
    struct msg_random_reply rp = {msg_bytes_of(blob, 100)}, rp2;
    static const uint8_t zero[4] = {0, 0, 0, 0};
    static const uint8_t over[4] = {0, 0, 0x10, 0x01};
    struct buf in;

    (void)state;
    assert_int_equal(msg_digest_request_encode(fresh(), &q), 0);
    assert_int_equal(msg_digest_request_decode(encoded, &q2), 0);
    assert_true(q2.mechanism == PROTO_CKM_SHA384);
    assert_int_equal(q2.data.len, 0);
    assert_int_equal(msg_digest_reply_encode(fresh(), &p), 0);
    assert_int_equal(msg_digest_reply_decode(encoded, &p2), 0);
    assert_str(p2.digest, p.digest);
    assert_int_equal(msg_random_request_encode(fresh(), &r), 0);
    assert_int_equal(msg_random_request_decode(encoded, &r2), 0);
    assert_int_equal(r2.length, RANDOM_MAX);
    assert_int_equal(msg_random_reply_encode(fresh(), &rp), 0);
    assert_int_equal(msg_random_reply_decode(encoded, &rp2), 0);
    assert_str(rp2.random, rp.random);
    /* 0 and RANDOM_MAX + 1 are out of range both ways */
    r.length = 0;
    assert_int_equal(msg_random_request_encode(fresh(), &r), AD_ERR_INVALID);
    buf_init_static(&in, zero, 4);
    assert_int_equal(msg_random_request_decode(&in, &r2), AD_ERR_INVALID);
    buf_init_static(&in, over, 4);
    assert_int_equal(msg_random_request_decode(&in, &r2), AD_ERR_INVALID);
}

static void test_rt_generate_destroy(void **state)
{
    struct msg_generate_key_request q = {msg_str_c(""), PROTO_CKK_EC, 384}, q2;
    struct msg_generate_key_reply p, p2;
    struct msg_destroy_key_request d = {msg_str_c("old-key")}, d2;

    (void)state;
    fill_key(&p.key, "new-key", 1);
    assert_int_equal(msg_generate_key_request_encode(fresh(), &q), 0);
    assert_int_equal(msg_generate_key_request_decode(encoded, &q2), 0);
    assert_int_equal(q2.name.len, 0);
    assert_true(q2.key_type == PROTO_CKK_EC);
    assert_int_equal(q2.bits, 384);
    assert_int_equal(msg_generate_key_reply_encode(fresh(), &p), 0);
    assert_int_equal(msg_generate_key_reply_decode(encoded, &p2), 0);
    assert_key(&p2.key, &p.key);
    assert_int_equal(msg_destroy_key_request_encode(fresh(), &d), 0);
    assert_int_equal(msg_destroy_key_request_decode(encoded, &d2), 0);
    assert_str(d2.key, d.key);
    assert_int_equal(msg_empty_reply_encode(fresh()), 0);
    assert_int_equal(buf_len(encoded), 4);
    assert_int_equal(msg_empty_reply_decode(encoded), 0);
}

static void test_rt_admin(void **state)
{
    struct msg_admin_reply p = {msg_str_c("{\"keys\":[]}")}, p2;
    struct msg_admin_keys_request k = {msg_str_c("web")}, k2;
    struct msg_admin_key_create_request c = {msg_str_c("web"), msg_str_c("tls"), PROTO_CKK_RSA,
                                             3072},
                                        c2;
    struct msg_admin_key_delete_request d = {msg_str_c("web"), msg_str_c("tls")}, d2;
    struct msg_admin_audit_tail_request t = {AUDIT_TAIL_MAX}, t2;
    struct msg_admin_enroll_request en = {MSG_ENROLL_CERTS_ONLY}, en2 = {0};

    (void)state;
    assert_int_equal(msg_admin_reply_encode(fresh(), &p), 0);
    assert_int_equal(msg_admin_reply_decode(encoded, &p2), 0);
    assert_str(p2.json, p.json);
    assert_int_equal(msg_admin_keys_request_encode(fresh(), &k), 0);
    assert_int_equal(msg_admin_keys_request_decode(encoded, &k2), 0);
    assert_str(k2.entry, k.entry);
    assert_int_equal(msg_admin_key_create_request_encode(fresh(), &c), 0);
    assert_int_equal(msg_admin_key_create_request_decode(encoded, &c2), 0);
    assert_str(c2.entry, c.entry);
    assert_str(c2.name, c.name);
    assert_true(c2.key_type == c.key_type);
    assert_int_equal(c2.bits, 3072);
    assert_int_equal(msg_admin_key_delete_request_encode(fresh(), &d), 0);
    assert_int_equal(msg_admin_key_delete_request_decode(encoded, &d2), 0);
    assert_str(d2.entry, d.entry);
    assert_str(d2.name, d.name);
    assert_int_equal(msg_admin_audit_tail_request_encode(fresh(), &t), 0);
    assert_int_equal(msg_admin_audit_tail_request_decode(encoded, &t2), 0);
    assert_int_equal(t2.count, AUDIT_TAIL_MAX);
    t.count = AUDIT_TAIL_MAX + 1;
    assert_int_equal(msg_admin_audit_tail_request_encode(fresh(), &t), AD_ERR_INVALID);
    assert_int_equal(buf_put_u32(fresh(), 0), 0);
    assert_int_equal(msg_admin_audit_tail_request_decode(encoded, &t2), AD_ERR_INVALID);
    assert_int_equal(msg_admin_enroll_request_encode(fresh(), &en), 0);
    assert_int_equal(msg_admin_enroll_request_decode(encoded, &en2), 0);
    assert_int_equal(en2.flags, MSG_ENROLL_CERTS_ONLY);
    en.flags = 0;
    assert_int_equal(msg_admin_enroll_request_encode(fresh(), &en), 0);
    assert_int_equal(msg_admin_enroll_request_decode(encoded, &en2), 0);
    assert_int_equal(en2.flags, 0);
    /* an undefined flag bit is refused both ways */
    en.flags = 0x2;
    assert_int_equal(msg_admin_enroll_request_encode(fresh(), &en), AD_ERR_INVALID);
    assert_int_equal(buf_put_u32(fresh(), 0x80000000u), 0);
    assert_int_equal(msg_admin_enroll_request_decode(encoded, &en2), AD_ERR_INVALID);
}

static void test_error_reply(void **state)
{
    struct msg_error e;
    struct msg_sign_reply sr;
    char longmsg[300];
    uint32_t status;

    (void)state;
    assert_int_equal(msg_error_encode(fresh(), STATUS_DENIED, "policy says no"), 0);
    assert_int_equal(msg_status_peek(encoded, &status), 0);
    assert_int_equal(status, STATUS_DENIED);
    assert_int_equal(buf_remaining(encoded), 4 + 4 + 14); /* peek does not move */
    /* a reply decoder refuses an error body */
    {
        struct buf copy = *encoded;

        assert_int_equal(msg_sign_reply_decode(&copy, &sr), AD_ERR_FORMAT);
    }
    assert_int_equal(msg_error_decode(encoded, &e), 0);
    assert_int_equal(e.status, STATUS_DENIED);
    assert_true(msg_str_eq(e.message, "policy says no"));
    /* NULL message, OK status refused */
    assert_int_equal(msg_error_encode(fresh(), STATUS_BUSY, NULL), 0);
    assert_int_equal(msg_error_decode(encoded, &e), 0);
    assert_int_equal(e.message.len, 0);
    assert_int_equal(msg_error_encode(fresh(), STATUS_OK, "x"), AD_ERR_INVALID);
    assert_int_equal(buf_put_u32(fresh(), STATUS_OK), 0);
    assert_int_equal(buf_put_string(encoded, ""), 0);
    assert_int_equal(msg_error_decode(encoded, &e), AD_ERR_FORMAT);
    /* long message: cut at 256 bytes without splitting a UTF-8 sequence */
    memset(longmsg, 'a', sizeof(longmsg));
    memcpy(longmsg + 255, "\xc3\xa9", 2); /* U+00E9 across the 256-byte boundary */
    longmsg[sizeof(longmsg) - 1] = 0;
    assert_int_equal(msg_error_encode(fresh(), STATUS_INTERNAL, longmsg), 0);
    assert_int_equal(msg_error_decode(encoded, &e), 0);
    assert_int_equal(e.message.len, 255);
    /* empty body */
    buf_reset(fresh());
    assert_int_equal(msg_status_peek(encoded, &status), AD_ERR_SHORT);
}

static void test_status(void **state)
{
    (void)state;
    assert_int_equal(status_from_err(AD_OK), STATUS_OK);
    assert_int_equal(status_from_err(AD_ERR_SHORT), STATUS_BAD_REQUEST);
    assert_int_equal(status_from_err(AD_ERR_TRAILING), STATUS_BAD_REQUEST);
    assert_int_equal(status_from_err(AD_ERR_TOO_LARGE), STATUS_BAD_REQUEST);
    assert_int_equal(status_from_err(AD_ERR_INVALID), STATUS_BAD_REQUEST);
    assert_int_equal(status_from_err(AD_ERR_DENIED), STATUS_DENIED);
    assert_int_equal(status_from_err(AD_ERR_NOT_FOUND), STATUS_NOT_FOUND);
    assert_int_equal(status_from_err(AD_ERR_TPM), STATUS_TPM_ERROR);
    assert_int_equal(status_from_err(AD_ERR_TPM_RETRY), STATUS_BUSY);
    assert_int_equal(status_from_err(AD_ERR_RATE), STATUS_RATE_LIMITED);
    assert_int_equal(status_from_err(AD_ERR_NOMEM), STATUS_NO_MEMORY);
    assert_int_equal(status_from_err(AD_ERR_EXISTS), STATUS_EXISTS);
    assert_int_equal(status_from_err(AD_ERR_UNSUPPORTED), STATUS_UNSUPPORTED);
    assert_int_equal(status_from_err(AD_ERR_SYSTEM), STATUS_INTERNAL);
    assert_int_equal(status_from_err(-1000), STATUS_INTERNAL);
    for (int e = AD_OK; e >= AD_ERR_MIN; e--) {
        assert_true(status_from_err(e) < STATUS_COUNT);
    }
    for (uint32_t s = 0; s < STATUS_COUNT; s++) {
        assert_string_not_equal(status_name(s), "UNKNOWN");
        assert_true(status_to_err(s) <= 0 && status_to_err(s) >= AD_ERR_MIN);
        assert_int_equal(status_to_err(s) == 0, s == STATUS_OK);
    }
    assert_string_equal(status_name(STATUS_MECHANISM_PARAM), "MECHANISM_PARAM");
    assert_string_equal(status_name(STATUS_COUNT), "UNKNOWN");
    assert_int_equal(status_to_err(STATUS_VERSION), AD_ERR_UNSUPPORTED);
}

static void test_mech_table(void **state)
{
    /* The mech_mask bit of each row is part of the protocol: pin every one
     * (same order as conf/conf_mech.c and pkcs11/mech.c). */
    static const char *const order[] = {
        "RSA_PKCS",
        "RSA_PKCS_PSS",
        "SHA256_RSA_PKCS",
        "SHA384_RSA_PKCS",
        "SHA512_RSA_PKCS",
        "SHA256_RSA_PKCS_PSS",
        "SHA384_RSA_PKCS_PSS",
        "SHA512_RSA_PKCS_PSS",
        "ECDSA",
        "ECDSA_SHA256",
        "ECDSA_SHA384",
        "ECDSA_SHA512",
        "SHA256",
        "SHA384",
        "SHA512",
    };
    const struct mech *m;

    (void)state;
    assert_int_equal(mech_count(), sizeof(order) / sizeof(order[0]));
    for (size_t i = 0; i < mech_count(); i++) {
        m = mech_at(i);
        assert_string_equal(m->name, order[i]);
        assert_ptr_equal(mech_by_name(order[i]), m);
        assert_ptr_equal(mech_by_ckm(m->ckm), m);
        assert_int_equal(mech_index(m), i);
        assert_true(mech_bit(m) == UINT64_C(1) << i);
    }
    assert_null(mech_at(mech_count()));
    assert_null(mech_by_name("CKM_ECDSA"));
    assert_null(mech_by_ckm(0x1042));
    m = mech_by_ckm(PROTO_CKM_ECDSA_SHA384);
    assert_int_equal(m->digest, MECH_DIGEST_SHA384);
    assert_true(mech_allows_key(m, PROTO_CKK_EC));
    assert_false(mech_allows_key(m, PROTO_CKK_RSA));
    assert_false(mech_allows_key(mech_by_name("SHA256"), PROTO_CKK_RSA));
    assert_false(mech_by_name("ECDSA")->is_multipart);
    assert_true(mech_by_name("SHA256_RSA_PKCS")->is_multipart);
    assert_int_equal(mech_digest_len(MECH_DIGEST_SHA512), 64);
    assert_true(mech_digest_ckm(MECH_DIGEST_SHA256) == PROTO_CKM_SHA256);
    assert_true(mech_digest_mgf(MECH_DIGEST_SHA384) == PROTO_CKG_MGF1_SHA384);
}

/* conf/ keeps its own copy of the mechanism names (it validates config files without
 * proto/): the rows, and so the mech_mask bits, must be the same. */
static void test_mech_matches_conf(void **state)
{
    const struct conf_mech *c;
    const struct mech *m;

    (void)state;
    for (unsigned i = 0; (c = conf_mech_at(i)) != NULL || mech_at(i) != NULL; i++) {
        m = mech_at(i);
        if (c == NULL || m == NULL) {
            fail_msg("row %u exists in only one of conf_mech and mech", i);
        }
        assert_string_equal(c->name, m->name);
        assert_true(c->ckm == m->ckm);
        assert_int_equal(c->is_sign, m->is_sign);
        if (m->is_sign) {
            assert_true(c->key_type == m->key_type);
        }
    }
    /* every proto key type is accepted by the config */
    for (size_t i = 0; i < mech_key_type_count(); i++) {
        assert_true(conf_key_type_valid(mech_key_type_at(i)->key_type, mech_key_type_at(i)->bits));
    }
}

static void test_mech_pss(void **state)
{
    const struct mech *raw = mech_by_name("RSA_PKCS_PSS");
    const struct mech *s256 = mech_by_name("SHA256_RSA_PKCS_PSS");
    const struct mech *ec = mech_by_name("ECDSA");

    (void)state;
    assert_int_equal(mech_check_pss(ec, 0, 0, 0), 0);
    assert_int_equal(mech_check_pss(ec, PROTO_CKM_SHA256, 0, 0), AD_ERR_INVALID);
    assert_int_equal(mech_check_pss(raw, PROTO_CKM_SHA384, PROTO_CKG_MGF1_SHA384, 48), 0);
    assert_int_equal(mech_check_pss(raw, PROTO_CKM_SHA384, PROTO_CKG_MGF1_SHA256, 48),
                     AD_ERR_INVALID);
    assert_int_equal(mech_check_pss(raw, 0, 0, 0), AD_ERR_INVALID);
    assert_int_equal(mech_check_pss(s256, PROTO_CKM_SHA256, PROTO_CKG_MGF1_SHA256, 32), 0);
    assert_int_equal(mech_check_pss(s256, PROTO_CKM_SHA256, PROTO_CKG_MGF1_SHA256, 33),
                     AD_ERR_INVALID);
    assert_int_equal(mech_check_pss(s256, PROTO_CKM_SHA512, PROTO_CKG_MGF1_SHA512, 64),
                     AD_ERR_INVALID);
}

static void test_key_types(void **state)
{
    const struct mech_key_type *k;

    (void)state;
    assert_int_equal(mech_key_type_count(), 4);
    k = mech_key_type_by_name("rsa-3072");
    assert_non_null(k);
    assert_true(k->key_type == PROTO_CKK_RSA);
    assert_int_equal(k->bits, 3072);
    assert_ptr_equal(mech_key_type_find(PROTO_CKK_EC, 384), mech_key_type_by_name("ec-p384"));
    assert_null(mech_key_type_find(PROTO_CKK_EC, 521));
    assert_null(mech_key_type_by_name("rsa-1024"));
    assert_null(mech_key_type_at(4));
    for (size_t i = 0; i < mech_key_type_count(); i++) {
        assert_ptr_equal(mech_key_type_by_name(mech_key_type_at(i)->name), mech_key_type_at(i));
    }
}

/* ---- seed corpora for tests/fuzz (checked in; this test keeps them current) ---- */

/* Write data to PROTO_CORPUS_DIR/sub/name when PROTO_WRITE_CORPUS is set, else check
 * the checked-in file holds exactly these bytes. */
static void seed(const char *sub, const char *name, const uint8_t *data, size_t len)
{
    char path[512];
    uint8_t *have = malloc(len + 1);
    FILE *f;
    size_t n;

    assert_non_null(have);
    snprintf(path, sizeof(path), "%s/%s/%s", PROTO_CORPUS_DIR, sub, name);
    if (getenv("PROTO_WRITE_CORPUS") != NULL) {
        assert_non_null(f = fopen(path, "wb"));
        assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
        free(have);
        return;
    }
    if ((f = fopen(path, "rb")) == NULL) {
        fail_msg("%s missing: run test_msg with PROTO_WRITE_CORPUS=1", path);
    }
    n = fread(have, 1, len + 1, f);
    fclose(f);
    if (n != len || memcmp(have, data, len) != 0) {
        fail_msg("%s is stale: run test_msg with PROTO_WRITE_CORPUS=1", path);
    }
    free(have);
}

/* "ADMIN_KEY_CREATE" -> "admin_key_create" plus suffix. */
static const char *seed_name(uint8_t type, const char *suffix)
{
    static char name[64];
    size_t i;

    for (i = 0; i < 40 && msg_lookup(type)->name[i] != '\0'; i++) {
        char c = msg_lookup(type)->name[i];

        name[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    snprintf(name + i, sizeof(name) - i, "%s", suffix);
    return name;
}

static void seed_typed(const char *sub, uint8_t type, const char *suffix, const uint8_t *body,
                       size_t len)
{
    uint8_t *p = malloc(len + 1);

    assert_non_null(p);
    p[0] = type;
    memcpy(p + 1, body, len);
    seed(sub, seed_name(type, suffix), p, len + 1);
    free(p);
}

static void test_corpus(void **state)
{
    struct buf *b = buf_new(FRAME_MAX);
    struct buf *frame = buf_new(FRAME_MAX);
    struct buf *stream = buf_new(FRAME_MAX);
    static const uint8_t too_large[] = {0, 0x04, 0, 0, PROTO_VERSION, MSG_SIGN, 0, 0, 0, 1};
    static const uint8_t bad_version[] = {0, 0, 0, 6, 2, MSG_WHOAMI, 0, 0, 0, 1};

    (void)state;
    assert_non_null(b);
    assert_non_null(frame);
    assert_non_null(stream);
    for (size_t i = 0; i < N_SCHEMAS; i++) {
        const struct schema *s = &schemas[i];
        const char *sub = s->is_reply ? "reply" : "request";

        (void)build(s, M_SMALL, SIZE_MAX, b, NULL);
        seed_typed(sub, s->type, "", buf_data(b), buf_len(b));
        if (buf_len(b) > 2) {
            seed_typed(sub, s->type, ".trunc", buf_data(b), buf_len(b) / 2);
        }
        if (s->is_reply) {
            continue;
        }
        buf_reset(frame);
        assert_int_equal(frame_write(frame, s->type, (uint32_t)i + 1, buf_data(b), buf_len(b)), 0);
        seed("frame", seed_name(s->type, ""), buf_data(frame), buf_len(frame));
        assert_int_equal(buf_put_raw(stream, buf_data(frame), buf_len(frame)), 0);
    }
    buf_reset(b);
    assert_int_equal(msg_error_encode(b, STATUS_DENIED, "denied by policy"), 0);
    seed_typed("reply", MSG_SIGN, ".error", buf_data(b), buf_len(b));
    seed("frame", "stream", buf_data(stream), buf_len(stream));
    seed("frame", "stream.trunc", buf_data(stream), buf_len(stream) / 2 + 1);
    seed("frame", "too_large", too_large, sizeof(too_large));
    seed("frame", "bad_version", bad_version, sizeof(bad_version));
    buf_free(b);
    buf_free(frame);
    buf_free(stream);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_valid_and_truncated),
        cmocka_unit_test(test_schema_field_limits),
        cmocka_unit_test(test_table_index),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_rt_hello),
        cmocka_unit_test(test_rt_whoami),
        cmocka_unit_test(test_rt_list_objects),
        cmocka_unit_test(test_rt_sign_verify),
        cmocka_unit_test(test_rt_digest_random),
        cmocka_unit_test(test_rt_generate_destroy),
        cmocka_unit_test(test_rt_admin),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_mech_table),
        cmocka_unit_test(test_mech_matches_conf),
        cmocka_unit_test(test_mech_pss),
        cmocka_unit_test(test_key_types),
        cmocka_unit_test(test_corpus),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
