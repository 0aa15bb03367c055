#include "agentctl_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HEADER_LEN 10u /* u32 length, u8 version, u8 type, u32 request_id */

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int agentctl_wire_connect(const char *path, int *ret_fd)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd;
    int e;

    if (strlen(path) >= sizeof(a.sun_path)) {
        errno = ENAMETOOLONG;
        return AD_ERR_TOO_LARGE;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        return AD_ERR_SYSTEM;
    }
    if (connect(fd, (const struct sockaddr *)&a, sizeof(a)) != 0) {
        e = errno;
        close(fd);
        errno = e;
        return AD_ERR_SYSTEM;
    }
    *ret_fd = fd;
    return AD_OK;
}

int agentctl_wire_begin(struct agentctl_wire_w *w, uint8_t type, uint32_t id)
{
    *w = (struct agentctl_wire_w){0};
    if ((w->p = malloc(AGENTCTL_WIRE_FRAME_MAX)) == NULL) {
        return AD_ERR_NOMEM;
    }
    store_be32(w->p, 0); /* length, set at send */
    w->p[4] = AGENTCTL_WIRE_VERSION;
    w->p[5] = type;
    store_be32(w->p + 6, id);
    w->len = HEADER_LEN;
    return AD_OK;
}

static void put_raw(struct agentctl_wire_w *w, const void *v, size_t n)
{
    if (w->is_bad || w->p == NULL || AGENTCTL_WIRE_FRAME_MAX - w->len < n) {
        w->is_bad = true;
        return;
    }
    if (n > 0) {
        memcpy(w->p + w->len, v, n);
    }
    w->len += n;
}

void agentctl_wire_put_u32(struct agentctl_wire_w *w, uint32_t v)
{
    uint8_t b[4];

    store_be32(b, v);
    put_raw(w, b, 4);
}

void agentctl_wire_put_u64(struct agentctl_wire_w *w, uint64_t v)
{
    agentctl_wire_put_u32(w, (uint32_t)(v >> 32));
    agentctl_wire_put_u32(w, (uint32_t)v);
}

void agentctl_wire_put_bytes(struct agentctl_wire_w *w, const void *v, size_t n)
{
    if (n > UINT32_MAX) {
        w->is_bad = true;
        return;
    }
    agentctl_wire_put_u32(w, (uint32_t)n);
    put_raw(w, v, n);
}

void agentctl_wire_put_str(struct agentctl_wire_w *w, const char *s)
{
    agentctl_wire_put_bytes(w, s, s != NULL ? strlen(s) : 0);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return AD_ERR_SYSTEM;
        }
        p += k;
        n -= (size_t)k;
    }
    return AD_OK;
}

int agentctl_wire_send(int fd, struct agentctl_wire_w *w)
{
    if (w->is_bad || w->p == NULL) {
        return AD_ERR_TOO_LARGE;
    }
    store_be32(w->p, (uint32_t)(w->len - 4));
    return write_all(fd, w->p, w->len);
}

void agentctl_wire_w_free(struct agentctl_wire_w *w)
{
    if (w == NULL) {
        return;
    }
    free(w->p);
    *w = (struct agentctl_wire_w){0};
}

/* 0, AD_ERR_CLOSED (EOF before the first byte), AD_ERR_SHORT (EOF inside), SYSTEM. */
static int read_all(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = read(fd, p + got, n - got);

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            return AD_ERR_SYSTEM;
        }
        if (k == 0) {
            return got == 0 ? AD_ERR_CLOSED : AD_ERR_SHORT;
        }
        got += (size_t)k;
    }
    return AD_OK;
}

