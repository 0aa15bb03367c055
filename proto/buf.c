#include "buf.h"

#include <stdlib.h>
#include <string.h>

#define BUF_F_SECRET 0x1u   /* wipe on growth, reset, free */
#define BUF_F_READONLY 0x2u /* buf_init_static: puts fail */
#define BUF_F_BORROWED 0x4u /* memory is not ours: no growth, no free */

#define BUF_INITIAL 256

static void wipe(void *p, size_t len)
{
    if (p != NULL && len > 0) {
        explicit_bzero(p, len);
    }
}

static struct buf *new_buf(size_t max, unsigned flags)
{
    struct buf *b = calloc(1, sizeof(*b));

    if (b == NULL) {
        return NULL;
    }
    b->max = max;
    b->flags = flags;
    return b;
}

struct buf *buf_new(size_t max)
{
    return new_buf(max, 0);
}

struct buf *buf_new_secret(size_t max)
{
    return new_buf(max, BUF_F_SECRET);
}

void buf_free(struct buf *b)
{
    if (b == NULL) {
        return;
    }
    if ((b->flags & BUF_F_BORROWED) == 0) {
        if (b->flags & BUF_F_SECRET) {
            wipe(b->data, b->cap);
        }
        free(b->data);
    }
    free(b);
}

void buf_reset(struct buf *b)
{
    if ((b->flags & BUF_F_SECRET) && (b->flags & BUF_F_READONLY) == 0) {
        wipe(b->data, b->wpos);
    }
    b->rpos = 0;
    b->wpos = 0;
}

void buf_init_static(struct buf *b, const void *data, size_t len)
{
    /* The cast drops const only to share struct buf; READONLY keeps puts away. */
    b->data = (uint8_t *)(uintptr_t)data;
    b->rpos = 0;
    b->wpos = len;
    b->cap = len;
    b->max = len;
    b->flags = BUF_F_READONLY | BUF_F_BORROWED;
}

void buf_init_fixed(struct buf *b, void *mem, size_t cap)
{
    b->data = mem;
    b->rpos = 0;
    b->wpos = 0;
    b->cap = cap;
    b->max = cap;
    b->flags = BUF_F_BORROWED;
}

size_t buf_remaining(const struct buf *b)
{
    return b->wpos - b->rpos;
}

const uint8_t *buf_ptr(const struct buf *b)
{
    return b->data + b->rpos;
}

size_t buf_len(const struct buf *b)
{
    return b->wpos;
}

const uint8_t *buf_data(const struct buf *b)
{
    return b->data;
}

size_t buf_max(const struct buf *b)
{
    return b->max;
}

/* Make room for len more bytes after wpos. Secret buffers never realloc: the old
 * block is wiped after the copy so no stale copy of a secret stays on the heap. */
static int grow(struct buf *b, size_t len)
{
    size_t need;
    size_t cap;
    uint8_t *p;

    if (b->flags & BUF_F_READONLY) {
        return AD_ERR_INTERNAL;
    }
    if (b->max - b->wpos < len) {
        return AD_ERR_TOO_LARGE;
    }
    need = b->wpos + len;
    if (need <= b->cap) {
        return AD_OK;
    }
    if (b->flags & BUF_F_BORROWED) {
        return AD_ERR_TOO_LARGE;
    }
    cap = b->cap < BUF_INITIAL ? BUF_INITIAL : b->cap;
    while (cap < need) {
        cap = cap > b->max / 2 ? b->max : cap * 2;
    }
    if (cap > b->max) {
        cap = b->max;
    }
    if (b->flags & BUF_F_SECRET) {
        if ((p = malloc(cap)) == NULL) {
            return AD_ERR_NOMEM;
        }
        if (b->data != NULL) {
            memcpy(p, b->data, b->wpos);
            wipe(b->data, b->cap);
            free(b->data);
        }
    } else if ((p = realloc(b->data, cap)) == NULL) {
        return AD_ERR_NOMEM;
    }
    b->data = p;
    b->cap = cap;
    return AD_OK;
}

int buf_reserve(struct buf *b, size_t len, uint8_t **ret_ptr)
{
    int r;

    if ((r = grow(b, len)) != 0) {
        return r;
    }
    *ret_ptr = b->data + b->wpos;
    return AD_OK;
}

int buf_commit(struct buf *b, size_t len)
{
    if (b->flags & BUF_F_READONLY) {
        return AD_ERR_INTERNAL;
    }
    if (b->cap - b->wpos < len) {
        return AD_ERR_INTERNAL;
    }
    b->wpos += len;
    return AD_OK;
}

int buf_put_raw(struct buf *b, const void *p, size_t len)
{
    int r;

    if ((r = grow(b, len)) != 0) {
        return r;
    }
    if (len > 0) {
        memcpy(b->data + b->wpos, p, len);
    }
    b->wpos += len;
    return AD_OK;
}

int buf_put_u8(struct buf *b, uint8_t v)
{
    return buf_put_raw(b, &v, 1);
}

int buf_put_u32(struct buf *b, uint32_t v)
{
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    return buf_put_raw(b, be, sizeof(be));
}

