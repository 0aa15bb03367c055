#include "msg.h"

#include <stdlib.h>
#include <string.h>

#include "msg_priv.h"

/* Wire sizes of the fields, for the table's max sizes. */
#define S(max) (4 + (size_t)(max)) /* string(max) or bytes(max) */
#define U32 4
#define U64 8
#define PSS (3 * U64)
#define STATUS_LEN U32
#define KEY_RECORD_MAX                                                                             \
    (S(KEY_NAME_MAX) + S(KEY_ID_MAX) + U64 + U32 + U64 + S(SPKI_MAX) + S(EC_PARAMS_MAX) +          \
     S(EC_POINT_MAX) + S(MODULUS_MAX) + S(PUBLIC_EXPONENT_MAX) + S(CERT_MAX) +                     \
     2 * S(CERT_NAME_MAX) + S(CERT_SERIAL_MAX))
#define CA_RECORD_MAX (S(CA_LABEL_MAX) + S(CERT_MAX) + 2 * S(CERT_NAME_MAX) + S(CERT_SERIAL_MAX))
#define LIST_REPLY_FULL                                                                            \
    (STATUS_LEN + U32 + KEYS_MAX * KEY_RECORD_MAX + U32 + CAS_MAX * CA_RECORD_MAX)
/* The worst-case LIST_OBJECTS reply does not fit a frame (README): cap it. */
#define CAP(n) ((n) > FRAME_BODY_MAX ? (size_t)FRAME_BODY_MAX : (size_t)(n))
#define ADMIN_REPLY (STATUS_LEN + S(ADMIN_TEXT_MAX))

/* Index = type (a unit test checks it); unused rows stay zero. */
const struct msg_info msg_table[MSG_TABLE_LEN] = {
    [MSG_HELLO] = {MSG_HELLO, "HELLO", false, U32 + U32 + S(CLIENT_NAME_MAX),
                   STATUS_LEN + U32 + S(TOKEN_LABEL_MAX) + S(MANUFACTURER_MAX) + S(SERIAL_MAX) +
                       S(DAEMON_VERSION_MAX)},
    [MSG_WHOAMI] = {MSG_WHOAMI, "WHOAMI", false, 0,
                    STATUS_LEN + 3 * U32 + S(EXE_MAX) + S(EXE_SHA256_LEN) + S(CGROUP_MAX) +
                        S(ENTRY_MAX) + S(SPIFFE_ID_MAX) + S(TIER_MAX)},
    [MSG_LIST_OBJECTS] = {MSG_LIST_OBJECTS, "LIST_OBJECTS", false, 0, CAP(LIST_REPLY_FULL)},
    [MSG_SIGN] = {MSG_SIGN, "SIGN", false, S(KEY_NAME_MAX) + U64 + PSS + S(SIGN_INPUT_MAX),
                  STATUS_LEN + S(SIGNATURE_MAX)},
    [MSG_VERIFY] = {MSG_VERIFY, "VERIFY", false,
                    S(KEY_NAME_MAX) + U64 + PSS + S(SIGN_INPUT_MAX) + S(SIGNATURE_MAX),
                    STATUS_LEN + 1},
    [MSG_DIGEST] = {MSG_DIGEST, "DIGEST", false, U64 + S(SIGN_INPUT_MAX),
                    STATUS_LEN + S(DIGEST_MAX)},
    [MSG_RANDOM] = {MSG_RANDOM, "RANDOM", false, U32, STATUS_LEN + S(RANDOM_MAX)},
    [MSG_GENERATE_KEY] = {MSG_GENERATE_KEY, "GENERATE_KEY", false, S(KEY_NAME_MAX) + U64 + U32,
                          STATUS_LEN + KEY_RECORD_MAX},
    [MSG_DESTROY_KEY] = {MSG_DESTROY_KEY, "DESTROY_KEY", false, S(KEY_NAME_MAX), STATUS_LEN},
    [MSG_ADMIN_STATUS] = {MSG_ADMIN_STATUS, "ADMIN_STATUS", true, 0, ADMIN_REPLY},
    [MSG_ADMIN_WORKLOADS] = {MSG_ADMIN_WORKLOADS, "ADMIN_WORKLOADS", true, 0, ADMIN_REPLY},
    [MSG_ADMIN_KEYS] = {MSG_ADMIN_KEYS, "ADMIN_KEYS", true, S(ENTRY_MAX), ADMIN_REPLY},
    [MSG_ADMIN_KEY_CREATE] = {MSG_ADMIN_KEY_CREATE, "ADMIN_KEY_CREATE", true,
                              S(ENTRY_MAX) + S(KEY_NAME_MAX) + U64 + U32, ADMIN_REPLY},
    [MSG_ADMIN_KEY_DELETE] = {MSG_ADMIN_KEY_DELETE, "ADMIN_KEY_DELETE", true,
                              S(ENTRY_MAX) + S(KEY_NAME_MAX), ADMIN_REPLY},
    [MSG_ADMIN_AUDIT_TAIL] = {MSG_ADMIN_AUDIT_TAIL, "ADMIN_AUDIT_TAIL", true, U32, ADMIN_REPLY},
    [MSG_ADMIN_ENROLL] = {MSG_ADMIN_ENROLL, "ADMIN_ENROLL", true, U32, ADMIN_REPLY},
};

