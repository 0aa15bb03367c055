/*
 * Stand-in for proto/'s codecs (buf.h, frame.h, msg.h) until they land: the
 * field primitives and frame header of proto/README.md, nothing else. Only
 * client.c uses it, so switching to proto/msg.h touches client.c alone.
 * Integers are big-endian; bytes/strings are u32 length + payload.
 */
#ifndef AGENTD_PKCS11_WIRE_H
#define AGENTD_PKCS11_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1
#define WIRE_HEADER_LEN 10 /* u32 length, u8 version, u8 type, u32 request_id */
#define WIRE_FRAME_MAX (256 * 1024)
#define WIRE_REPLY 0x80
#define WIRE_KEYS_MAX 64
#define WIRE_CAS_MAX 16
#define WIRE_CERT_MAX 8192
#define WIRE_STRING_MAX 4096

enum wire_type {
    WIRE_HELLO = 0x01,
    WIRE_LIST_OBJECTS = 0x03,
    WIRE_SIGN = 0x04,
    WIRE_VERIFY = 0x05,
    WIRE_DIGEST = 0x06,
    WIRE_RANDOM = 0x07,
    WIRE_GENERATE_KEY = 0x08,
    WIRE_DESTROY_KEY = 0x09,
};

enum wire_status {
    WIRE_OK = 0,
    WIRE_INTERNAL = 1,
    WIRE_BAD_REQUEST = 2,
    WIRE_DENIED = 3,
    WIRE_NOT_FOUND = 4,
    WIRE_MECHANISM_INVALID = 5,
    WIRE_DATA_LEN_RANGE = 6,
    WIRE_KEY_TYPE = 7,
    WIRE_TPM_ERROR = 8,
    WIRE_RATE_LIMITED = 9,
    WIRE_UNSUPPORTED = 10,
    WIRE_NO_MEMORY = 11,
    WIRE_EXISTS = 12,
    WIRE_BUSY = 13,
    WIRE_VERSION_MISMATCH = 14,
    WIRE_MECHANISM_PARAM = 15,
};

/* A growable write buffer, or a read cursor over received bytes. Zero-init is empty. */
struct wire {
    uint8_t *ptr;
    size_t len;
    size_t cap;
    size_t pos;
};

struct wire_header {
    uint8_t type;
    uint32_t request_id;
    size_t body_len;
};

/* Writers: 0, or -1 when memory ran out. */
int wire_put_u8(struct wire *w, uint8_t v);
int wire_put_u32(struct wire *w, uint32_t v);
int wire_put_u64(struct wire *w, uint64_t v);
int wire_put_bytes(struct wire *w, const uint8_t *p, size_t len);
int wire_put_string(struct wire *w, const char *s);

/* Readers: 0, or -1 when short or over max; the cursor moves only on success. */
int wire_get_u8(struct wire *w, uint8_t *ret);
int wire_get_u32(struct wire *w, uint32_t *ret);
int wire_get_u64(struct wire *w, uint64_t *ret);
/* *ret points into w, valid until w changes. */
int wire_get_bytes_ref(struct wire *w, size_t max, const uint8_t **ret, size_t *ret_len);
/* *ret is a malloc'ed copy (NULL when empty), the caller's. */
int wire_get_bytes_dup(struct wire *w, size_t max, uint8_t **ret, size_t *ret_len);
/* Copies into out (size out_size, so at most out_size - 1 bytes) and NUL-terminates; no NUL
 * allowed inside. */
int wire_get_cstring(struct wire *w, char *out, size_t out_size);
int wire_expect_end(const struct wire *w);

/* Make room for len bytes at w->ptr (read side: the whole body). */
int wire_reserve(struct wire *w, size_t len);
void wire_free(struct wire *w);

/* Frame header: encode for a body of body_len; decode checks length and version. */
void wire_header_encode(uint8_t type, uint32_t request_id, size_t body_len,
                        uint8_t out[WIRE_HEADER_LEN]);
int wire_header_decode(const uint8_t in[WIRE_HEADER_LEN], struct wire_header *ret);

#endif
