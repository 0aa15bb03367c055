#include "conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dispatch.h"
#include "hasher.h"
#include "log.h"
#include "match.h"
#include "workload.h"

#define IN_INITIAL 4096

struct outbuf {
    struct outbuf *next;
    size_t len;
    size_t off;
    uint8_t data[];
};

struct conn {
    struct conn *prev;
    struct conn *next;
    struct daemon *d;
    int epfd;
    int fd;
    uint64_t id;
    struct ucred cred;
    /*
     * Kernel facts at accept time (owned, holds the pidfd). While its exe
     * hash is pending (workload_hash_is_pending) the conn reads and buffers
     * frames but dispatches none: every decision needs the hash.
     */
    struct workload_identity *wid;
    uint8_t *in;
    size_t in_len;
    size_t in_cap;
    struct outbuf *out_head;
    struct outbuf *out_tail;
    size_t out_bytes;
    unsigned holds;     /* requests in flight */
    uint32_t ep_events; /* what epoll watches now */
    uint64_t last_ns;
    uint64_t n_requests;
    bool is_live;
    bool is_eof;         /* peer finished sending */
    bool is_closing;     /* protocol error: close once output is flushed */
    bool is_not_reading; /* daemon shutting down */
};

static void update_events(struct conn *c);
static bool maybe_finish(struct conn *c);
static void process_input(struct conn *c);

static bool is_pending(const struct conn *c)
{
    return workload_hash_is_pending(c->wid);
}

/*
 * A cache miss: hand the exe to the hasher thread, unless a hash of the
 * same file (same key) is already on its way, which then serves this conn
 * too. Without a hasher (tests, tools) hash here as before. Returns 0,
 * AD_ERR_RATE (hasher queue full), or what workload_identify_finish says.
 */
static int start_hash(struct conn *c)
{
    const struct workload_file_key *k = workload_hash_key(c->wid);
    struct hasher *h = c->d->hasher;
    int fd = workload_take_exe_fd(c->wid);
    uint8_t sha[32];
    bool is_hashed;

    if (h != NULL && hasher_is_pending(h, k)) {
        close(fd);
        return AD_OK;
    }
    if (h != NULL) {
        return hasher_submit(h, fd, k); /* takes fd */
    }
    is_hashed = workload_hash_file(fd, k, NULL, sha) == AD_OK;
    close(fd);
    if (is_hashed) {
        workload_cache_put(c->d->wcache, k, sha);
    }
    return workload_identify_finish(c->wid, is_hashed ? sha : NULL);
}

/*
 * The peer has closed its end: nothing it sent can be answered. A process
 * that connects and exits at once (C_Initialize then C_Finalize, since the
 * module does not wait for HELLO's answer) is gone before it can be
 * identified; that is not worth a warning. A socket still open, say passed
 * to another process by one that exited, is.
 */
static bool peer_has_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};

    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP)) != 0;
}

int conn_new(struct daemon *d, int epfd, int fd, uint64_t id, const struct ucred *cred,
             struct conn **ret)
{
    struct conn *c = NULL;
    struct epoll_event ev = {.events = EPOLLIN};
    int r;

