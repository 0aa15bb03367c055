#include "wire.h"

#include <stdlib.h>
#include <string.h>

int wire_reserve(struct wire *w, size_t len)
{
    uint8_t *p;
    size_t cap;

    if (len > WIRE_FRAME_MAX || w->len > WIRE_FRAME_MAX - len) {
        return -1;
    }
    if (w->len + len <= w->cap) {
        return 0;
    }
    cap = w->cap < 256 ? 256 : w->cap;
    while (cap < w->len + len) {
        cap *= 2;
    }
    if ((p = realloc(w->ptr, cap)) == NULL) {
        return -1;
    }
    w->ptr = p;
    w->cap = cap;
    return 0;
}

void wire_free(struct wire *w)
{
    free(w->ptr);
    memset(w, 0, sizeof(*w));
}

static int put(struct wire *w, const void *p, size_t len)
{
    if (wire_reserve(w, len) != 0) {
        return -1;
    }
    if (len > 0) {
        memcpy(w->ptr + w->len, p, len);
    }
    w->len += len;
    return 0;
}

int wire_put_u8(struct wire *w, uint8_t v)
{
    return put(w, &v, 1);
}

int wire_put_u32(struct wire *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    return put(w, b, sizeof(b));
}

int wire_put_u64(struct wire *w, uint64_t v)
{
    return wire_put_u32(w, (uint32_t)(v >> 32)) != 0 || wire_put_u32(w, (uint32_t)v) != 0 ? -1 : 0;
}

int wire_put_bytes(struct wire *w, const uint8_t *p, size_t len)
{
    if (len > UINT32_MAX) {
        return -1;
    }
    return wire_put_u32(w, (uint32_t)len) != 0 || put(w, p, len) != 0 ? -1 : 0;
}

int wire_put_string(struct wire *w, const char *s)
{
    return wire_put_bytes(w, (const uint8_t *)s, strlen(s));
}

static size_t remaining(const struct wire *w)
{
    return w->len - w->pos;
}

int wire_get_u8(struct wire *w, uint8_t *ret)
{
    if (remaining(w) < 1) {
        return -1;
    }
    *ret = w->ptr[w->pos++];
    return 0;
}

int wire_get_u32(struct wire *w, uint32_t *ret)
{
    const uint8_t *p;

    if (remaining(w) < 4) {
        return -1;
    }
    p = w->ptr + w->pos;
    *ret = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    w->pos += 4;
    return 0;
}

int wire_get_u64(struct wire *w, uint64_t *ret)
{
    uint32_t hi, lo;

    if (remaining(w) < 8) {
        return -1;
    }
    if (wire_get_u32(w, &hi) != 0 || wire_get_u32(w, &lo) != 0) {
        return -1;
    }
    *ret = (uint64_t)hi << 32 | lo;
    return 0;
}

int wire_get_bytes_ref(struct wire *w, size_t max, const uint8_t **ret, size_t *ret_len)
{
    size_t start = w->pos;
    uint32_t n;

    if (wire_get_u32(w, &n) != 0) {
        return -1;
    }
    if (n > max || n > remaining(w)) {
        w->pos = start;
        return -1;
    }
    *ret = w->ptr + w->pos;
    *ret_len = n;
    w->pos += n;
    return 0;
}

int wire_get_bytes_dup(struct wire *w, size_t max, uint8_t **ret, size_t *ret_len)
{
    size_t start = w->pos;
    const uint8_t *p;
    uint8_t *copy = NULL;
    size_t n;

    if (wire_get_bytes_ref(w, max, &p, &n) != 0) {
        return -1;
    }
    if (n > 0 && (copy = malloc(n)) == NULL) {
        w->pos = start;
        return -1;
    }
    if (n > 0) {
        memcpy(copy, p, n);
    }
    *ret = copy;
    *ret_len = n;
    return 0;
}

int wire_get_cstring(struct wire *w, char *out, size_t out_size)
{
    size_t start = w->pos;
    const uint8_t *p;
    size_t n;

    if (wire_get_bytes_ref(w, out_size - 1, &p, &n) != 0) {
        return -1;
    }
    if (memchr(p, 0, n) != NULL) {
        w->pos = start;
        return -1;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int wire_expect_end(const struct wire *w)
{
    return remaining(w) == 0 ? 0 : -1;
}

void wire_header_encode(uint8_t type, uint32_t request_id, size_t body_len,
                        uint8_t out[WIRE_HEADER_LEN])
{
    uint32_t len = (uint32_t)(body_len + WIRE_HEADER_LEN - 4);

    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    out[4] = WIRE_VERSION;
    out[5] = type;
    out[6] = (uint8_t)(request_id >> 24);
    out[7] = (uint8_t)(request_id >> 16);
    out[8] = (uint8_t)(request_id >> 8);
    out[9] = (uint8_t)request_id;
}

int wire_header_decode(const uint8_t in[WIRE_HEADER_LEN], struct wire_header *ret)
{
    uint32_t len = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];

    /* proto/README.md: 6 <= length <= FRAME_MAX - 4, checked before reading the body. */
    if (len < WIRE_HEADER_LEN - 4 || len > WIRE_FRAME_MAX - 4 || in[4] != WIRE_VERSION) {
        return -1;
    }
    ret->type = in[5];
    ret->request_id = (uint32_t)in[6] << 24 | (uint32_t)in[7] << 16 | (uint32_t)in[8] << 8 | in[9];
    ret->body_len = len - (WIRE_HEADER_LEN - 4);
    return 0;
}
