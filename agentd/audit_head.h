/*
 * The audit head's writer thread: path.head (audit_head_file.h) rewritten
 * off the request path. A head write syncs the log (when its lines are not
 * synced one by one) and then the head file: milliseconds on a real disk;
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
