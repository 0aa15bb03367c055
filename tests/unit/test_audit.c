/*
 * The audit log: records chain, verify finds edited, removed, reordered and
 * truncated records and names the line, a torn last line is cut on open,
 * rotation continues the chain, and write errors are returned.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "audit.h"
#include "audit_verify.h"
#include "tmpdir.h"

static char tmpdir[64];
static char logpath[256];

static int setup(void **state)
{
    (void)state;
    if (tmpdir_make(tmpdir, sizeof(tmpdir), "test_audit") != 0) {
        return -1;
    }
    snprintf(logpath, sizeof(logpath), "%s/sub/dir/audit.log", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return tmpdir_remove(tmpdir);
}

static const uint8_t digest[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static struct audit_record record(int i)
{
    struct audit_record r;

    memset(&r, 0, sizeof(r));
    r.pid = 1000 + i;
    r.uid = 1001;
    r.gid = 1001;
    r.exe = "/usr/bin/python3.11";
    r.exe_sha256 = digest;
    r.entry = "ci-signer";
    r.spiffe_id = "spiffe://example.org/ci/signer";
    r.op = "sign";
    r.key = "signing";
    r.mechanism = "ECDSA_SHA256";
    r.data_sha256 = digest;
    r.decision = i % 3 == 0 ? "deny" : "allow";
    r.reason = i % 3 == 0 ? "rate_limited" : "allowed";
    return r;
}

static struct audit *open_log(uint64_t rotate, uint32_t keep)
{
    struct audit *a = NULL;

    assert_int_equal(audit_open(logpath, rotate, keep, CONF_AUDIT_SYNC_WRITE, &a), AD_OK);
    return a;
}

static void append_n(struct audit *a, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        struct audit_record r = record(i);

        assert_int_equal(audit_append(a, &r), AD_OK);
    }
}

/* A log of n records, closed cleanly (head written). */
static void make_log(int n)
{
    struct audit *a = open_log(0, 8);

    append_n(a, 1, n);
    assert_int_equal(audit_close(a), AD_OK);
}

/* Whole file into a malloc'd string. */
static char *slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *ret_len = (size_t)n;
    return buf;
}

static void spit(const char *path, const char *buf, size_t len)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Offset of the start of 1-based line no in buf. */
static size_t line_start(const char *buf, int no)
{
    size_t off = 0;

    for (int i = 1; i < no; i++) {
        const char *nl = strchr(buf + off, '\n');

        assert_non_null(nl);
        off = (size_t)(nl - buf) + 1;
    }
    return off;
}

static void expect_problem(enum audit_problem p, const char *file, uint64_t line)
{
    struct audit_verify_report rep;
    int r = audit_verify(logpath, &rep);

    if (r != AD_ERR_CORRUPT || rep.problem != p || rep.line != line ||
        strcmp(rep.file, file) != 0) {
        fail_msg("verify: rc %d problem %d line %llu file %s (%s); want problem %d line %llu", r,
                 rep.problem, (unsigned long long)rep.line, rep.file, rep.message, p,
                 (unsigned long long)line);
    }
}

static void expect_ok(uint64_t records, uint64_t first, uint64_t last)
{
    struct audit_verify_report rep;
    int r = audit_verify(logpath, &rep);

    if (r != AD_OK) {
        fail_msg("verify: rc %d: %s", r, rep.message);
    }
    assert_int_equal(rep.problem, AUDIT_OK);
    assert_int_equal(rep.records, records);
    assert_int_equal(rep.first_seq, first);
    assert_int_equal(rep.last_seq, last);
}

