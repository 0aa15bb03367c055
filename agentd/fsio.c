#include "fsio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fsio_write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return AD_ERR_SYSTEM;
        }
        if (n == 0) {
            errno = EIO; /* a regular file that takes nothing: say so, never spin */
            return AD_ERR_SYSTEM;
        }
        p += n;
        len -= (size_t)n;
    }
    return AD_OK;
}

int fsio_fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    int fd = -1;
    int r = AD_ERR_SYSTEM;
    int saved;

    if (copy == NULL) {
        return AD_ERR_NOMEM;
    }
    if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        goto out;
    }
    if (fsync(fd) != 0 && errno != EINVAL) {
        goto out;
    }
    r = AD_OK;
out:
    saved = errno;
    if (fd >= 0) {
        close(fd);
    }
    free(copy);
    errno = saved;
    return r;
}
