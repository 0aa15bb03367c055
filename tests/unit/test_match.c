/*
 * match_entry(): uid-only vs exe-hash entries, most specific wins, ties are
 * denied as ambiguous, no match is denied as no_entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "match.h"

#define HASH_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const char cfg_text[] =
    "workloads = (\n"
    "  { name = \"uid-only\"; spiffe_id = \"spiffe://t/uid\"; selectors = { uid = 1001; }; },\n"
    "  { name = \"gid-only\"; spiffe_id = \"spiffe://t/gid\"; selectors = { gid = 1001; }; },\n"
    "  { name = \"uid-gid\"; spiffe_id = \"spiffe://t/ug\"; selectors = { uid = 1001; gid = 1001; "
    "}; },\n"
    "  { name = \"hash\"; spiffe_id = \"spiffe://t/hash\";\n"
    "    selectors = { uid = 1001; sha256 = \"" HASH_A "\"; }; },\n"
    "  { name = \"exe\"; spiffe_id = \"spiffe://t/exe\"; selectors = { exe = \"/usr/bin/agent\"; "
    "}; },\n"
    "  { name = \"unit\"; spiffe_id = \"spiffe://t/unit\"; selectors = { unit = \"ci.service\"; }; "
    "},\n"
    "  { name = \"cgroup\"; spiffe_id = \"spiffe://t/cg\";\n"
    "    selectors = { cgroup = \"/system.slice/ci.service\"; }; }\n"
    ");\n";

static int setup(void **state)
{
    struct agentd_conf *c = NULL;
    char err[CONF_ERR_MAX];

    if (conf_load_string(cfg_text, "match.conf", &c, err, sizeof(err)) != 0) {
        print_error("%s\n", err);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    conf_free(*state);
    return 0;
}

static struct caller_facts facts(uid_t uid, gid_t gid)
{
    struct caller_facts f;

    memset(&f, 0, sizeof(f));
    f.pid = 4242;
    f.uid = uid;
    f.gid = gid;
    return f;
}

static void expect_entry(const struct agentd_conf *c, const struct caller_facts *f,
                         const char *want)
{
    const struct workload_entry *e = NULL;
    const char *reason = NULL;
    int r = match_entry(c, f, &e, &reason);

    if (r != AD_OK) {
        fail_msg("expected entry %s, got denial %s", want, reason);
    }
    assert_string_equal(e->name, want);
}

static void expect_denial(const struct agentd_conf *c, const struct caller_facts *f,
                          const char *want)
{
    const struct workload_entry *e = NULL;
    const char *reason = NULL;

    assert_int_equal(match_entry(c, f, &e, &reason), AD_ERR_DENIED);
    assert_null(e);
    assert_non_null(reason);
    assert_string_equal(reason, want);
}

static void test_uid_only(void **state)
{
    struct caller_facts f = facts(1001, 50);

    expect_entry(*state, &f, "uid-only");
}

static void test_more_specific_wins(void **state)
{
    struct caller_facts f = facts(1001, 1001);

    /* uid-only (2), gid-only (1) and uid-gid (3) all match: uid-gid wins */
    expect_entry(*state, &f, "uid-gid");

    /* the right executable hash beats them all */
    for (int i = 0; i < 32; i++) {
        f.exe_sha256[i] = (uint8_t)(0x11 * (i % 16)); /* HASH_A */
    }
    f.has_sha256 = true;
    expect_entry(*state, &f, "hash");

    /* one bit off: back to uid-gid */
    f.exe_sha256[31] ^= 1;
    expect_entry(*state, &f, "uid-gid");

    /* a hash that could not be computed never matches a hash selector */
    f.exe_sha256[31] ^= 1;
    f.has_sha256 = false;
    expect_entry(*state, &f, "uid-gid");
}

static void test_exe_beats_uid(void **state)
{
    struct caller_facts f = facts(1001, 7);

    f.exe = "/usr/bin/agent";
    expect_entry(*state, &f, "exe");
    f.exe = "/usr/bin/agent2";
    expect_entry(*state, &f, "uid-only");
}

static void test_ambiguous(void **state)
{
    struct caller_facts f = facts(5, 5);

    /* unit and cgroup weigh the same: a caller matching both is ambiguous */
    f.unit = "ci.service";
    f.cgroup = "/system.slice/ci.service";
    expect_denial(*state, &f, "ambiguous_entry");
    f.cgroup = "/system.slice/other.service";
    expect_entry(*state, &f, "unit");
}

static void test_no_entry(void **state)
{
    struct caller_facts f = facts(0, 0);

    expect_denial(*state, &f, "no_entry");
    /* unknown facts (NULL) never satisfy a selector */
    f.exe = NULL;
    f.unit = NULL;
    expect_denial(*state, &f, "no_entry");
}

static void test_specificity_order(void **state)
{
    const struct agentd_conf *c = *state;

    assert_int_equal(match_specificity(conf_find_entry(c, "uid-only")), MATCH_W_UID);
    assert_int_equal(match_specificity(conf_find_entry(c, "hash")), MATCH_W_SHA256 + MATCH_W_UID);
    assert_true(MATCH_W_SHA256 > MATCH_W_EXE + MATCH_W_UNIT + MATCH_W_UID + MATCH_W_GID);
    assert_true(MATCH_W_EXE > MATCH_W_UNIT + MATCH_W_UID + MATCH_W_GID);
    assert_true(MATCH_W_UID > MATCH_W_GID);
}

static void test_empty_config(void **state)
{
    struct agentd_conf *c = NULL;
    struct caller_facts f = facts(0, 0);
    char err[CONF_ERR_MAX];

    (void)state;
    assert_int_equal(conf_load_string("", "empty", &c, err, sizeof(err)), AD_OK);
    expect_denial(c, &f, "no_entry");
    conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uid_only),      cmocka_unit_test(test_more_specific_wins),
        cmocka_unit_test(test_exe_beats_uid), cmocka_unit_test(test_ambiguous),
        cmocka_unit_test(test_no_entry),      cmocka_unit_test(test_specificity_order),
        cmocka_unit_test(test_empty_config),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
