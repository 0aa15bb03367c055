/*
 * Workload attestation: who is on the other end of a client socket, from
 * kernel facts only (never from anything the caller sends).
 *
 * At accept time workload_identify() reads:
 *   - SO_PEERCRED: pid, uid, gid of the process that called connect();
 *   - a pidfd for that pid: SO_PEERPIDFD when the kernel has it (6.5+),
 *     otherwise pidfd_open(pid). The fallback has a window (the connecting
 *     process may have exited and its pid been reused before pidfd_open), so
 *     it is accepted only when (a) /proc/PID/stat field 22 (start time) reads
 *     the same before and after all other facts are read, (b) that start time
 *     is not later than the moment we began identifying (a process started
 *     after that cannot be the one that connected), (c) the real uid of PID
 *     still equals the SO_PEERCRED uid, and (d) the pidfd still reports the
 *     process alive after the last read (so every /proc read above was of
 *     this process, not of a successor that reused the pid);
 *   - the executable: readlink(/proc/PID/exe) for the path, and the SHA-256
 *     of the file opened through /proc/PID/exe (the very inode the process
 *     runs, even when the path was replaced or unlinked since), cached by
 *     (st_dev, st_ino, st_size, st_mtim, st_ctim) in a bounded cache. On a
 *     cache miss workload_identify_start() keeps that file open and leaves
 *     the hash pending: the daemon hashes it on its hasher thread
 *     (hasher.h) and completes the identity with workload_identify_finish(),
 *     which runs the pid checks (c) and (d) below again, so a process that
 *     exited or exec'd while its binary was hashed is refused as before;
 *   - the cgroup v2 path (the "0::" line of /proc/PID/cgroup) and the
 *     systemd unit named by it (first path component ending in ".service"
 *     or ".scope"), when there is one.
 *
 * Per request the daemon calls workload_still_same(): one fstatat() of
 * "exe" under an O_PATH descriptor of /proc/PID opened at accept (dev, ino
 * of the running binary), compared with the accept-time values. That
 * descriptor stays bound to the process that connected (the kernel resolves
 * names under it through that process's struct pid, not the number): once
 * the process has exited, zombie or reaped, and whether or not P was reused
 * since, the lookup fails and the request is refused. It was opened before
 * the final pidfd poll of identification, so it is this process's and not
 * a successor's. A process that exec'd another binary fails the inode
 * check (exec of the same binary inode is the same identity); one whose
 * connecting process exited (the socket handed to another process by
 * SCM_RIGHTS or fork, or a pid since reused) fails the lookup. The start
 * time is checked at accept time only: the bound descriptor makes it
 * redundant here, and reading /proc/PID/stat costs about 7 us, three times
 * the rest. Measured (gcc -O2, 6.18 kernel, 2 cores): fstatat of exe under
 * the descriptor 1.8 us, against 2.2 us for stat of /proc/PID/exe plus
 * 0.2 us for the pidfd poll it replaced; in the daemon at one signing
 * client (caches colder than in a loop) 3.4 us against 4.5-5.5 us before;
 * reading /proc/PID/stat 6.7 us; workload_identify 40 us with the hash
 * cached, 53 us hashing a 22 KB binary; hashing runs at about 0.5 ms per MB.
 * A process that changes its uid after connecting (setuid) keeps the
 * connection's identity, like any open file; gaining privilege needs an
 * exec of a setuid binary, which changes the inode and is refused.
 *
 * Reading /proc/PID/exe of another user's process needs CAP_SYS_PTRACE
 * (ptrace read access) and hashing a binary without read permission needs
 * CAP_DAC_READ_SEARCH; see privs.h.
 */
#ifndef AGENTD_WORKLOAD_H
#define AGENTD_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "err.h"
#include "match.h"

