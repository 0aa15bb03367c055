/*
 * The audit log writer. File layout, chaining, durability and what is
 * detectable are described in audit.h; the verifier is in audit_verify.c.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "audit_head.h"
#include "audit_head_file.h"
#include "audit_line.h"
#include "audit_verify.h"
#include "fsio.h"

struct audit {
    char *path;
    int fd;
    uint64_t rotate_bytes;
    uint32_t keep;
    enum conf_audit_sync sync;
    uint64_t size;             /* bytes in the current file */
    uint64_t next_seq;         /* seq of the next record */
    uint8_t prev[32];          /* hash of the newest record's line (zeros before the first) */
    uint64_t head_seq;         /* newest seq a durable path.head covers (as if at open) */
    uint64_t head_begun_ns;    /* CLOCK_MONOTONIC: the newest head write began (0: none yet) */
    struct audit_headw *headw; /* background head writes; NULL until needed */
    struct audit_line *line;   /* the record formatter, reused */
    EVP_MD *sha256;            /* fetched once: an implicit fetch per record costs ~0.2 us */
    EVP_MD_CTX *md_ctx;
    bool is_broken;            /* a short write left a torn line: refuse until reopened */
    char note[PATH_MAX + 512]; /* what audit_open() found worth logging */
};

/* ---- helpers shared with audit_verify.c -------------------------------- */

int audit_sha256(const void *p, size_t len, uint8_t out[32])
{
    unsigned int n = 0;

    if (EVP_Digest(p, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        return AD_ERR_INTERNAL;
    }
    return AD_OK;
}

void audit_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1; /* we write lowercase only; uppercase is an edit */
}

int audit_unhex32(const char *s, size_t len, uint8_t out[32])
{
    if (len != 64) {
        return AD_ERR_FORMAT;
    }
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(s[2 * i]);
        int lo = hexval(s[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return AD_ERR_FORMAT;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return AD_OK;
}

int audit_parse_line(const char *line, size_t len, uint64_t *ret_seq, uint8_t ret_prev[32])
{
    struct json_tokener *tok = NULL;
    struct json_object *o = NULL;
    struct json_object *v = NULL;
    uint8_t prev[32];
    int64_t seq;
    int r = AD_ERR_FORMAT;

    if (len == 0 || len > AUDIT_LINE_MAX || memchr(line, '\0', len) != NULL) {
        return AD_ERR_FORMAT;
    }
    if ((tok = json_tokener_new()) == NULL) {
        return AD_ERR_NOMEM;
    }
    o = json_tokener_parse_ex(tok, line, (int)len);
    if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        tok->char_offset != (int)len || !json_object_is_type(o, json_type_object)) {
        goto out;
    }
    if (!json_object_object_get_ex(o, "seq", &v) || !json_object_is_type(v, json_type_int) ||
        (seq = json_object_get_int64(v)) < 1) {
        goto out;
    }
    if (!json_object_object_get_ex(o, "prev", &v) || !json_object_is_type(v, json_type_string) ||
        audit_unhex32(json_object_get_string(v), (size_t)json_object_get_string_len(v), prev) !=
            0) {
        goto out;
    }
    *ret_seq = (uint64_t)seq;
    memcpy(ret_prev, prev, 32);
    r = AD_OK;
out:
    json_object_put(o);
    json_tokener_free(tok);
    return r;
}

int audit_rotated_name(const char *path, unsigned i, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s.%u", path, i);

    return n < 0 || (size_t)n >= outlen ? AD_ERR_TOO_LARGE : AD_OK;
}

int audit_head_name(const char *path, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s.head", path);

    return n < 0 || (size_t)n >= outlen ? AD_ERR_TOO_LARGE : AD_OK;
}

unsigned audit_oldest_rotated(const char *path)
{
    char name[PATH_MAX];
    struct stat st;
    unsigned i = 0;

    while (i < AUDIT_KEEP_MAX && audit_rotated_name(path, i + 1, name, sizeof(name)) == 0 &&
           stat(name, &st) == 0) {
        i++;
    }
    return i;
}

/* ---- files ------------------------------------------------------------- */

/* mkdir -p of path's directory, new components 0700. */
static int make_parent(const char *path)
{
    char *copy = strdup(path);
    char *dir;
    int r = AD_ERR_SYSTEM;

    if (copy == NULL) {
        return AD_ERR_NOMEM;
    }
    dir = dirname(copy);
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            goto out;
        }
        *p = '/';
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        goto out;
    }
    r = AD_OK;
