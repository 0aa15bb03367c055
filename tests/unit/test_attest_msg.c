/*
 * Enrollment message decoders: every field type- and length-checked, strict
 * base64, unknown fields refused, size cap before parsing; plus the
 * mandatory truncated / trailing / zero-length / oversized inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msg.h"

#define SESSION "0123456789abcdef0123456789abcdef"

static const char start_ok[] =
    "{\"ek_cert\":\"AAECAw==\",\"ek_pub\":\"AAE=\",\"ak_pub\":\"AA==\",\"host_class\":\"default\"}";

static void test_start_ok(void **state)
{
    struct msg_start m;

    (void)state;
    assert_int_equal(msg_start_decode(start_ok, strlen(start_ok), &m), AD_OK);
    assert_int_equal(m.ek_cert.len, 4);
    assert_int_equal(m.ek_cert.data[3], 3);
    assert_int_equal(m.ek_pub.len, 2);
    assert_int_equal(m.ak_pub.len, 1);
    assert_string_equal(m.host_class, "default");
    msg_start_clear(&m);
}

static void test_truncated_and_trailing(void **state)
{
    char buf[sizeof(start_ok) + 8];
    struct msg_start m;
    size_t n;

    (void)state;
    for (n = 0; n < strlen(start_ok); n++) {
        assert_int_not_equal(msg_start_decode(start_ok, n, &m), AD_OK);
        assert_null(m.ek_cert.data);
    }
    memcpy(buf, start_ok, strlen(start_ok));
    memcpy(buf + strlen(start_ok), " {}", 3);
    assert_int_equal(msg_start_decode(buf, strlen(start_ok) + 3, &m), AD_ERR_FORMAT);
    /* A NUL inside the body is refused, not read as the end. */
    memcpy(buf, start_ok, strlen(start_ok));
    buf[strlen(start_ok)] = '\0';
    assert_int_equal(msg_start_decode(buf, strlen(start_ok) + 1, &m), AD_ERR_FORMAT);
}

static void test_body_cap(void **state)
{
    char *big = malloc(MSG_BODY_MAX + 2);
    struct msg_quote m;

    (void)state;
    assert_non_null(big);
    memset(big, ' ', MSG_BODY_MAX + 1);
    big[0] = '{';
    big[MSG_BODY_MAX] = '}';
    /* Over the cap: refused before json-c sees it. */
    assert_int_equal(msg_quote_decode(big, MSG_BODY_MAX + 1, &m), AD_ERR_TOO_LARGE);
    free(big);
}

static void expect_start(const char *body, int want)
{
    struct msg_start m;

    assert_int_equal(msg_start_decode(body, strlen(body), &m), want);
    if (want == AD_OK) {
        msg_start_clear(&m);
    } else {
        assert_null(m.ek_cert.data);
        assert_null(m.ak_pub.data);
    }
}

static void test_field_checks(void **state)
{
    (void)state;
    /* Missing, mistyped, unknown and duplicated-looking fields. */
    expect_start("{\"ek_cert\":\"AA==\",\"ek_pub\":\"AA==\",\"ak_pub\":\"AA==\"}", AD_ERR_FORMAT);
    expect_start("{\"ek_cert\":1,\"ek_pub\":\"AA==\",\"ak_pub\":\"AA==\",\"host_class\":\"d\"}",
                 AD_ERR_FORMAT);
    expect_start("{\"ek_cert\":\"AA==\",\"ek_pub\":\"AA==\",\"ak_pub\":\"AA==\",\"host_class\":"
                 "\"d\",\"admin\":true}",
                 AD_ERR_FORMAT);
    expect_start("[1,2]", AD_ERR_FORMAT);
    expect_start("\"x\"", AD_ERR_FORMAT);
    /* Host class charset and length. */
    expect_start("{\"ek_cert\":\"AA==\",\"ek_pub\":\"AA==\",\"ak_pub\":\"AA==\",\"host_class\":"
                 "\"Default\"}",
                 AD_ERR_FORMAT);
    expect_start("{\"ek_cert\":\"AA==\",\"ek_pub\":\"AA==\",\"ak_pub\":\"AA==\",\"host_class\":"
                 "\"\"}",
                 AD_ERR_FORMAT);
    expect_start("{\"ek_cert\":\"AA==\",\"ek_pub\":\"AA==\",\"ak_pub\":\"AA==\",\"host_class\":"
                 "\"a\\u0000b\"}",
                 AD_ERR_FORMAT);
    /* Depth cap. */
    expect_start("{\"ek_cert\":[[[[[[\"AA==\"]]]]]]}", AD_ERR_FORMAT);
}

static void test_base64(void **state)
{
    static const char *const bad[] = {
        "A", "AA=", "AA=A", "A===", "AB==", "AAA/=", "AA==AA==", "AA\n==", "!!!!", ""};
    struct msg_bin b = {0};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(msg_b64_decode(bad[i], strlen(bad[i]), 100, &b), AD_OK);
    }
    assert_int_equal(msg_b64_decode("AAE=", 4, 100, &b), AD_OK);
    assert_int_equal(b.len, 2);
    assert_int_equal(b.data[1], 1);
    msg_bin_clear(&b);
    assert_int_equal(msg_b64_decode("AAECAw==", 8, 3, &b), AD_ERR_TOO_LARGE);
    assert_int_equal(msg_b64_decode("/+8=", 4, 3, &b), AD_OK);
    assert_int_equal(b.data[0], 0xff);
    assert_int_equal(b.data[1], 0xef);
    msg_bin_clear(&b);
}

