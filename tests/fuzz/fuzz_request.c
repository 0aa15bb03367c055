/*
 * Fuzz the request decoders: first byte = message type, the rest = body.
 * A body that decodes must re-encode to exactly the same bytes (the wire
 * format has one encoding per value), so the fuzzer also checks that every
 * decoder and its encoder agree field by field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int encode(uint8_t type, const union msg_request *m, struct buf *out)
{
    switch (type) {
    case MSG_HELLO:
        return msg_hello_request_encode(out, &m->hello);
    case MSG_WHOAMI:
    case MSG_LIST_OBJECTS:
    case MSG_ADMIN_STATUS:
    case MSG_ADMIN_WORKLOADS:
        return msg_empty_request_encode(out);
    case MSG_SIGN:
        return msg_sign_request_encode(out, &m->sign);
    case MSG_VERIFY:
        return msg_verify_request_encode(out, &m->verify);
    case MSG_DIGEST:
        return msg_digest_request_encode(out, &m->digest);
    case MSG_RANDOM:
        return msg_random_request_encode(out, &m->random);
    case MSG_GENERATE_KEY:
        return msg_generate_key_request_encode(out, &m->generate_key);
    case MSG_DESTROY_KEY:
        return msg_destroy_key_request_encode(out, &m->destroy_key);
    case MSG_ADMIN_KEYS:
        return msg_admin_keys_request_encode(out, &m->admin_keys);
    case MSG_ADMIN_KEY_CREATE:
        return msg_admin_key_create_request_encode(out, &m->admin_key_create);
    case MSG_ADMIN_KEY_DELETE:
        return msg_admin_key_delete_request_encode(out, &m->admin_key_delete);
    case MSG_ADMIN_AUDIT_TAIL:
        return msg_admin_audit_tail_request_encode(out, &m->admin_audit_tail);
    case MSG_ADMIN_ENROLL:
        return msg_admin_enroll_request_encode(out, &m->admin_enroll);
    default:
        return AD_ERR_UNSUPPORTED;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    union msg_request m;
    struct buf in;
    struct buf *out;

    if (size < 1) {
        return 0;
    }
    buf_init_static(&in, data + 1, size - 1);
    if (msg_request_decode(data[0], &in, &m) != 0) {
        return 0;
    }
    if (msg_lookup(data[0]) == NULL || size - 1 > msg_lookup(data[0])->request_max) {
        abort(); /* decoded an unknown type, or more than the table's maximum */
    }
    if ((out = buf_new(FRAME_BODY_MAX)) == NULL) {
        return 0;
    }
    if (encode(data[0], &m, out) != 0 || buf_len(out) != size - 1 ||
        (size > 1 && memcmp(buf_data(out), data + 1, size - 1) != 0)) {
        abort();
    }
    buf_free(out);
    return 0;
}
