/* 0x07 RANDOM: bytes from the TPM's RNG. */
#include "msg.h"
#include "msg_priv.h"

int msg_random_request_encode(struct buf *out, const struct msg_random_request *m)
{
    if (m->length == 0 || m->length > RANDOM_MAX) {
        return AD_ERR_INVALID;
    }
    return buf_put_u32(out, m->length);
}

int msg_random_request_decode(struct buf *in, struct msg_random_request *ret)
{
    struct msg_random_request m;
    int r;

    if ((r = buf_get_u32(in, &m.length)) != 0 || /* u32 length */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    if (m.length == 0 || m.length > RANDOM_MAX) {
        return AD_ERR_INVALID;
    }
    *ret = m;
    return AD_OK;
}

int msg_random_reply_encode(struct buf *out, const struct msg_random_reply *m)
{
    int r;

    if ((r = msg_put_ok(out)) != 0 || (r = msg_put_bytes(out, m->random, RANDOM_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_random_reply_decode(struct buf *in, struct msg_random_reply *ret)
{
    struct msg_random_reply m;
    int r;

    if ((r = msg_get_ok(in)) != 0 ||                           /* u32 status */
        (r = msg_get_bytes(in, RANDOM_MAX, &m.random)) != 0 || /* bytes random */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}
