/*
 * The event loop: one thread, epoll, non-blocking CLOEXEC sockets. Accepts
 * connections (applying the configured caps), gathers the caller's facts at
 * accept time, reads frames incrementally, hands complete frames to
 * dispatch, queues replies, and enforces idle timeouts and in-flight limits.
 * A slow or hostile client only ever costs its own connection: no blocking
 * read or write on a client socket, and no hashing of a new executable
 * (that runs on the hasher thread, hasher.h; its completions, like the TPM
 * worker's and the identity thread's, come back through an eventfd).
 *
 * Threads: this loop; the TPM worker (worker.h); the hasher (hasher.h); the
 * identity thread when enrollment is configured (identity.h).
 */
#ifndef AGENTD_SERVER_H
#define AGENTD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "err.h"
#include "sign_gate.h"

struct audit;
struct identity;
struct keystore;
struct policy;
struct hasher;
struct worker;
struct workload_cache;
struct conn;

/*
 * A loaded config with a reference count, so a request queued to the worker
 * keeps the entry it was decided on alive across a SIGHUP reload. The count
 * is atomic: the identity thread holds a reference too (identity.h).
 */
struct conf_ref {
    struct agentd_conf *c;
    unsigned refs;
};

struct conf_ref *conf_ref_get(struct conf_ref *r);
void conf_ref_put(struct conf_ref *r);

/* Everything the loop thread works with. */
struct daemon {
    const char *conf_path;
    struct conf_ref *conf; /* current config; replaced on reload */
    struct policy *policy; /* loop thread */
    struct audit *audit;   /* loop thread */
    struct keystore *ks;   /* worker thread (and keystore_query under its lock) */
    struct worker *worker;
    struct workload_cache *wcache; /* exe hashes (loop thread) */
    struct hasher *hasher;         /* hashes cache misses off the loop; NULL: hash inline */
    struct identity *identity;     /* NULL without an agentd.enroll group */
    struct server *srv;
    uint64_t started_ns;
    uint64_t n_requests;        /* frames handed to dispatch (loop thread; conn.c counts) */
    struct sign_gate sign_gate; /* inline or worker for a SIGN (loop thread) */
};

struct server;

/*
 * Bind the listening socket at c->socket (parent dir created 0755, mode
 * c->socket_mode, a stale socket file replaced only when nothing listens).
 * Returns 0, AD_ERR_EXISTS (a daemon already listens), AD_ERR_SYSTEM.
 * Call it early (before the TPM is opened): a second daemon fails fast.
 * d->worker may still be NULL; server_run needs it.
 */
AD_MUST_CHECK int server_new(struct daemon *d, struct server **ret);

/*
 * Serve until SIGTERM/SIGINT: then stop accepting, finish in-flight
 * requests (bounded wait), flush replies and return 0. SIGHUP reloads the
 * config. Signals are taken through a signalfd (blocked in all threads by
 * the caller before any thread starts: see server_block_signals).
 */
AD_MUST_CHECK int server_run(struct server *s);

/* Block SIGTERM, SIGINT, SIGHUP, SIGPIPE in the calling thread (call first in main). */
AD_MUST_CHECK int server_block_signals(void);

/* Close every connection, unlink the socket, free. NULL is fine. */
void server_free(struct server *s);

/* Live connections / requests in flight (for ADMIN_STATUS). */
/*
 * True while the loop handles the only event its last wake-up returned: no
 * other client was waiting, so work done inline delays nobody already here.
 */
bool server_is_quiet(const struct server *s);

size_t server_n_conns(const struct server *s);
uint64_t server_n_requests(const struct server *s);

/* The connection list (admin: who is connected). Borrowed. */
struct conn *server_conns(const struct server *s);

/* CLOCK_MONOTONIC in ns. */
uint64_t server_now_ns(void);

/*
 * Connection side used by dispatch (loop thread). A conn stays valid while
 * it has requests in flight (conn_hold/conn_release), even after the peer
 * went away; conn_send on a dead conn drops the reply.
 */
struct caller_facts;
/*
 * False while the caller's exe hash is pending: its facts are incomplete and
 * must not be matched (nothing is dispatched for it until then).
 */
bool conn_is_identified(const struct conn *c);
const struct caller_facts *conn_facts(const struct conn *c);
uint32_t conn_uid(const struct conn *c);
/*
 * Is the peer still the process identified at accept (alive, same exe
 * inode)? 0 or AD_ERR_DENIED / AD_ERR_SYSTEM (see workload_still_same).
 */
int conn_still_same(const struct conn *c);
bool conn_is_admin(const struct conn *c);
void conn_hold(struct conn *c);
void conn_release(struct conn *c);
/* Queue a complete encoded frame (copied). Returns 0 or AD_ERR_NOMEM (conn closed). */
int conn_send(struct conn *c, const uint8_t *frame, size_t len);
/* Close after what is queued is written (protocol error). */
void conn_close_after_flush(struct conn *c);

#endif
