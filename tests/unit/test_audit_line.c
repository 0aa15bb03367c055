/*
 * The audit line formatter keeps its json-c objects from one record to the
 * next: whatever came before, a line must be byte for byte the one a fresh
 * formatter prints for the same record (apart from the time), with the keys
 * in the order audit.h documents, and an oversized record must be refused
 * without spoiling the next one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "audit.h"
#include "audit_line.h"

static const uint8_t digest_a[32] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3};
static const uint8_t digest_b[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
static const uint8_t prev[32] = {0xab, 0xcd};

/* Records that lengthen, shorten, drop and restore values, in turn. */
static struct audit_record sample(int i)
{
    static const char *const exes[] = {
        "/usr/bin/python3.11",
        "/a",
        "/opt/some/much/longer/path/to/an/agent/binary/that/grows/the/string/storage",
        "/tmp/evil\"\n{\"seq\":99}\\\xff\xc3\xa9",
        NULL,
    };
    struct audit_record r;

    memset(&r, 0, sizeof(r));
    r.pid = 100 + i;
    r.uid = (uid_t)(1000 + i % 3);
    r.gid = (gid_t)(2000 + i % 5);
    r.exe = exes[i % 5];
    r.exe_sha256 = i % 3 == 0 ? NULL : digest_a;
    r.entry = i % 4 == 1 ? NULL : "ci-signer";
    r.spiffe_id = i % 2 ? "spiffe://example.org/ci/signer" : "spiffe://e/x";
    r.op = i % 3 == 2 ? "generate_key" : "sign";
    r.key = i % 4 == 3 ? NULL : (i % 2 ? "k" : "a-much-longer-key-name");
    r.mechanism = i % 2 ? "ECDSA_SHA256" : NULL;
    r.data_sha256 = i % 2 ? digest_b : NULL;
    r.decision = i % 5 == 4 ? "deny" : "allow";
    r.reason = i % 5 == 4 ? "rate_limited" : "allowed";
    return r;
}

/* A copy of the line with its time value (24 characters) blanked. */
static char *without_time(const char *line, size_t len)
{
    static const char key[] = "\"time\":\"";
    char *copy = malloc(len + 1);
    char *t;

    assert_non_null(copy);
    memcpy(copy, line, len);
    copy[len] = '\0';
    t = strstr(copy, key);
    assert_non_null(t);
    t += strlen(key);
    assert_true(strlen(t) > 24);
    assert_int_equal(t[23], 'Z');
    memset(t, '_', 24);
    return copy;
}

static char *format_fresh(uint64_t seq, const struct audit_record *r)
{
    struct audit_line *l = NULL;
    const char *line;
    size_t len;
    char *out;

    assert_int_equal(audit_line_new(&l), AD_OK);
    assert_int_equal(audit_line_format(l, seq, prev, r, &line, &len), AD_OK);
    out = without_time(line, len);
    audit_line_free(l);
    return out;
}

static void test_reuse_matches_fresh(void **state)
{
    struct audit_line *l = NULL;

    (void)state;
    assert_int_equal(audit_line_new(&l), AD_OK);
    for (int i = 0; i < 40; i++) {
        struct audit_record r = sample(i);
        const char *line;
        size_t len;
        char *got;
        char *want;

        assert_int_equal(audit_line_format(l, (uint64_t)i + 1, prev, &r, &line, &len), AD_OK);
        assert_int_equal(line[len - 1], '\n');
        assert_null(memchr(line, '\n', len - 1));
        got = without_time(line, len);
        want = format_fresh((uint64_t)i + 1, &r);
        assert_string_equal(got, want);
        free(got);
        free(want);
    }
    audit_line_free(l);
}

static void test_keys_in_order(void **state)
{
    static const char *const keys[] = {
        "seq",       "time", "pid", "uid",       "gid",         "exe",      "exe_sha256", "entry",
        "spiffe_id", "op",   "key", "mechanism", "data_sha256", "decision", "reason",     "prev"};
    struct audit_line *l = NULL;
    struct audit_record r;
    struct json_object *o;
    struct json_object *v;
    const char *line;
    size_t len;
    size_t i = 0;
    char *copy;

    (void)state;
    assert_int_equal(audit_line_new(&l), AD_OK);
    r = sample(1);
    assert_int_equal(audit_line_format(l, 7, prev, &r, &line, &len), AD_OK);
    r = sample(3);
    assert_int_equal(audit_line_format(l, 8, prev, &r, &line, &len), AD_OK);
    copy = strndup(line, len - 1);
    assert_non_null(copy);
    o = json_tokener_parse(copy);
    assert_non_null(o);
    json_object_object_foreach(o, k, val)
    {
        (void)val;
        assert_true(i < sizeof(keys) / sizeof(keys[0]));
        assert_string_equal(k, keys[i]);
        i++;
    }
    assert_int_equal(i, sizeof(keys) / sizeof(keys[0]));
    assert_true(json_object_object_get_ex(o, "seq", &v));
    assert_int_equal(json_object_get_int64(v), 8);
    assert_true(json_object_object_get_ex(o, "exe", &v));
    assert_string_equal(json_object_get_string(v),
                        "/tmp/evil\"\n{\"seq\":99}\\\xef\xbf\xbd\xc3\xa9");
    /* sample(1) had both, sample(3) neither: strings turned into nulls */
    assert_true(json_object_object_get_ex(o, "exe_sha256", &v));
    assert_null(v);
    assert_true(json_object_object_get_ex(o, "key", &v));
    assert_null(v);
    assert_true(json_object_object_get_ex(o, "entry", &v)); /* null in sample(1) */
    assert_string_equal(json_object_get_string(v), "ci-signer");
    assert_true(json_object_object_get_ex(o, "prev", &v));
    assert_string_equal(json_object_get_string(v),
                        "abcd000000000000000000000000000000000000000000000000000000000000");
    json_object_put(o);
    free(copy);
    audit_line_free(l);
}

static void test_too_large_then_fine(void **state)
{
    struct audit_line *l = NULL;
    struct audit_record r = sample(2);
    size_t huge = AUDIT_LINE_MAX + 10;
    char *s = malloc(huge + 1);
    const char *line;
    size_t len;
    char *got;
    char *want;

    (void)state;
    assert_non_null(s);
    assert_int_equal(audit_line_new(&l), AD_OK);
    /* One value fits a line alone but not with the other fields: refused whole. */
    memset(s, 'x', AUDIT_LINE_MAX - 100);
    s[AUDIT_LINE_MAX - 100] = '\0';
    r.exe = s;
    assert_int_equal(audit_line_format(l, 1, prev, &r, &line, &len), AD_ERR_TOO_LARGE);
    /* One value longer than any line. */
    memset(s, '"', huge);
    s[huge] = '\0';
    r = sample(2);
    r.key = s;
    assert_int_equal(audit_line_format(l, 1, prev, &r, &line, &len), AD_ERR_TOO_LARGE);
    /* The next record is as a fresh formatter prints it. */
    r = sample(2);
    assert_int_equal(audit_line_format(l, 2, prev, &r, &line, &len), AD_OK);
    got = without_time(line, len);
    want = format_fresh(2, &r);
    assert_string_equal(got, want);
    free(got);
    free(want);
    free(s);
    audit_line_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_matches_fresh),
        cmocka_unit_test(test_keys_in_order),
        cmocka_unit_test(test_too_large_then_fine),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
