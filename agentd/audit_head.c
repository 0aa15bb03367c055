#include "audit_head.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_verify.h"
#include "fsio.h"

/* First seq of file name (0 when empty, missing, unreadable or its first line is incomplete). */
static uint64_t first_seq_of(const char *name)
{
    FILE *f = fopen(name, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t seq = 0;
    uint8_t prev[32];

    if (f == NULL) {
        return 0;
    }
    if ((n = getline(&line, &cap, f)) > 1 && line[n - 1] == '\n' &&
        audit_parse_line(line, (size_t)n - 1, &seq, prev) != 0) {
        seq = 0;
    }
    free(line);
    fclose(f);
    return seq;
}

static uint64_t oldest_first_seq(const char *path)
{
    char name[PATH_MAX];
    unsigned oldest = audit_oldest_rotated(path);

    if (oldest > 0 && audit_rotated_name(path, oldest, name, sizeof(name)) == 0) {
        return first_seq_of(name);
    }
    return first_seq_of(path);
}

int audit_head_write(const char *path, uint64_t seq, const uint8_t hash[32], int log_fd)
{
    char name[PATH_MAX];
    char tmp[PATH_MAX + 8];
    char hex[65];
    char buf[256];
    int fd = -1;
    int len;
    int r = AD_ERR_SYSTEM;

    if (audit_head_name(path, name, sizeof(name)) != 0) {
        return AD_ERR_TOO_LARGE;
    }
    /* EINVAL: a file that cannot be synced (not on a disk): nothing to order. */
    if (log_fd >= 0 && fdatasync(log_fd) != 0 && errno != EINVAL) {
        return AD_ERR_SYSTEM;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    audit_hex(hash, 32, hex);
    len = snprintf(buf, sizeof(buf), "{\"seq\":%llu,\"hash\":\"%s\",\"first_seq\":%llu}\n",
                   (unsigned long long)seq, hex, (unsigned long long)oldest_first_seq(path));
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
        goto out;
    }
    if (fsio_write_all(fd, buf, (size_t)len) != AD_OK || fsync(fd) != 0) {
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, name) != 0) {
        goto out;
    }
    r = fsio_fsync_dir_of(name);
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    return r;
}

struct audit_headw {
    char *path;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool has_thread;
    bool is_busy; /* a job is queued or being written */
    bool is_stopping;
    uint64_t seq; /* the job */
    uint8_t hash[32];
    int log_fd;       /* the job's own duplicate, or -1 */
    uint64_t written; /* newest seq written durably */
};

static void *headw_main(void *arg)
{
    struct audit_headw *w = arg;
    uint8_t hash[32];
    uint64_t seq;
    int log_fd;
    int r;

    (void)pthread_setname_np(pthread_self(), "agentd-audit"); /* top -H, ps -L */
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->is_busy && !w->is_stopping) {
            pthread_cond_wait(&w->cond, &w->lock);
        }
        if (!w->is_busy) {
            break; /* stopping, nothing queued */
        }
        seq = w->seq;
        memcpy(hash, w->hash, sizeof(hash));
        log_fd = w->log_fd;
        w->log_fd = -1;
        pthread_mutex_unlock(&w->lock);

        r = audit_head_write(w->path, seq, hash, log_fd);
        if (log_fd >= 0) {
            close(log_fd);
        }

        pthread_mutex_lock(&w->lock);
        if (r == AD_OK && seq > w->written) {
            w->written = seq; /* a failure leaves it: the next record starts a new write */
        }
        w->is_busy = false;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int audit_headw_new(const char *path, struct audit_headw **ret)
{
    struct audit_headw *w = calloc(1, sizeof(*w));

    if (w == NULL || (w->path = strdup(path)) == NULL) {
        free(w);
        return AD_ERR_NOMEM;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->log_fd = -1;
    *ret = w;
    return AD_OK;
}

bool audit_headw_start(struct audit_headw *w, uint64_t seq, const uint8_t hash[32], int log_fd)
{
    bool is_started = false;
    int dup_fd = -1;

    if (log_fd >= 0 && (dup_fd = fcntl(log_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
        return false; /* no fd left: the inline write at the bound still happens */
    }
    pthread_mutex_lock(&w->lock);
    if (!w->has_thread && pthread_create(&w->thread, NULL, headw_main, w) == 0) {
        w->has_thread = true; /* started late on purpose: after the daemon dropped privileges */
    }
    if (w->has_thread && !w->is_busy && !w->is_stopping) {
        w->seq = seq;
        memcpy(w->hash, hash, sizeof(w->hash));
        w->log_fd = dup_fd;
        dup_fd = -1;
        w->is_busy = true;
        pthread_cond_signal(&w->cond);
        is_started = true;
    }
    pthread_mutex_unlock(&w->lock);
    if (dup_fd >= 0) {
        close(dup_fd);
    }
    return is_started;
}

uint64_t audit_headw_written(struct audit_headw *w)
{
    uint64_t seq;

    pthread_mutex_lock(&w->lock);
    seq = w->written;
    pthread_mutex_unlock(&w->lock);
    return seq;
}

void audit_headw_wait(struct audit_headw *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->is_busy) {
        pthread_cond_wait(&w->cond, &w->lock);
    }
    pthread_mutex_unlock(&w->lock);
}

void audit_headw_free(struct audit_headw *w)
{
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->is_stopping = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    if (w->has_thread) {
        pthread_join(w->thread, NULL);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w->path);
    free(w);
}