    if ((c = calloc(1, sizeof(*c))) == NULL || (c->in = malloc(IN_INITIAL)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    c->d = d;
    c->epfd = epfd;
    c->fd = fd;
    c->id = id;
    c->cred = *cred;
    c->in_cap = IN_INITIAL;
    c->last_ns = server_now_ns();
    c->is_live = true;
    if ((r = workload_identify_start(fd, d->wcache, &c->wid)) != 0 ||
        (is_pending(c) && (r = start_hash(c)) != 0)) {
        if (r == AD_ERR_DENIED && peer_has_closed(fd)) {
            log_debug("conn %llu: pid %d closed its connection before it was identified",
                      (unsigned long long)id, (int)cred->pid);
            r = AD_ERR_CLOSED;
        } else {
            log_warn("conn %llu: cannot identify pid %d: %s", (unsigned long long)id,
                     (int)cred->pid, ad_strerror(r));
        }
        goto out;
    }
    ev.data.u64 = (uint64_t)(uintptr_t)c;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        log_error("conn: epoll_ctl: %s", strerror(errno));
        r = AD_ERR_SYSTEM;
        goto out;
    }
    c->ep_events = EPOLLIN;
    log_debug("conn %llu: pid %d uid %u%s", (unsigned long long)id, (int)cred->pid,
              (unsigned)cred->uid, is_pending(c) ? " (exe hash pending)" : "");
    *ret = c;
    c = NULL;
    fd = -1;
    r = AD_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (c != NULL) {
        c->fd = -1;
        conn_destroy(c);
    }
    return r;
}

static void out_clear(struct conn *c)
{
    struct outbuf *next;

    for (struct outbuf *o = c->out_head; o != NULL; o = next) {
        next = o->next;
        free(o);
    }
    c->out_head = NULL;
    c->out_tail = NULL;
    c->out_bytes = 0;
}

void conn_destroy(struct conn *c)
{
    if (c == NULL) {
        return;
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    out_clear(c);
    workload_identity_free(c->wid);
    free(c->in);
    free(c);
}

void conn_link(struct conn **head, struct conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head != NULL) {
        (*head)->prev = c;
    }
    *head = c;
}

void conn_unlink(struct conn **head, struct conn *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        *head = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = NULL;
    c->next = NULL;
}

struct conn *conn_next(const struct conn *c)
{
    return c->next;
}

uint64_t conn_id(const struct conn *c)
{
    return c->id;
}

bool conn_is_live(const struct conn *c)
{
    return c->is_live;
}

uint64_t conn_idle_since(const struct conn *c, uint64_t now)
{
    /* Buffered frames waiting for the exe hash wait for us, like held requests. */
    bool is_waiting = c->holds > 0 || (is_pending(c) && c->in_len > 0);

    return is_waiting || now < c->last_ns ? 0 : now - c->last_ns;
}

uint64_t conn_n_requests(const struct conn *c)
{
    return c->n_requests;
}

bool conn_is_reapable(const struct conn *c)
{
    return !c->is_live && c->holds == 0;
}

bool conn_is_identified(const struct conn *c)
{
    return !is_pending(c);
}

bool conn_waits_for_hash(const struct conn *c, const struct workload_file_key *key)
{
    return c->is_live && is_pending(c) && workload_file_key_eq(workload_hash_key(c->wid), key);
}

void conn_hash_done(struct conn *c, const uint8_t *sha256)
{
    int r;

    if ((r = workload_identify_finish(c->wid, sha256)) != 0) {
        /* As at accept: a caller we cannot bind to its process is dropped unanswered. */
        log_warn("conn %llu: cannot identify pid %d: %s", (unsigned long long)c->id,
                 (int)c->cred.pid, ad_strerror(r));
        conn_shutdown(c);
        return;
    }
    log_debug("conn %llu: exe hash %s", (unsigned long long)c->id,
              sha256 != NULL ? "known" : "not computed");
    /* The frames read meanwhile run now, in the order they came. */
    process_input(c);
    if (c->is_live && !maybe_finish(c)) {
        update_events(c);
    }
}

const struct caller_facts *conn_facts(const struct conn *c)
{
    return workload_facts(c->wid);
}

int conn_still_same(const struct conn *c)
{
    return workload_still_same(c->wid);
}

uint32_t conn_uid(const struct conn *c)
{
    return (uint32_t)c->cred.uid;
}

void conn_shutdown(struct conn *c)
{
    if (!c->is_live) {
        return;
    }
    epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->is_live = false;
    out_clear(c);
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
    c->in_cap = 0;
    log_debug("conn %llu: closed", (unsigned long long)c->id);
}

/* Write what we can; returns false when the connection died. */
static bool flush_out(struct conn *c)
{
    struct iovec iov[16];
    ssize_t n;
    int cnt;

    while (c->out_head != NULL) {
        cnt = 0;
        for (struct outbuf *o = c->out_head; o != NULL && cnt < 16; o = o->next) {
            iov[cnt].iov_base = o->data + o->off;
            iov[cnt].iov_len = o->len - o->off;
            cnt++;
        }
        n = writev(c->fd, iov, cnt);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return true;
            }
            log_debug("conn %llu: write: %s", (unsigned long long)c->id, strerror(errno));
            conn_shutdown(c);
            return false;
        }
        c->last_ns = server_now_ns();
        c->out_bytes -= (size_t)n;
        while (n > 0) {
            struct outbuf *o = c->out_head;
            size_t left = o->len - o->off;

            if ((size_t)n < left) {
                o->off += (size_t)n;
                break;
            }
            n -= (ssize_t)left;
            c->out_head = o->next;
            if (c->out_head == NULL) {
                c->out_tail = NULL;
            }
            free(o);
        }
    }
    return true;
}

