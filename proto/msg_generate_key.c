/* 0x08 GENERATE_KEY: create a TPM key for the caller; the reply is its key record. */
#include "msg.h"
#include "msg_priv.h"

int msg_generate_key_request_encode(struct buf *out, const struct msg_generate_key_request *m)
{
    int r;

    if ((r = msg_put_str(out, m->name, KEY_NAME_MAX)) != 0 ||
        (r = buf_put_u64(out, m->key_type)) != 0 || (r = buf_put_u32(out, m->bits)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_generate_key_request_decode(struct buf *in, struct msg_generate_key_request *ret)
{
    struct msg_generate_key_request m;
    int r;

    if ((r = msg_get_str(in, KEY_NAME_MAX, &m.name)) != 0 || /* string(64) name */
        (r = buf_get_u64(in, &m.key_type)) != 0 ||           /* u64 key_type */
        (r = buf_get_u32(in, &m.bits)) != 0 ||               /* u32 bits */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}

int msg_generate_key_reply_encode(struct buf *out, const struct msg_generate_key_reply *m)
{
    int r;

    if ((r = msg_put_ok(out)) != 0 || (r = msg_key_record_encode(out, &m->key)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_generate_key_reply_decode(struct buf *in, struct msg_generate_key_reply *ret)
{
    struct msg_generate_key_reply m;
    int r;

    if ((r = msg_get_ok(in)) != 0 ||                    /* u32 status */
        (r = msg_key_record_decode(in, &m.key)) != 0 || /* key record */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}
