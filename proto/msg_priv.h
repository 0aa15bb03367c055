/*
 * Field helpers shared by the msg_*.c files; not part of the API. Encoders
 * check the same maxima as decoders, so the daemon cannot send a field its
 * clients would reject.
 */
#ifndef AGENTD_PROTO_MSG_PRIV_H
#define AGENTD_PROTO_MSG_PRIV_H

#include "msg.h"

/* string(max) / bytes(max) from a msg_str / msg_bytes: AD_ERR_TOO_LARGE over max. */
AD_MUST_CHECK int msg_put_str(struct buf *out, struct msg_str s, size_t max);
AD_MUST_CHECK int msg_put_bytes(struct buf *out, struct msg_bytes b, size_t max);
AD_MUST_CHECK int msg_get_str(struct buf *in, size_t max, struct msg_str *ret);
AD_MUST_CHECK int msg_get_bytes(struct buf *in, size_t max, struct msg_bytes *ret);
/* u32 STATUS_OK / expect u32 STATUS_OK (anything else: AD_ERR_FORMAT). */
AD_MUST_CHECK int msg_put_ok(struct buf *out);
AD_MUST_CHECK int msg_get_ok(struct buf *in);

#endif
