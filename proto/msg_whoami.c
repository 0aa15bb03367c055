/* 0x02 WHOAMI: what agentd resolved about the caller (request has no fields). */
#include "msg.h"
#include "msg_priv.h"

int msg_whoami_reply_encode(struct buf *out, const struct msg_whoami_reply *m)
{
    int r;

    if ((r = msg_put_ok(out)) != 0 || (r = buf_put_u32(out, m->pid)) != 0 ||
        (r = buf_put_u32(out, m->uid)) != 0 || (r = buf_put_u32(out, m->gid)) != 0 ||
        (r = msg_put_str(out, m->exe, EXE_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->exe_sha256, EXE_SHA256_LEN)) != 0 ||
        (r = msg_put_str(out, m->cgroup, CGROUP_MAX)) != 0 ||
        (r = msg_put_str(out, m->entry, ENTRY_MAX)) != 0 ||
        (r = msg_put_str(out, m->spiffe_id, SPIFFE_ID_MAX)) != 0 ||
        (r = msg_put_str(out, m->tier, TIER_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_whoami_reply_decode(struct buf *in, struct msg_whoami_reply *ret)
{
    struct msg_whoami_reply m;
    int r;

    if ((r = msg_get_ok(in)) != 0 ||                                   /* u32 status */
        (r = buf_get_u32(in, &m.pid)) != 0 ||                          /* u32 pid */
        (r = buf_get_u32(in, &m.uid)) != 0 ||                          /* u32 uid */
        (r = buf_get_u32(in, &m.gid)) != 0 ||                          /* u32 gid */
        (r = msg_get_str(in, EXE_MAX, &m.exe)) != 0 ||                 /* string exe */
        (r = msg_get_bytes(in, EXE_SHA256_LEN, &m.exe_sha256)) != 0 || /* exe_sha256 */
        (r = msg_get_str(in, CGROUP_MAX, &m.cgroup)) != 0 ||           /* string cgroup */
        (r = msg_get_str(in, ENTRY_MAX, &m.entry)) != 0 ||             /* string entry */
        (r = msg_get_str(in, SPIFFE_ID_MAX, &m.spiffe_id)) != 0 ||     /* spiffe_id */
        (r = msg_get_str(in, TIER_MAX, &m.tier)) != 0 ||               /* string tier */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}