const struct msg_info *msg_lookup(uint8_t type)
{
    uint8_t t = type & (uint8_t)~0x80u;

    if (t >= MSG_TABLE_LEN || msg_table[t].name == NULL) {
        return NULL;
    }
    return &msg_table[t];
}

struct msg_str msg_str_c(const char *s)
{
    struct msg_str r = {s != NULL ? s : "", s != NULL ? strlen(s) : 0};

    return r;
}

struct msg_bytes msg_bytes_of(const void *p, size_t len)
{
    struct msg_bytes r = {p, len};

    return r;
}

bool msg_str_eq(struct msg_str a, const char *s)
{
    size_t n = strlen(s);

    return a.len == n && (n == 0 || memcmp(a.ptr, s, n) == 0);
}

char *msg_str_dup(struct msg_str s)
{
    char *p = malloc(s.len + 1);

    if (p == NULL) {
        return NULL;
    }
    if (s.len > 0) {
        memcpy(p, s.ptr, s.len);
    }
    p[s.len] = '\0';
    return p;
}

int msg_put_str(struct buf *out, struct msg_str s, size_t max)
{
    if (s.len > max) {
        return AD_ERR_TOO_LARGE;
    }
    return buf_put_string_len(out, s.ptr, s.len);
}

int msg_put_bytes(struct buf *out, struct msg_bytes b, size_t max)
{
    if (b.len > max) {
        return AD_ERR_TOO_LARGE;
    }
    return buf_put_bytes(out, b.ptr, b.len);
}

int msg_get_str(struct buf *in, size_t max, struct msg_str *ret)
{
    return buf_get_string_ref(in, max, &ret->ptr, &ret->len);
}

int msg_get_bytes(struct buf *in, size_t max, struct msg_bytes *ret)
{
    return buf_get_bytes_ref(in, max, &ret->ptr, &ret->len);
}

int msg_put_ok(struct buf *out)
{
    return buf_put_u32(out, STATUS_OK);
}

int msg_get_ok(struct buf *in)
{
    uint32_t status;
    int r;

    if ((r = buf_get_u32(in, &status)) != 0) {
        return r;
    }
    return status == STATUS_OK ? AD_OK : AD_ERR_FORMAT;
}

int msg_status_peek(const struct buf *in, uint32_t *ret_status)
{
    struct buf copy = *in; /* a cursor copy: the caller's buffer does not move */

    return buf_get_u32(&copy, ret_status);
}

/* Longest prefix of s (at most max bytes) that does not split a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) {
        return len;
    }
    len = max;
    while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80) {
        len--;
    }
    return len;
}

int msg_error_encode(struct buf *out, uint32_t status, const char *message)
{
    struct msg_str m = msg_str_c(message);
    int r;

    if (status == STATUS_OK) {
        return AD_ERR_INVALID;
    }
    m.len = utf8_cut(m.ptr, m.len, STATUS_MESSAGE_MAX);
    if ((r = buf_put_u32(out, status)) != 0 || (r = msg_put_str(out, m, STATUS_MESSAGE_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_error_decode(struct buf *in, struct msg_error *ret)
{
    struct msg_error m;
    int r;

    if ((r = buf_get_u32(in, &m.status)) != 0 ||                      /* u32 status */
        (r = msg_get_str(in, STATUS_MESSAGE_MAX, &m.message)) != 0 || /* string(256) message */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    if (m.status == STATUS_OK) {
        return AD_ERR_FORMAT;
    }
    *ret = m;
    return AD_OK;
}

