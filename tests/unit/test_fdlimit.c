/*
 * The open-file budget: how many connections a limit admits, and that
 * fdlimit_fit() raises this process's soft RLIMIT_NOFILE as far as the hard
 * limit allows, never lowers it, and reports the limit in force.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdlimit.h"

/*
 * A lowered hard limit cannot be raised again without CAP_SYS_RESOURCE, so
 * each case runs in a child: it sets the limits, calls fdlimit_fit(), and
 * exits 0 only when the limit it reports and the one in force are right.
 */
static int in_child(rlim_t soft, rlim_t hard, uint32_t max_conns, uint64_t want)
{
    int status = 0;
    pid_t pid = fork();

    if (pid == 0) {
        struct rlimit rl = {soft, hard};

        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || fdlimit_fit(max_conns) != want ||
            getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur != want) {
            _exit(1);
        }
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_arithmetic(void **state)
{
    (void)state;
    assert_int_equal(fdlimit_need(1024), 1024u * FDLIMIT_PER_CONN + FDLIMIT_RESERVED);
    assert_int_equal(fdlimit_need(UINT32_MAX),
                     (uint64_t)UINT32_MAX * FDLIMIT_PER_CONN + FDLIMIT_RESERVED);
    assert_int_equal(fdlimit_conns(0), 0);
    assert_int_equal(fdlimit_conns(FDLIMIT_RESERVED), 0);
    assert_int_equal(fdlimit_conns(FDLIMIT_RESERVED + FDLIMIT_PER_CONN - 1), 0);
    assert_int_equal(fdlimit_conns(FDLIMIT_RESERVED + FDLIMIT_PER_CONN), 1);
    assert_int_equal(fdlimit_conns(100), (100 - FDLIMIT_RESERVED) / FDLIMIT_PER_CONN);
    assert_int_equal(fdlimit_conns(UINT64_MAX), UINT32_MAX);
    /* What a limit admits is never more than what fits in it. */
    for (uint32_t n = 0; n < 2000; n += 7) {
        assert_true(fdlimit_conns(fdlimit_need(n)) == n);
    }
}

static void test_raises_to_need(void **state)
{
    uint64_t need = fdlimit_need(256);
    struct rlimit now;

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
    if (now.rlim_max != RLIM_INFINITY && now.rlim_max < need + 10) {
        skip(); /* this machine's hard limit is below what the case needs */
    }
    assert_int_equal(in_child(64, (rlim_t)need + 10, 256, need), 0);
}

static void test_stops_at_hard(void **state)
{
    (void)state;
    assert_int_equal(in_child(64, 100, 256, 100), 0);
    assert_int_equal(fdlimit_conns(100), 12);
}

static void test_never_lowers(void **state)
{
    (void)state;
    assert_int_equal(in_child(90, 100, 1, 90), 0); /* needs 67: 90 is kept */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arithmetic),
        cmocka_unit_test(test_raises_to_need),
        cmocka_unit_test(test_stops_at_hard),
        cmocka_unit_test(test_never_lowers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
