#include "audit_head_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit_verify.h"
#include "fsio.h"

#define LEGACY_MAX 511 /* the one-line layout fits in this */

/* The checked part of a slot: everything before ,"check". Returns its length. */
static int slot_fields(const struct audit_head *h, char out[HEAD_SLOT_LEN])
{
    char hex[65];

    audit_hex(h->hash, 32, hex);
    return snprintf(out, HEAD_SLOT_LEN,
                    "{\"seq\":%" PRIu64 ",\"hash\":\"%s\",\"first_seq\":%" PRIu64, h->seq, hex,
                    h->first_seq);
}

static int slot_check(const struct audit_head *h, uint8_t sum[32])
{
    char fields[HEAD_SLOT_LEN];
    int n = slot_fields(h, fields);

    return audit_sha256(fields, (size_t)n, sum);
}

/* One slot: the fields, their check, spaces, '\n' as the last byte. */
static int slot_render(const struct audit_head *h, char out[HEAD_SLOT_LEN])
{
    char hex[65];
    uint8_t sum[32];
    int n;

    if (slot_check(h, sum) != 0) {
        return AD_ERR_INTERNAL;
    }
    audit_hex(sum, 32, hex);
    n = slot_fields(h, out); /* at most 134 bytes: the check fits behind */
    n += snprintf(out + n, HEAD_SLOT_LEN - (size_t)n, ",\"check\":\"%s\"}", hex);
    memset(out + n, ' ', HEAD_SLOT_LEN - 1 - (size_t)n);
    out[HEAD_SLOT_LEN - 1] = '\n';
    return AD_OK;
}

/* Exactly len bytes of JSON text as one object, or NULL. */
static struct json_object *parse_object(const char *text, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o = NULL;

    if (tok == NULL) {
        return NULL;
    }
    o = json_tokener_parse_ex(tok, text, (int)len);
    if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
                      tok->char_offset != (int)len || !json_object_is_type(o, json_type_object))) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

static bool get_u64(struct json_object *o, const char *key, uint64_t *ret)
{
    struct json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 0) {
        return false;
    }
    *ret = (uint64_t)json_object_get_int64(v);
    return true;
}

static bool get_hex32(struct json_object *o, const char *key, uint8_t ret[32])
{
    struct json_object *v = NULL;

    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) &&
           audit_unhex32(json_object_get_string(v), (size_t)json_object_get_string_len(v), ret) ==
               AD_OK;
}

/* A slot that ends its line and passes its check. */
static bool slot_parse(const char *s, struct audit_head *ret)
{
    struct json_object *o = NULL;
    struct audit_head h = {0};
    uint8_t check[32];
    uint8_t sum[32];
    size_t len = HEAD_SLOT_LEN - 1;
    bool ok;

    if (s[len] != '\n') {
        return false;
    }
    while (len > 0 && s[len - 1] == ' ') {
        len--;
    }
    if ((o = parse_object(s, len)) == NULL) {
        return false;
    }
    ok = get_u64(o, "seq", &h.seq) && get_hex32(o, "hash", h.hash) &&
         get_u64(o, "first_seq", &h.first_seq) && get_hex32(o, "check", check) &&
         slot_check(&h, sum) == AD_OK && memcmp(sum, check, 32) == 0;
    json_object_put(o);
    if (ok) {
        *ret = h;
    }
    return ok;
}

/* The single line earlier versions wrote: {"seq":N,"hash":"<hex>"[,"first_seq":M]}. */
static int legacy_parse(const char *buf, size_t len, struct audit_head *ret)
{
    struct json_object *o = NULL;
    struct audit_head h = {0};
    int r = AD_ERR_FORMAT;

    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) {
        len--;
    }
    if ((o = parse_object(buf, len)) == NULL) {
        return AD_ERR_FORMAT;
    }
    if (get_u64(o, "seq", &h.seq) && get_hex32(o, "hash", h.hash)) {
        if (!get_u64(o, "first_seq", &h.first_seq)) {
            h.first_seq = 0;
        }
        *ret = h;
        r = AD_OK;
    }
    json_object_put(o);
    return r;
}

/* Which slots of a two-slot file are readable. Returns how many. */
static int slots_parse(const char *buf, struct audit_head h[2], bool ok[2])
{
    ok[0] = slot_parse(buf, &h[0]);
    ok[1] = slot_parse(buf + HEAD_SLOT2_OFF, &h[1]);
    return (int)ok[0] + (int)ok[1];
}

/* The slot (0 or 1) holding the newer readable head; 0 when neither is readable. */
static int newer_slot(const struct audit_head h[2], const bool ok[2])
{
    if (!ok[1]) {
        return 0;
    }
    return !ok[0] || h[1].seq > h[0].seq ? 1 : 0;
}

