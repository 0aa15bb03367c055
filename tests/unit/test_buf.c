/*
 * proto/buf.c: every getter with the mandatory negatives (truncated, oversized
 * length, trailing bytes, zero length), cursors that move only on success,
 * hard maxima, static/fixed/secret buffers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "frame.h"
#include "msg.h"

/*
 * Allocation failure hook (linked with -Wl,--wrap=malloc,calloc,realloc):
 * the n-th allocation made by proto/ fails when fail_at == n. cmocka's own
 * allocations live in its shared library and are not wrapped.
 */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static long fail_at = -1;
static long n_allocs;

static int should_fail(void)
{
    return fail_at >= 0 && n_allocs++ == fail_at;
}

void *__wrap_malloc(size_t size)
{
    return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return should_fail() ? NULL : __real_realloc(p, size);
}

static void test_ints_round_trip(void **state)
{
    struct buf *b = buf_new(64);
    static const uint8_t want[] = {0xab, 0x01, 0x02, 0x03, 0x04, 0x01, 0x02,
                                   0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    uint8_t u8;
    uint32_t u32;
    uint64_t u64;

    (void)state;
    assert_non_null(b);
    assert_int_equal(buf_put_u8(b, 0xab), 0);
    assert_int_equal(buf_put_u32(b, 0x01020304u), 0);
    assert_int_equal(buf_put_u64(b, UINT64_C(0x0102030405060708)), 0);
    assert_int_equal(buf_len(b), sizeof(want));
    assert_memory_equal(buf_data(b), want, sizeof(want)); /* big-endian */
    assert_int_equal(buf_get_u8(b, &u8), 0);
    assert_int_equal(buf_get_u32(b, &u32), 0);
    assert_int_equal(buf_get_u64(b, &u64), 0);
    assert_int_equal(u8, 0xab);
    assert_int_equal(u32, 0x01020304u);
    assert_true(u64 == UINT64_C(0x0102030405060708));
    assert_int_equal(buf_expect_end(b), 0);
    buf_free(b);
}

static void test_ints_truncated(void **state)
{
    static const uint8_t bytes[7] = {1, 2, 3, 4, 5, 6, 7};
    struct buf b;
    uint8_t u8;
    uint32_t u32;
    uint64_t u64;

    (void)state;
    buf_init_static(&b, bytes, 0);
    assert_int_equal(buf_get_u8(&b, &u8), AD_ERR_SHORT);
    buf_init_static(&b, bytes, 3);
    assert_int_equal(buf_get_u32(&b, &u32), AD_ERR_SHORT);
    assert_int_equal(buf_remaining(&b), 3); /* no cursor move on failure */
    buf_init_static(&b, bytes, 7);
    assert_int_equal(buf_get_u64(&b, &u64), AD_ERR_SHORT);
    assert_int_equal(buf_remaining(&b), 7);
    assert_int_equal(buf_expect_end(&b), AD_ERR_TRAILING);
}

static void test_bytes_ref(void **state)
{
    static const uint8_t msg[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 9};
    struct buf b;
    const uint8_t *p = NULL;
    size_t len = 99;

    (void)state;
    buf_init_static(&b, msg, sizeof(msg));
    assert_int_equal(buf_get_bytes_ref(&b, 3, &p, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "abc", 3);
    /* zero length: valid, and the pointer is still usable */
    assert_int_equal(buf_get_bytes_ref(&b, 3, &p, &len), 0);
    assert_int_equal(len, 0);
    assert_non_null(p);
    /* trailing byte */
    assert_int_equal(buf_expect_end(&b), AD_ERR_TRAILING);
    assert_int_equal(buf_remaining(&b), 1);
}

static void test_bytes_ref_negatives(void **state)
{
    static const uint8_t over[] = {0, 0, 0, 4, 'a', 'b', 'c', 'd'};
    static const uint8_t trunc[] = {0, 0, 0, 5, 'a', 'b', 'c', 'd'};
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 'a'};
    static const uint8_t half_len[] = {0, 0, 1};
    struct buf b;
    const uint8_t *p;
    size_t len;

    (void)state;
    buf_init_static(&b, over, sizeof(over));
    assert_int_equal(buf_get_bytes_ref(&b, 3, &p, &len), AD_ERR_TOO_LARGE);
    assert_int_equal(buf_remaining(&b), sizeof(over));
    buf_init_static(&b, trunc, sizeof(trunc));
    assert_int_equal(buf_get_bytes_ref(&b, 100, &p, &len), AD_ERR_SHORT);
    assert_int_equal(buf_remaining(&b), sizeof(trunc));
    /* a length near UINT32_MAX with an unlimited max must not overflow the check */
    buf_init_static(&b, huge, sizeof(huge));
    assert_int_equal(buf_get_bytes_ref(&b, SIZE_MAX, &p, &len), AD_ERR_SHORT);
    assert_int_equal(buf_get_bytes_ref(&b, 10, &p, &len), AD_ERR_TOO_LARGE);
    buf_init_static(&b, half_len, sizeof(half_len));
    assert_int_equal(buf_get_bytes_ref(&b, 10, &p, &len), AD_ERR_SHORT);
}

static void test_string_ref(void **state)
{
    static const uint8_t ok[] = {0, 0, 0, 2, 'h', 'i'};
    static const uint8_t nul[] = {0, 0, 0, 3, 'h', 0, 'i'};
    static const uint8_t empty[] = {0, 0, 0, 0};
    struct buf b;
    const char *s;
    size_t len;

    (void)state;
    buf_init_static(&b, ok, sizeof(ok));
    assert_int_equal(buf_get_string_ref(&b, 1, &s, &len), AD_ERR_TOO_LARGE);
    assert_int_equal(buf_get_string_ref(&b, 2, &s, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(s, "hi", 2);
    assert_int_equal(buf_expect_end(&b), 0);
    buf_init_static(&b, nul, sizeof(nul));
    assert_int_equal(buf_get_string_ref(&b, 10, &s, &len), AD_ERR_FORMAT);
    assert_int_equal(buf_remaining(&b), sizeof(nul));
    buf_init_static(&b, empty, sizeof(empty));
    assert_int_equal(buf_get_string_ref(&b, 0, &s, &len), 0);
    assert_int_equal(len, 0);
    buf_init_static(&b, ok, 5); /* truncated payload */
    assert_int_equal(buf_get_string_ref(&b, 10, &s, &len), AD_ERR_SHORT);
}

static void test_dup_getters(void **state)
{
    static const uint8_t msg[] = {0, 0, 0, 2, 'h', 'i', 0, 0, 0, 0, 0, 0, 0, 1, 7, 0, 0, 0, 1, 0};
    struct buf b;
    uint8_t *p = NULL;
    char *s = NULL;
    size_t len;

    (void)state;
    buf_init_static(&b, msg, sizeof(msg));
    assert_int_equal(buf_get_string_dup(&b, 1, &s), AD_ERR_TOO_LARGE);
    assert_int_equal(buf_get_string_dup(&b, 2, &s), 0);
    assert_string_equal(s, "hi");
    free(s);
    assert_int_equal(buf_get_string_dup(&b, 2, &s), 0); /* zero length */
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(buf_get_bytes_dup(&b, 0, &p, &len), AD_ERR_TOO_LARGE);
    assert_int_equal(buf_get_bytes_dup(&b, 1, &p, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(p[0], 7);
    free(p);
    assert_int_equal(buf_get_string_dup(&b, 8, &s), AD_ERR_FORMAT); /* NUL inside */
    assert_int_equal(buf_get_bytes_dup(&b, 8, &p, &len), 0);        /* fine as bytes */
    assert_int_equal(len, 1);
    free(p);
    assert_int_equal(buf_get_bytes_dup(&b, 8, &p, &len), AD_ERR_SHORT);
    assert_int_equal(buf_expect_end(&b), 0);
}

static void test_max_enforced(void **state)
{
    struct buf *b = buf_new(10);
    static const uint8_t six[6] = {1, 2, 3, 4, 5, 6};

    (void)state;
    assert_non_null(b);
    assert_int_equal(buf_put_bytes(b, six, 6), 0); /* 4 + 6 = 10 */
    assert_int_equal(buf_put_u8(b, 1), AD_ERR_TOO_LARGE);
    assert_int_equal(buf_len(b), 10);
    buf_reset(b);
    assert_int_equal(buf_len(b), 0);
    assert_int_equal(buf_put_u32(b, 1), 0);
    /* header fits, payload does not: nothing at all is written */
    assert_int_equal(buf_put_bytes(b, six, 3), AD_ERR_TOO_LARGE);
    assert_int_equal(buf_len(b), 4);
    assert_int_equal(buf_put_string(b, "ab"), 0);
    assert_int_equal(buf_put_string_len(b, "a\0", 2), AD_ERR_FORMAT);
    buf_free(b);
    buf_free(NULL);
}

static void test_growth(void **state)
{
    struct buf *b = buf_new(1 << 20);
    uint32_t v;

    (void)state;
    assert_non_null(b);
    for (uint32_t i = 0; i < 100000; i++) {
        assert_int_equal(buf_put_u32(b, i), 0);
    }
    for (uint32_t i = 0; i < 100000; i++) {
        assert_int_equal(buf_get_u32(b, &v), 0);
        assert_int_equal(v, i);
    }
    assert_int_equal(buf_expect_end(b), 0);
    buf_free(b);
}

static void test_static_is_read_only(void **state)
{
    static const uint8_t data[4] = {0, 0, 0, 1};
    struct buf b;
    uint8_t *p;

    (void)state;
    buf_init_static(&b, data, sizeof(data));
    assert_int_equal(buf_put_u8(&b, 1), AD_ERR_INTERNAL);
    assert_int_equal(buf_reserve(&b, 1, &p), AD_ERR_INTERNAL);
    assert_int_equal(buf_poke_u32(&b, 0, 5), AD_ERR_INTERNAL);
    assert_int_equal(buf_remaining(&b), 4);
    assert_ptr_equal(buf_ptr(&b), data);
}

static void test_fixed(void **state)
{
    uint8_t mem[8];
    struct buf b;
    uint32_t v;

    (void)state;
    buf_init_fixed(&b, mem, sizeof(mem));
    assert_int_equal(buf_put_u32(&b, 0xdeadbeef), 0);
    assert_int_equal(buf_put_u32(&b, 2), 0);
    assert_int_equal(buf_put_u8(&b, 3), AD_ERR_TOO_LARGE);
    assert_ptr_equal(buf_data(&b), mem);
    assert_int_equal(buf_poke_u32(&b, 4, 7), 0);
    assert_int_equal(buf_poke_u32(&b, 5, 7), AD_ERR_INVALID);
    assert_int_equal(buf_get_u32(&b, &v), 0);
    assert_int_equal(v, 0xdeadbeef);
    assert_int_equal(buf_get_u32(&b, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(buf_max(&b), 8);
}

static void test_reserve_commit_skip(void **state)
{
    struct buf *b = buf_new(16);
    uint8_t *p;

    (void)state;
    assert_non_null(b);
    assert_int_equal(buf_reserve(b, 17, &p), AD_ERR_TOO_LARGE);
    assert_int_equal(buf_reserve(b, 16, &p), 0);
    memcpy(p, "0123456789", 10);
    assert_int_equal(buf_commit(b, 10), 0);
    assert_int_equal(buf_remaining(b), 10);
    assert_int_equal(buf_skip(b, 11), AD_ERR_SHORT);
    assert_int_equal(buf_skip(b, 4), 0);
    assert_memory_equal(buf_ptr(b), "456789", 6);
    /* truncate: not below the read cursor, not past the end */
    assert_int_equal(buf_truncate(b, 3), AD_ERR_INVALID);
    assert_int_equal(buf_truncate(b, 11), AD_ERR_INVALID);
    assert_int_equal(buf_truncate(b, 6), 0);
    assert_int_equal(buf_remaining(b), 2);
    assert_int_equal(buf_len(b), 6);
    buf_free(b);
}

static void test_secret_wiped_on_reset(void **state)
{
    struct buf *b = buf_new_secret(4096);
    static const uint8_t zero[64];
    uint8_t secret[64];

    (void)state;
    assert_non_null(b);
    memset(secret, 0x5a, sizeof(secret));
    assert_int_equal(buf_put_raw(b, secret, sizeof(secret)), 0);
    /* grow past the first allocation: the copy goes through malloc + wipe */
    for (int i = 0; i < 40; i++) {
        assert_int_equal(buf_put_raw(b, secret, sizeof(secret)), 0);
    }
    assert_memory_equal(buf_data(b), secret, sizeof(secret));
    buf_reset(b);
    /* the struct is public: the memory is still ours to inspect after reset */
    assert_memory_equal(b->data, zero, sizeof(zero));
    buf_free(b);
}

/* Everything in proto/ that allocates: buffers (plain and secret, growth), copying
 * getters, msg_str_dup and the frame reader. */
static int alloc_scenario(void)
{
    static const uint8_t str[] = {0, 0, 0, 3, 'a', 'b', 'c'};
    struct buf *b = NULL;
    struct buf *s = NULL;
    struct buf in;
    struct frame_reader fr;
    struct frame_header h;
    uint8_t *frame = NULL;
    uint8_t *p = NULL;
    char *cs = NULL;
    size_t len;
    size_t used;
    int r = AD_ERR_NOMEM;

    frame_reader_init(&fr);
    if ((b = buf_new(1 << 20)) == NULL || (s = buf_new_secret(1 << 20)) == NULL) {
        goto out;
    }
    for (uint32_t i = 0; i < 20000; i++) {
        if ((r = buf_put_u32(b, i)) != 0 || (r = buf_put_u32(s, i)) != 0) {
            goto out;
        }
    }
    buf_init_static(&in, str, sizeof(str));
    if ((r = buf_get_bytes_dup(&in, 3, &p, &len)) != 0) {
        goto out;
    }
    buf_init_static(&in, str, sizeof(str));
    if ((r = buf_get_string_dup(&in, 3, &cs)) != 0) {
        goto out;
    }
    free(cs);
    if ((cs = msg_str_dup(msg_str_c("abc"))) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    /* one 100 KB frame: the reader grows 4 KiB -> 128 KiB */
    if ((frame = calloc(1, 100010)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if ((r = frame_header_encode(1, 1, 100000, frame)) != 0) {
        goto out;
    }
    for (size_t pos = 0; pos < 100010; pos += used) {
        if ((r = frame_reader_feed(&fr, frame + pos, 100010 - pos, &used)) != 0) {
            goto out;
        }
    }
    r = frame_reader_next(&fr, &h, &in);
out:
    frame_reader_free(&fr);
    free(frame);
    free(cs);
    free(p);
    buf_free(b);
    buf_free(s);
    return r;
}

static void test_alloc_failures(void **state)
{
    long n;
    int r;

    (void)state;
    for (n = 0;; n++) {
        fail_at = n;
        n_allocs = 0;
        r = alloc_scenario();
        if (n_allocs <= n) {
            break; /* no allocation was failed: the walk is complete */
        }
        if (r != AD_ERR_NOMEM) {
            fail_msg("allocation %ld failed but the scenario returned %d", n, r);
        }
    }
    fail_at = -1;
    assert_int_equal(r, 0);
    assert_true(n > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ints_round_trip),     cmocka_unit_test(test_ints_truncated),
        cmocka_unit_test(test_bytes_ref),           cmocka_unit_test(test_bytes_ref_negatives),
        cmocka_unit_test(test_string_ref),          cmocka_unit_test(test_dup_getters),
        cmocka_unit_test(test_max_enforced),        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_static_is_read_only), cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_reserve_commit_skip), cmocka_unit_test(test_secret_wiped_on_reset),
        cmocka_unit_test(test_alloc_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