/*
 * Close when nothing more can come: after a protocol error once the output
 * is flushed; after EOF (or at shutdown) once nothing is held or queued.
 */
static bool maybe_finish(struct conn *c)
{
    if (!c->is_live || c->out_head != NULL) {
        return false;
    }
    if (c->is_closing) {
        conn_shutdown(c);
        return true;
    }
    /* After EOF, frames that wait for the exe hash still get their replies. */
    if (c->is_eof && is_pending(c) && c->in_len > 0 && !c->is_not_reading) {
        return false;
    }
    if ((c->is_eof || c->is_not_reading) && c->holds == 0) {
        conn_shutdown(c);
        return true;
    }
    return false;
}

static bool can_read(const struct conn *c)
{
    const struct agentd_conf *cf = c->d->conf->c;

    /* Pending: buffer up to the input buffer's size (at least one whole frame), then wait. */
    return !c->is_eof && !c->is_closing && !c->is_not_reading &&
           c->holds < cf->max_in_flight_per_connection && c->out_bytes < CONN_OUT_MAX &&
           !(is_pending(c) && c->in_len == c->in_cap);
}

static void update_events(struct conn *c)
{
    uint32_t want = 0;
    struct epoll_event ev;

    if (!c->is_live) {
        return;
    }
    if (can_read(c)) {
        want |= EPOLLIN;
    }
    if (c->out_head != NULL) {
        want |= EPOLLOUT;
    }
    if (want == c->ep_events) {
        return;
    }
    ev.events = want;
    ev.data.u64 = (uint64_t)(uintptr_t)c;
    if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        log_error("conn %llu: epoll_ctl: %s", (unsigned long long)c->id, strerror(errno));
        conn_shutdown(c);
        return;
    }
    c->ep_events = want;
}

int conn_send(struct conn *c, const uint8_t *frame, size_t len)
{
    struct outbuf *o;

    if (!c->is_live) {
        return AD_OK; /* peer is gone: the reply has nowhere to go */
    }
    if ((o = malloc(sizeof(*o) + len)) == NULL) {
        log_error("conn %llu: out of memory queueing a reply", (unsigned long long)c->id);
        conn_shutdown(c);
        return AD_ERR_NOMEM;
    }
    memcpy(o->data, frame, len);
    o->len = len;
    o->off = 0;
    o->next = NULL;
    if (c->out_tail != NULL) {
        c->out_tail->next = o;
    } else {
        c->out_head = o;
    }
    c->out_tail = o;
    c->out_bytes += len;
    if (flush_out(c) && !maybe_finish(c)) {
        update_events(c);
    }
    return AD_OK;
}

void conn_close_after_flush(struct conn *c)
{
    c->is_closing = true;
    if (!maybe_finish(c)) {
        update_events(c);
    }
}

void conn_hold(struct conn *c)
{
    c->holds++;
}

void conn_release(struct conn *c)
{
    c->holds--;
    if (!c->is_live) {
        return;
    }
    if (!maybe_finish(c)) {
        /* A slot freed up: frames already buffered may now proceed. */
        process_input(c);
        if (c->is_live && !maybe_finish(c)) {
            update_events(c);
        }
    }
}

