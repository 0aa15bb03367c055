#include "io.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "status.h"

int io_write_all(int fd, const void *p, size_t len)
{
    const uint8_t *src = p;
    ssize_t n;

    while (len > 0) {
        /* MSG_NOSIGNAL: a library must not kill its host process with SIGPIPE. */
        n = send(fd, src, len, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) {
            n = write(fd, src, len);
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return (errno == EPIPE || errno == ECONNRESET) ? AD_ERR_CLOSED : AD_ERR_SYSTEM;
        }
        src += n;
        len -= (size_t)n;
    }
    return AD_OK;
}

int io_read_all(int fd, void *p, size_t len)
{
    uint8_t *dst = p;
    ssize_t n;

    while (len > 0) {
        n = read(fd, dst, len);
        if (n == 0) {
            return AD_ERR_CLOSED;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == ECONNRESET ? AD_ERR_CLOSED : AD_ERR_SYSTEM;
        }
        dst += n;
        len -= (size_t)n;
    }
    return AD_OK;
}

int io_wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;

    while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (n < 0) {
        return AD_ERR_SYSTEM;
    }
    if (n == 0) {
        errno = ETIMEDOUT;
        return AD_ERR_SYSTEM;
    }
    return AD_OK;
}

/*
 * The header's first bytes in one read of at most the header (usually the
 * whole of it: a sender writes a frame at once), then the rest of the
 * length field if the read was short. Nothing past the header is read.
 */
static int read_header_start(int fd, uint8_t hdr[FRAME_HEADER_LEN], size_t *ret_have)
{
    ssize_t n;

    while ((n = read(fd, hdr, FRAME_HEADER_LEN)) < 0 && errno == EINTR) {
    }
    if (n == 0) {
        return AD_ERR_CLOSED;
    }
    if (n < 0) {
        return errno == ECONNRESET ? AD_ERR_CLOSED : AD_ERR_SYSTEM;
    }
    *ret_have = (size_t)n;
    if (*ret_have < 4) {
        int r = io_read_all(fd, hdr + *ret_have, 4 - *ret_have);

        *ret_have = 4;
        return r;
    }
    return AD_OK;
}

int io_read_frame(int fd, struct buf *body, struct frame_header *ret_header)
{
    uint8_t hdr[FRAME_HEADER_LEN];
    struct frame_header h;
    uint8_t *dst;
    size_t have = 0;
    size_t len;
    int r;

    /* The length first, so an oversized frame is refused before anything else is read. */
    if ((r = read_header_start(fd, hdr, &have)) != 0) {
        return r;
    }
    if ((r = frame_header_decode(hdr, 4, &h)) != AD_ERR_SHORT) {
        return r == 0 ? AD_ERR_INTERNAL : r;
    }
    if ((r = io_read_all(fd, hdr + have, sizeof(hdr) - have)) != 0 ||
        (r = frame_header_decode(hdr, sizeof(hdr), &h)) != 0) {
        return r;
    }
    len = frame_body_len(&h);
    buf_reset(body);
    if ((r = buf_reserve(body, len, &dst)) != 0 || (r = io_read_all(fd, dst, len)) != 0 ||
        (r = buf_commit(body, len)) != 0) {
        return r;
    }
    *ret_header = h;
    return AD_OK;
}

/* Frames up to this size go out in one send(): header and body copied together. */
#define IO_SMALL_FRAME 4096

int io_write_frame(int fd, uint8_t type, uint32_t request_id, const struct buf *body)
{
    uint8_t small[IO_SMALL_FRAME];
    size_t len = buf_remaining(body);
    int r;

    if ((r = frame_header_encode(type, request_id, len, small)) != 0) {
        return r;
    }
    if (len <= sizeof(small) - FRAME_HEADER_LEN) {
        if (len > 0) {
            memcpy(small + FRAME_HEADER_LEN, buf_ptr(body), len);
        }
        return io_write_all(fd, small, FRAME_HEADER_LEN + len);
    }
    if ((r = io_write_all(fd, small, FRAME_HEADER_LEN)) != 0 ||
        (r = io_write_all(fd, buf_ptr(body), len)) != 0) {
        return r;
    }
    return AD_OK;
}

