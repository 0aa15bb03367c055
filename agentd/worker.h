/*
 * The TPM worker: one thread that runs jobs against the one TPM context
 * (ESYS is not thread-safe and the TPM is serial). The event-loop thread
 * submits jobs; the worker runs them in order and posts them back through an
 * eventfd; the loop thread then calls each job's done() from
 * worker_complete(). When a SIGN is queued next, that post waits until its
 * TPM2_Sign is sent (worker_started): the TPM gets its next command first.
 * When the worker is idle the loop may run a job itself (worker_run_inline):
 * the TPM context then belongs to the loop thread until the job returns.
 * Jobs are caller-allocated (embed struct worker_job), so the queue itself
 * never allocates. The daemon's other threads: the hasher (hasher.h,
 * executable hashes, never the TPM) and, with enrollment, the identity
 * thread (identity.h, which reaches the TPM only through here).
 */
#ifndef AGENTD_WORKER_H
#define AGENTD_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct worker;

struct worker_job {
    struct worker_job *next; /* queue link, owned by the worker while queued */
    /* Runs on the worker thread with the worker's ctx. */
    void (*run)(struct worker_job *job, void *ctx);
    /* Runs on the loop thread once run() has finished; may free the job. */
    void (*done)(struct worker_job *job);
    /*
     * Set by the submitter: run() calls worker_started(owner) as soon as its
     * TPM command is sent (see there). The worker sets owner while run()
     * executes on its thread; NULL when the job runs inline.
     */
    bool is_prompt;
    struct worker *owner;
};

/*
 * From a prompt job's run() on the worker thread, once its TPM command is
 * in flight: post the completions the worker held back for it. When a job
 * finishes and a prompt one is queued next, the worker starts that one
 * before waking the loop, so the TPM is not idle while the loop is woken;
 * this is where the held post goes out. A run() that never gets that far
 * is posted for when it returns. NULL is fine (inline: nothing held).
 */
void worker_started(struct worker *w);

/*
 * The worker's priority boost: nice levels it runs above the thread that
 * starts it. The TPM is one serial resource and the worker its only feeder
 * under load: each time it waits for a CPU after a TPM answer, the TPM
 * idles. Lowering nice needs CAP_SYS_NICE or RLIMIT_NICE, which agentd has
 * only before it drops privileges, and the worker must start after the drop
 * (capabilities are per thread). So worker_boost_prepare() lowers the
 * calling thread's nice while it still may, and worker_new() starts the
 * worker (a new thread inherits its creator's nice) and puts the calling
 * thread back.
 */
struct worker_boost {
    int base_nice;  /* the calling thread's nice before */
    bool is_raised; /* the calling thread now runs at base_nice - levels */
};

/*
 * Before privs_drop(): lower this thread's nice by levels (0..20, clamped at
 * -20). Best effort: when not permitted it warns once, and the worker will
 * keep the daemon's priority.
 */
void worker_boost_prepare(int levels, struct worker_boost *b);

/*
 * Start the worker thread (named "agentd-tpm"); ctx is passed to every run()
 * and is used only by the worker thread from now until worker_free() returns.
 * boost NULL: the worker runs at the caller's priority; else it was prepared
 * by worker_boost_prepare() on this thread, which gets its base nice back.
 * Returns 0, AD_ERR_SYSTEM (thread or eventfd), AD_ERR_NOMEM.
 */
AD_MUST_CHECK int worker_new(void *ctx, const struct worker_boost *boost, struct worker **ret);

/* The eventfd (non-blocking, CLOEXEC) that becomes readable when jobs finish. */
int worker_fd(const struct worker *w);

/* Queue job (loop thread). Never fails; the caller bounds the queue. */
void worker_submit(struct worker *w, struct worker_job *job);

/*
 * Run job->run() on the calling (loop) thread, now, when the worker is idle:
 * nothing queued or running and no finished job waiting for its done(). The
 * TPM is one serial resource, so an idle worker gains nothing from a
 * hand-off, and each hand-off costs a thread wake-up both ways. The worker
 * thread starts nothing until run() returns. Returns false (nothing ran)
 * when the worker is not idle: submit the job instead. done() is not called:
 * the caller finishes the job. Loop thread.
 */
bool worker_run_inline(struct worker *w, struct worker_job *job);

/* Jobs submitted and not yet passed to done(). Loop thread. */
size_t worker_pending(const struct worker *w);

/* Call done() for every finished job, in completion order (loop thread). */
void worker_complete(struct worker *w);

/*
 * Run ctx-using code on the worker thread synchronously (loop thread blocks
 * until it returns): for start-up and admin paths, never per request.
 */
void worker_call(struct worker *w, void (*fn)(void *ctx, void *arg), void *arg);

/*
 * Run fn(ctx, arg) on the worker thread and wait for it, from a thread that
 * is neither the worker nor the loop (the enrollment thread): it queues
 * behind the requests already submitted and never touches the loop's
 * completion list or pending count, so it is safe while the loop runs.
 * The job lives on the caller's stack: the queue still never allocates.
 */
void worker_run_sync(struct worker *w, void (*fn)(void *ctx, void *arg), void *arg);

/*
 * Finish every queued job (their done() runs here), stop and join the thread.
 * NULL is fine.
 */
void worker_free(struct worker *w);

#endif