#define WORKLOAD_CACHE_DEFAULT 256u /* exe hash cache entries */
#define WORKLOAD_CACHE_MAX 4096u    /* ceiling for workload_cache_new (linear scan) */
#define WORKLOAD_PATH_MAX 4096u     /* exe and cgroup path ceiling */
#define WORKLOAD_UNIT_MAX 256u      /* systemd unit name ceiling */
/*
 * Executables above this size are not hashed (has_sha256 false: sha256
 * selectors do not match). The daemon hashes on its hasher thread (measured
 * 0.52 ms per MB here: 100 MB in 52 ms), so the cap bounds how long one new
 * inode keeps its own caller waiting to ~140 ms, and how long it occupies
 * the hasher; the cache makes repeats free.
 */
#define WORKLOAD_HASH_FILE_MAX (256ull << 20)

/* Bounded exe-hash cache (LRU). Not thread-safe: one per loop thread. */
struct workload_cache;

/* What a cached hash is keyed by: a file changed in place changes ctime (no caller sets it). */
struct workload_file_key {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
    struct timespec ctim;
};

/* What the kernel said about one peer, plus its pidfd. Opaque. */
struct workload_identity;

/*
 * New cache of at most max_entries hashes (1..WORKLOAD_CACHE_MAX).
 * Returns 0, AD_ERR_INVALID, AD_ERR_NOMEM.
 */
AD_MUST_CHECK int workload_cache_new(size_t max_entries, struct workload_cache **ret);
void workload_cache_free(struct workload_cache *cache);
/* Counters for tests and status output; either pointer may be NULL. */
void workload_cache_stats(const struct workload_cache *cache, uint64_t *ret_hits,
                          uint64_t *ret_misses);

/*
 * The hash cached under k, into ret (counted as a hit). False when absent
 * or cache is NULL.
 */
bool workload_cache_get(struct workload_cache *cache, const struct workload_file_key *k,
                        uint8_t ret[32]);
/* Insert (or refresh) k's hash, evicting the least recently used (counted as a miss). */
void workload_cache_put(struct workload_cache *cache, const struct workload_file_key *k,
                        const uint8_t sha256[32]);
bool workload_file_key_eq(const struct workload_file_key *a, const struct workload_file_key *b);

/*
 * Identify the peer of a connected AF_UNIX stream socket (see top comment),
 * hashing the exe in the calling thread on a cache miss (tests and tools;
 * the daemon uses workload_identify_start).
 * cache may be NULL (hash every time). On success *ret is owned by the
 * caller (free with workload_identity_free); it holds the pidfd.
 * Returns 0; AD_ERR_DENIED when the peer is gone or its pid cannot be bound
 * to the connecting process (recycled, raced, uid changed); AD_ERR_SYSTEM
 * when a kernel fact cannot be read (logged by the caller); AD_ERR_NOMEM.
 * When only the exe hash cannot be computed (e.g. no permission) the
 * identity is still returned with has_sha256 false, so sha256 selectors do
 * not match (deny by default).
 */
AD_MUST_CHECK int workload_identify(int client_fd, struct workload_cache *cache,
                                    struct workload_identity **ret);

/*
 * workload_identify() without the hash on a cache miss: everything else is
 * read and checked, then, when workload_hash_is_pending(*ret), the identity
 * holds the exe open and is not complete: has_sha256 is false and its facts
 * must not be matched until workload_identify_finish(). Same returns.
 */
AD_MUST_CHECK int workload_identify_start(int client_fd, struct workload_cache *cache,
                                          struct workload_identity **ret);
bool workload_hash_is_pending(const struct workload_identity *id);
/* The pending hash's cache key (borrowed from id; meaningful while pending). */
const struct workload_file_key *workload_hash_key(const struct workload_identity *id);
/* Hand the open exe over: the caller owns the fd now. -1 when id holds none. */
int workload_take_exe_fd(struct workload_identity *id);
/*
 * Complete a pending identity with its exe's SHA-256, or with sha256 NULL
 * when it could not be computed (has_sha256 stays false, as when the exe
 * cannot be read: sha256 selectors do not match). Closes the exe if still
 * held, then re-checks that the pid is still the process that connected
 * (start time, exe inode, pidfd last). Returns 0; AD_ERR_DENIED (exited,
 * exec'd, pid reused) or AD_ERR_SYSTEM: the caller drops the connection;
 * AD_ERR_INTERNAL when nothing was pending.
 */
