/*
 * The TPM worker's ownership of its context: jobs run one at a time, either
 * on the worker thread or inline on the loop thread when the worker is idle,
 * never both at once; an inline run never overtakes a job still queued,
 * running, or waiting for its done(). And the worker's priority boost: the
 * worker thread alone runs boost nice levels higher, when it may.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"

/*
 * A job that can be held inside run() until the test opens its gate; a
 * prompt one can also be held before it calls worker_started().
 */
struct gated {
    struct worker_job wj;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool is_gated_before_start;
    bool calls_started;
    bool is_gated;
    bool is_running;
    bool is_done;
    pthread_t ran_on;
    void *ctx;
};

static int ctx_token;
static int in_run; /* jobs inside run() right now, across threads */
static int max_in_run;

static void gated_run(struct worker_job *wj, void *ctx)
{
    struct gated *g = (struct gated *)wj;

    if (__atomic_add_fetch(&in_run, 1, __ATOMIC_SEQ_CST) > max_in_run) {
        max_in_run = in_run;
    }
    pthread_mutex_lock(&g->lock);
    g->ran_on = pthread_self();
    g->ctx = ctx;
    g->is_running = true;
    pthread_cond_broadcast(&g->cond);
    while (g->is_gated_before_start) {
        pthread_cond_wait(&g->cond, &g->lock);
    }
    if (g->calls_started) {
        worker_started(wj->owner); /* as sign_run does once TPM2_Sign is out */
    }
    while (g->is_gated) {
        pthread_cond_wait(&g->cond, &g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    __atomic_sub_fetch(&in_run, 1, __ATOMIC_SEQ_CST);
}

static void gated_done(struct worker_job *wj)
{
    ((struct gated *)wj)->is_done = true;
}

static void gated_init(struct gated *g, bool is_gated)
{
    *g = (struct gated){.wj = {.run = gated_run, .done = gated_done}, .is_gated = is_gated};
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
}

static void gated_wait_running(struct gated *g)
{
    pthread_mutex_lock(&g->lock);
    while (!g->is_running) {
        pthread_cond_wait(&g->cond, &g->lock);
    }
    pthread_mutex_unlock(&g->lock);
}

static void gated_open(struct gated *g)
{
    pthread_mutex_lock(&g->lock);
    g->is_gated_before_start = false;
    g->is_gated = false;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    assert_int_equal(poll(&p, 1, 5000), 1);
}

static bool is_readable_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, ms) == 1;
}

/* A prompt job held before its worker_started(), queued behind a gated one. */
static void prompt_init(struct gated *g, bool calls_started)
{
    gated_init(g, true);
    g->is_gated_before_start = true;
    g->calls_started = calls_started;
    g->wj.is_prompt = true;
}

static void gated_open_start(struct gated *g)
{
    pthread_mutex_lock(&g->lock);
    g->is_gated_before_start = false;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};

    nanosleep(&ts, NULL);
}

static void test_inline_when_idle(void **state)
{
    struct worker *w = NULL;
    struct gated g;

    (void)state;
    assert_int_equal(worker_new(&ctx_token, NULL, &w), 0);
    gated_init(&g, false);
    assert_true(worker_run_inline(w, &g.wj));
    assert_true(pthread_equal(g.ran_on, pthread_self()));
    assert_ptr_equal(g.ctx, &ctx_token);
    assert_false(g.is_done); /* the caller finishes an inline job */
    assert_int_equal(worker_pending(w), 0);
    worker_free(w);
}

static void test_not_inline_while_worker_has_jobs(void **state)
{
    struct worker *w = NULL;
    struct gated busy, other;

    (void)state;
    assert_int_equal(worker_new(&ctx_token, NULL, &w), 0);
    gated_init(&busy, true);
    gated_init(&other, false);
    worker_submit(w, &busy.wj);
    gated_wait_running(&busy);
    assert_false(pthread_equal(busy.ran_on, pthread_self()));
    /* Running on the worker: the TPM is taken. */
    assert_false(worker_run_inline(w, &other.wj));
    assert_false(other.is_running);
    gated_open(&busy);
    wait_readable(worker_fd(w));
    /* Finished but its done() not yet called: its reply goes first. */
    assert_false(worker_run_inline(w, &other.wj));
    assert_false(other.is_running);
    worker_complete(w);
    assert_true(busy.is_done);
    assert_true(worker_run_inline(w, &other.wj));
    assert_true(other.is_running);
    worker_free(w);
}

/*
 * a runs on the worker, then the given jobs queue behind it; a finishes and
 * the worker takes the first of them: returns once that one is in run().
 */