static void test_append_verify(void **state)
{
    struct audit_verify_report rep;
    struct stat st;
    char dir[256];

    (void)state;
    make_log(100);
    expect_ok(100, 1, 100);
    assert_int_equal(audit_verify(logpath, &rep), AD_OK);
    assert_true(rep.head_checked);
    assert_int_equal(stat(logpath, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(dir, sizeof(dir), "%s/sub/dir", tmpdir);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

static void test_line_format(void **state)
{
    struct audit *a = open_log(0, 8);
    struct audit_record r = record(1);
    struct json_object *o;
    struct json_object *v;
    size_t len;
    char *buf;
    char *nl;

    (void)state;
    /* quote, newline, backslash, stray bytes, a surrogate, and valid UTF-8 (é) */
    r.exe = "/tmp/evil\"\n{\"seq\":99}\\\xff\xfe\xed\xa0\x80\xc3\xa9";
    r.key = NULL;
    r.data_sha256 = NULL;
    assert_int_equal(audit_append(a, &r), AD_OK);
    assert_int_equal(audit_close(a), AD_OK);

    buf = slurp(logpath, &len);
    nl = strchr(buf, '\n');
    assert_non_null(nl);
    assert_int_equal((size_t)(nl - buf) + 1, len); /* exactly one line */
    *nl = '\0';
    o = json_tokener_parse(buf);
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "seq", &v));
    assert_int_equal(json_object_get_int64(v), 1);
    assert_true(json_object_object_get_ex(o, "prev", &v));
    assert_string_equal(json_object_get_string(v),
                        "0000000000000000000000000000000000000000000000000000000000000000");
    assert_true(json_object_object_get_ex(o, "exe", &v));
    assert_string_equal(json_object_get_string(v), "/tmp/evil\"\n{\"seq\":99}\\"
                                                   "\xef\xbf\xbd\xef\xbf\xbd"
                                                   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9");
    assert_true(json_object_object_get_ex(o, "key", &v));
    assert_null(v);
    assert_true(json_object_object_get_ex(o, "data_sha256", &v));
    assert_null(v);
    assert_true(json_object_object_get_ex(o, "exe_sha256", &v));
    assert_string_equal(json_object_get_string(v),
                        "0102030405060708090a00000000000000000000000000000000000000000000");
    assert_true(json_object_object_get_ex(o, "time", &v));
    assert_int_equal(strlen(json_object_get_string(v)), strlen("2026-01-02T03:04:05.678Z"));
    assert_int_equal(json_object_get_string(v)[23], 'Z');
    assert_true(json_object_object_get_ex(o, "decision", &v));
    assert_string_equal(json_object_get_string(v), "allow");
    assert_true(json_object_object_get_ex(o, "reason", &v));
    assert_true(json_object_object_get_ex(o, "mechanism", &v));
    assert_true(json_object_object_get_ex(o, "spiffe_id", &v));
    assert_true(json_object_object_get_ex(o, "entry", &v));
    assert_true(json_object_object_get_ex(o, "op", &v));
    assert_true(json_object_object_get_ex(o, "pid", &v));
    json_object_put(o);
    free(buf);
    expect_ok(1, 1, 1);
}

static void test_edit_middle(void **state)
{
    size_t len;
    char *buf;
    char *p;

    (void)state;
    make_log(10);
    buf = slurp(logpath, &len);
    p = strstr(buf + line_start(buf, 5), "\"pid\":1005");
    assert_non_null(p);
    p[strlen("\"pid\":100")] = '6'; /* still valid JSON, same length */
    spit(logpath, buf, len);
    free(buf);
    expect_problem(AUDIT_EDITED, logpath, 5);
}

static void test_edit_prev_field(void **state)
{
    size_t len;
    char *buf;
    char *p;

    (void)state;
    make_log(10);
    buf = slurp(logpath, &len);
    p = strstr(buf + line_start(buf, 6), "\"prev\":\"");
    assert_non_null(p);
    p += strlen("\"prev\":\"");
    *p = *p == 'a' ? 'b' : 'a'; /* still 64 lowercase hex digits */
    spit(logpath, buf, len);
    free(buf);
    expect_problem(AUDIT_EDITED, logpath, 6);
}

static void test_edit_breaks_json(void **state)
{
    size_t len;
    char *buf;

    (void)state;
    make_log(10);
    buf = slurp(logpath, &len);
    buf[line_start(buf, 7)] = '['; /* the '{' of line 7 */
    spit(logpath, buf, len);
    free(buf);
    expect_problem(AUDIT_BAD_LINE, logpath, 7);
}

static void test_delete_line(void **state)
{
    size_t len;
    char *buf;
    size_t a;
    size_t b;

    (void)state;
    make_log(10);
    buf = slurp(logpath, &len);
    a = line_start(buf, 5);
    b = line_start(buf, 6);
    memmove(buf + a, buf + b, len - b);
    spit(logpath, buf, len - (b - a));
    free(buf);
    expect_problem(AUDIT_REMOVED, logpath, 5); /* the line that now follows the gap */
}

static void test_delete_first_line(void **state)
{
    size_t len;
    char *buf;
    size_t b;

    (void)state;
    make_log(10);
    buf = slurp(logpath, &len);
    b = line_start(buf, 2);
    spit(logpath, buf + b, len - b);
    free(buf);
    expect_problem(AUDIT_REMOVED, logpath, 1); /* head file remembers the first seq */
}

static void test_swap_lines(void **state)
{
    size_t len;
    char *buf;
    char *out;
    size_t a;
    size_t b;
    size_t c;

    (void)state;
    make_log(10);
    buf = slurp(logpath, &len);
    a = line_start(buf, 4);
    b = line_start(buf, 5);
    c = line_start(buf, 6);
    out = malloc(len);
    assert_non_null(out);
    memcpy(out, buf, a);
    memcpy(out + a, buf + b, c - b);
    memcpy(out + a + (c - b), buf + a, b - a);
    memcpy(out + c, buf + c, len - c);
    spit(logpath, out, len);
    free(out);
    free(buf);
    expect_problem(AUDIT_REORDERED, logpath, 4);
}

static void test_truncate_tail(void **state)
{
    char head[300];
    size_t len;
    char *buf;

    (void)state;
    make_log(10);
    buf = slurp(logpath, &len);
    spit(logpath, buf, line_start(buf, 9)); /* drop records 9 and 10 */
    free(buf);
    expect_problem(AUDIT_TRUNCATED, logpath, 0);

    /* without the head file the chain alone cannot see it (documented) */
    snprintf(head, sizeof(head), "%s.head", logpath);
    assert_int_equal(unlink(head), 0);
    expect_ok(8, 1, 8);
}

static void test_edit_last_line(void **state)
{
    size_t len;
    char *buf;
    char *p;

    (void)state;
    make_log(10);
    buf = slurp(logpath, &len);
    p = strstr(buf + line_start(buf, 10), "\"allow\"");
    assert_non_null(p);
    memcpy(p, "\"alloW\"", 7);
    spit(logpath, buf, len);
    free(buf);
    expect_problem(AUDIT_HEAD_MISMATCH, logpath, 10);
}

static void test_torn_tail(void **state)
{
    static const char torn[] = "{\"seq\":6,\"time\":\"2026-";
    struct audit *a = NULL;
    size_t len;
    char *buf;
    int fd;

    (void)state;
    make_log(5);
    fd = open(logpath, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, torn, strlen(torn)), (ssize_t)strlen(torn));
    close(fd);
    expect_problem(AUDIT_TORN_TAIL, logpath, 6);

    /* open reports it, cuts it and continues from record 5 */
    a = open_log(0, 8);
    assert_non_null(audit_open_note(a));
    assert_non_null(strstr(audit_open_note(a), "torn"));
    assert_int_equal(audit_next_seq(a), 6);
    append_n(a, 6, 2);
    assert_int_equal(audit_close(a), AD_OK);
    expect_ok(7, 1, 7);
    buf = slurp(logpath, &len);
    assert_null(strstr(buf, "\"time\":\"2026-{"));
    free(buf);
}

static void test_reopen_continues(void **state)
{
    struct audit *a;

    (void)state;
    make_log(3);
    a = open_log(0, 8);
    assert_null(audit_open_note(a));
    assert_int_equal(audit_next_seq(a), 4);
    append_n(a, 4, 3);
    assert_int_equal(audit_close(a), AD_OK);
    expect_ok(6, 1, 6);
}

struct tail_ctx {
    uint64_t seqs[16];
    size_t n;
};

static int tail_cb(const char *line, size_t len, void *ctx)
{
    struct tail_ctx *t = ctx;
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o;
    struct json_object *v;

    /* line is not NUL-terminated: parse exactly len bytes */
    assert_non_null(tok);
    o = json_tokener_parse_ex(tok, line, (int)len);
    json_tokener_free(tok);
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "seq", &v));
    assert_true(t->n < 16);
    t->seqs[t->n++] = (uint64_t)json_object_get_int64(v);
    json_object_put(o);
    return 0;
}

