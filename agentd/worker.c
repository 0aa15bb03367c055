#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

struct worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_cond_t sync_cond; /* a worker_run_sync job finished */
    void *ctx;
    int efd;
    bool is_stopping;
    bool is_busy;      /* a job runs, on the worker or inline on the loop: the TPM is taken */
    bool is_post_held; /* worker thread: finished jobs listed, eventfd not yet written */
    struct worker_job *todo_head; /* submitted, not yet run */
    struct worker_job *todo_tail;
    struct worker_job *done_head; /* run, not yet completed */
    struct worker_job *done_tail;
    size_t pending; /* loop thread only */
};

static void queue_push(struct worker_job **head, struct worker_job **tail, struct worker_job *j)
{
    j->next = NULL;
    if (*tail != NULL) {
        (*tail)->next = j;
    } else {
        *head = j;
    }
    *tail = j;
}

void worker_boost_prepare(int levels, struct worker_boost *b)
{
    int target;

    *b = (struct worker_boost){0};
    errno = 0;
    b->base_nice = getpriority(PRIO_PROCESS, 0); /* Linux: this thread only */
    if (levels <= 0 || errno != 0) {
        return;
    }
    target = b->base_nice - levels < -20 ? -20 : b->base_nice - levels;
    if (setpriority(PRIO_PROCESS, 0, target) != 0) {
        log_warn("worker: TPM worker stays at nice %d (wanted %d: %s); under CPU load the TPM "
                 "may idle while the worker waits to run: allow it with CAP_SYS_NICE or "
                 "LimitNICE= (agentd.service), or set tpm_worker_boost = 0",
                 b->base_nice, target, strerror(errno));
        return;
    }
    b->is_raised = true;
}

static void post(struct worker *w)
{
    uint64_t one = 1;

    /* The counter saturating is harmless: readers drain the list, not the count. */
    if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
        log_error("worker: eventfd write: %s", strerror(errno));
    }
}