static void finish_a_into(struct worker *w, struct gated *a, struct gated *next, struct gated *then)
{
    worker_submit(w, &a->wj);
    gated_wait_running(a);
    worker_submit(w, &next->wj);
    if (then != NULL) {
        worker_submit(w, &then->wj);
    }
    gated_open(a);
    gated_wait_running(next);
}

/*
 * A finished job's post (the eventfd) waits while a prompt job is queued
 * next, until that job is under way: the TPM gets its next command before
 * the loop is woken.
 */
static void test_post_held_until_prompt_job_starts(void **state)
{
    struct worker *w = NULL;
    static struct gated a, b; /* a failed assertion leaves the worker in b: not on this stack */

    (void)state;
    assert_int_equal(worker_new(&ctx_token, NULL, &w), 0);
    gated_init(&a, true);
    prompt_init(&b, true);
    finish_a_into(w, &a, &b, NULL);
    assert_false(is_readable_within(worker_fd(w), 100)); /* a finished, post held */
    gated_open_start(&b);
    wait_readable(worker_fd(w)); /* b called worker_started */
    worker_complete(w);
    assert_true(a.is_done);
    assert_false(b.is_done); /* still inside run() */
    gated_open(&b);
    wait_readable(worker_fd(w));
    worker_complete(w);
    assert_true(b.is_done);
    assert_int_equal(worker_pending(w), 0);
    worker_free(w);
}

/* Behind a job that is not prompt, a finished job is posted at once. */
static void test_post_not_held_for_other_jobs(void **state)
{
    struct worker *w = NULL;
    static struct gated a, c;

    (void)state;
    assert_int_equal(worker_new(&ctx_token, NULL, &w), 0);
    gated_init(&a, true);
    gated_init(&c, true);
    finish_a_into(w, &a, &c, NULL);
    wait_readable(worker_fd(w));
    worker_complete(w);
    assert_true(a.is_done);
    assert_false(c.is_done);
    gated_open(&c);
    wait_readable(worker_fd(w));
    worker_complete(w);
    assert_true(c.is_done);
    worker_free(w);
}

/*
 * A prompt job that never calls worker_started() posts what was held for it
 * when it returns, even while its own post is held for the next prompt job:
 * a held post waits for one job at most.
 */
static void test_post_when_prompt_job_never_starts(void **state)
{
    struct worker *w = NULL;
    static struct gated a, b, c;

    (void)state;
    assert_int_equal(worker_new(&ctx_token, NULL, &w), 0);
    gated_init(&a, true);
    prompt_init(&b, false);
    prompt_init(&c, true);
    finish_a_into(w, &a, &b, &c);
    assert_false(is_readable_within(worker_fd(w), 100));
    gated_open(&b);
    gated_wait_running(&c);
    wait_readable(worker_fd(w)); /* a, posted as b returned */
    worker_complete(w);
    assert_true(a.is_done); /* (b may be listed too by now: its own post waits for c) */
    gated_open(&c);
    for (int i = 0; i < 3 && !(b.is_done && c.is_done); i++) {
        wait_readable(worker_fd(w));
        worker_complete(w);
    }
    assert_true(b.is_done);
    assert_true(c.is_done);
    worker_free(w);
}

struct sync_arg {
    struct gated *inline_job; /* must have left run() before fn runs */
    bool was_inline_finished;
    bool has_run;
};

static void sync_fn(void *ctx, void *arg)
{
    struct sync_arg *a = arg;

    assert_ptr_equal(ctx, &ctx_token);
    a->was_inline_finished = __atomic_load_n(&in_run, __ATOMIC_SEQ_CST) == 0;
    __atomic_store_n(&a->has_run, true, __ATOMIC_SEQ_CST);
}

struct thread_arg {
    struct worker *w;
    struct gated *g;
    struct sync_arg *s;
    bool ran_inline;
};

static void *loop_thread(void *p)
{
    struct thread_arg *t = p;

    t->ran_inline = worker_run_inline(t->w, &t->g->wj);
    return NULL;
}

static void *enroll_thread(void *p)
{
    struct thread_arg *t = p;

    worker_run_sync(t->w, sync_fn, t->s);
    return NULL;
}

/* A job queued from another thread while the loop runs one inline waits for it. */
static void test_sync_waits_for_inline(void **state)
{
    struct worker *w = NULL;
    struct gated g;
    struct sync_arg s = {.inline_job = &g};
    struct thread_arg ta = {.g = &g, .s = &s};
    pthread_t loop, enroll;

    (void)state;
    max_in_run = 0;
    assert_int_equal(worker_new(&ctx_token, NULL, &w), 0);
    ta.w = w;
    gated_init(&g, true);
    assert_int_equal(pthread_create(&loop, NULL, loop_thread, &ta), 0);
    gated_wait_running(&g);
    assert_int_equal(pthread_create(&enroll, NULL, enroll_thread, &ta), 0);
    sleep_ms(50);
    assert_false(__atomic_load_n(&s.has_run, __ATOMIC_SEQ_CST));
    gated_open(&g);
    pthread_join(loop, NULL);
    pthread_join(enroll, NULL);
    assert_true(ta.ran_inline);
    assert_true(s.has_run);
    assert_true(s.was_inline_finished);
    assert_int_equal(max_in_run, 1);
    worker_free(w);
}