int buf_put_u64(struct buf *b, uint64_t v)
{
    uint8_t be[8];

    for (size_t i = 0; i < 8; i++) {
        be[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    return buf_put_raw(b, be, sizeof(be));
}

int buf_put_bytes(struct buf *b, const void *p, size_t len)
{
    int r;

    if (len > UINT32_MAX) {
        return AD_ERR_TOO_LARGE;
    }
    /* Check room for both parts first so a failure writes nothing. */
    if (len > SIZE_MAX - 4) {
        return AD_ERR_TOO_LARGE;
    }
    if ((r = grow(b, 4 + len)) != 0) {
        return r;
    }
    if ((r = buf_put_u32(b, (uint32_t)len)) != 0 || (r = buf_put_raw(b, p, len)) != 0) {
        return r;
    }
    return AD_OK;
}

int buf_put_string_len(struct buf *b, const char *s, size_t len)
{
    if (len > 0 && memchr(s, '\0', len) != NULL) {
        return AD_ERR_FORMAT;
    }
    return buf_put_bytes(b, s, len);
}

int buf_put_string(struct buf *b, const char *s)
{
    return buf_put_bytes(b, s, strlen(s));
}

int buf_truncate(struct buf *b, size_t len)
{
    if (b->flags & BUF_F_READONLY) {
        return AD_ERR_INTERNAL;
    }
    if (len < b->rpos || len > b->wpos) {
        return AD_ERR_INVALID;
    }
    if (b->flags & BUF_F_SECRET) {
        wipe(b->data + len, b->wpos - len);
    }
    b->wpos = len;
    return AD_OK;
}

int buf_poke_u32(struct buf *b, size_t pos, uint32_t v)
{
    if (b->flags & BUF_F_READONLY) {
        return AD_ERR_INTERNAL;
    }
    if (b->wpos < 4 || pos > b->wpos - 4) {
        return AD_ERR_INVALID;
    }
    b->data[pos] = (uint8_t)(v >> 24);
    b->data[pos + 1] = (uint8_t)(v >> 16);
    b->data[pos + 2] = (uint8_t)(v >> 8);
    b->data[pos + 3] = (uint8_t)v;
    return AD_OK;
}

int buf_get_u8(struct buf *b, uint8_t *ret)
{
    if (buf_remaining(b) < 1) {
        return AD_ERR_SHORT;
    }
    *ret = b->data[b->rpos];
    b->rpos += 1;
    return AD_OK;
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int buf_get_u32(struct buf *b, uint32_t *ret)
{
    if (buf_remaining(b) < 4) {
        return AD_ERR_SHORT;
    }
    *ret = load_be32(b->data + b->rpos);
    b->rpos += 4;
    return AD_OK;
}

int buf_get_u64(struct buf *b, uint64_t *ret)
{
    const uint8_t *p;

    if (buf_remaining(b) < 8) {
        return AD_ERR_SHORT;
    }
    p = b->data + b->rpos;
    *ret = (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
    b->rpos += 8;
    return AD_OK;
}

/* Peek the u32 length and check it against max and what is left, without moving. */
static int peek_len(const struct buf *b, size_t max, size_t *ret_len)
{
    uint32_t len;

    if (buf_remaining(b) < 4) {
        return AD_ERR_SHORT;
    }
    len = load_be32(b->data + b->rpos);
    if (len > max) {
        return AD_ERR_TOO_LARGE;
    }
    if (buf_remaining(b) - 4 < len) {
        return AD_ERR_SHORT;
    }
    *ret_len = len;
    return AD_OK;
}

int buf_get_bytes_ref(struct buf *b, size_t max, const uint8_t **ret, size_t *ret_len)
{
    size_t len;
    int r;

    if ((r = peek_len(b, max, &len)) != 0) {
        return r;
    }
    *ret = b->data + b->rpos + 4;
    *ret_len = len;
    b->rpos += 4 + len;
    return AD_OK;
}

int buf_get_string_ref(struct buf *b, size_t max, const char **ret, size_t *ret_len)
{
    const uint8_t *p;
    size_t len;
    int r;

    if ((r = peek_len(b, max, &len)) != 0) {
        return r;
    }
    p = b->data + b->rpos + 4;
    if (len > 0 && memchr(p, '\0', len) != NULL) {
        return AD_ERR_FORMAT;
    }
    *ret = (const char *)p;
    *ret_len = len;
    b->rpos += 4 + len;
    return AD_OK;
}

int buf_get_bytes_dup(struct buf *b, size_t max, uint8_t **ret, size_t *ret_len)
{
    size_t len;
    uint8_t *p;
    int r;

    if ((r = peek_len(b, max, &len)) != 0) {
        return r;
    }
    if ((p = malloc(len > 0 ? len : 1)) == NULL) {
        return AD_ERR_NOMEM;
    }
    if (len > 0) {
        memcpy(p, b->data + b->rpos + 4, len);
    }
    *ret = p;
    *ret_len = len;
    b->rpos += 4 + len;
    return AD_OK;
}

int buf_get_string_dup(struct buf *b, size_t max, char **ret)
{
    const uint8_t *src;
    size_t len;
    char *s;
    int r;

    if ((r = peek_len(b, max, &len)) != 0) {
        return r;
    }
    src = b->data + b->rpos + 4;
    if (len > 0 && memchr(src, '\0', len) != NULL) {
        return AD_ERR_FORMAT;
    }
    if ((s = malloc(len + 1)) == NULL) {
        return AD_ERR_NOMEM;
    }
    if (len > 0) {
        memcpy(s, src, len);
    }
    s[len] = '\0';
    *ret = s;
    b->rpos += 4 + len;
    return AD_OK;
}

int buf_skip(struct buf *b, size_t len)
{
    if (buf_remaining(b) < len) {
        return AD_ERR_SHORT;
    }
    b->rpos += len;
    return AD_OK;
}

int buf_expect_end(const struct buf *b)
{
    return buf_remaining(b) == 0 ? AD_OK : AD_ERR_TRAILING;
}
