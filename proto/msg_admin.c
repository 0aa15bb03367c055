/*
 * 0x20..0x26 admin messages. One file for the family: the requests are one or
 * two fields each and every reply is the same JSON string, so seven files would
 * repeat one function. ADMIN_STATUS and ADMIN_WORKLOADS have no request fields
 * (msg_empty_request_*).
 */
#include "msg.h"
#include "msg_priv.h"

int msg_admin_reply_encode(struct buf *out, const struct msg_admin_reply *m)
{
    int r;

    if ((r = msg_put_ok(out)) != 0 || (r = msg_put_str(out, m->json, ADMIN_TEXT_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_admin_reply_decode(struct buf *in, struct msg_admin_reply *ret)
{
    struct msg_admin_reply m;
    int r;

    if ((r = msg_get_ok(in)) != 0 ||                           /* u32 status */
        (r = msg_get_str(in, ADMIN_TEXT_MAX, &m.json)) != 0 || /* string json */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}

/* 0x22 ADMIN_KEYS */
int msg_admin_keys_request_encode(struct buf *out, const struct msg_admin_keys_request *m)
{
    return msg_put_str(out, m->entry, ENTRY_MAX);
}

int msg_admin_keys_request_decode(struct buf *in, struct msg_admin_keys_request *ret)
{
    struct msg_admin_keys_request m;
    int r;

    if ((r = msg_get_str(in, ENTRY_MAX, &m.entry)) != 0 || /* string(128) entry */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}

/* 0x23 ADMIN_KEY_CREATE */
int msg_admin_key_create_request_encode(struct buf *out,
                                        const struct msg_admin_key_create_request *m)
{
    int r;

    if ((r = msg_put_str(out, m->entry, ENTRY_MAX)) != 0 ||
        (r = msg_put_str(out, m->name, KEY_NAME_MAX)) != 0 ||
        (r = buf_put_u64(out, m->key_type)) != 0 || (r = buf_put_u32(out, m->bits)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_admin_key_create_request_decode(struct buf *in, struct msg_admin_key_create_request *ret)
{
    struct msg_admin_key_create_request m;
    int r;

    if ((r = msg_get_str(in, ENTRY_MAX, &m.entry)) != 0 ||   /* string(128) entry */
        (r = msg_get_str(in, KEY_NAME_MAX, &m.name)) != 0 || /* string(64) name */
        (r = buf_get_u64(in, &m.key_type)) != 0 ||           /* u64 key_type */
        (r = buf_get_u32(in, &m.bits)) != 0 ||               /* u32 bits */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}

/* 0x24 ADMIN_KEY_DELETE */
int msg_admin_key_delete_request_encode(struct buf *out,
                                        const struct msg_admin_key_delete_request *m)
{
    int r;

    if ((r = msg_put_str(out, m->entry, ENTRY_MAX)) != 0 ||
        (r = msg_put_str(out, m->name, KEY_NAME_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_admin_key_delete_request_decode(struct buf *in, struct msg_admin_key_delete_request *ret)
{
    struct msg_admin_key_delete_request m;
    int r;

    if ((r = msg_get_str(in, ENTRY_MAX, &m.entry)) != 0 ||   /* string(128) entry */
        (r = msg_get_str(in, KEY_NAME_MAX, &m.name)) != 0 || /* string(64) name */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}

/* 0x25 ADMIN_AUDIT_TAIL */
int msg_admin_audit_tail_request_encode(struct buf *out,
                                        const struct msg_admin_audit_tail_request *m)
{
    if (m->count == 0 || m->count > AUDIT_TAIL_MAX) {
        return AD_ERR_INVALID;
    }
    return buf_put_u32(out, m->count);
}

int msg_admin_audit_tail_request_decode(struct buf *in, struct msg_admin_audit_tail_request *ret)
{
    struct msg_admin_audit_tail_request m;
    int r;

    if ((r = buf_get_u32(in, &m.count)) != 0 || /* u32 count */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    if (m.count == 0 || m.count > AUDIT_TAIL_MAX) {
        return AD_ERR_INVALID;
    }
    *ret = m;
    return AD_OK;
}

/* 0x26 ADMIN_ENROLL */
int msg_admin_enroll_request_encode(struct buf *out, const struct msg_admin_enroll_request *m)
{
    if ((m->flags & ~MSG_ENROLL_FLAGS_ALL) != 0) {
        return AD_ERR_INVALID;
    }
    return buf_put_u32(out, m->flags);
}

int msg_admin_enroll_request_decode(struct buf *in, struct msg_admin_enroll_request *ret)
{
    struct msg_admin_enroll_request m;
    int r;

    if ((r = buf_get_u32(in, &m.flags)) != 0 || /* u32 flags */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    if ((m.flags & ~MSG_ENROLL_FLAGS_ALL) != 0) {
        return AD_ERR_INVALID;
    }
    *ret = m;
    return AD_OK;
}
