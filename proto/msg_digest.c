/* 0x06 DIGEST: hash data with CKM_SHA256/384/512 (no key involved). */
#include "msg.h"
#include "msg_priv.h"

int msg_digest_request_encode(struct buf *out, const struct msg_digest_request *m)
{
    int r;

    if ((r = buf_put_u64(out, m->mechanism)) != 0 ||
        (r = msg_put_bytes(out, m->data, SIGN_INPUT_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_digest_request_decode(struct buf *in, struct msg_digest_request *ret)
{
    struct msg_digest_request m;
    int r;

    if ((r = buf_get_u64(in, &m.mechanism)) != 0 ||              /* u64 mechanism */
        (r = msg_get_bytes(in, SIGN_INPUT_MAX, &m.data)) != 0 || /* bytes data */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}

int msg_digest_reply_encode(struct buf *out, const struct msg_digest_reply *m)
{
    int r;

    if ((r = msg_put_ok(out)) != 0 || (r = msg_put_bytes(out, m->digest, DIGEST_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_digest_reply_decode(struct buf *in, struct msg_digest_reply *ret)
{
    struct msg_digest_reply m;
    int r;

    if ((r = msg_get_ok(in)) != 0 ||                           /* u32 status */
        (r = msg_get_bytes(in, DIGEST_MAX, &m.digest)) != 0 || /* bytes(64) digest */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}