int agentctl_wire_recv(int fd, struct agentctl_wire_reply *ret)
{
    uint8_t hdr[4];
    uint8_t *frame = NULL;
    struct agentctl_wire_r r;
    uint32_t len;
    int rc;

    memset(ret, 0, sizeof(*ret));
    if ((rc = read_all(fd, hdr, 4)) != 0) {
        return rc;
    }
    len = load_be32(hdr);
    if (len < HEADER_LEN - 4 + 4) { /* version, type, id and a status at least */
        return AD_ERR_FORMAT;
    }
    if (len > AGENTCTL_WIRE_FRAME_MAX - 4) {
        return AD_ERR_TOO_LARGE;
    }
    if ((frame = malloc((size_t)len + 4)) == NULL) {
        return AD_ERR_NOMEM;
    }
    memcpy(frame, hdr, 4);
    if ((rc = read_all(fd, frame + 4, len)) != 0) {
        rc = rc == AD_ERR_CLOSED ? AD_ERR_SHORT : rc;
        goto out;
    }
    if (frame[4] != AGENTCTL_WIRE_VERSION || (frame[5] & 0x80) == 0) {
        rc = AD_ERR_FORMAT;
        goto out;
    }
    r = (struct agentctl_wire_r){frame, (size_t)len + 4, HEADER_LEN};
    ret->type = frame[5];
    ret->id = load_be32(frame + 6);
    if ((rc = agentctl_wire_get_u32(&r, &ret->status)) != 0) { /* u32 status */
        goto out;
    }
    if (ret->status != AGENTCTL_ST_OK) {
        const uint8_t *m = NULL;
        size_t m_len = 0;

        if ((rc = agentctl_wire_get_bytes(&r, AGENTCTL_WIRE_MSG_MAX, &m, &m_len)) != 0 || /* msg */
            (rc = agentctl_wire_get_end(&r)) != 0) {
            goto out;
        }
        memcpy(ret->msg, m, m_len);
        ret->msg[m_len] = '\0';
    }
    ret->body = r;
    ret->frame = frame;
    frame = NULL;
    rc = AD_OK;
out:
    free(frame);
    return rc;
}

void agentctl_wire_reply_free(struct agentctl_wire_reply *rep)
{
    if (rep == NULL) {
        return;
    }
    free(rep->frame);
    memset(rep, 0, sizeof(*rep));
}

int agentctl_wire_get_u32(struct agentctl_wire_r *r, uint32_t *ret)
{
    if (r->len - r->pos < 4) {
        return AD_ERR_SHORT;
    }
    *ret = load_be32(r->p + r->pos);
    r->pos += 4;
    return AD_OK;
}

int agentctl_wire_get_u64(struct agentctl_wire_r *r, uint64_t *ret)
{
    if (r->len - r->pos < 8) {
        return AD_ERR_SHORT;
    }
    *ret = (uint64_t)load_be32(r->p + r->pos) << 32 | load_be32(r->p + r->pos + 4);
    r->pos += 8;
    return AD_OK;
}

int agentctl_wire_get_bytes(struct agentctl_wire_r *r, size_t max, const uint8_t **ret,
                            size_t *ret_len)
{
    uint32_t n;

    if (r->len - r->pos < 4) {
        return AD_ERR_SHORT;
    }
    n = load_be32(r->p + r->pos);
    if (n > max) {
        return AD_ERR_TOO_LARGE;
    }
    if (r->len - r->pos - 4 < n) {
        return AD_ERR_SHORT;
    }
    *ret = r->p + r->pos + 4;
    *ret_len = n;
    r->pos += 4 + (size_t)n;
    return AD_OK;
}

int agentctl_wire_get_str(struct agentctl_wire_r *r, size_t max, char **ret)
{
    struct agentctl_wire_r save = *r;
    const uint8_t *v = NULL;
    size_t n = 0;
    char *s;
    int rc;

    if ((rc = agentctl_wire_get_bytes(r, max, &v, &n)) != 0) {
        return rc;
    }
    if (memchr(v, '\0', n) != NULL) {
        *r = save;
        return AD_ERR_FORMAT;
    }
    if ((s = malloc(n + 1)) == NULL) {
        *r = save;
        return AD_ERR_NOMEM;
    }
    memcpy(s, v, n);
    s[n] = '\0';
    *ret = s;
    return AD_OK;
}

int agentctl_wire_get_end(const struct agentctl_wire_r *r)
{
    return r->pos == r->len ? AD_OK : AD_ERR_TRAILING;
}

const char *agentctl_wire_status_name(uint32_t status)
{
    static const char *const names[] = {
        "OK",
        "INTERNAL",
        "BAD_REQUEST",
        "DENIED",
        "NOT_FOUND",
        "MECHANISM_INVALID",
        "DATA_LEN_RANGE",
        "KEY_TYPE",
        "TPM_ERROR",
        "RATE_LIMITED",
        "UNSUPPORTED",
        "NO_MEMORY",
        "EXISTS",
        "BUSY",
        "VERSION",
        "MECHANISM_PARAM",
    };
    static char unknown[32];

    if (status < sizeof(names) / sizeof(names[0])) {
        return names[status];
    }
    snprintf(unknown, sizeof(unknown), "status %u", status);
    return unknown;
}