AD_MUST_CHECK int workload_identify_finish(struct workload_identity *id, const uint8_t *sha256);

void workload_identity_free(struct workload_identity *id);

/*
 * The facts for match_entry(). Borrowed: valid while id lives; strings may
 * be NULL when unknown (unit is NULL outside a systemd unit).
 */
const struct caller_facts *workload_facts(const struct workload_identity *id);

/* The pidfd held by id (borrowed; do not close). -1 never happens on success. */
int workload_pidfd(const struct workload_identity *id);

/* Start time of the process in clock ticks since boot (/proc/PID/stat 22). */
uint64_t workload_start_time(const struct workload_identity *id);

/*
 * Is the process identified at accept time still alive and running the same
 * executable inode? Cheap (one stat, one poll); call it before every request.
 * Returns 0 when yes; AD_ERR_DENIED when it exited, exec'd a different
 * binary, or its pid now names another process; AD_ERR_SYSTEM when /proc
 * cannot be read for another reason.
 */
AD_MUST_CHECK int workload_still_same(const struct workload_identity *id);

/*
 * Parse the text of /proc/PID/cgroup (len bytes, need not be NUL
 * terminated). *ret_cgroup gets the v2 path (the "0::" line), *ret_unit the
 * systemd unit or NULL. Both owned by the caller. Returns 0;
 * AD_ERR_NOT_FOUND when there is no "0::" line (cgroup v1 only);
 * AD_ERR_FORMAT for a malformed v2 path; AD_ERR_TOO_LARGE; AD_ERR_NOMEM.
 */
AD_MUST_CHECK int workload_parse_cgroup(const char *text, size_t len, char **ret_cgroup,
                                        char **ret_unit);

/*
 * The systemd unit named by cgroup path (first component ending in
 * ".service" or ".scope", after any ".slice" components), copied into a new
 * string, or NULL in *ret when there is none. Returns 0 or AD_ERR_NOMEM.
 */
AD_MUST_CHECK int workload_unit_from_cgroup(const char *cgroup, char **ret);

/*
 * Field 22 (starttime, clock ticks since boot) of /proc/PID/stat, text NUL
 * terminated. The comm field may hold anything, so fields are counted from
 * the last ')'. Returns 0 or AD_ERR_FORMAT.
 */
AD_MUST_CHECK int workload_parse_start_time(const char *text, uint64_t *ret);

/* Effective uid from the "Uid:" line of /proc/PID/status (NUL terminated). */
AD_MUST_CHECK int workload_parse_euid(const char *text, uid_t *ret);

/*
 * SHA-256 of the file open at fd (read from offset 0 with pread), using and
 * filling cache when non-NULL. Returns 0, AD_ERR_SYSTEM, AD_ERR_TOO_LARGE.
 */
AD_MUST_CHECK int workload_hash_fd(struct workload_cache *cache, int fd, uint8_t ret[32]);

/*
 * The cache key of the regular file open at fd. Returns 0; AD_ERR_SYSTEM
 * (fstat failed, not a regular file); AD_ERR_TOO_LARGE (over
 * WORKLOAD_HASH_FILE_MAX: not to be hashed).
 */
AD_MUST_CHECK int workload_file_key_of(int fd, struct workload_file_key *ret);

/*
 * SHA-256 of the file open at fd whose key (workload_file_key_of) was k,
 * refused when the file no longer matches k after reading (changed
 * meanwhile). No cache: safe on any thread. cancel, when not NULL, is read
 * atomically between 64 KiB reads; non-zero stops the hash. Returns 0,
 * AD_ERR_SYSTEM, AD_ERR_NOMEM, AD_ERR_CLOSED (cancelled).
 */
AD_MUST_CHECK int workload_hash_file(int fd, const struct workload_file_key *k, const int *cancel,
                                     uint8_t ret[32]);

#endif
