/*
 * The hasher: one thread that computes executable SHA-256s for the event
 * loop, so that a hash-cache miss on a large binary (up to
 * WORKLOAD_HASH_FILE_MAX, ~0.13 s) delays only the connection it belongs
 * to, never the loop and the other clients.
 *
 * Jobs live in a fixed table of HASHER_QUEUE_MAX slots: that is the bound,
 * and submitting never allocates. A job owns the exe fd it was given (opened
 * on the loop, through /proc/PID/exe, where the pid checks ran) and its
 * result, and refers to no connection: the loop matches a result back to the
 * connections that wait for it by the file key, so a connection closed
 * meanwhile is simply not found, and one hash serves every connection from
 * the same new binary. The cache stays loop-thread only: the loop inserts
 * what the result carries.
 *
 * Threads: hasher_new, _submit, _is_pending, _n_pending, _complete and
 * _free are for the loop thread; the hasher thread runs only the hash
 * function.
 */
#ifndef AGENTD_HASHER_H
#define AGENTD_HASHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "workload.h"

/*
 * Distinct files being hashed or waiting for it. At ~0.13 s per file at
 * most, a full queue is ~4 s of hashing; a new binary beyond that is
 * refused (the connection closed, retry later) like a connection over a cap.
 */
#define HASHER_QUEUE_MAX 32u

/*
 * The hash function run on the hasher thread (workload_hash_file in the
 * daemon; tests pass their own). cancel becomes non-zero when the hasher is
 * freed: stop early and return non-zero.
 */
typedef int (*hasher_fn)(int fd, const struct workload_file_key *k, const int *cancel,
                         uint8_t ret[32]);

struct hasher_result {
    struct workload_file_key key;
    int r; /* 0: sha256 holds the file's hash; else why not */
    uint8_t sha256[32];
};

struct hasher;

/* Start the thread. Returns 0, AD_ERR_NOMEM, AD_ERR_SYSTEM (thread or eventfd). */
AD_MUST_CHECK int hasher_new(hasher_fn fn, struct hasher **ret);

/* The eventfd (non-blocking, CLOEXEC) that becomes readable when hashes finish. */
int hasher_fd(const struct hasher *h);

/*
 * Queue a hash of the file open at fd with key. Takes fd in every case
 * (closed on failure). Returns 0; AD_ERR_RATE when HASHER_QUEUE_MAX jobs
 * are pending.
 */
AD_MUST_CHECK int hasher_submit(struct hasher *h, int fd, const struct workload_file_key *key);

/* Is a hash of key queued, running, or finished and not yet delivered? */
bool hasher_is_pending(struct hasher *h, const struct workload_file_key *key);

/* Jobs submitted and not yet delivered by hasher_complete. */
size_t hasher_n_pending(const struct hasher *h);

/*
 * Deliver every finished job to done(arg, result), in submission order
 * (the thread runs them in that order), and free their slots and fds.
 * result is valid during the call only.
 */
void hasher_complete(struct hasher *h, void (*done)(void *arg, const struct hasher_result *res),
                     void *arg);

/*
 * Drop every queued job, not yet started, for which is_wanted(arg, key) is
 * false: its fd is closed and nothing is delivered. is_wanted runs under
 * the hasher's lock and must not call into the hasher. The loop drops
 * hashes nobody waits for any more, so that a user who connects from new
 * binaries and hangs up cannot keep the queue full: a queued job lasts only
 * while a connection, within the per-uid caps, waits for it.
 */
void hasher_drop_queued(struct hasher *h,
                        bool (*is_wanted)(void *arg, const struct workload_file_key *key),
                        void *arg);

/*
 * Cancel the running hash, drop the queued ones (their fds closed, nothing
 * delivered), join the thread. NULL is fine.
 */
void hasher_free(struct hasher *h);

#endif