struct proto_client {
    int fd;
    uint32_t next_id;
    struct buf *hello_body; /* backs the strings of hello */
    struct msg_hello_reply hello;
};

static int connect_unix(const char *path, int *ret_fd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    int fd;

    if (len >= sizeof(sa.sun_path)) {
        return AD_ERR_INVALID;
    }
    memcpy(sa.sun_path, path, len + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        return AD_ERR_SYSTEM;
    }
    while (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno != EINTR) {
            int saved = errno;

            close(fd);
            errno = saved;
            return AD_ERR_SYSTEM;
        }
    }
    *ret_fd = fd;
    return AD_OK;
}

/* Turn a reply body into an ad_err: 0 for STATUS_OK, else status_to_err (a malformed
 * error reply is AD_ERR_FORMAT). */
static int reply_err(const struct buf *reply)
{
    struct buf copy = *reply;
    struct msg_error e;
    uint32_t status;
    int r;

    if ((r = msg_status_peek(reply, &status)) != 0) {
        return r;
    }
    if (status == STATUS_OK) {
        return AD_OK;
    }
    if ((r = msg_error_decode(&copy, &e)) != 0) {
        return r;
    }
    return status_to_err(e.status);
}

static int hello(struct proto_client *c, const char *client_name)
{
    struct msg_hello_request req = {PROTO_VERSION, PROTO_VERSION, msg_str_c(client_name)};
    struct buf *body = NULL;
    int r;

    if ((body = buf_new(FRAME_BODY_MAX)) == NULL ||
        (c->hello_body = buf_new(FRAME_BODY_MAX)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if ((r = msg_hello_request_encode(body, &req)) != 0 ||
        (r = proto_client_call(c, MSG_HELLO, body, c->hello_body)) != 0 ||
        (r = reply_err(c->hello_body)) != 0 ||
        (r = msg_hello_reply_decode(c->hello_body, &c->hello)) != 0) {
        goto out;
    }
    if (c->hello.version != PROTO_VERSION) {
        r = AD_ERR_UNSUPPORTED;
    }
out:
    buf_free(body);
    return r;
}

int proto_client_connect(const char *path, const char *client_name, struct proto_client **ret)
{
    struct proto_client *c = NULL;
    int r;

    if ((c = calloc(1, sizeof(*c))) == NULL) {
        return AD_ERR_NOMEM;
    }
    c->fd = -1;
    c->next_id = 1;
    if ((r = connect_unix(path, &c->fd)) != 0 || (r = hello(c, client_name)) != 0) {
        goto out;
    }
    *ret = c; /* the caller owns it now */
    c = NULL;
out:
    proto_client_free(c);
    return r;
}

void proto_client_free(struct proto_client *c)
{
    if (c == NULL) {
        return;
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    buf_free(c->hello_body);
    free(c);
}

const struct msg_hello_reply *proto_client_hello(const struct proto_client *c)
{
    return &c->hello;
}

int proto_client_fd(const struct proto_client *c)
{
    return c->fd;
}

int proto_client_set_timeout(struct proto_client *c, unsigned timeout_ms)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};

    if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
        return AD_ERR_SYSTEM;
    }
    return AD_OK;
}

int proto_client_call(struct proto_client *c, uint8_t type, const struct buf *body,
                      struct buf *reply)
{
    struct frame_header h;
    uint32_t id = c->next_id++;
    int r;

    if (c->next_id == 0) {
        c->next_id = 1;
    }
    if ((r = io_write_frame(c->fd, type, id, body)) != 0 ||
        (r = io_read_frame(c->fd, reply, &h)) != 0) {
        return r;
    }
    /* One call in flight: the reply must be this one. */
    if (h.request_id != id || h.type != (uint8_t)(type | FRAME_REPLY)) {
        return AD_ERR_FORMAT;
    }
    return AD_OK;
}
