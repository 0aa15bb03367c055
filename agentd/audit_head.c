#include "audit_head.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_head_file.h"

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
