/*
 * The two file-system steps every writer that must not lose data repeats:
 * a write that finishes (short writes and EINTR retried), and the fsync of
 * the directory that makes a rename durable. One copy, shared by the key
 * files (keyblob.c), the daemon's state files (atomic_file.c) and the audit
 * log and its head (audit.c, audit_head.c), which live in three libraries.
 */
#ifndef AGENTD_FSIO_H
#define AGENTD_FSIO_H

#include <stddef.h>

#include "err.h"

/* Write all len bytes to fd. AD_OK, or AD_ERR_SYSTEM with errno set. */
AD_MUST_CHECK int fsio_write_all(int fd, const void *data, size_t len);

/*
 * fsync the directory holding path, so a rename into it survives a crash.
 * AD_OK (also when the file system cannot fsync a directory: EINVAL),
 * AD_ERR_NOMEM, or AD_ERR_SYSTEM with errno set.
 */
AD_MUST_CHECK int fsio_fsync_dir_of(const char *path);

#endif
