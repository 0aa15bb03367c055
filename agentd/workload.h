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
 *     (st_dev, st_ino, st_size, st_mtim, st_ctim) in a bounded cache;
 *   - the cgroup v2 path (the "0::" line of /proc/PID/cgroup) and the
 *     systemd unit named by it (first path component ending in ".service"
 *     or ".scope"), when there is one.
 *
 * Per request the daemon calls workload_still_same(): stat(/proc/PID/exe)
 * (dev, ino of the running binary) compared with the accept-time values,
 * then poll(pidfd, POLLIN, 0) (readable = exited). The order is the
 * argument: the poll comes last, so if the process had not exited at the
 * poll, pid P could not have been reused before the stat, and the inode we
 * saw is the one the original process runs now. A process that exec'd
 * another binary fails the inode check (exec of the same binary inode is
 * the same identity); one whose connecting process exited (the socket
 * handed to another process by SCM_RIGHTS or fork, or a pid since reused)
 * fails the poll. The start time is checked at accept time only: with the
 * poll last it adds nothing here, and reading /proc/PID/stat costs about
 * 7 us, three times the rest. Measured (gcc -O2, 6.18 kernel, 2 cores):
 * workload_still_same 2.5 us; stat of /proc/PID/exe 1.9 us; reading
 * /proc/PID/stat 6.7 us; workload_identify 40 us with the hash cached,
 * 53 us hashing a 22 KB binary.
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

#include "err.h"
#include "match.h"

#define WORKLOAD_CACHE_DEFAULT 256u /* exe hash cache entries */
#define WORKLOAD_CACHE_MAX 4096u    /* ceiling for workload_cache_new (linear scan) */
#define WORKLOAD_PATH_MAX 4096u     /* exe and cgroup path ceiling */
#define WORKLOAD_UNIT_MAX 256u      /* systemd unit name ceiling */
/*
 * Executables above this size are not hashed (has_sha256 false: sha256
 * selectors do not match). Hashing runs in the caller's thread at accept
 * time (measured 0.52 ms per MB here: 100 MB in 52 ms), so the cap bounds
 * the stall one new inode can cause to ~140 ms; the cache makes repeats free.
 */
#define WORKLOAD_HASH_FILE_MAX (256ull << 20)

/* Bounded exe-hash cache (LRU). Not thread-safe: one per loop thread. */
struct workload_cache;

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
 * Identify the peer of a connected AF_UNIX stream socket (see top comment).
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

#endif
