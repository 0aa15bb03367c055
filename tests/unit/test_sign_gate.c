/*
 * The sign gate (agentd/sign_gate.h): which signatures the loop thread
 * makes itself and which go to the TPM worker, by how long the TPM has
 * recently taken for that kind of key and whether another connection signs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sign_gate.h"

#define MS 1000000ull
#define T0 (1000 * MS) /* an arbitrary monotonic time */

static void unmeasured_goes_to_worker(void **state)
{
    struct sign_gate g = {{0}, 0, 0};

    (void)state;
    assert_false(sign_gate_inline(&g, SIGN_GATE_EC, 1, T0));
    assert_false(sign_gate_inline(&g, SIGN_GATE_RSA, 1, T0));
    /* A signature of one kind says nothing of the other. */
    sign_gate_done(&g, SIGN_GATE_EC, 1, MS / 2, T0);
    assert_true(sign_gate_inline(&g, SIGN_GATE_EC, 1, T0));
    assert_false(sign_gate_inline(&g, SIGN_GATE_RSA, 1, T0));
    assert_false(sign_gate_inline(&g, SIGN_GATE_KINDS, 1, T0));
}

static void short_is_inline_for_anyone(void **state)
{
    struct sign_gate g = {{0}, 0, 0};

    (void)state;
    sign_gate_done(&g, SIGN_GATE_EC, 7, MS / 2, T0);
    assert_true(sign_gate_inline(&g, SIGN_GATE_EC, 7, T0));
    assert_true(sign_gate_inline(&g, SIGN_GATE_EC, 8, T0)); /* another connection, at once */
    sign_gate_done(&g, SIGN_GATE_EC, 9, 0, T0);             /* 0 ns still counts as measured */
    assert_true(sign_gate_inline(&g, SIGN_GATE_EC, 9, T0));
}

static void long_is_inline_only_alone(void **state)
{
    struct sign_gate g = {{0}, 0, 0};

    (void)state;
    sign_gate_done(&g, SIGN_GATE_RSA, 7, 2 * MS, T0);
    assert_true(sign_gate_inline(&g, SIGN_GATE_RSA, 7, T0 + 1));  /* the same connection again */
    assert_false(sign_gate_inline(&g, SIGN_GATE_RSA, 8, T0 + 1)); /* two taking turns */
    assert_false(sign_gate_inline(&g, SIGN_GATE_RSA, 8, T0 + 2 * MS - 1));
    assert_true(
        sign_gate_inline(&g, SIGN_GATE_RSA, 8, T0 + 2 * MS));     /* the TPM idled a signature */
    assert_false(sign_gate_inline(&g, SIGN_GATE_RSA, 8, T0 - 1)); /* a clock gone backwards */
    /* Beyond the bound nobody signs inline, not even the same connection. */
    sign_gate_done(&g, SIGN_GATE_RSA, 7, SIGN_GATE_LONG_NS + 1, T0);
    assert_false(sign_gate_inline(&g, SIGN_GATE_RSA, 7, T0 + 1));
    assert_false(sign_gate_inline(&g, SIGN_GATE_RSA, 8, T0 + 100 * MS));
}

static void estimate_rises_at_once_and_decays_slowly(void **state)
{
    struct sign_gate g = {{0}, 0, 0};
    int n = 0;

    (void)state;
    sign_gate_done(&g, SIGN_GATE_EC, 1, MS / 2, T0);
    sign_gate_done(&g, SIGN_GATE_EC, 1, 50 * MS, T0); /* one slow signature (a TPM retry, say) */
    assert_int_equal(g.est_ns[SIGN_GATE_EC], 50 * MS);
    assert_false(sign_gate_inline(&g, SIGN_GATE_EC, 1, T0));
    /* Back under the bound only after many quick ones: 1/16 of the way each. */
    while (!sign_gate_inline(&g, SIGN_GATE_EC, 2, T0) && n < 1000) {
        sign_gate_done(&g, SIGN_GATE_EC, 1, MS / 2, T0);
        n++;
    }
    /* 0.5 + 49.5 * (15/16)^n <= 1 ms from n = 72 on (floor division may take one more). */
    assert_in_range(n, 72, 74);
    assert_true(g.est_ns[SIGN_GATE_EC] <= SIGN_GATE_SHORT_NS);
    assert_true(g.est_ns[SIGN_GATE_EC] > MS / 2);
    assert_int_equal(g.last_conn, 1);
    assert_int_equal(g.last_end_ns, T0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unmeasured_goes_to_worker),
        cmocka_unit_test(short_is_inline_for_anyone),
        cmocka_unit_test(long_is_inline_only_alone),
        cmocka_unit_test(estimate_rises_at_once_and_decays_slowly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
