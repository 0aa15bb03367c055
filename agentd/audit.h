/*
 * Audit log: one JSON object per line for every decision, hash-chained.
 *
 * Line format (keys in this order, absent values are JSON null):
 *   {"seq":N,"time":"2026-01-02T03:04:05.678Z","pid":..,"uid":..,"gid":..,
 *    "exe":"..","exe_sha256":"<hex>","entry":"..","spiffe_id":"..","op":"sign",
 *    "key":"..","mechanism":"ECDSA_SHA256","data_sha256":"<hex>",
 *    "decision":"allow","reason":"allowed","prev":"<hex>"}
 * seq starts at 1 and grows by one per record, across rotated files. prev is
 * the hex SHA-256 of the previous record's line bytes without its '\n' (64
 * zeros for the very first record ever). The data itself is never logged.
 *
 * Files: path is the current file; rotation renames path -> path.1 -> ... ->
 * path.<keep> (the oldest beyond keep is deleted), and the first record of the
 * new file chains to the last record of the rotated one. path.head names the
 * newest record (seq and hash; its layout and why a torn write is harmless:
 * audit_head_file.h), rewritten and synced on rotation and on audit_close();
 * in between, a background thread (audit_head.h) rewrites it from
 * AUDIT_HEAD_START records on, and audit_append() waits (writing inline if
 * need be) rather than return with the head AUDIT_HEAD_EVERY or more records
 * behind. Records come slowly on most hosts, so a count alone would leave
 * the last few unnamed for hours: audit_tick(), which the daemon calls four
 * times a second, also starts a write once AUDIT_HEAD_AGE_NS has passed since
 * the last one began and a record is still unnamed. Files are 0600; a
 * missing directory is created 0700.
 *
 * Durability: audit_append() issues the whole line with one write() to an
 * O_APPEND fd. With CONF_AUDIT_SYNC_WRITE the line is in the kernel before
 * audit_append() returns (and so before the daemon replies): it survives
 * kill -9 of the daemon, but a power cut or kernel crash can lose the
 * records written since the last head update (fewer than AUDIT_HEAD_EVERY,
 * and none older than AUDIT_HEAD_AGE_NS plus a tick and the write itself)
 * or leave a torn last line. With CONF_AUDIT_SYNC_FSYNC, fdatasync() runs
 * before returning, so a record whose reply went out survives a power cut
 * too. In either mode the head file is written only after the lines it
 * names are on disk (with CONF_AUDIT_SYNC_WRITE the head write fdatasync()s
 * the log first, and so does a rotation), so a power cut never leaves a
 * head naming records the log lost, which verification would report as
 * removed.
 *
 * Torn tail: a crash can leave a partial last line (no '\n'). audit_open()
 * detects it, reports it via audit_open_note(), cuts the file back to the end
 * of the last complete line (that record's reply was never sent, since the
 * reply follows a complete append) and continues the chain from that line.
 *
 * What the chain and the head file detect (audit_verify): an edited record,
 * a removed record, a reordered record, a seq gap, a torn line, and removal of
 * the newest records up to the last head update. Records cut from the end
 * while the daemon was down are also caught by audit_open(): a head naming
 * a later record than the log's newest (or the newest with another hash)
 * is moved to path.head.<its seq>, where the next head write cannot erase
 * it, and reported through audit_open_note(). What remains undetectable:
 * removal of records written after the last head update (at most
 * AUDIT_HEAD_EVERY - 1 records, written within about the last
 * AUDIT_HEAD_AGE_NS; none after a clean shutdown) together with
 * the same rewrite of path.head by someone who can write both files; deletion
 * of the oldest rotated files (the oldest kept file's first prev cannot be
 * checked); and a consistent rewrite of the whole chain plus head by an
 * attacker with write access (the chain is not signed; shipping lines off the
 * host is what defends against root).
 *
 * Thread-safety: none; the daemon calls this from its event-loop thread (the
 * head writer thread is internal and touches only path.head and reads).
 */
#ifndef AGENTD_AUDIT_H
#define AGENTD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "err.h"

#define AUDIT_HEAD_EVERY 64  /* path.head never lags the newest record by this many */
#define AUDIT_LINE_MAX 65536 /* longest line written or accepted by verify */
#define AUDIT_KEEP_MAX 1000  /* rotated files */

/*
 * Lag at which the background head write starts. Each write is two
 * fdatasyncs (log, then head), whose disk and interrupt work lands on the
 * CPUs that sign: starting at 3/4 of the bound rather than 1/2 makes a third
 * fewer of them, and leaves 16 records for a write to finish before the loop
 * would wait (8 ms at 2,000 signatures/s against the 2-3 ms a write took on
 * the benchmark machine; bench/README.md).
 */
#define AUDIT_HEAD_START (AUDIT_HEAD_EVERY * 3 / 4)

/*
 * Age bound: audit_tick() starts a head write when a record is unnamed and
 * no write has begun for this long. At most one write a second, two
 * fdatasyncs, on a host that signs now and then; none on an idle one.
 */
#define AUDIT_HEAD_AGE_NS 1000000000ULL