static void test_session_and_secret(void **state)
{
    struct msg_activate m;
    char big[300];
    const char *hdr;
    const char *ok = "{\"session\":\"" SESSION "\",\"secret\":\"AAECAw==\"}";

    (void)state;
    assert_int_equal(msg_activate_decode(ok, strlen(ok), &m), AD_OK);
    assert_string_equal(m.session, SESSION);
    msg_activate_clear(&m);
    ok = "{\"session\":\"0123456789ABCDEF0123456789abcdef\",\"secret\":\"AA==\"}";
    assert_int_equal(msg_activate_decode(ok, strlen(ok), &m), AD_ERR_FORMAT);
    ok = "{\"session\":\"0123\",\"secret\":\"AA==\"}";
    assert_int_equal(msg_activate_decode(ok, strlen(ok), &m), AD_ERR_FORMAT);
    /* A secret over MSG_SECRET_MAX bytes (100 base64 characters are 75 bytes). */
    hdr = "{\"session\":\"" SESSION "\",\"secret\":\"";
    memset(big, 'A', sizeof(big));
    memcpy(big, hdr, strlen(hdr));
    memcpy(big + strlen(hdr) + 100, "\"}", 3);
    assert_int_equal(msg_activate_decode(big, strlen(big), &m), AD_ERR_TOO_LARGE);
}

static void test_svid(void **state)
{
    struct msg_svid m;
    struct msg_svid_challenge c;
    const char *ok = "{\"session\":\"" SESSION "\",\"path\":\"workload/web\",\"key_pub\":\"AA==\","
                     "\"attest\":\"AA==\",\"signature\":\"AA==\"}";
    const char *ch = "{\"host_id\":\"" SESSION SESSION "\"}";

    (void)state;
    assert_int_equal(msg_svid_decode(ok, strlen(ok), &m), AD_OK);
    assert_string_equal(m.path, "workload/web");
    msg_certify_clear(&m.certify);
    assert_int_equal(msg_svid_challenge_decode(ch, strlen(ch), &c), AD_OK);
    assert_int_equal(strlen(c.host_id), 64);
    ch = "{\"host_id\":\"" SESSION "\"}";
    assert_int_equal(msg_svid_challenge_decode(ch, strlen(ch), &c), AD_ERR_FORMAT);
}

static void test_encode_reply_roundtrip(void **state)
{
    static const uint8_t nonce[4] = {1, 2, 3, 250};
    static const unsigned pcrs[2] = {0, 16};
    struct msg_reply *rep = NULL;
    struct msg_bin b = {0};
    unsigned got[24];
    size_t n = 0;
    char *body = NULL, *s = NULL;

    (void)state;
    assert_int_equal(msg_encode(&body, "session", 's', SESSION, "nonce", 'b', nonce, sizeof(nonce),
                                "pcrs", 'a', pcrs, (size_t)2, "n", 'u', 7u, MSG_END),
                     AD_OK);
    assert_int_equal(msg_reply_parse(body, strlen(body), &rep), AD_OK);
    assert_int_equal(msg_reply_str(rep, "session", MSG_SESSION_LEN, &s), AD_OK);
    assert_string_equal(s, SESSION);
    assert_int_equal(msg_reply_str(rep, "session", 5, &s), AD_ERR_TOO_LARGE);
    assert_int_equal(msg_reply_bin(rep, "nonce", 4, &b), AD_OK);
    assert_memory_equal(b.data, nonce, 4);
    assert_int_equal(msg_reply_uints(rep, "pcrs", 24, 24, got, &n), AD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(got[1], 16);
    assert_int_equal(msg_reply_uints(rep, "pcrs", 24, 10, got, &n), AD_ERR_FORMAT);
    assert_int_equal(msg_reply_uints(rep, "session", 24, 24, got, &n), AD_ERR_FORMAT);
    msg_bin_clear(&b);
    free(s);
    free(body);
    msg_reply_free(rep);
}

/* A TPM2B's contents come out only when its size field matches. */
static void test_bin_from_tpm2b(void **state)
{
    const uint8_t ok[] = {0x00, 0x03, 'a', 'b', 'c'};
    const uint8_t longer[] = {0x00, 0x04, 'a', 'b', 'c'};
    const uint8_t shorter[] = {0x00, 0x02, 'a', 'b', 'c'};
    struct msg_bin b = {0};

    (void)state;
    assert_int_equal(msg_bin_from_tpm2b(ok, sizeof(ok), &b), AD_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "abc", 3);
    msg_bin_clear(&b);
    assert_int_equal(msg_bin_from_tpm2b(longer, sizeof(longer), &b), AD_ERR_FORMAT);
    assert_int_equal(msg_bin_from_tpm2b(shorter, sizeof(shorter), &b), AD_ERR_FORMAT);
    assert_int_equal(msg_bin_from_tpm2b(ok, 1, &b), AD_ERR_FORMAT);
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_ok),       cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_body_cap),       cmocka_unit_test(test_field_checks),
        cmocka_unit_test(test_base64),         cmocka_unit_test(test_session_and_secret),
        cmocka_unit_test(test_svid),           cmocka_unit_test(test_encode_reply_roundtrip),
        cmocka_unit_test(test_bin_from_tpm2b),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
