/*
 * path.head of the audit log (format and purpose in audit.h): the atomic
 * replace, and a writer thread that does it off the request path. A head
 * write costs two or three fsyncs (the log, when its lines are not synced
 * one by one; the file; the directory: milliseconds on a real disk);
 * done inline every AUDIT_HEAD_EVERY records it was most of the daemon's
 * per-SIGN time. The thread is started on first use; it writes only the
 * head file, reads the log's first lines and syncs the log; audit.c keeps
 * the bound on how far the head may lag (see audit_append()).
 */
#ifndef AGENTD_AUDIT_HEAD_H
#define AGENTD_AUDIT_HEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/*
 * Replace path.head with {"seq":seq,"hash":hash,"first_seq":...} (temp file,
 * fsync, rename, fsync dir; 0600). first_seq is read from the oldest kept
 * file. log_fd >= 0 (the log's fd, when its lines are not synced one by
 * one) is fdatasync'ed first: a head that reaches the disk before the lines
 * it names would, after a power cut, name records the log no longer has,
 * and verification would report them removed. AD_OK, AD_ERR_TOO_LARGE
 * (path), AD_ERR_SYSTEM (nothing replaced when the log's sync failed).
 */
AD_MUST_CHECK int audit_head_write(const char *path, uint64_t seq, const uint8_t hash[32],
                                   int log_fd);

struct audit_headw;

/* A writer for log path (copied). No thread runs until the first start. */
AD_MUST_CHECK int audit_headw_new(const char *path, struct audit_headw **ret);

/*
 * Begin writing the head (seq, hash) on the writer thread unless a write is
 * running; log_fd as for audit_head_write (duplicated here, so the caller
 * may close or replace its fd meanwhile). Returns true when started. Never
 * blocks on I/O.
 */
bool audit_headw_start(struct audit_headw *w, uint64_t seq, const uint8_t hash[32], int log_fd);

/* Newest seq the thread has written durably (0: none yet). */
uint64_t audit_headw_written(struct audit_headw *w);

/* Wait until no write is running. */
void audit_headw_wait(struct audit_headw *w);

/* Finish a running write, stop the thread, free. NULL is fine. */
void audit_headw_free(struct audit_headw *w);

#endif
