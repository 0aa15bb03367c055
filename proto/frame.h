/*
 * Frame layer (proto/README.md "Frame"):
 *
 *   u32 length | u8 version | u8 type | u32 request_id | body
 *
 * length counts the bytes after itself, so 6 <= length <= FRAME_MAX - 4.
 * A reply carries type | FRAME_REPLY. Lengths are checked against FRAME_MAX
 * as soon as the 4 length bytes are known, before any body byte is read or
 * any memory is sized for it.
 */
#ifndef AGENTD_PROTO_FRAME_H
#define AGENTD_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "proto_limits.h"

#define FRAME_REPLY 0x80 /* type bit of every reply */
#define FRAME_LEN_MIN 6  /* version + type + request_id */

struct frame_header {
    uint32_t length; /* as on the wire: body length + 6 */
    uint8_t version;
    uint8_t type;
    uint32_t request_id;
};

/* Body length of a decoded header. */
size_t frame_body_len(const struct frame_header *h);

/* Write the 10 header bytes for a body of body_len bytes (<= FRAME_BODY_MAX). */
AD_MUST_CHECK int frame_header_encode(uint8_t type, uint32_t request_id, size_t body_len,
                                      uint8_t out[FRAME_HEADER_LEN]);

/*
 * Decode the header in in[0..len). AD_ERR_SHORT when len < FRAME_HEADER_LEN,
 * AD_ERR_TOO_LARGE when length > FRAME_MAX - 4 (known from the first 4 bytes
 * alone, even when len < 10), AD_ERR_FORMAT when length < 6 or the version is
 * not PROTO_VERSION. The type is not checked here (see msg_lookup).
 */
AD_MUST_CHECK int frame_header_decode(const uint8_t *in, size_t len, struct frame_header *ret);

/* Append a whole frame (header + body_len bytes of body) to out. */
AD_MUST_CHECK int frame_write(struct buf *out, uint8_t type, uint32_t request_id,
                              const uint8_t *body, size_t body_len);

/*
 * Zero-copy writer: frame_begin appends a header with a placeholder length and
 * returns its offset in *ret_mark; encode the body straight into out; frame_end
 * patches the length. When the frame exceeds FRAME_MAX, frame_end removes it
 * from out again and returns AD_ERR_TOO_LARGE. When encoding the body fails,
 * frame_abort removes the partial frame (so an error reply can go instead).
 */
AD_MUST_CHECK int frame_begin(struct buf *out, uint8_t type, uint32_t request_id, size_t *ret_mark);
AD_MUST_CHECK int frame_end(struct buf *out, size_t mark);
void frame_abort(struct buf *out, size_t mark);

/*
 * Incremental reader for a non-blocking socket. One buffer per connection,
 * grown at most to FRAME_MAX (never more than the frame being read needs),
 * reused for every frame: no allocation per frame once warm.
 *
 *   frame_reader_space(&fr, &p, &n); r = read(fd, p, n); frame_reader_commit(&fr, r);
 *   while ((r = frame_reader_next(&fr, &h, &body)) == 0) handle(&h, &body);
 *   r == AD_ERR_SHORT: wait for more bytes; any other error: close the connection.
 *   (frame_reader_space before draining with next fails with AD_ERR_INTERNAL once
 *   the buffer is full of complete frames.)
 *
 * Errors are sticky: after AD_ERR_TOO_LARGE or AD_ERR_FORMAT every call returns it.
 */
struct frame_reader {
    uint8_t *data;
    size_t cap;
    size_t start; /* first byte not yet returned as a frame */
    size_t end;   /* bytes received */
    int err;
};

/* Zero the reader; no allocation yet. */
void frame_reader_init(struct frame_reader *fr);
/* Free its memory; the reader may be re-initialised. NULL is fine. */
void frame_reader_free(struct frame_reader *fr);

/* Where the next read() should go: *ret_ptr with room for *ret_len (>= 1) bytes.
 * May move unconsumed bytes, so it ends the life of bodies returned earlier. */
AD_MUST_CHECK int frame_reader_space(struct frame_reader *fr, uint8_t **ret_ptr, size_t *ret_len);
/* n bytes were written at the pointer from frame_reader_space. */
AD_MUST_CHECK int frame_reader_commit(struct frame_reader *fr, size_t n);
/* Copy up to n bytes in (space + memcpy + commit); *ret_used says how many were taken.
 * Drain with frame_reader_next until AD_ERR_SHORT, then feed the rest. */
AD_MUST_CHECK int frame_reader_feed(struct frame_reader *fr, const void *p, size_t n,
                                    size_t *ret_used);

/*
 * Next complete frame: 0 with *ret_header and a read-only *ret_body
 * (buf_init_static over the reader's memory, valid until the next
 * space/feed/free). AD_ERR_SHORT: incomplete, feed more. AD_ERR_TOO_LARGE /
 * AD_ERR_FORMAT: protocol error (reported as soon as the 4 length bytes or
 * the 10 header bytes are in).
 */
AD_MUST_CHECK int frame_reader_next(struct frame_reader *fr, struct frame_header *ret_header,
                                    struct buf *ret_body);

/* Bytes buffered but not yet returned as frames. */
size_t frame_reader_pending(const struct frame_reader *fr);

#endif
