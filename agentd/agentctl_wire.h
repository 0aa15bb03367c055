/*
 * Blocking client side of the agentd wire protocol (proto/README.md) for
 * agentctl and the test client adclient. TEMPORARY: proto/ has not yet
 * published its buf/frame/msg codecs and io.h; when it does, these become
 * thin calls into proto and this file goes away. Until then every byte
 * agentctl and adclient read or write goes through here, bounds-checked.
 */
#ifndef AGENTD_AGENTCTL_WIRE_H
#define AGENTD_AGENTCTL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define AGENTCTL_WIRE_FRAME_MAX (256u * 1024u) /* FRAME_MAX in proto/README.md */
#define AGENTCTL_WIRE_VERSION 1u
#define AGENTCTL_WIRE_MSG_MAX 256u /* error message string(256) */

enum agentctl_wire_type {
    AGENTCTL_MT_HELLO = 0x01,
    AGENTCTL_MT_WHOAMI = 0x02,
    AGENTCTL_MT_LIST_OBJECTS = 0x03,
    AGENTCTL_MT_SIGN = 0x04,
    AGENTCTL_MT_ADMIN_STATUS = 0x20,
    AGENTCTL_MT_ADMIN_WORKLOADS = 0x21,
    AGENTCTL_MT_ADMIN_KEYS = 0x22,
    AGENTCTL_MT_ADMIN_KEY_CREATE = 0x23,
    AGENTCTL_MT_ADMIN_KEY_DELETE = 0x24,
    AGENTCTL_MT_ADMIN_AUDIT_TAIL = 0x25,
};

enum agentctl_wire_status {
    AGENTCTL_ST_OK = 0,
    AGENTCTL_ST_DENIED = 3,
};

/* Frame under construction; the buffer is owned (agentctl_wire_w_free). */
struct agentctl_wire_w {
    uint8_t *p;
    size_t len;
    bool is_bad; /* a write did not fit: the frame is refused at send */
};

/* Read cursor over borrowed bytes. */
struct agentctl_wire_r {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

/* One reply frame; frame is owned, body borrows from it. */
struct agentctl_wire_reply {
    uint8_t *frame;
    uint8_t type; /* request type | 0x80 */
    uint32_t id;
    uint32_t status;
    char msg[AGENTCTL_WIRE_MSG_MAX + 1]; /* error text when status != OK */
    struct agentctl_wire_r body;         /* fields after status (OK only) */
};

/*
 * Connect to the unix socket at path. Returns 0 or AD_ERR_SYSTEM with errno
 * set (ENOENT/ECONNREFUSED: nobody listening), AD_ERR_TOO_LARGE for a path
 * longer than sun_path.
 */
AD_MUST_CHECK int agentctl_wire_connect(const char *path, int *ret_fd);

/* Start a frame of type with request id. Returns 0 or AD_ERR_NOMEM. */
AD_MUST_CHECK int agentctl_wire_begin(struct agentctl_wire_w *w, uint8_t type, uint32_t id);
void agentctl_wire_put_u32(struct agentctl_wire_w *w, uint32_t v);
void agentctl_wire_put_u64(struct agentctl_wire_w *w, uint64_t v);
void agentctl_wire_put_bytes(struct agentctl_wire_w *w, const void *v, size_t n);
void agentctl_wire_put_str(struct agentctl_wire_w *w, const char *s);
/* Finish the length and write the whole frame. 0, AD_ERR_TOO_LARGE, AD_ERR_SYSTEM. */
AD_MUST_CHECK int agentctl_wire_send(int fd, struct agentctl_wire_w *w);
void agentctl_wire_w_free(struct agentctl_wire_w *w);

/*
 * Read one reply frame (blocking). The length is checked against
 * FRAME_MAX before the body is read. Returns 0; AD_ERR_CLOSED at EOF;
 * AD_ERR_FORMAT / AD_ERR_TOO_LARGE for a bad frame; AD_ERR_SYSTEM; NOMEM.
 */
AD_MUST_CHECK int agentctl_wire_recv(int fd, struct agentctl_wire_reply *ret);
void agentctl_wire_reply_free(struct agentctl_wire_reply *rep);

/* Getters move the cursor only on success: 0 or AD_ERR_SHORT / TOO_LARGE. */
AD_MUST_CHECK int agentctl_wire_get_u32(struct agentctl_wire_r *r, uint32_t *ret);
AD_MUST_CHECK int agentctl_wire_get_u64(struct agentctl_wire_r *r, uint64_t *ret);
/* Borrowed bytes of at most max: valid while the reply lives. */
AD_MUST_CHECK int agentctl_wire_get_bytes(struct agentctl_wire_r *r, size_t max,
                                          const uint8_t **ret, size_t *ret_len);
/* Copy a string of at most max bytes (no NUL inside) into a new C string. */
AD_MUST_CHECK int agentctl_wire_get_str(struct agentctl_wire_r *r, size_t max, char **ret);
/* AD_ERR_TRAILING when bytes remain. */
AD_MUST_CHECK int agentctl_wire_get_end(const struct agentctl_wire_r *r);

/* Status name as in proto/README.md ("DENIED"), "status N" when unknown. */
const char *agentctl_wire_status_name(uint32_t status);

#endif