static void test_rotation(void **state)
{
    struct audit_verify_report rep;
    struct tail_ctx t = {{0}, 0};
    char name[300];
    struct stat st;
    struct audit *a;

    (void)state;
    /* each line is ~480 bytes: about 4 records per file */
    a = open_log(2000, 100);
    append_n(a, 1, 40);
    snprintf(name, sizeof(name), "%s.1", logpath);
    assert_int_equal(stat(name, &st), 0);
    assert_true(st.st_size <= 2000);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* verify walks the rotated files while the log is open too */
    expect_ok(40, 1, 40);
    assert_int_equal(audit_close(a), AD_OK);
    expect_ok(40, 1, 40);

    /* reopen after rotation continues the chain */
    a = open_log(2000, 100);
    assert_int_equal(audit_next_seq(a), 41);
    append_n(a, 41, 5);
    assert_int_equal(audit_close(a), AD_OK);
    expect_ok(45, 1, 45);

    /* tail reaches back across files, oldest first */
    assert_int_equal(audit_tail(logpath, 10, tail_cb, &t), AD_OK);
    assert_int_equal(t.n, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(t.seqs[i], 36 + i);
    }

    /* an edit in a rotated file is reported with that file's name */
    snprintf(name, sizeof(name), "%s.3", logpath);
    {
        size_t len;
        char *buf = slurp(name, &len);
        char *p = strstr(buf, "\"uid\":1001");

        assert_non_null(p);
        p[strlen("\"uid\":100")] = '2';
        spit(name, buf, len);
        free(buf);
    }
    assert_int_equal(audit_verify(logpath, &rep), AD_ERR_CORRUPT);
    assert_int_equal(rep.problem, AUDIT_EDITED);
    assert_string_equal(rep.file, name);
    assert_int_equal(rep.line, 1);
}