struct thread_facts {
    int nice;
    char name[16];
};

static void read_facts(void *ctx, void *arg)
{
    struct thread_facts *f = arg;

    (void)ctx;
    errno = 0;
    f->nice = getpriority(PRIO_PROCESS, 0); /* this (worker) thread */
    if (errno != 0) {
        f->nice = 99;
    }
    if (pthread_getname_np(pthread_self(), f->name, sizeof(f->name)) != 0) {
        f->name[0] = '\0';
    }
}

static int own_nice(void)
{
    return getpriority(PRIO_PROCESS, 0);
}

/* The worker's nice when prepared for boost levels on this thread. */
static int worker_nice(int levels, struct worker_boost *b)
{
    struct worker *w = NULL;
    struct thread_facts f = {0};

    worker_boost_prepare(levels, b);
    if (worker_new(&ctx_token, b, &w) != 0) {
        return 100;
    }
    worker_call(w, read_facts, &f);
    worker_free(w);
    return f.nice;
}

static void test_boost_raises_the_worker_only(void **state)
{
    struct worker *w = NULL;
    struct worker_boost b;
    struct thread_facts f = {0};
    int base = own_nice();

    (void)state;
    if (geteuid() != 0) {
        skip(); /* lowering nice needs CAP_SYS_NICE here; the child case covers the rest */
    }
    worker_boost_prepare(3, &b);
    assert_true(b.is_raised);
    assert_int_equal(own_nice(), base - 3); /* the creator first, so the worker inherits */
    assert_int_equal(worker_new(&ctx_token, &b, &w), 0);
    assert_int_equal(own_nice(), base); /* and back once the worker runs */
    worker_call(w, read_facts, &f);
    worker_free(w);
    assert_int_equal(f.nice, base - 3);
    assert_string_equal(f.name, "agentd-tpm");
    assert_int_equal(worker_nice(0, &b), base);
    assert_false(b.is_raised);
    assert_int_equal(worker_nice(40, &b), -20); /* clamped */
    assert_int_equal(own_nice(), base);
}

/*
 * In a child that gives up root (as agentd does after start-up), preparing
 * the boost before or after. Exit 0 when the worker's nice is what the case
 * expects: boosted only when prepared while privileged.
 */
static void child_case(bool is_prepared_first, int *ret_status)
{
    struct rlimit none = {0, 0};
    struct worker_boost b;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        int base = own_nice();
        int got;

        if (setrlimit(RLIMIT_NICE, &none) != 0) {
            _exit(10); /* RLIMIT_NICE alone never lets this child lower its nice */
        }
        if (is_prepared_first) {
            worker_boost_prepare(2, &b);
        }
        if (geteuid() == 0 && setresuid(65534, 65534, 65534) != 0) {
            _exit(11); /* leaving root clears every capability, CAP_SYS_NICE too */
        }
        if (is_prepared_first) {
            struct worker *w = NULL;
            struct thread_facts f = {0};

            if (worker_new(&ctx_token, &b, &w) != 0) {
                _exit(12);
            }
            worker_call(w, read_facts, &f);
            worker_free(w);
            _exit(f.nice == base - 2 && own_nice() == base ? 0 : 13);
        }
        got = worker_nice(2, &b);
        _exit(got == base && !b.is_raised ? 0 : 14);
    }
    assert_int_equal(waitpid(pid, ret_status, 0), pid);
}

static void test_boost_without_privilege_keeps_priority(void **state)
{
    int st = -1;

    (void)state;
    child_case(false, &st);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_boost_prepared_before_dropping_root(void **state)
{
    int st = -1;

    (void)state;
    if (geteuid() != 0) {
        skip(); /* needs CAP_SYS_NICE before the drop, as agentd started as root has */
    }
    child_case(true, &st);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inline_when_idle),
        cmocka_unit_test(test_not_inline_while_worker_has_jobs),
        cmocka_unit_test(test_sync_waits_for_inline),
        cmocka_unit_test(test_post_held_until_prompt_job_starts),
        cmocka_unit_test(test_post_not_held_for_other_jobs),
        cmocka_unit_test(test_post_when_prompt_job_never_starts),
        cmocka_unit_test(test_boost_raises_the_worker_only),
        cmocka_unit_test(test_boost_without_privilege_keeps_priority),
        cmocka_unit_test(test_boost_prepared_before_dropping_root),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