/* One decision. Strings are borrowed for the call; NULL is written as null. */
struct audit_record {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    const char *exe;
    const uint8_t *exe_sha256; /* 32 bytes or NULL */
    const char *entry;         /* matched entry name, NULL when none */
    const char *spiffe_id;
    const char *op; /* policy_op_name() or an admin op name */
    const char *key;
    const char *mechanism;      /* mechanism name ("ECDSA_SHA256"), NULL when none */
    const uint8_t *data_sha256; /* 32 bytes: SHA-256 of the input data, or NULL */
    const char *decision;       /* policy_verdict_name() */
    const char *reason;         /* policy_reason_name() */
};

struct audit;

/*
 * Open (create) the log at path and continue its chain: from the last
 * complete line of path, or of path.1 when path is empty or missing. Caller
 * owns *ret (audit_close). Returns AD_ERR_SYSTEM on I/O errors,
 * AD_ERR_CORRUPT when the last complete line is not a record we wrote.
 */
AD_MUST_CHECK int audit_open(const char *path, uint64_t rotate_bytes, uint32_t keep,
                             enum conf_audit_sync sync, struct audit **ret);

/*
 * Append one record (assigns seq, time, prev), rotating first when the line
 * would take the file past rotate_bytes. Returns AD_OK only when the whole
 * line was written (and synced with CONF_AUDIT_SYNC_FSYNC); otherwise
 * AD_ERR_SYSTEM (disk full, EIO, ...) or AD_ERR_NOMEM, and the daemon must
 * deny the request (fail closed). After a failed or short write the chain
 * state is unchanged; a short write leaves a torn line that the next
 * audit_open() cuts off, and further appends on this handle fail until then.
 */
AD_MUST_CHECK int audit_append(struct audit *a, const struct audit_record *r);

/* Write path.head now, durably. */
AD_MUST_CHECK int audit_write_head(struct audit *a);

/*
 * Called periodically with CLOCK_MONOTONIC now_ns (the daemon: every tick of
 * its loop): when a record is not yet named by the head and no head write
 * has begun for AUDIT_HEAD_AGE_NS, start one in the background. Returns
 * true when it started one. Never blocks on I/O.
 */
bool audit_tick(struct audit *a, uint64_t now_ns);

/* Write the head (clean shutdown), close and free. NULL is fine. */
int audit_close(struct audit *a);

/* seq the next record will get. */
uint64_t audit_next_seq(const struct audit *a);

/* A note from audit_open() worth logging (torn tail cut, head kept aside), or NULL. Borrowed. */
const char *audit_open_note(const struct audit *a);

/*
 * Test hook: replace the log's fd (the handle takes ownership) so a test can
 * make writes fail (e.g. an fd of /dev/full or a read-only fd).
 */
void audit_replace_fd_for_test(struct audit *a, int fd);

/* Test hook: wait until no background head write is running. */
void audit_wait_head_for_test(struct audit *a);

enum audit_problem {
    AUDIT_OK = 0,
    AUDIT_BAD_LINE,      /* not a JSON record with seq and prev (edited or garbage) */
    AUDIT_EDITED,        /* record's hash does not match the next record's prev */
    AUDIT_REMOVED,       /* seq gap: records missing before this line */
    AUDIT_REORDERED,     /* seq goes backwards or repeats */
    AUDIT_BAD_START,     /* first record ever does not have 64 zeros as prev, or seq != 1 */
    AUDIT_TORN_TAIL,     /* last line has no '\n' (crash mid-write, not yet reopened) */
    AUDIT_HEAD_MISMATCH, /* record with head's seq has another hash */
    AUDIT_TRUNCATED,     /* log ends before head's seq: newest records removed */
    AUDIT_IO,            /* a file could not be read */
};

struct audit_verify_report {
    enum audit_problem problem;
    char file[4096];  /* file of the problem ("" when OK) */
    uint64_t line;    /* 1-based line in that file (0 when not about a line) */
    uint64_t records; /* records checked */
    uint64_t first_seq;
    uint64_t last_seq;
    bool head_checked; /* path.head existed and was compared */
    char message[512]; /* human text: what is wrong, where */
};

/*
 * Verify path and its rotated files (oldest first). Always fills *ret.
 * Returns AD_OK when the chain is intact, AD_ERR_CORRUPT when a problem was
 * found (first problem only, in ret), AD_ERR_SYSTEM / AD_ERR_NOT_FOUND when
 * path cannot be read.
 */
AD_MUST_CHECK int audit_verify(const char *path, struct audit_verify_report *ret);

/* Called once per line, oldest first, line without '\n'. Non-zero stops. */
typedef int (*audit_tail_cb)(const char *line, size_t len, void *ctx);

/*
 * Call cb for the last n lines of the log (reaching into rotated files when
 * the current one has fewer), oldest first. Returns AD_OK, cb's non-zero
 * value, or AD_ERR_SYSTEM / AD_ERR_NOMEM.
 */
AD_MUST_CHECK int audit_tail(const char *path, size_t n, audit_tail_cb cb, void *ctx);

#endif
