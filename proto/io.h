/*
 * Blocking I/O helpers for clients (agentctl, tests; the PKCS#11 module may
 * reuse io_*). The daemon is non-blocking and uses struct frame_reader.
 * Every call retries on EINTR; write uses MSG_NOSIGNAL on sockets so a closed
 * peer gives an error, never SIGPIPE.
 */
#ifndef AGENTD_PROTO_IO_H
#define AGENTD_PROTO_IO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "frame.h"
#include "msg.h"

/* Write all len bytes. AD_ERR_CLOSED when the peer is gone (EPIPE, ECONNRESET),
 * AD_ERR_SYSTEM otherwise (errno kept). */
AD_MUST_CHECK int io_write_all(int fd, const void *p, size_t len);

/* Read exactly len bytes. AD_ERR_CLOSED on EOF (before or in the middle), AD_ERR_SYSTEM
 * on other errors (errno kept, EAGAIN included). */
AD_MUST_CHECK int io_read_all(int fd, void *p, size_t len);

/*
 * Wait until fd has something to read (or EOF), up to timeout_ms (-1: no
 * limit). AD_ERR_SYSTEM with errno ETIMEDOUT when the time ran out.
 * A caller that sends a request and then waits for the reply should wait
 * here rather than in read(): on a Unix stream socket a thread sleeping in
 * read() is also woken, for nothing, when the peer reads the request (the
 * socket's "writable again" wake-up is not filtered for readers), while
 * poll() waits for POLLIN alone.
 */
AD_MUST_CHECK int io_wait_readable(int fd, int timeout_ms);

/*
 * Read one frame: the 10 header bytes, then (after frame_header_decode has
 * checked length <= FRAME_MAX and the version) the body into body, which is
 * reset first. AD_ERR_TOO_LARGE also when the body exceeds buf_max(body).
 * On success *ret_header is set and body holds exactly the body.
 */
AD_MUST_CHECK int io_read_frame(int fd, struct buf *body, struct frame_header *ret_header);

/* Write one frame around body's unread bytes. */
AD_MUST_CHECK int io_write_frame(int fd, uint8_t type, uint32_t request_id, const struct buf *body);

/*
 * Minimal blocking client: one connection, one call in flight, one thread at a
 * time. After any error other than a non-OK status inside a reply, the stream
 * may be out of step: free the client and connect again.
 */
struct proto_client;

/*
 * Connect (SOCK_STREAM | SOCK_CLOEXEC) to the unix socket at path and do the
 * HELLO handshake as client_name (<= CLIENT_NAME_MAX). AD_ERR_SYSTEM when the
 * socket cannot be reached, AD_ERR_UNSUPPORTED on STATUS_VERSION, the
 * status_to_err of any other error status. *ret is the caller's (proto_client_free).
 */
AD_MUST_CHECK int proto_client_connect(const char *path, const char *client_name,
                                       struct proto_client **ret);

/* Close and free; NULL is fine. */
void proto_client_free(struct proto_client *c);

/* The daemon's HELLO reply; strings valid until proto_client_free. */
const struct msg_hello_reply *proto_client_hello(const struct proto_client *c);

/* The socket, for poll(). Owned by c. */
int proto_client_fd(const struct proto_client *c);

/* Fail a send or receive that waits longer than timeout_ms (0: wait forever) with
 * AD_ERR_SYSTEM, errno EAGAIN. Set after connect, so HELLO itself waits. */
AD_MUST_CHECK int proto_client_set_timeout(struct proto_client *c, unsigned timeout_ms);

/*
 * Send request type (without the reply bit) with body's unread bytes, wait for
 * its reply and put the reply body (status first) into reply, which is reset
 * first. A reply with another request id or type is AD_ERR_FORMAT. Returns 0
 * whatever the status inside; check it with msg_status_peek / msg_error_decode.
 */
AD_MUST_CHECK int proto_client_call(struct proto_client *c, uint8_t type, const struct buf *body,
                                    struct buf *reply);

#endif