int msg_empty_request_encode(struct buf *out)
{
    (void)out;
    return AD_OK;
}

int msg_empty_request_decode(struct buf *in)
{
    return buf_expect_end(in);
}

int msg_empty_reply_encode(struct buf *out)
{
    return msg_put_ok(out);
}

int msg_empty_reply_decode(struct buf *in)
{
    int r;

    if ((r = msg_get_ok(in)) != 0 || /* u32 status */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_request_decode(uint8_t type, struct buf *in, union msg_request *ret)
{
    switch (type) {
    case MSG_HELLO:
        return msg_hello_request_decode(in, &ret->hello);
    case MSG_WHOAMI:
    case MSG_LIST_OBJECTS:
    case MSG_ADMIN_STATUS:
    case MSG_ADMIN_WORKLOADS:
        return msg_empty_request_decode(in);
    case MSG_SIGN:
        return msg_sign_request_decode(in, &ret->sign);
    case MSG_VERIFY:
        return msg_verify_request_decode(in, &ret->verify);
    case MSG_DIGEST:
        return msg_digest_request_decode(in, &ret->digest);
    case MSG_RANDOM:
        return msg_random_request_decode(in, &ret->random);
    case MSG_GENERATE_KEY:
        return msg_generate_key_request_decode(in, &ret->generate_key);
    case MSG_DESTROY_KEY:
        return msg_destroy_key_request_decode(in, &ret->destroy_key);
    case MSG_ADMIN_KEYS:
        return msg_admin_keys_request_decode(in, &ret->admin_keys);
    case MSG_ADMIN_KEY_CREATE:
        return msg_admin_key_create_request_decode(in, &ret->admin_key_create);
    case MSG_ADMIN_KEY_DELETE:
        return msg_admin_key_delete_request_decode(in, &ret->admin_key_delete);
    case MSG_ADMIN_AUDIT_TAIL:
        return msg_admin_audit_tail_request_decode(in, &ret->admin_audit_tail);
    case MSG_ADMIN_ENROLL:
        return msg_admin_enroll_request_decode(in, &ret->admin_enroll);
    default:
        return AD_ERR_UNSUPPORTED;
    }
}

int msg_reply_decode(uint8_t type, struct buf *in, union msg_reply *ret)
{
    switch (type & (uint8_t)~0x80u) {
    case MSG_HELLO:
        return msg_hello_reply_decode(in, &ret->hello);
    case MSG_WHOAMI:
        return msg_whoami_reply_decode(in, &ret->whoami);
    case MSG_LIST_OBJECTS:
        return msg_list_objects_reply_decode(in, &ret->list_objects);
    case MSG_SIGN:
        return msg_sign_reply_decode(in, &ret->sign);
    case MSG_VERIFY:
        return msg_verify_reply_decode(in, &ret->verify);
    case MSG_DIGEST:
        return msg_digest_reply_decode(in, &ret->digest);
    case MSG_RANDOM:
        return msg_random_reply_decode(in, &ret->random);
    case MSG_GENERATE_KEY:
        return msg_generate_key_reply_decode(in, &ret->generate_key);
    case MSG_DESTROY_KEY:
        return msg_empty_reply_decode(in);
    case MSG_ADMIN_STATUS:
    case MSG_ADMIN_WORKLOADS:
    case MSG_ADMIN_KEYS:
    case MSG_ADMIN_KEY_CREATE:
    case MSG_ADMIN_KEY_DELETE:
    case MSG_ADMIN_AUDIT_TAIL:
    case MSG_ADMIN_ENROLL:
        return msg_admin_reply_decode(in, &ret->admin);
    default:
        return AD_ERR_UNSUPPORTED;
    }
}
