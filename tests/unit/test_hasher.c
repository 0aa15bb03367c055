/*
 * The hasher thread's job lifecycle: results come back in submission order
 * with the right digests, a key is pending from submit until delivered, the
 * queue is bounded (a submit beyond it is refused and its fd closed), queued
 * jobs nobody wants are dropped, every fd the hasher took is closed, and
 * freeing it cancels the hash in progress and drops the queued ones
 * without running them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hasher.h"
#include "workload.h"

#define N_FILES 5

/* Open a new temp file holding text; its key into *k. Returns the fd (unlinked). */
static int temp_file(const char *text, struct workload_file_key *k)
{
    char path[] = "/tmp/test_hasher.XXXXXX";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(workload_file_key_of(fd, k), AD_OK);
    return fd;
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* Wait for the eventfd, then deliver. */
static void wait_complete(struct hasher *h, void (*done)(void *, const struct hasher_result *),
                          void *arg)
{
    struct pollfd p = {.fd = hasher_fd(h), .events = POLLIN};

    assert_int_equal(poll(&p, 1, 10000), 1);
    hasher_complete(h, done, arg);
}

struct collected {
    size_t n;
    struct hasher_result res[HASHER_QUEUE_MAX + 1];
};

static void collect(void *arg, const struct hasher_result *res)
{
    struct collected *c = arg;

    c->res[c->n++] = *res;
}

static void test_results_in_order(void **state)
{
    static const char *texts[N_FILES] = {"zero", "one", "two", "three", "four"};
    struct workload_file_key k[N_FILES];
    struct collected got = {0};
    struct hasher *h = NULL;
    uint8_t want[32];
    int fds[N_FILES];

    (void)state;
    assert_int_equal(hasher_new(workload_hash_file, &h), AD_OK);
    for (int i = 0; i < N_FILES; i++) {
        fds[i] = temp_file(texts[i], &k[i]);
        assert_false(hasher_is_pending(h, &k[i]));
        assert_int_equal(hasher_submit(h, fds[i], &k[i]), AD_OK);
        assert_true(hasher_is_pending(h, &k[i]));
    }
    assert_int_equal(hasher_n_pending(h), N_FILES);
    while (got.n < N_FILES) {
        wait_complete(h, collect, &got);
    }
    assert_int_equal(hasher_n_pending(h), 0);
    for (int i = 0; i < N_FILES; i++) {
        assert_false(fd_is_open(fds[i])); /* the job owned it; freed with the slot */
    }
    for (int i = 0; i < N_FILES; i++) {
        int fd = temp_file(texts[i], &k[0]);

        assert_int_equal(workload_hash_fd(NULL, fd, want), AD_OK);
        close(fd);
        assert_int_equal(got.res[i].r, AD_OK);
        assert_memory_equal(got.res[i].sha256, want, 32);
        assert_false(hasher_is_pending(h, &got.res[i].key));
    }
    hasher_free(h);
}

/* A hash function held until the test opens the gate, or until cancelled. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool is_gate_open;
static int n_started;
static bool saw_cancel;

static int gated_hash(int fd, const struct workload_file_key *k, const int *cancel, uint8_t ret[32])
{
    (void)fd;
    (void)k;
    pthread_mutex_lock(&gate_lock);
    n_started++;
    pthread_cond_broadcast(&gate_cond);
    while (!is_gate_open && __atomic_load_n(cancel, __ATOMIC_RELAXED) == 0) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 1000000; /* poll the cancel flag every ms */
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&gate_cond, &gate_lock, &ts);
    }
    saw_cancel = !is_gate_open;
    pthread_mutex_unlock(&gate_lock);
    memset(ret, 0x5a, 32);
    return saw_cancel ? AD_ERR_CLOSED : AD_OK;
}

static void gate_reset(void)
{
    is_gate_open = false;
    n_started = 0;
    saw_cancel = false;
}

static void wait_started(int n)
{
    pthread_mutex_lock(&gate_lock);
    while (n_started < n) {
        pthread_cond_wait(&gate_cond, &gate_lock);
    }
    pthread_mutex_unlock(&gate_lock);
}

