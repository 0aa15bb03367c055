#include "frame.h"

#include <stdlib.h>
#include <string.h>

/* First allocation of a reader: room for a typical request plus the next header. */
#define READER_INITIAL 4096

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

size_t frame_body_len(const struct frame_header *h)
{
    return h->length - FRAME_LEN_MIN;
}

int frame_header_encode(uint8_t type, uint32_t request_id, size_t body_len,
                        uint8_t out[FRAME_HEADER_LEN])
{
    if (body_len > FRAME_BODY_MAX) {
        return AD_ERR_TOO_LARGE;
    }
    store_be32(out, (uint32_t)(body_len + FRAME_LEN_MIN));
    out[4] = PROTO_VERSION;
    out[5] = type;
    store_be32(out + 6, request_id);
    return AD_OK;
}

int frame_header_decode(const uint8_t *in, size_t len, struct frame_header *ret)
{
    uint32_t length;

    if (len < 4) {
        return AD_ERR_SHORT;
    }
    /* The length alone decides TOO_LARGE, before the rest of the header arrives. */
    length = load_be32(in);
    if (length > FRAME_MAX - 4) {
        return AD_ERR_TOO_LARGE;
    }
    if (length < FRAME_LEN_MIN) {
        return AD_ERR_FORMAT;
    }
    if (len < FRAME_HEADER_LEN) {
        return AD_ERR_SHORT;
    }
    if (in[4] != PROTO_VERSION) {
        return AD_ERR_FORMAT;
    }
    ret->length = length;
    ret->version = in[4];
    ret->type = in[5];
    ret->request_id = load_be32(in + 6);
    return AD_OK;
}

int frame_write(struct buf *out, uint8_t type, uint32_t request_id, const uint8_t *body,
                size_t body_len)
{
    uint8_t hdr[FRAME_HEADER_LEN];
    size_t before = buf_len(out);
    int r;

    if ((r = frame_header_encode(type, request_id, body_len, hdr)) != 0) {
        return r;
    }
    /* Reserve the whole frame first so a failure appends nothing. */
    if (buf_max(out) - before < FRAME_HEADER_LEN + body_len) {
        return AD_ERR_TOO_LARGE;
    }
    if ((r = buf_put_raw(out, hdr, sizeof(hdr))) != 0 ||
        (r = buf_put_raw(out, body, body_len)) != 0) {
        return r;
    }
    return AD_OK;
}

int frame_begin(struct buf *out, uint8_t type, uint32_t request_id, size_t *ret_mark)
{
    uint8_t hdr[FRAME_HEADER_LEN];
    size_t mark = buf_len(out);
    int r;

    if ((r = frame_header_encode(type, request_id, 0, hdr)) != 0 ||
        (r = buf_put_raw(out, hdr, sizeof(hdr))) != 0) {
        return r;
    }
    *ret_mark = mark;
    return AD_OK;
}

int frame_end(struct buf *out, size_t mark)
{
    size_t len = buf_len(out);
    size_t frame_len;

    if (mark > len || len - mark < FRAME_HEADER_LEN) {
        return AD_ERR_INVALID;
    }
    frame_len = len - mark;
    if (frame_len > FRAME_MAX) {
        frame_abort(out, mark);
        return AD_ERR_TOO_LARGE;
    }
    return buf_poke_u32(out, mark, (uint32_t)(frame_len - 4));
}

void frame_abort(struct buf *out, size_t mark)
{
    /* Fails only for a mark that is not in out (a caller bug): nothing to undo then. */
    (void)!buf_truncate(out, mark);
}

void frame_reader_init(struct frame_reader *fr)
{
    memset(fr, 0, sizeof(*fr));
}

void frame_reader_free(struct frame_reader *fr)
{
    if (fr == NULL) {
        return;
    }
    free(fr->data);
    memset(fr, 0, sizeof(*fr));
}

size_t frame_reader_pending(const struct frame_reader *fr)
{
    return fr->end - fr->start;
}

/* How many bytes the frame at start needs in total, if its length is known (else a
 * header's worth). Only called when no error is pending. */
static size_t wanted(const struct frame_reader *fr)
{
    size_t have = fr->end - fr->start;

    if (have < 4) {
        return FRAME_HEADER_LEN;
    }
    /* frame_reader_next has already rejected lengths over FRAME_MAX - 4. */
    return 4 + (size_t)load_be32(fr->data + fr->start);
}

int frame_reader_space(struct frame_reader *fr, uint8_t **ret_ptr, size_t *ret_len)
{
    size_t need;
    size_t cap;
    uint8_t *p;

    if (fr->err != 0) {
        return fr->err;
    }
    /* Move the partial frame to the front so the buffer never exceeds one frame. */
    if (fr->start > 0) {
        memmove(fr->data, fr->data + fr->start, fr->end - fr->start);
        fr->end -= fr->start;
        fr->start = 0;
    }
    need = wanted(fr);
    if (need > FRAME_MAX) {
        fr->err = AD_ERR_TOO_LARGE;
        return fr->err;
    }
    if (fr->cap == 0 || need > fr->cap) {
        cap = fr->cap == 0 ? READER_INITIAL : fr->cap;
        while (cap < need) {
            cap = cap >= FRAME_MAX / 2 ? FRAME_MAX : cap * 2;
        }
        if ((p = realloc(fr->data, cap)) == NULL) {
            return AD_ERR_NOMEM;
        }
        fr->data = p;
        fr->cap = cap;
    }
    if (fr->end == fr->cap) {
        /* Full of complete frames: frame_reader_next was not called until AD_ERR_SHORT. */
        return AD_ERR_INTERNAL;
    }
    *ret_ptr = fr->data + fr->end;
    *ret_len = fr->cap - fr->end;
    return AD_OK;
}

int frame_reader_commit(struct frame_reader *fr, size_t n)
{
    if (n > fr->cap - fr->end) {
        return AD_ERR_INTERNAL;
    }
    fr->end += n;
    return AD_OK;
}

int frame_reader_feed(struct frame_reader *fr, const void *p, size_t n, size_t *ret_used)
{
    uint8_t *dst;
    size_t room;
    int r;

    if ((r = frame_reader_space(fr, &dst, &room)) != 0) {
        return r;
    }
    if (room > n) {
        room = n;
    }
    if (room > 0) {
        memcpy(dst, p, room);
    }
    fr->end += room;
    *ret_used = room;
    return AD_OK;
}

int frame_reader_next(struct frame_reader *fr, struct frame_header *ret_header,
                      struct buf *ret_body)
{
    struct frame_header h;
    size_t have;
    int r;

    if (fr->err != 0) {
        return fr->err;
    }
    have = fr->end - fr->start;
    r = frame_header_decode(fr->data + fr->start, have, &h);
    if (r == AD_ERR_SHORT) {
        return r;
    }
    if (r != 0) {
        fr->err = r;
        return r;
    }
    if (have - 4 < h.length) {
        return AD_ERR_SHORT;
    }
    buf_init_static(ret_body, fr->data + fr->start + FRAME_HEADER_LEN, frame_body_len(&h));
    fr->start += 4 + h.length;
    *ret_header = h;
    return AD_OK;
}
