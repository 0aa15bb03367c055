/*
 * One byte buffer for all wire I/O (the sshbuf / s2n stuffer model): a read
 * cursor, a write cursor and a hard maximum fixed at creation.
 *
 *   data: [ consumed | unread (buf_ptr, buf_remaining) | free space ]
 *         0          rpos                              wpos         cap <= max
 *
 * Getters return AD_ERR_SHORT, AD_ERR_TOO_LARGE or AD_ERR_FORMAT and move the
 * read cursor only on success. Putters return AD_ERR_TOO_LARGE past max,
 * AD_ERR_NOMEM, and write nothing on failure. Integers are big-endian;
 * bytes and strings are a u32 length then the payload (proto/README.md).
 *
 * The struct is public so a buffer can live on the stack (buf_init_static,
 * buf_init_fixed); its fields are private to buf.c.
 */
#ifndef AGENTD_PROTO_BUF_H
#define AGENTD_PROTO_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct buf {
    uint8_t *data;
    size_t rpos;
    size_t wpos;
    size_t cap;
    size_t max;
    unsigned flags;
};

/* New empty buffer that may grow to max bytes; memory is allocated on first put.
 * NULL when out of memory. Free with buf_free. */
struct buf *buf_new(size_t max);

/* Same, but the contents are wiped (explicit_bzero) on growth, reset and free. */
struct buf *buf_new_secret(size_t max);

/* Free b and its memory (wiped when secret). NULL is fine. Not for static/fixed buffers. */
void buf_free(struct buf *b);

/* Empty b (both cursors to 0), keeping its memory; wipes when secret. */
void buf_reset(struct buf *b);

/* Read-only view of len borrowed bytes, no allocation. Puts fail with AD_ERR_INTERNAL.
 * data must outlive b; b needs no free. */
void buf_init_static(struct buf *b, const void *data, size_t len);

/* Empty writable buffer over caller memory mem[0..cap), no allocation and no growth
 * (max = cap). mem must outlive b; b needs no free. */
void buf_init_fixed(struct buf *b, void *mem, size_t cap);

/* Unread bytes. */
size_t buf_remaining(const struct buf *b);
/* Pointer to the first unread byte; valid until the next call that modifies b. */
const uint8_t *buf_ptr(const struct buf *b);
/* Bytes written since creation or the last reset (read or not). */
size_t buf_len(const struct buf *b);
/* Pointer to the first byte written (buf_len bytes); valid until the next modification. */
const uint8_t *buf_data(const struct buf *b);
/* The hard maximum given at creation. */
size_t buf_max(const struct buf *b);

/* Writers. buf_put_bytes: u32 len + len bytes (p may be NULL when len is 0).
 * buf_put_string: u32 strlen(s) + bytes of s (no NUL). buf_put_string_len: same for
 * len bytes of s, AD_ERR_FORMAT when they contain a NUL. buf_put_raw: bytes only. */
AD_MUST_CHECK int buf_put_u8(struct buf *b, uint8_t v);
AD_MUST_CHECK int buf_put_u32(struct buf *b, uint32_t v);
AD_MUST_CHECK int buf_put_u64(struct buf *b, uint64_t v);
AD_MUST_CHECK int buf_put_bytes(struct buf *b, const void *p, size_t len);
AD_MUST_CHECK int buf_put_string(struct buf *b, const char *s);
AD_MUST_CHECK int buf_put_string_len(struct buf *b, const char *s, size_t len);
AD_MUST_CHECK int buf_put_raw(struct buf *b, const void *p, size_t len);

/* Make room for len more bytes and return where they go (*ret_ptr, valid until the next
 * modification); buf_commit(b, n) then adds n <= len of them. For read(2) into b. */
AD_MUST_CHECK int buf_reserve(struct buf *b, size_t len, uint8_t **ret_ptr);
AD_MUST_CHECK int buf_commit(struct buf *b, size_t len);

/* Drop written bytes after offset len (rpos <= len <= buf_len), e.g. to take back a
 * half-written message; the dropped bytes are wiped when secret. */
AD_MUST_CHECK int buf_truncate(struct buf *b, size_t len);

/* Overwrite 4 bytes at absolute offset pos (< buf_len) with v (frame length patching). */
AD_MUST_CHECK int buf_poke_u32(struct buf *b, size_t pos, uint32_t v);

/* Readers. */
AD_MUST_CHECK int buf_get_u8(struct buf *b, uint8_t *ret);
AD_MUST_CHECK int buf_get_u32(struct buf *b, uint32_t *ret);
AD_MUST_CHECK int buf_get_u64(struct buf *b, uint64_t *ret);

/*
 * Read a u32-length-prefixed byte string of at most max bytes.
 * *ret points into b and stays valid until the next call that modifies b
 * (never NULL, even for length 0). Returns AD_ERR_SHORT, AD_ERR_TOO_LARGE, or 0.
 */
AD_MUST_CHECK int buf_get_bytes_ref(struct buf *b, size_t max, const uint8_t **ret,
                                    size_t *ret_len);

/* Same for a string: also AD_ERR_FORMAT when it contains a NUL. *ret is NOT
 * NUL-terminated; use *ret_len. */
AD_MUST_CHECK int buf_get_string_ref(struct buf *b, size_t max, const char **ret, size_t *ret_len);

/* Copying readers: *ret is malloc'ed (the caller frees; never NULL on success, even for
 * length 0). buf_get_string_dup NUL-terminates. Also AD_ERR_NOMEM. */
AD_MUST_CHECK int buf_get_bytes_dup(struct buf *b, size_t max, uint8_t **ret, size_t *ret_len);
AD_MUST_CHECK int buf_get_string_dup(struct buf *b, size_t max, char **ret);

/* Skip len raw bytes (AD_ERR_SHORT when fewer remain). */
AD_MUST_CHECK int buf_skip(struct buf *b, size_t len);

/* 0 when every byte was read, else AD_ERR_TRAILING. */
AD_MUST_CHECK int buf_expect_end(const struct buf *b);

#endif
