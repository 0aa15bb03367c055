/*
 * Small state files written so that a crash leaves either the old or the
 * new content, never a mix: temp file in the same directory (O_EXCL,
 * mode given), write, fsync, rename over the target, fsync the directory.
 */
#ifndef AGENTD_ATOMIC_FILE_H
#define AGENTD_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* Write len bytes to path atomically. AD_ERR_SYSTEM (errno logged), AD_ERR_TOO_LARGE (path). */
AD_MUST_CHECK int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode);

/*
 * Read a whole file of at most max bytes, NUL-terminated (*ret malloc'd).
 * AD_ERR_NOT_FOUND when absent, AD_ERR_TOO_LARGE over max, AD_ERR_SYSTEM.
 */
AD_MUST_CHECK int atomic_file_read(const char *path, size_t max, char **ret, size_t *ret_len);

/* Create dir with mode 0700 if missing. AD_ERR_SYSTEM (errno logged). */
AD_MUST_CHECK int atomic_file_mkdir(const char *dir);

#endif
