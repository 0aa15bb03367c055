/*
 * Fuzz the reply decoders (what the PKCS#11 module and agentctl parse):
 * first byte = message type, the rest = reply body. The error-reply decoder
 * sees every body too. A body that decodes must re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int encode(uint8_t type, const union msg_reply *m, struct buf *out)
{
    switch (type) {
    case MSG_HELLO:
        return msg_hello_reply_encode(out, &m->hello);
    case MSG_WHOAMI:
        return msg_whoami_reply_encode(out, &m->whoami);
    case MSG_LIST_OBJECTS:
        return msg_list_objects_reply_encode(out, &m->list_objects);
    case MSG_SIGN:
        return msg_sign_reply_encode(out, &m->sign);
    case MSG_VERIFY:
        return msg_verify_reply_encode(out, &m->verify);
    case MSG_DIGEST:
        return msg_digest_reply_encode(out, &m->digest);
    case MSG_RANDOM:
        return msg_random_reply_encode(out, &m->random);
    case MSG_GENERATE_KEY:
        return msg_generate_key_reply_encode(out, &m->generate_key);
    case MSG_DESTROY_KEY:
        return msg_empty_reply_encode(out);
    case MSG_ADMIN_STATUS:
    case MSG_ADMIN_WORKLOADS:
    case MSG_ADMIN_KEYS:
    case MSG_ADMIN_KEY_CREATE:
    case MSG_ADMIN_KEY_DELETE:
    case MSG_ADMIN_AUDIT_TAIL:
    case MSG_ADMIN_ENROLL:
        return msg_admin_reply_encode(out, &m->admin);
    default:
        return AD_ERR_UNSUPPORTED;
    }
}

static void check_error(const uint8_t *body, size_t len, struct buf *out)
{
    struct msg_error e;
    struct buf in;
    char msg[STATUS_MESSAGE_MAX + 1];

    buf_init_static(&in, body, len);
    if (msg_error_decode(&in, &e) != 0) {
        return;
    }
    /* a decoded message has no NUL and fits: it re-encodes unchanged */
    memcpy(msg, e.message.ptr, e.message.len);
    msg[e.message.len] = '\0';
    buf_reset(out);
    if (msg_error_encode(out, e.status, msg) != 0 || buf_len(out) != len ||
        memcmp(buf_data(out), body, len) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static union msg_reply m; /* ~19 KiB */
    struct buf in;
    struct buf *out;

    if (size < 1 || (out = buf_new(2 * FRAME_MAX)) == NULL) {
        return 0;
    }
    check_error(data + 1, size - 1, out);
    buf_init_static(&in, data + 1, size - 1);
    if (msg_reply_decode(data[0], &in, &m) == 0) {
        buf_reset(out);
        if (msg_lookup(data[0]) == NULL || encode(data[0] & 0x7f, &m, out) != 0 ||
            buf_len(out) != size - 1 ||
            (size > 1 && memcmp(buf_data(out), data + 1, size - 1) != 0)) {
            abort();
        }
    }
    buf_free(out);
    return 0;
}