static void test_rotation_keep(void **state)
{
    struct audit_verify_report rep;
    char name[300];
    struct stat st;
    struct audit *a;

    (void)state;
    a = open_log(2000, 3);
    append_n(a, 1, 40);
    assert_int_equal(audit_close(a), AD_OK);
    snprintf(name, sizeof(name), "%s.3", logpath);
    assert_int_equal(stat(name, &st), 0);
    snprintf(name, sizeof(name), "%s.4", logpath);
    assert_int_equal(stat(name, &st), -1);
    /* the oldest files are gone; what is left still verifies, ending at 40 */
    assert_int_equal(audit_verify(logpath, &rep), AD_OK);
    assert_int_equal(rep.last_seq, 40);
    assert_true(rep.first_seq > 1);
    assert_int_equal(rep.records, 40 - rep.first_seq + 1);
}

/* keep = 0: rotation deletes the old file; the chain continues from the head */
static void test_rotation_keep_zero(void **state)
{
    struct audit_verify_report rep;
    struct audit *a;

    (void)state;
    a = open_log(2000, 0);
    append_n(a, 1, 6);
    assert_int_equal(audit_close(a), AD_OK);
    /* the state right after a keep = 0 rotation whose next write failed */
    assert_int_equal(truncate(logpath, 0), 0);
    a = open_log(2000, 0);
    assert_int_equal(audit_next_seq(a), 7);
    append_n(a, 7, 3);
    assert_int_equal(audit_close(a), AD_OK);
    assert_int_equal(audit_verify(logpath, &rep), AD_OK);
    assert_int_equal(rep.last_seq, 9);
}

