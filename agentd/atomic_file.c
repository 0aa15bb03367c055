#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsio.h"
#include "log.h"

#define PATH_CAP 4200

int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_CAP];
    int fd = -1;
    int r = AD_ERR_SYSTEM;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        return AD_ERR_TOO_LARGE;
    }
    (void)unlink(tmp); /* left by a crash */
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)) < 0 ||
        fchmod(fd, mode) != 0 || fsio_write_all(fd, data, len) != AD_OK || fsync(fd) != 0) {
        log_error("%s: %s: %s", __func__, tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        log_error("%s: rename to %s: %s", __func__, path, strerror(errno));
        goto out;
    }
    if (fsio_fsync_dir_of(path) != AD_OK) {
        /* Renamed: the new contents are in place, their durability is not. */
        log_warn("%s: fsync of the directory of %s: %s", __func__, path, strerror(errno));
    }
    r = AD_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (r != AD_OK) {
        (void)unlink(tmp);
    }
    return r;
}

int atomic_file_read(const char *path, size_t max, char **ret, size_t *ret_len)
{
    struct stat st;
    char *buf = NULL;
    ssize_t n;
    int fd;
    int r = AD_ERR_SYSTEM;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        return errno == ENOENT ? AD_ERR_NOT_FOUND : AD_ERR_SYSTEM;
    }
    if (fstat(fd, &st) != 0) {
        goto out;
    }
    if (st.st_size < 0 || (size_t)st.st_size > max) {
        r = AD_ERR_TOO_LARGE;
        goto out;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if ((n = read(fd, buf, (size_t)st.st_size)) != (ssize_t)st.st_size) {
        goto out;
    }
    buf[n] = '\0';
    *ret = buf;
    *ret_len = (size_t)n;
    buf = NULL;
    r = AD_OK;
out:
    free(buf);
    close(fd);
    return r;
}

int atomic_file_mkdir(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        log_error("%s: mkdir %s: %s", __func__, dir, strerror(errno));
        return AD_ERR_SYSTEM;
    }
    return AD_OK;
}