static void test_queue_is_bounded(void **state)
{
    struct workload_file_key k;
    struct collected got = {0};
    struct hasher *h = NULL;
    int extra;

    (void)state;
    gate_reset();
    assert_int_equal(hasher_new(gated_hash, &h), AD_OK);
    for (unsigned i = 0; i < HASHER_QUEUE_MAX; i++) {
        int fd = temp_file("x", &k);

        k.ino = (ino_t)i + 1; /* gated_hash reads nothing: keys need only differ, in order */
        assert_int_equal(hasher_submit(h, fd, &k), AD_OK);
    }
    wait_started(1);
    extra = temp_file("y", &k);
    k.ino = 0;
    assert_int_equal(hasher_submit(h, extra, &k), AD_ERR_RATE);
    assert_false(fd_is_open(extra)); /* taken in every case */
    assert_false(hasher_is_pending(h, &k));
    pthread_mutex_lock(&gate_lock);
    is_gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    while (got.n < HASHER_QUEUE_MAX) {
        wait_complete(h, collect, &got);
    }
    for (size_t i = 1; i < got.n; i++) {
        assert_true(got.res[i].key.ino > got.res[i - 1].key.ino); /* submission order */
    }
    /* Slots are free again. */
    extra = temp_file("y", &k);
    assert_int_equal(hasher_submit(h, extra, &k), AD_OK);
    while (got.n < HASHER_QUEUE_MAX + 1) { /* a wake-up may be a late one for a delivered job */
        wait_complete(h, collect, &got);
    }
    assert_int_equal(hasher_n_pending(h), 0);
    hasher_free(h);
}

static void test_free_cancels(void **state)
{
    struct workload_file_key k;
    struct hasher *h = NULL;
    int fds[3];

    (void)state;
    gate_reset();
    assert_int_equal(hasher_new(gated_hash, &h), AD_OK);
    for (int i = 0; i < 3; i++) {
        fds[i] = temp_file("z", &k);
        k.ino = (ino_t)i + 1;
        assert_int_equal(hasher_submit(h, fds[i], &k), AD_OK);
    }
    wait_started(1);
    hasher_free(h); /* the gate never opens: only the cancel flag ends the hash */
    assert_true(saw_cancel);
    assert_int_equal(n_started, 1); /* the queued ones never ran */
    for (int i = 0; i < 3; i++) {
        assert_false(fd_is_open(fds[i]));
    }
    hasher_free(NULL);
}

/* Keep only the job with ino 2 (and the one running, which is not dropped). */
static bool want_ino_2(void *arg, const struct workload_file_key *key)
{
    (void)arg;
    return key->ino == 2;
}

static void test_drop_queued(void **state)
{
    struct workload_file_key k;
    struct collected got = {0};
    struct hasher *h = NULL;
    int fds[4];

    (void)state;
    gate_reset();
    assert_int_equal(hasher_new(gated_hash, &h), AD_OK);
    for (int i = 0; i < 4; i++) {
        fds[i] = temp_file("w", &k);
        k.ino = (ino_t)i + 1;
        assert_int_equal(hasher_submit(h, fds[i], &k), AD_OK);
    }
    wait_started(1); /* ino 1 runs: not dropped although unwanted */
    hasher_drop_queued(h, want_ino_2, NULL);
    assert_int_equal(hasher_n_pending(h), 2);
    assert_false(fd_is_open(fds[2]));
    assert_false(fd_is_open(fds[3]));
    k.ino = 3;
    assert_false(hasher_is_pending(h, &k));
    pthread_mutex_lock(&gate_lock);
    is_gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    while (got.n < 2) {
        wait_complete(h, collect, &got);
    }
    assert_int_equal(got.res[0].key.ino, 1);
    assert_int_equal(got.res[1].key.ino, 2);
    assert_int_equal(n_started, 2);
    assert_int_equal(hasher_n_pending(h), 0);
    hasher_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_results_in_order),
        cmocka_unit_test(test_queue_is_bounded),
        cmocka_unit_test(test_drop_queued),
        cmocka_unit_test(test_free_cancels),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