/* Hand every complete buffered frame to dispatch while the limits allow. */
static void process_input(struct conn *c)
{
    size_t pos = 0;
    size_t need = 0;
    int r;

    while (c->is_live && !c->is_closing && !c->is_not_reading &&
           c->holds < c->d->conf->c->max_in_flight_per_connection && c->out_bytes < CONN_OUT_MAX) {
        struct frame_info h;
        size_t total;

        r = dispatch_frame_header(c->in + pos, c->in_len - pos, &h);
        if (r == AD_ERR_SHORT) {
            break;
        }
        if (r != 0) {
            log_info("conn %llu: protocol error: %s", (unsigned long long)c->id, ad_strerror(r));
            dispatch_protocol_error(c->d, c, &h, r);
            conn_close_after_flush(c);
            return;
        }
        total = FRAME_HEADER_LEN + h.body_len;
        if (c->in_len - pos < total) {
            need = total; /* length checked against FRAME_MAX by the decoder */
            break;
        }
        if (is_pending(c)) {
            break; /* no decision without the exe hash: conn_hash_done resumes here */
        }
        c->n_requests++;
        c->d->n_requests++;
        r = dispatch_frame(c->d, c, &h, c->in + pos + FRAME_HEADER_LEN, h.body_len);
        pos += total;
        if (r != 0) {
            conn_close_after_flush(c);
            return;
        }
    }
    if (!c->is_live) {
        return;
    }
    if (pos > 0) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    if (c->in_len == 0 && need == 0 && c->in_cap > IN_INITIAL) {
        uint8_t *n = realloc(c->in, IN_INITIAL); /* give back a large frame's buffer */

        if (n != NULL) {
            c->in = n;
            c->in_cap = IN_INITIAL;
        }
    }
    if (need > c->in_cap) {
        uint8_t *n = realloc(c->in, need);

        if (n == NULL) {
            log_error("conn %llu: out of memory for a frame", (unsigned long long)c->id);
            conn_shutdown(c);
            return;
        }
        c->in = n;
        c->in_cap = need;
    }
}

/*
 * Read while reads fill the buffer. A short read drained the socket: return
 * to epoll (level-triggered) rather than read again, because a request
 * answered inline lets this client send its next one before we would look
 * at anyone else's.
 */
static void on_readable(struct conn *c)
{
    ssize_t n;
    size_t space;

    while (c->is_live && can_read(c)) {
        if (c->in_len == c->in_cap) {
            /* A frame's size is known before we grow: process_input did that. */
            process_input(c);
            if (!c->is_live || c->in_len == c->in_cap) {
                return;
            }
            continue;
        }
        space = c->in_cap - c->in_len;
        n = read(c->fd, c->in + c->in_len, space);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                log_debug("conn %llu: read: %s", (unsigned long long)c->id, strerror(errno));
                conn_shutdown(c);
            }
            return;
        }
        if (n == 0) {
            c->is_eof = true;
            if (c->in_len > 0) {
                log_debug("conn %llu: EOF inside a frame", (unsigned long long)c->id);
            }
            maybe_finish(c);
            return;
        }
        c->last_ns = server_now_ns();
        c->in_len += (size_t)n;
        process_input(c);
        if ((size_t)n < space) {
            return;
        }
    }
}

void conn_on_event(struct conn *c, uint32_t events)
{
    if (!c->is_live) {
        return;
    }
    if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
        conn_shutdown(c);
        return;
    }
    if (events & EPOLLOUT) {
        if (!flush_out(c)) {
            return;
        }
    }
    if (events & EPOLLIN) {
        on_readable(c);
    }
    if (c->is_live && !maybe_finish(c)) {
        update_events(c);
    }
}

void conns_stop_reading(struct conn *head)
{
    for (struct conn *c = head; c != NULL; c = c->next) {
        c->is_not_reading = true;
        if (c->is_live && c->holds == 0 && c->out_head == NULL) {
            conn_shutdown(c);
        } else {
            update_events(c);
        }
    }
}

bool conns_all_flushed(const struct conn *head)
{
    for (const struct conn *c = head; c != NULL; c = c->next) {
        if (c->is_live && (c->out_head != NULL || c->holds > 0)) {
            return false;
        }
    }
    return true;
}
