/*
 * One client connection (loop thread only): its socket, the caller facts
 * gathered at accept time, the incremental input buffer, the output queue
 * and the count of requests in flight. Used by server.c (lifecycle) and
 * dispatch.c (send, hold/release); see server.h for the dispatch side.
 *
 * On an exe-hash cache miss the connection starts with its identity
 * pending: the hasher thread (hasher.h) hashes the exe while the conn reads
 * and buffers frames but dispatches none; server.c passes the result to
 * conn_hash_done, which runs the buffered frames in order. The hasher never
 * sees a conn: results come back by file key, to the conns that still wait.
 */
#ifndef AGENTD_CONN_H
#define AGENTD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"
#include "server.h"

#define CONN_OUT_MAX (4u << 20) /* queued reply bytes before we stop reading */

/*
 * Take fd (always: closed on failure), gather the caller's facts, register
 * with epfd; on a hash-cache miss queue the exe on d->hasher (the conn then
 * waits: conn_waits_for_hash). Returns 0, AD_ERR_NOMEM, AD_ERR_SYSTEM,
 * AD_ERR_DENIED (not the connecting process), AD_ERR_RATE (hasher full),
 * AD_ERR_CLOSED (the process went, and closed the socket, before it could
 * be identified: logged at debug level only).
 */
AD_MUST_CHECK int conn_new(struct daemon *d, int epfd, int fd, uint64_t id,
                           const struct ucred *cred, struct conn **ret);
void conn_destroy(struct conn *c);

struct workload_file_key;
/* Live, and its identity waits for the hash of the file with this key. */
bool conn_waits_for_hash(const struct conn *c, const struct workload_file_key *key);
/*
 * The hash the conn waited for (sha256 NULL: it could not be computed, so
 * sha256 selectors will not match). Re-checks the pid binding (a caller
 * that exited or exec'd meanwhile is dropped, as at accept), then
 * dispatches the frames buffered meanwhile, in order.
 */
void conn_hash_done(struct conn *c, const uint8_t *sha256);

void conn_link(struct conn **head, struct conn *c);
void conn_unlink(struct conn **head, struct conn *c);
struct conn *conn_next(const struct conn *c);

uint64_t conn_id(const struct conn *c);
bool conn_is_live(const struct conn *c);
/* ns since the last byte moved; 0 while requests are in flight or wait for the exe hash. */
uint64_t conn_idle_since(const struct conn *c, uint64_t now);
uint64_t conn_n_requests(const struct conn *c);
/* Closed and holding no requests: may be destroyed. */
bool conn_is_reapable(const struct conn *c);

/* Close the socket now (queued output is dropped); the struct lives while held. */
void conn_shutdown(struct conn *c);
void conn_on_event(struct conn *c, uint32_t events);

/* Shutdown: stop reading on every connection; true when no conn has output queued. */
void conns_stop_reading(struct conn *head);
bool conns_all_flushed(const struct conn *head);

#endif
