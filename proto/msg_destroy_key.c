/* 0x09 DESTROY_KEY: delete one of the caller's keys; the reply is the status alone. */
#include "msg.h"
#include "msg_priv.h"

int msg_destroy_key_request_encode(struct buf *out, const struct msg_destroy_key_request *m)
{
    return msg_put_str(out, m->key, KEY_NAME_MAX);
}

int msg_destroy_key_request_decode(struct buf *in, struct msg_destroy_key_request *ret)
{
    struct msg_destroy_key_request m;
    int r;

    if ((r = msg_get_str(in, KEY_NAME_MAX, &m.key)) != 0 || /* string(64) key */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}