void worker_started(struct worker *w)
{
    if (w != NULL && w->is_post_held) {
        w->is_post_held = false;
        post(w);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct worker_job *j;

    (void)pthread_setname_np(pthread_self(), "agentd-tpm"); /* top -H, ps -L */
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while ((w->todo_head == NULL || w->is_busy) && !w->is_stopping) {
            pthread_cond_wait(&w->cond, &w->lock);
        }
        if (w->todo_head == NULL) {
            break; /* stopping and drained */
        }
        while (w->is_busy) { /* stopping while the loop runs a job inline */
            pthread_cond_wait(&w->cond, &w->lock);
        }
        j = w->todo_head;
        w->todo_head = j->next;
        if (w->todo_head == NULL) {
            w->todo_tail = NULL;
        }
        w->is_busy = true;
        j->owner = w;
        pthread_mutex_unlock(&w->lock);

        j->run(j, w->ctx);
        j->owner = NULL;
        worker_started(w); /* if run() did not post what was held for it */

        pthread_mutex_lock(&w->lock);
        w->is_busy = false;
        if (j->done == NULL) {
            /* worker_run_sync: a self-link marks it finished (a queued job never points at
             * itself); its submitter waits on sync_cond, the loop never sees it. */
            j->next = j;
            pthread_cond_broadcast(&w->sync_cond);
            continue;
        }
        queue_push(&w->done_head, &w->done_tail, j);
        /*
         * Only the worker takes jobs off todo, and an inline run needs the
         * done list empty: a prompt job queued now runs next, at once.
         */
        if (w->todo_head != NULL && w->todo_head->is_prompt) {
            w->is_post_held = true;
        } else {
            post(w);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int worker_new(void *ctx, const struct worker_boost *boost, struct worker **ret)
{
    struct worker *w = NULL;
    int r;

    if ((w = calloc(1, sizeof(*w))) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    w->ctx = ctx;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->sync_cond, NULL);
    if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        log_error("worker: eventfd: %s", strerror(errno));
        r = AD_ERR_SYSTEM;
        goto out;
    }
    if ((r = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
        log_error("worker: pthread_create: %s", strerror(r));
        close(w->efd);
        r = AD_ERR_SYSTEM;
        goto out;
    }
    *ret = w;
    w = NULL;
    r = AD_OK;
out:
    if (w != NULL) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        pthread_cond_destroy(&w->sync_cond);
        free(w);
    }
    /* Threads started from here on (hasher, identity) get the daemon's priority. */
    if (boost != NULL && boost->is_raised && setpriority(PRIO_PROCESS, 0, boost->base_nice) != 0) {
        log_error("worker: nice back to %d: %s", boost->base_nice, strerror(errno));
    }
    return r;
}

int worker_fd(const struct worker *w)
{
    return w->efd;
}

void worker_submit(struct worker *w, struct worker_job *job)
{
    pthread_mutex_lock(&w->lock);
    queue_push(&w->todo_head, &w->todo_tail, job);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    w->pending++;
}

bool worker_run_inline(struct worker *w, struct worker_job *job)
{
    if (w->pending > 0) {
        return false; /* a reply still to send comes first */
    }
    pthread_mutex_lock(&w->lock);
    if (w->is_busy || w->todo_head != NULL || w->is_stopping) {
        pthread_mutex_unlock(&w->lock);
        return false;
    }
    w->is_busy = true;
    pthread_mutex_unlock(&w->lock);

    job->owner = NULL;
    job->run(job, w->ctx);

    pthread_mutex_lock(&w->lock);
    w->is_busy = false;
    if (w->todo_head != NULL) {
        pthread_cond_signal(&w->cond); /* an enrollment-thread job queued meanwhile */
    }
    pthread_mutex_unlock(&w->lock);
    return true;
}

size_t worker_pending(const struct worker *w)
{
    return w->pending;
}

void worker_complete(struct worker *w)
{
    struct worker_job *list;
    struct worker_job *next;
    uint64_t cnt;

    if (read(w->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN) {
        log_error("worker: eventfd read: %s", strerror(errno));
    }
    pthread_mutex_lock(&w->lock);
    list = w->done_head;
    w->done_head = NULL;
    w->done_tail = NULL;
    pthread_mutex_unlock(&w->lock);
    for (; list != NULL; list = next) {
        next = list->next; /* done() may free the job */
        w->pending--;
        list->done(list);
    }
}

struct call_job {
    struct worker_job job;
    void (*fn)(void *ctx, void *arg);
    void *arg;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool is_finished;
};

static void call_run(struct worker_job *job, void *ctx)
{
    struct call_job *c = (struct call_job *)job;

    c->fn(ctx, c->arg);
    pthread_mutex_lock(&c->lock);
    c->is_finished = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void call_done(struct worker_job *job)
{
    (void)job; /* the caller's stack frame owns it */
}

void worker_call(struct worker *w, void (*fn)(void *ctx, void *arg), void *arg)
{
    struct call_job c = {.job = {.run = call_run, .done = call_done}, .fn = fn, .arg = arg};
    struct worker_job *list;
    struct worker_job **pp;

    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    pthread_mutex_lock(&w->lock);
    queue_push(&w->todo_head, &w->todo_tail, &c.job);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);

    pthread_mutex_lock(&c.lock);
    while (!c.is_finished) {
        pthread_cond_wait(&c.cond, &c.lock);
    }
    pthread_mutex_unlock(&c.lock);

    /* Take our stack job off the done list before this frame goes away. */
    pthread_mutex_lock(&w->lock);
    w->done_tail = NULL;
    for (pp = &w->done_head; *pp != NULL;) {
        list = *pp;
        if (list == &c.job) {
            *pp = list->next;
            continue;
        }
        w->done_tail = list;
        pp = &list->next;
    }
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_destroy(&c.lock);
    pthread_cond_destroy(&c.cond);
}

struct sync_job {
    struct worker_job job; /* first: run() gets &job */
    void (*fn)(void *ctx, void *arg);
    void *arg;
};

static void sync_run(struct worker_job *job, void *ctx)
{
    struct sync_job *s = (struct sync_job *)job;

    s->fn(ctx, s->arg);
}

void worker_run_sync(struct worker *w, void (*fn)(void *ctx, void *arg), void *arg)
{
    struct sync_job s = {.job = {.run = sync_run, .done = NULL}, .fn = fn, .arg = arg};

    pthread_mutex_lock(&w->lock);
    queue_push(&w->todo_head, &w->todo_tail, &s.job);
    pthread_cond_signal(&w->cond);
    while (s.job.next != &s.job) {
        pthread_cond_wait(&w->sync_cond, &w->lock);
    }
    pthread_mutex_unlock(&w->lock);
}

void worker_free(struct worker *w)
{
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->is_stopping = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    worker_complete(w);
    close(w->efd);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_cond_destroy(&w->sync_cond);
    free(w);
}
