#include "hasher.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

enum slot_state {
    SLOT_FREE = 0,
    SLOT_QUEUED,  /* submitted; the thread has not started it */
    SLOT_RUNNING, /* the thread reads fd now */
    SLOT_DONE,    /* res is set; the loop has not delivered it */
};

struct slot {
    enum slot_state state;
    uint64_t seq; /* submission order: the thread takes the lowest queued */
    int fd;       /* owned by the slot from submit until it is freed (loop) */
    struct hasher_result res;
};

struct hasher {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    hasher_fn fn;
    int efd;
    int cancel; /* atomic: read by fn between chunks */
    bool is_stopping;
    uint64_t next_seq;
    size_t n_pending; /* slots not FREE; loop thread only */
    struct slot slots[HASHER_QUEUE_MAX];
};

/* The queued slot submitted first, or NULL. Under lock. */
static struct slot *oldest(struct hasher *h, enum slot_state state)
{
    struct slot *best = NULL;

    for (size_t i = 0; i < HASHER_QUEUE_MAX; i++) {
        struct slot *s = &h->slots[i];

        if (s->state == state && (best == NULL || s->seq < best->seq)) {
            best = s;
        }
    }
    return best;
}

static void *hasher_main(void *arg)
{
    struct hasher *h = arg;
    struct slot *s;
    uint64_t one = 1;

    (void)pthread_setname_np(pthread_self(), "agentd-hash"); /* top -H, ps -L */
    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (!h->is_stopping && (s = oldest(h, SLOT_QUEUED)) == NULL) {
            pthread_cond_wait(&h->cond, &h->lock);
        }
        if (h->is_stopping) {
            break; /* queued jobs are dropped: nobody will read their results */
        }
        s->state = SLOT_RUNNING;
        pthread_mutex_unlock(&h->lock);

        /* The slot's fd and key are not touched by the loop while RUNNING. */
        s->res.r = h->fn(s->fd, &s->res.key, &h->cancel, s->res.sha256);

        pthread_mutex_lock(&h->lock);
        s->state = SLOT_DONE;
        /* The counter saturating is harmless: the loop scans the slots, not the count. */
        if (write(h->efd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
            log_error("hasher: eventfd write: %s", strerror(errno));
        }
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

int hasher_new(hasher_fn fn, struct hasher **ret)
{
    struct hasher *h = NULL;
    int r;

    if ((h = calloc(1, sizeof(*h))) == NULL) {
        return AD_ERR_NOMEM;
    }
    h->fn = fn;
    for (size_t i = 0; i < HASHER_QUEUE_MAX; i++) {
        h->slots[i].fd = -1;
    }
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    if ((h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        log_error("hasher: eventfd: %s", strerror(errno));
        r = AD_ERR_SYSTEM;
        goto out;
    }
    if ((r = pthread_create(&h->thread, NULL, hasher_main, h)) != 0) {
        log_error("hasher: pthread_create: %s", strerror(r));
        close(h->efd);
        r = AD_ERR_SYSTEM;
        goto out;
    }
    *ret = h;
    h = NULL;
    r = AD_OK;
out:
    if (h != NULL) {
        pthread_mutex_destroy(&h->lock);
        pthread_cond_destroy(&h->cond);
        free(h);
    }
    return r;
}

int hasher_fd(const struct hasher *h)
{
    return h->efd;
}

int hasher_submit(struct hasher *h, int fd, const struct workload_file_key *key)
{
    struct slot *s = NULL;

    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < HASHER_QUEUE_MAX && s == NULL; i++) {
        if (h->slots[i].state == SLOT_FREE) {
            s = &h->slots[i];
        }
    }
    if (s == NULL) {
        pthread_mutex_unlock(&h->lock);
        close(fd);
        return AD_ERR_RATE;
    }
    memset(&s->res, 0, sizeof(s->res));
    s->res.key = *key;
    s->fd = fd;
    s->seq = h->next_seq++;
    s->state = SLOT_QUEUED;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    h->n_pending++;
    return AD_OK;
}

bool hasher_is_pending(struct hasher *h, const struct workload_file_key *key)
{
    bool is_pending = false;

    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < HASHER_QUEUE_MAX && !is_pending; i++) {
        const struct slot *s = &h->slots[i];

        is_pending = s->state != SLOT_FREE && workload_file_key_eq(&s->res.key, key);
    }
    pthread_mutex_unlock(&h->lock);
    return is_pending;
}

size_t hasher_n_pending(const struct hasher *h)
{
    return h->n_pending;
}

void hasher_complete(struct hasher *h, void (*done)(void *arg, const struct hasher_result *res),
                     void *arg)
{
    struct hasher_result res;
    struct slot *s;
    uint64_t cnt;
    int fd;

    if (read(h->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN) {
        log_error("hasher: eventfd read: %s", strerror(errno));
    }
    for (;;) {
        pthread_mutex_lock(&h->lock);
        if ((s = oldest(h, SLOT_DONE)) == NULL) {
            pthread_mutex_unlock(&h->lock);
            break;
        }
        /* Copy out and free the slot first: done() may submit again. */
        res = s->res;
        fd = s->fd;
        s->fd = -1;
        s->state = SLOT_FREE;
        pthread_mutex_unlock(&h->lock);
        h->n_pending--;
        close(fd);
        done(arg, &res);
    }
}

void hasher_drop_queued(struct hasher *h,
                        bool (*is_wanted)(void *arg, const struct workload_file_key *key),
                        void *arg)
{
    for (size_t i = 0; i < HASHER_QUEUE_MAX; i++) {
        struct slot *s = &h->slots[i];
        int fd = -1;

        pthread_mutex_lock(&h->lock);
        if (s->state == SLOT_QUEUED && !is_wanted(arg, &s->res.key)) {
            fd = s->fd;
            s->fd = -1;
            s->state = SLOT_FREE;
            h->n_pending--;
        }
        pthread_mutex_unlock(&h->lock);
        if (fd >= 0) {
            close(fd);
        }
    }
}

void hasher_free(struct hasher *h)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->lock);
    h->is_stopping = true;
    __atomic_store_n(&h->cancel, 1, __ATOMIC_RELAXED);
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    for (size_t i = 0; i < HASHER_QUEUE_MAX; i++) {
        if (h->slots[i].fd >= 0) {
            close(h->slots[i].fd);
        }
    }
    close(h->efd);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    free(h);
}