/* Up to cap bytes of fd from offset 0. Returns how many, or -1. */
static ssize_t read_upto(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    ssize_t n;

    while (got < cap) {
        n = pread(fd, buf + got, cap - got, (off_t)got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int audit_head_parse(const char *buf, size_t len, struct audit_head *ret)
{
    struct audit_head h[2];
    bool ok[2];

    if (len == HEAD_FILE_LEN) {
        if (slots_parse(buf, h, ok) == 0) {
            return AD_ERR_FORMAT;
        }
        *ret = h[newer_slot(h, ok)];
        return AD_OK;
    }
    return len <= LEGACY_MAX ? legacy_parse(buf, len, ret) : AD_ERR_FORMAT;
}

int audit_head_read(const char *path, struct audit_head *ret)
{
    char name[PATH_MAX];
    char *buf = NULL;
    ssize_t n;
    int fd;
    int r;

    if (audit_head_name(path, name, sizeof(name)) != 0) {
        return AD_ERR_TOO_LARGE;
    }
    if ((fd = open(name, O_RDONLY | O_CLOEXEC)) < 0) {
        return errno == ENOENT ? AD_ERR_NOT_FOUND : AD_ERR_SYSTEM;
    }
    if ((buf = malloc(HEAD_FILE_LEN + 1)) == NULL) {
        close(fd);
        return AD_ERR_NOMEM;
    }
    n = read_upto(fd, buf, HEAD_FILE_LEN + 1); /* a longer file is not taken for a head */
    r = n < 0 ? AD_ERR_SYSTEM : audit_head_parse(buf, (size_t)n, ret);
    free(buf);
    close(fd);
    return r;
}

/* First seq of file name (0 when empty, missing, unreadable or its first line is incomplete). */
static uint64_t first_seq_of(const char *name)
{
    FILE *f = fopen(name, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t seq = 0;
    uint8_t prev[32];

    if (f == NULL) {
        return 0;
    }
    if ((n = getline(&line, &cap, f)) > 1 && line[n - 1] == '\n' &&
        audit_parse_line(line, (size_t)n - 1, &seq, prev) != 0) {
        seq = 0;
    }
    free(line);
    fclose(f);
    return seq;
}

static uint64_t oldest_first_seq(const char *path)
{
    char name[PATH_MAX];
    unsigned oldest = audit_oldest_rotated(path);

    if (oldest > 0 && audit_rotated_name(path, oldest, name, sizeof(name)) == 0) {
        return first_seq_of(name);
    }
    return first_seq_of(path);
}

/*
 * Overwrite the older slot of an existing two-slot file. AD_ERR_FORMAT when
 * there is no such file to update (absent, a symlink, another size, or one
 * we may not write, which a rename still replaces as before): the caller then
 * writes a whole new one.
 */
static int write_in_place(const char *name, const char slot[HEAD_SLOT_LEN])
{
    struct audit_head h[2];
    struct stat st;
    bool ok[2];
    char *buf = NULL;
    off_t off;
    int fd;
    int r = AD_ERR_SYSTEM;

    if ((fd = open(name, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        return errno == ENOENT || errno == ELOOP || errno == EACCES ? AD_ERR_FORMAT : AD_ERR_SYSTEM;
    }
    if (fstat(fd, &st) != 0) {
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size != HEAD_FILE_LEN) {
        r = AD_ERR_FORMAT;
        goto out;
    }
    if ((buf = malloc(HEAD_FILE_LEN)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if (read_upto(fd, buf, HEAD_FILE_LEN) != HEAD_FILE_LEN) {
        goto out;
    }
    /* Keep the newer readable slot: write over an unreadable one, else the older. */
    if (slots_parse(buf, h, ok) == 0) {
        off = 0;
    } else {
        off = newer_slot(h, ok) == 0 ? HEAD_SLOT2_OFF : 0;
    }
    if (pwrite(fd, slot, HEAD_SLOT_LEN, off) != HEAD_SLOT_LEN || fdatasync(fd) != 0) {
        goto out;
    }
    r = AD_OK;
out:
    free(buf);
    close(fd);
    return r;
}

/* A new two-slot file, both slots this head, replacing name atomically. */
static int write_new(const char *name, const char slot[HEAD_SLOT_LEN])
{
    char tmp[PATH_MAX + 8];
    char *buf = NULL;
    int fd = -1;
    int r = AD_ERR_SYSTEM;

    if ((buf = malloc(HEAD_FILE_LEN)) == NULL) {
        return AD_ERR_NOMEM;
    }
    memcpy(buf, slot, HEAD_SLOT_LEN);
    memset(buf + HEAD_SLOT_LEN, ' ', HEAD_SLOT2_OFF - HEAD_SLOT_LEN);
    buf[HEAD_SLOT2_OFF - 1] = '\n';
    memcpy(buf + HEAD_SLOT2_OFF, slot, HEAD_SLOT_LEN);
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
        goto out;
    }
    if (fsio_write_all(fd, buf, HEAD_FILE_LEN) != AD_OK || fsync(fd) != 0) {
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, name) != 0) {
        goto out;
    }
    r = fsio_fsync_dir_of(name);
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(buf);
    return r;
}

int audit_head_write(const char *path, uint64_t seq, const uint8_t hash[32], int log_fd)
{
    char name[PATH_MAX];
    char slot[HEAD_SLOT_LEN];
    struct audit_head h = {.seq = seq};
    int r;

    if (audit_head_name(path, name, sizeof(name)) != 0) {
        return AD_ERR_TOO_LARGE;
    }
    /* EINVAL: a file that cannot be synced (not on a disk): nothing to order. */
    if (log_fd >= 0 && fdatasync(log_fd) != 0 && errno != EINVAL) {
        return AD_ERR_SYSTEM;
    }
    memcpy(h.hash, hash, 32);
    h.first_seq = oldest_first_seq(path);
    if ((r = slot_render(&h, slot)) != 0) {
        return r;
    }
    if ((r = write_in_place(name, slot)) == AD_ERR_FORMAT) {
        r = write_new(name, slot);
    }
    return r;
}