static void test_write_errors(void **state)
{
    struct audit_record r = record(1);
    struct audit *a;
    int fd;

    (void)state;
    a = open_log(0, 8);
    append_n(a, 1, 2);

    /* disk full */
    fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    audit_replace_fd_for_test(a, fd);
    assert_int_equal(audit_append(a, &r), AD_ERR_SYSTEM);
    assert_int_equal(audit_next_seq(a), 3);

    /* a read-only fd */
    fd = open(logpath, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    audit_replace_fd_for_test(a, fd);
    assert_int_equal(audit_append(a, &r), AD_ERR_SYSTEM);
    assert_int_equal(audit_next_seq(a), 3);
    assert_int_equal(audit_close(a), AD_OK);
    expect_ok(2, 1, 2);

    /* the directory cannot be created */
    assert_int_equal(audit_open("/proc/agentd-test/audit.log", 0, 8, CONF_AUDIT_SYNC_WRITE, &a),
                     AD_ERR_SYSTEM);
}

static void test_fsync_mode(void **state)
{
    struct audit_record r = record(1);
    struct audit *a = NULL;

    (void)state;
    assert_int_equal(audit_open(logpath, 0, 8, CONF_AUDIT_SYNC_FSYNC, &a), AD_OK);
    assert_int_equal(audit_append(a, &r), AD_OK);
    assert_int_equal(audit_close(a), AD_OK);
    expect_ok(1, 1, 1);
}

static void test_verify_missing(void **state)
{
    struct audit_verify_report rep;

    (void)state;
    assert_int_equal(audit_verify(logpath, &rep), AD_ERR_NOT_FOUND);
    assert_int_equal(rep.problem, AUDIT_IO);
}

/*
 * Without a clean shutdown, path.head never lags the newest record by
 * AUDIT_HEAD_EVERY or more once audit_append() has returned (it is written in
 * the background from AUDIT_HEAD_START on, inline at the bound): checked after
 * every append, through three bounds' worth of records.
 */
static void test_head_every(void **state)
{
    struct audit_head h;
    struct audit *a;
    char head[300];
    struct stat st;

    (void)state;
    a = open_log(0, 8);
    snprintf(head, sizeof(head), "%s.head", logpath);
    for (int i = 1; i <= 3 * AUDIT_HEAD_EVERY; i++) {
        append_n(a, i, 1);
        if (i < AUDIT_HEAD_EVERY) {
            continue; /* the bound allows no head yet */
        }
        assert_int_equal(audit_head_read(logpath, &h), AD_OK);
        assert_true(h.seq <= (uint64_t)i);
        assert_true(h.seq > (uint64_t)(i - AUDIT_HEAD_EVERY));
    }
    assert_int_equal(stat(head, &st), 0); /* written without a clean shutdown */
    assert_int_equal(st.st_mode & 0777, 0600);
    audit_replace_fd_for_test(a, -1); /* simulate kill -9: no close-time head */
    assert_int_equal(audit_close(a), AD_OK);
    expect_ok(3 * AUDIT_HEAD_EVERY, 1, 3 * AUDIT_HEAD_EVERY); /* that head matches the chain */
}

/*
 * The background write starts at AUDIT_HEAD_START records of lag and not
 * before: each one costs two fdatasyncs, which is why it waits that long.
 */
static void test_head_start(void **state)
{
    const struct timespec pause = {0, 10 * 1000 * 1000};
    struct audit_head h;
    struct audit *a;
    int waited = 0;

    (void)state;
    a = open_log(0, 8);
    append_n(a, 1, AUDIT_HEAD_START - 1);
    for (int i = 0; i < 10; i++) {
        nanosleep(&pause, NULL); /* room for a write started too early to land */
    }
    assert_int_equal(audit_head_read(logpath, &h), AD_ERR_NOT_FOUND);
    append_n(a, AUDIT_HEAD_START, 1);
    while (audit_head_read(logpath, &h) == AD_ERR_NOT_FOUND && waited++ < 500) {
        nanosleep(&pause, NULL);
    }
    assert_int_equal(audit_head_read(logpath, &h), AD_OK);
    assert_int_equal(h.seq, AUDIT_HEAD_START);
    assert_int_equal(audit_close(a), AD_OK);
}

static uint64_t mono_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Seq of the newest head on disk once no background write is running. */
static uint64_t head_seq_settled(struct audit *a)
{
    struct audit_head h = {0};

    audit_wait_head_for_test(a);
    assert_int_equal(audit_head_read(logpath, &h), AD_OK);
    return h.seq;
}

/*
 * Records too few for the count (AUDIT_HEAD_START): audit_tick() has the
 * head name them once AUDIT_HEAD_AGE_NS has passed since the last write
 * began, not before, and writes nothing when every record is named. Each
 * tick finds the writer idle, so a false is the clock's doing.
 */
static void test_head_age(void **state)
{
    struct audit *a;
    uint64_t t1;

    (void)state;
    a = open_log(0, 8);
    t1 = mono_now_ns() + AUDIT_HEAD_AGE_NS; /* due whatever audit_open() wrote */
    assert_false(audit_tick(a, t1));        /* no record yet */
    append_n(a, 1, 3);
    assert_true(audit_tick(a, t1));
    assert_int_equal(head_seq_settled(a), 3);
    append_n(a, 4, 2);
    assert_false(audit_tick(a, t1 + AUDIT_HEAD_AGE_NS / 2));
    assert_int_equal(head_seq_settled(a), 3);
    assert_true(audit_tick(a, t1 + AUDIT_HEAD_AGE_NS));
    assert_int_equal(head_seq_settled(a), 5);
    assert_false(audit_tick(a, t1 + 3 * AUDIT_HEAD_AGE_NS)); /* all named */
    assert_int_equal(audit_close(a), AD_OK);
    expect_ok(5, 1, 5);
}

/* The head in file name (not path.head), parsed. */
static uint64_t head_seq_in(const char *name)
{
    struct audit_head h = {0};
    size_t len;
    char *buf = slurp(name, &len);

    assert_int_equal(audit_head_parse(buf, len, &h), AD_OK);
    free(buf);
    return h.seq;
}

/*
 * A head naming records the log no longer ends with (cut, or the last one
 * replaced, while the daemon was down) is moved aside at open, so the next
 * head write cannot erase it, and the open says so. A head that names the
 * newest record, or lags it, is left in place.
 */
static void test_head_mismatch_kept(void **state)
{
    char head[300];
    char kept[320];
    struct stat st;
    struct audit *a;
    const char *note;
    size_t len;
    char *buf;

    (void)state;
    snprintf(head, sizeof(head), "%s.head", logpath);
    snprintf(kept, sizeof(kept), "%s.head.12", logpath);
    make_log(10);
    a = open_log(0, 8);
    assert_null(audit_open_note(a)); /* the head names the newest record */
    append_n(a, 11, 2);
    assert_int_equal(audit_close(a), AD_OK); /* the head names 12 */
    buf = slurp(logpath, &len);
    spit(logpath, buf, line_start(buf, 8)); /* records 8..12 cut */
    free(buf);
    a = open_log(0, 8);
    assert_non_null(note = audit_open_note(a));
    assert_non_null(strstr(note, "names record 12 but the log ends at 7"));
    assert_int_not_equal(stat(head, &st), 0);
    assert_int_equal(head_seq_in(kept), 12);
    append_n(a, 8, 1);
    assert_true(audit_tick(a, mono_now_ns() + AUDIT_HEAD_AGE_NS));
    assert_int_equal(head_seq_settled(a), 8); /* a new head; the old one still kept */
    assert_int_equal(head_seq_in(kept), 12);
    assert_int_equal(audit_close(a), AD_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_prev_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_breaks_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_first_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_last_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_continues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_keep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_keep_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_every, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_age, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_mismatch_kept, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
