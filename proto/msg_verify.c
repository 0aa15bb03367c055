/* 0x05 VERIFY: check a signature with a key of the caller's. */
#include "msg.h"
#include "msg_priv.h"

int msg_verify_request_encode(struct buf *out, const struct msg_verify_request *m)
{
    int r;

    if ((r = msg_put_str(out, m->key, KEY_NAME_MAX)) != 0 ||
        (r = buf_put_u64(out, m->mechanism)) != 0 ||
        (r = buf_put_u64(out, m->pss.hash_mech)) != 0 || (r = buf_put_u64(out, m->pss.mgf)) != 0 ||
        (r = buf_put_u64(out, m->pss.salt_len)) != 0 ||
        (r = msg_put_bytes(out, m->data, SIGN_INPUT_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->signature, SIGNATURE_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_verify_request_decode(struct buf *in, struct msg_verify_request *ret)
{
    struct msg_verify_request m;
    int r;

    if ((r = msg_get_str(in, KEY_NAME_MAX, &m.key)) != 0 ||          /* string(64) key */
        (r = buf_get_u64(in, &m.mechanism)) != 0 ||                  /* u64 mechanism */
        (r = buf_get_u64(in, &m.pss.hash_mech)) != 0 ||              /* u64 pss hash_mech */
        (r = buf_get_u64(in, &m.pss.mgf)) != 0 ||                    /* u64 pss mgf */
        (r = buf_get_u64(in, &m.pss.salt_len)) != 0 ||               /* u64 pss salt_len */
        (r = msg_get_bytes(in, SIGN_INPUT_MAX, &m.data)) != 0 ||     /* bytes data */
        (r = msg_get_bytes(in, SIGNATURE_MAX, &m.signature)) != 0 || /* bytes signature */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}

int msg_verify_reply_encode(struct buf *out, const struct msg_verify_reply *m)
{
    int r;

    if ((r = msg_put_ok(out)) != 0 || (r = buf_put_u8(out, m->is_valid ? 1 : 0)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_verify_reply_decode(struct buf *in, struct msg_verify_reply *ret)
{
    uint8_t valid;
    int r;

    if ((r = msg_get_ok(in)) != 0 ||         /* u32 status */
        (r = buf_get_u8(in, &valid)) != 0 || /* u8 valid */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    if (valid > 1) {
        return AD_ERR_FORMAT;
    }
    ret->is_valid = valid == 1;
    return AD_OK;
}
