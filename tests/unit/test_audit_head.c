/*
 * The audit head file: two checked slots rewritten in place, the newer one
 * read back, a torn slot skipped (and overwritten next), the old one-line
 * layout still read and then replaced, and nothing written before the log
 * it names could be synced.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit_head_file.h"
#include "audit_verify.h"
#include "tmpdir.h"

static char tmpdir[64];
static char logpath[256];
static char headpath[300];

static int setup(void **state)
{
    (void)state;
    if (tmpdir_make(tmpdir, sizeof(tmpdir), "test_audit_head") != 0) {
        return -1;
    }
    snprintf(logpath, sizeof(logpath), "%s/audit.log", tmpdir);
    snprintf(headpath, sizeof(headpath), "%s.head", logpath);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return tmpdir_remove(tmpdir);
}

static void hash_of(uint64_t seq, uint8_t out[32])
{
    for (int i = 0; i < 32; i++) {
        out[i] = (uint8_t)(seq * 31 + (uint64_t)i);
    }
}

static void write_head(uint64_t seq)
{
    uint8_t h[32];

    hash_of(seq, h);
    assert_int_equal(audit_head_write(logpath, seq, h, -1), AD_OK);
}

static void expect_head(uint64_t seq, uint64_t first_seq)
{
    struct audit_head got;
    uint8_t h[32];

    hash_of(seq, h);
    assert_int_equal(audit_head_read(logpath, &got), AD_OK);
    assert_int_equal(got.seq, seq);
    assert_memory_equal(got.hash, h, 32);
    assert_int_equal(got.first_seq, first_seq);
}

static void read_file(char *buf, size_t len)
{
    int fd = open(headpath, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, 0), (ssize_t)len);
    close(fd);
}

static uint64_t slot_seq(const char *file, size_t off)
{
    return strtoull(file + off + strlen("{\"seq\":"), NULL, 10);
}

static void poke(off_t off, char c)
{
    int fd = open(headpath, O_WRONLY);

    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    fclose(f);
}

static void test_layout(void **state)
{
    char file[HEAD_FILE_LEN];
    struct stat st;

    (void)state;
    assert_int_equal(audit_head_read(logpath, &(struct audit_head){0}), AD_ERR_NOT_FOUND);
    spit(logpath, "{\"seq\":5,\"prev\":\"" /* first_seq comes from the log's first line */
                  "0000000000000000000000000000000000000000000000000000000000000000\"}\n");
    write_head(9);
    assert_int_equal(stat(headpath, &st), 0);
    assert_int_equal(st.st_size, HEAD_FILE_LEN);
    assert_int_equal(st.st_mode & 0777, 0600);
    read_file(file, sizeof(file));
    /* A new file: both slots hold this head, each one line ending the slot. */
    assert_memory_equal(file, file + HEAD_SLOT2_OFF, HEAD_SLOT_LEN);
    assert_int_equal(file[HEAD_SLOT_LEN - 1], '\n');
    assert_int_equal(file[HEAD_SLOT2_OFF - 1], '\n');
    assert_non_null(strstr(file, "\"check\":\""));
    expect_head(9, 5);
}

/* Each write replaces the older slot, so the previous head stays readable. */
static void test_alternates(void **state)
{
    char file[HEAD_FILE_LEN];
    uint64_t a;
    uint64_t b;

    (void)state;
    write_head(1);
    for (uint64_t seq = 2; seq <= 6; seq++) {
        write_head(seq);
        expect_head(seq, 0);
        read_file(file, sizeof(file));
        a = slot_seq(file, 0);
        b = slot_seq(file, HEAD_SLOT2_OFF);
        assert_true((a == seq && b == seq - 1) || (b == seq && a == seq - 1));
    }
}

/* A write torn by a power cut fails its check: the other slot is read. */
static void test_torn_slot(void **state)
{
    char file[HEAD_FILE_LEN];
    off_t newest;
    off_t older;

    (void)state;
    write_head(10);
    write_head(11);
    read_file(file, sizeof(file));
    newest = slot_seq(file, 0) == 11 ? 0 : HEAD_SLOT2_OFF;
    older = newest == 0 ? HEAD_SLOT2_OFF : 0;
    /* One hash digit changed: still valid JSON, but not what was checked. */
    poke(newest + 30, file[newest + 30] == 'a' ? 'b' : 'a');
    expect_head(10, 0);
    /* The next write goes over the damaged slot, not over the good one. */
    write_head(12);
    read_file(file, sizeof(file));
    assert_int_equal(slot_seq(file, newest), 12);
    assert_int_equal(slot_seq(file, older), 10);
    expect_head(12, 0);

    /* Edited seq, same length: the check catches that too. */
    poke(newest + 7, '9');
    expect_head(10, 0);
    /* A slot cut short (its '\n' gone) is skipped as well. */
    poke(older + HEAD_SLOT_LEN - 1, ' ');
    assert_int_equal(audit_head_read(logpath, &(struct audit_head){0}), AD_ERR_FORMAT);
    write_head(13);
    expect_head(13, 0);
}

/* The one-line layout of earlier versions is read, then replaced whole. */
static void test_legacy(void **state)
{
    char text[200];
    char hex[65];
    uint8_t h[32];
    struct stat st;

    (void)state;
    hash_of(7, h);
    audit_hex(h, 32, hex);
    snprintf(text, sizeof(text), "{\"seq\":7,\"hash\":\"%s\",\"first_seq\":3}\n", hex);
    spit(headpath, text);
    expect_head(7, 3);
    write_head(8);
    assert_int_equal(stat(headpath, &st), 0);
    assert_int_equal(st.st_size, HEAD_FILE_LEN);
    expect_head(8, 0);

    spit(headpath, "{\"seq\":7}\n"); /* no hash */
    assert_int_equal(audit_head_read(logpath, &(struct audit_head){0}), AD_ERR_FORMAT);
    spit(headpath, "not json at all\n");
    assert_int_equal(audit_head_read(logpath, &(struct audit_head){0}), AD_ERR_FORMAT);
    write_head(9); /* a file of another size is replaced, not patched */
    expect_head(9, 0);
}

/* A symlink at path.head is replaced, never written through. */
static void test_symlink(void **state)
{
    char target[300];
    struct stat st;

    (void)state;
    snprintf(target, sizeof(target), "%s/elsewhere", tmpdir);
    spit(target, "keep me\n");
    assert_int_equal(symlink(target, headpath), 0);
    write_head(4);
    assert_int_equal(lstat(headpath, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_size, 8);
    expect_head(4, 0);
}

/* A head file we may not write is replaced by a rename, as before. */
static void test_read_only(void **state)
{
    struct stat st;

    (void)state;
    if (geteuid() == 0) {
        skip(); /* root may write it anyway */
    }
    write_head(30);
    assert_int_equal(chmod(headpath, 0400), 0);
    write_head(31);
    expect_head(31, 0);
    assert_int_equal(stat(headpath, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

/* The log cannot be synced: the head is left as it was. */
static void test_log_sync_fails(void **state)
{
    char before[HEAD_FILE_LEN];
    char after[HEAD_FILE_LEN];
    uint8_t h[32];
    int fd;

    (void)state;
    write_head(20);
    read_file(before, sizeof(before));
    fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    close(fd); /* a closed fd: fdatasync fails with EBADF */
    hash_of(21, h);
    assert_int_equal(audit_head_write(logpath, 21, h, fd), AD_ERR_SYSTEM);
    read_file(after, sizeof(after));
    assert_memory_equal(before, after, sizeof(before));
    expect_head(20, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alternates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_sync_fails, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
