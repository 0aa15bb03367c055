/*
 * One handler per message type. Each: decode (proto) -> identity (the
 * facts gathered at accept time, never anything the client says) -> match
 * the entry (against the config current at this request) -> policy_decide
 * -> audit_append (before any reply; if it fails, deny: fail closed) ->
 * keystore/TPM through the worker -> encode the reply (loop thread).
 */
#ifndef AGENTD_DISPATCH_H
#define AGENTD_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"
#include "server.h"

/* What conn.c needs of a frame header (decoded by proto's frame_header_decode). */
struct frame_info {
    uint8_t type;
    uint32_t request_id;
    size_t body_len;
    bool has_ids; /* type and request_id were read (an ERROR reply can be addressed) */
};

/*
 * Decode the header at p (len bytes buffered). AD_ERR_SHORT: need more.
 * AD_ERR_TOO_LARGE / AD_ERR_FORMAT (bad length, version or type): protocol
 * error; ret->has_ids tells whether an ERROR reply can be addressed (only
 * for an unknown type: after a bad length or version nothing else is trusted).
 */
AD_MUST_CHECK int dispatch_frame_header(const uint8_t *p, size_t len, struct frame_info *ret);

/*
 * Handle one complete frame. A body that does not decode gets a
 * BAD_REQUEST reply and the connection stays. Returns non-zero only when
 * the connection must be closed (after what is queued is written).
 */
AD_MUST_CHECK int dispatch_frame(struct daemon *d, struct conn *c, const struct frame_info *h,
                                 const uint8_t *body, size_t len);

/* The frame header was bad (err): queue an ERROR reply when one can be formed. */
void dispatch_protocol_error(struct daemon *d, struct conn *c, const struct frame_info *h, int err);

#endif
