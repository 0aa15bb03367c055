/* 0x04 SIGN: sign data with a key of the caller's (PKCS#11 signature form). */
#include "msg.h"
#include "msg_priv.h"

int msg_sign_request_encode(struct buf *out, const struct msg_sign_request *m)
{
    int r;

    if ((r = msg_put_str(out, m->key, KEY_NAME_MAX)) != 0 ||
        (r = buf_put_u64(out, m->mechanism)) != 0 ||
        (r = buf_put_u64(out, m->pss.hash_mech)) != 0 || (r = buf_put_u64(out, m->pss.mgf)) != 0 ||
        (r = buf_put_u64(out, m->pss.salt_len)) != 0 ||
        (r = msg_put_bytes(out, m->data, SIGN_INPUT_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_sign_request_decode(struct buf *in, struct msg_sign_request *ret)
{
    struct msg_sign_request m;
    int r;

    if ((r = msg_get_str(in, KEY_NAME_MAX, &m.key)) != 0 ||      /* string(64) key */
        (r = buf_get_u64(in, &m.mechanism)) != 0 ||              /* u64 mechanism */
        (r = buf_get_u64(in, &m.pss.hash_mech)) != 0 ||          /* u64 pss hash_mech */
        (r = buf_get_u64(in, &m.pss.mgf)) != 0 ||                /* u64 pss mgf */
        (r = buf_get_u64(in, &m.pss.salt_len)) != 0 ||           /* u64 pss salt_len */
        (r = msg_get_bytes(in, SIGN_INPUT_MAX, &m.data)) != 0 || /* bytes data */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}

int msg_sign_reply_encode(struct buf *out, const struct msg_sign_reply *m)
{
    int r;

    if ((r = msg_put_ok(out)) != 0 || (r = msg_put_bytes(out, m->signature, SIGNATURE_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_sign_reply_decode(struct buf *in, struct msg_sign_reply *ret)
{
    struct msg_sign_reply m;
    int r;

    if ((r = msg_get_ok(in)) != 0 ||                                 /* u32 status */
        (r = msg_get_bytes(in, SIGNATURE_MAX, &m.signature)) != 0 || /* bytes signature */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}