out:
    free(copy);
    return r;
}

/* The log's fd when its lines are not synced one by one, so the head must sync them first. */
static int unsynced_log_fd(const struct audit *a)
{
    return a->sync == CONF_AUDIT_SYNC_FSYNC ? -1 : a->fd;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int audit_write_head(struct audit *a)
{
    int r;

    if (a == NULL) {
        return AD_ERR_INVALID;
    }
    if (a->headw != NULL) {
        audit_headw_wait(a->headw); /* one writer of path.head at a time */
    }
    a->head_begun_ns = mono_ns();
    if ((r = audit_head_write(a->path, a->next_seq - 1, a->prev, unsynced_log_fd(a))) == AD_OK) {
        a->head_seq = a->next_seq - 1;
    }
    return r;
}

/*
 * Find the last complete line of the file at fd (size bytes). A torn tail
 * (bytes after the last '\n') is reported in a->note and, when cut is true,
 * truncated away. On success *ret_line (malloc'd, no '\n') and *ret_len are
 * the last complete line, or NULL/0 when there is none.
 */
static int last_line(struct audit *a, int fd, const char *name, bool cut, char **ret_line,
                     size_t *ret_len)
{
    size_t window = 2 * (size_t)AUDIT_LINE_MAX + 2;
    struct stat st;
    char *buf = NULL;
    char *line = NULL;
    size_t n;
    size_t end;
    size_t start;
    off_t off;
    int r = AD_ERR_SYSTEM;

    if (fstat(fd, &st) != 0) {
        goto out;
    }
    n = (size_t)st.st_size < window ? (size_t)st.st_size : window;
    off = st.st_size - (off_t)n;
    if (n == 0) {
        *ret_line = NULL;
        *ret_len = 0;
        r = AD_OK;
        goto out;
    }
    if ((buf = malloc(n)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if (pread(fd, buf, n, off) != (ssize_t)n) {
        goto out;
    }
    end = n;
    while (end > 0 && buf[end - 1] != '\n') {
        end--;
    }
    if (end == 0 && off > 0) {
        r = AD_ERR_CORRUPT; /* no line end in the window: not our file */
        goto out;
    }
    if (end < n) {
        snprintf(a->note, sizeof(a->note),
                 "%s: torn last line (%zu bytes without a newline, crash during a write) %s", name,
                 n - end, cut ? "cut off; chain continues from the last complete line" : "ignored");
        if (cut && ftruncate(fd, off + (off_t)end) != 0) {
            goto out;
        }
    }
    if (end == 0) {
        *ret_line = NULL;
        *ret_len = 0;
        r = AD_OK;
        goto out;
    }
    start = end - 1;
    while (start > 0 && buf[start - 1] != '\n') {
        start--;
    }
    if (start == 0 && off > 0) {
        r = AD_ERR_CORRUPT;
        goto out;
    }
    if ((line = malloc(end - start)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    memcpy(line, buf + start, end - 1 - start);
    *ret_len = end - 1 - start;
    *ret_line = line; /* caller owns it now */
    line = NULL;
    r = AD_OK;
out:
    free(line);
    free(buf);
    return r;
}

/* Take the chain state (next seq, prev hash) from a complete record line. */
static int chain_from(struct audit *a, const char *line, size_t len)
{
    uint8_t prev[32];
    uint64_t seq;
    int r;

    if ((r = audit_parse_line(line, len, &seq, prev)) != 0) {
        return AD_ERR_CORRUPT;
    }
    if ((r = audit_sha256(line, len, a->prev)) != 0) {
        return r;
    }
    a->next_seq = seq + 1;
    return AD_OK;
}

/* Continue from path.1 when the current file holds no complete line. */
static int chain_from_rotated(struct audit *a)
{
    char name[PATH_MAX];
    char *line = NULL;
    size_t len = 0;
    int fd = -1;
    int r;

    if ((r = audit_rotated_name(a->path, 1, name, sizeof(name))) != 0) {
        return r;
    }
    if ((fd = open(name, O_RDONLY | O_CLOEXEC)) < 0) {
        struct audit_head h;

        if (errno != ENOENT) {
            return AD_ERR_SYSTEM;
        }
        /* keep = 0 deletes the rotated file: the head still knows where the chain was */
        if ((r = audit_head_read(a->path, &h)) == AD_ERR_NOT_FOUND) {
            return AD_OK; /* a brand new log */
        }
        if (r != 0) {
            return AD_ERR_CORRUPT;
        }
        a->next_seq = h.seq + 1;
        memcpy(a->prev, h.hash, 32);
        return AD_OK;
    }
    if ((r = last_line(a, fd, name, false, &line, &len)) == 0 && line != NULL) {
        r = chain_from(a, line, len);
    }
    free(line);
    close(fd);
    return r;
}

/* What audit_open() allocates besides the fd; wiped before it is freed. */
static void free_parts(struct audit *a)
{
    audit_line_free(a->line);
    EVP_MD_CTX_free(a->md_ctx);
    EVP_MD_free(a->sha256);
    free(a->path);
    OPENSSL_cleanse(a, sizeof(*a));
    free(a);
}

/*
 * The head left by the last run must name the log's newest record or one
 * before it (a lag). One naming a later record, or the newest with another
 * hash, means records were cut or replaced while the daemon was not
 * running: the next head write would erase that evidence within a second
 * (audit_tick), so the old head is moved aside to path.head.<its seq> and
 * the finding goes to a->note. Records replaced further back are for
 * audit_verify() to find.
 */
static void keep_mismatched_head(struct audit *a)
{
    struct audit_head h;
    uint64_t last = a->next_seq - 1;
    char name[PATH_MAX];
    char kept[PATH_MAX + 24];
    size_t used = strlen(a->note);

    if (audit_head_read(a->path, &h) != AD_OK || h.seq < last ||
        (h.seq == last && memcmp(h.hash, a->prev, sizeof(h.hash)) == 0)) {
        return;
    }
    if (audit_head_name(a->path, name, sizeof(name)) != 0) {
        return;
    }
    snprintf(kept, sizeof(kept), "%s.%llu", name, (unsigned long long)h.seq);
    if (link(name, kept) != 0 && errno != EEXIST) {
        kept[0] = '\0'; /* could not keep it: still say what was found */
    } else if (unlink(name) == 0) {
        (void)!fsio_fsync_dir_of(name); /* best effort: the note below is what matters */
    }
    snprintf(a->note + used, sizeof(a->note) - used,
             "%sthe head names record %llu but the log ends at %llu: records were cut or "
             "replaced while agentd was not running%s%s",
             used > 0 ? "; " : "", (unsigned long long)h.seq, (unsigned long long)last,
             kept[0] != '\0' ? "; that head is kept as " : "", kept);
}

int audit_open(const char *path, uint64_t rotate_bytes, uint32_t keep, enum conf_audit_sync sync,
               struct audit **ret)
{
    struct audit *a = NULL;
    struct stat st;
    char *line = NULL;
    size_t len = 0;
    int r = AD_ERR_NOMEM;

    if (path == NULL || ret == NULL || path[0] == '\0' || keep > AUDIT_KEEP_MAX) {
        return AD_ERR_INVALID;
    }
    if ((a = calloc(1, sizeof(*a))) == NULL || (a->path = strdup(path)) == NULL) {
        goto out;
    }
    a->fd = -1;
    a->rotate_bytes = rotate_bytes;
    a->keep = keep;
    a->sync = sync;
    a->next_seq = 1;
    if ((r = audit_line_new(&a->line)) != 0) {
        goto out;
    }
    if ((a->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
        (a->md_ctx = EVP_MD_CTX_new()) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if ((r = make_parent(path)) != 0) {
        goto out;
    }
    /* O_APPEND: every write() lands at the end, whole, even after a torn tail is cut */
    if ((a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
        fchmod(a->fd, 0600) != 0) {
        r = AD_ERR_SYSTEM;
        goto out;
    }
    if ((r = last_line(a, a->fd, path, true, &line, &len)) != 0) {
        goto out;
    }
    r = line != NULL ? chain_from(a, line, len) : chain_from_rotated(a);
    if (r != 0) {
        goto out;
    }
    if (fstat(a->fd, &st) != 0) {
        r = AD_ERR_SYSTEM;
        goto out;
    }
    a->size = (uint64_t)st.st_size;
    a->head_seq = a->next_seq - 1; /* the lag bound counts from here */
    keep_mismatched_head(a);
    *ret = a; /* caller owns it now */
    a = NULL;
out:
    free(line);
    if (a != NULL) {
        if (a->fd >= 0) {
            close(a->fd);
        }
        free_parts(a);
    }
    return r;
}

/* ---- records ------------------------------------------------------------ */

/* path -> path.1 -> ... -> path.keep; a fresh empty path; head describes the old tail. */
static int rotate(struct audit *a)
{
    char from[PATH_MAX];
    char to[PATH_MAX];
    int fd;
    int r;

    if (a->headw != NULL) {
        audit_headw_wait(a->headw); /* it reads the files about to be renamed */
    }
    /* The head written below names this file's last line; the new fd will not cover it. */
    if (unsynced_log_fd(a) >= 0 && fdatasync(a->fd) != 0 && errno != EINVAL) {
        return AD_ERR_SYSTEM;
    }
    for (unsigned i = a->keep; i > 1; i--) {
        if ((r = audit_rotated_name(a->path, i - 1, from, sizeof(from))) != 0 ||
            (r = audit_rotated_name(a->path, i, to, sizeof(to))) != 0) {
            return r;
        }
        if (rename(from, to) != 0 && errno != ENOENT) {
            return AD_ERR_SYSTEM;
        }
    }
    if (a->keep > 0) {
        if ((r = audit_rotated_name(a->path, 1, to, sizeof(to))) != 0) {
            return r;
        }
        if (rename(a->path, to) != 0) {
            return AD_ERR_SYSTEM;
        }
    } else if (unlink(a->path) != 0) {
        return AD_ERR_SYSTEM;
    }
    if ((fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
        return AD_ERR_SYSTEM;
    }
    close(a->fd);
    a->fd = fd;
    a->size = 0;
    if ((r = fsio_fsync_dir_of(a->path)) != 0) {
        return r;
    }
    return audit_write_head(a);
}

/* Take the newest head the writer thread has finished. */
static void take_written_head(struct audit *a)
{
    uint64_t written;

    if (a->headw != NULL && (written = audit_headw_written(a->headw)) > a->head_seq) {
        a->head_seq = written;
    }
}

/* Begin a background write of the head naming the newest record; false when one is running. */
static bool start_head_write(struct audit *a, uint64_t now_ns)
{
    if (a->headw == NULL && audit_headw_new(a->path, &a->headw) != 0) {
        a->headw = NULL; /* no memory: the inline write at the bound still happens */
        return false;
    }
    if (!audit_headw_start(a->headw, a->next_seq - 1, a->prev, unsynced_log_fd(a))) {
        return false;
    }
    a->head_begun_ns = now_ns;
    return true;
}

/*
 * The head may lag the newest record by at most AUDIT_HEAD_EVERY - 1 records
 * once audit_append() returns (audit.h). A background write starts at
 * AUDIT_HEAD_START, so the fsyncs run while requests go on; only when the lag
 * reaches the bound (a write slower than the records left, or failing) does
 * the loop wait, and then write inline as before. A failed head write is
 * retried with the next record and is not a reason to deny.
 */
static void keep_head_fresh(struct audit *a)
{
    uint64_t last = a->next_seq - 1;

    take_written_head(a);
    if (last - a->head_seq >= AUDIT_HEAD_EVERY) {
        (void)!audit_write_head(a); /* waits for a running background write first */
        return;
    }
    if (last - a->head_seq >= AUDIT_HEAD_START) {
        (void)start_head_write(a, mono_ns());
    }
}

bool audit_tick(struct audit *a, uint64_t now_ns)
{
    if (a == NULL || a->is_broken) {
        return false;
    }
    take_written_head(a);
    if (a->next_seq - 1 == a->head_seq ||
        (a->head_begun_ns != 0 && now_ns < a->head_begun_ns + AUDIT_HEAD_AGE_NS)) {
        return false;
    }
    return start_head_write(a, now_ns);
}

/* a->prev = SHA-256 of the line just written (without its '\n'). */
static int chain_to(struct audit *a, const char *line, size_t len)
{
    uint8_t sum[32];
    unsigned int n = 0;

    if (EVP_DigestInit_ex2(a->md_ctx, a->sha256, NULL) != 1 ||
        EVP_DigestUpdate(a->md_ctx, line, len) != 1 ||
        EVP_DigestFinal_ex(a->md_ctx, sum, &n) != 1 || n != sizeof(sum)) {
        return AD_ERR_INTERNAL;
    }
    memcpy(a->prev, sum, sizeof(sum));
    return AD_OK;
}

int audit_append(struct audit *a, const struct audit_record *rec)
{
    const char *line = NULL;
    size_t len = 0;
    ssize_t n;
    int r;

    if (a == NULL || rec == NULL) {
        return AD_ERR_INVALID;
    }
    if (a->is_broken) {
        return AD_ERR_SYSTEM;
    }
    if ((r = audit_line_format(a->line, a->next_seq, a->prev, rec, &line, &len)) != 0) {
        return r;
    }
    if (a->rotate_bytes > 0 && a->size > 0 && a->size + len > a->rotate_bytes &&
        (r = rotate(a)) != 0) {
        return r;
    }
    do {
        n = write(a->fd, line,
                  len); /* one write: the line lands whole or torn, never interleaved */
    } while (n < 0 && errno == EINTR);
    if (n < 0 || (size_t)n != len) {
        if (n > 0) {
            a->is_broken = true; /* torn line on disk; audit_open() will cut it */
        }
        return AD_ERR_SYSTEM;
    }
    a->size += len;
    if ((r = chain_to(a, line, len - 1)) != 0) {
        return r;
    }
    a->next_seq++;
    if (a->sync == CONF_AUDIT_SYNC_FSYNC && fdatasync(a->fd) != 0) {
        return AD_ERR_SYSTEM; /* the line is in the file but may not survive a power cut */
    }
    keep_head_fresh(a);
    return AD_OK;
}

int audit_close(struct audit *a)
{
    int r = AD_OK;

    if (a == NULL) {
        return AD_OK;
    }
    audit_headw_free(a->headw); /* finishes a running write first */
    a->headw = NULL;
    if (a->next_seq > 1 && !a->is_broken) {
        r = audit_write_head(a);
    }
    if (a->fd >= 0 && close(a->fd) != 0 && r == AD_OK) {
        r = AD_ERR_SYSTEM;
    }
    free_parts(a);
    return r;
}

uint64_t audit_next_seq(const struct audit *a)
{
    return a->next_seq;
}

const char *audit_open_note(const struct audit *a)
{
    return a->note[0] != '\0' ? a->note : NULL;
}

void audit_wait_head_for_test(struct audit *a)
{
    if (a->headw != NULL) {
        audit_headw_wait(a->headw);
    }
}

void audit_replace_fd_for_test(struct audit *a, int fd)
{
    if (a->fd >= 0) {
        close(a->fd);
    }
    a->fd = fd;
}
