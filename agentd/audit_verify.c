/*
 * Audit log verification and tail. See audit.h for what is detected and
 * what is not. Each file is read whole (a file is at most rotate_bytes plus
 * one line), so a reordering can be told from a removal by looking one line
 * ahead.
 */
#include "audit_verify.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"

/* A file's bytes and where each line starts. */
struct lines {
    char *buf;
    size_t len;
    size_t *start; /* n + 1 offsets; line i is [start[i], start[i+1] - 1) */
    size_t n;
    bool is_torn; /* the last line has no '\n' (it is not counted in n) */
};

static void lines_free(struct lines *l)
{
    free(l->buf);
    free(l->start);
    memset(l, 0, sizeof(*l));
}

static int lines_read(const char *name, struct lines *ret)
{
    struct lines l = {0};
    FILE *f = NULL;
    size_t cap = 0;
    size_t n_nl = 0;
    size_t got;
    char chunk[65536];
    char *nb;
    int r = AD_ERR_SYSTEM;

    if ((f = fopen(name, "re")) == NULL) {
        return errno == ENOENT ? AD_ERR_NOT_FOUND : AD_ERR_SYSTEM;
    }
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (l.len + got > cap) {
            cap = (l.len + got) * 2;
            if ((nb = realloc(l.buf, cap)) == NULL) {
                r = AD_ERR_NOMEM;
                goto out;
            }
            l.buf = nb;
        }
        memcpy(l.buf + l.len, chunk, got);
        l.len += got;
    }
    if (ferror(f)) {
        goto out;
    }
    for (size_t i = 0; i < l.len; i++) {
        n_nl += l.buf[i] == '\n';
    }
    if ((l.start = calloc(n_nl + 1, sizeof(*l.start))) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < l.len; i++) {
        if (l.buf[i] == '\n') {
            l.start[++l.n] = i + 1;
        }
    }
    l.is_torn = l.len > 0 && l.buf[l.len - 1] != '\n';
    *ret = l; /* caller owns it now */
    memset(&l, 0, sizeof(l));
    r = AD_OK;
out:
    lines_free(&l);
    fclose(f);
    return r;
}

static const char *line_at(const struct lines *l, size_t i, size_t *ret_len)
{
    *ret_len = l->start[i + 1] - 1 - l->start[i];
    return l->buf + l->start[i];
}

struct walk {
    struct audit_verify_report *rep;
    struct audit_head head;
    bool has_head;
    bool has_prev;
    uint64_t prev_seq;
    uint8_t prev_hash[32];
    char prev_file[PATH_MAX];
    uint64_t prev_line;
    bool head_seen; /* the record with head.seq was found */
};

static int problem(struct walk *w, enum audit_problem p, const char *file, uint64_t line,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int problem(struct walk *w, enum audit_problem p, const char *file, uint64_t line,
                   const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    w->rep->problem = p;
    snprintf(w->rep->file, sizeof(w->rep->file), "%s", file);
    w->rep->line = line;
    if (line > 0) {
        snprintf(w->rep->message, sizeof(w->rep->message), "%s:%llu: %s", file,
                 (unsigned long long)line, msg);
    } else {
        snprintf(w->rep->message, sizeof(w->rep->message), "%s: %s", file, msg);
    }
    return AD_ERR_CORRUPT;
}

/* Seq of line i of l, or 0 when it does not parse. */
static uint64_t peek_seq(const struct lines *l, size_t i)
{
    uint8_t prev[32];
    uint64_t seq = 0;
    size_t len;
    const char *s;

    if (i >= l->n) {
        return 0;
    }
    s = line_at(l, i, &len);
    return audit_parse_line(s, len, &seq, prev) == 0 ? seq : 0;
}

/* True when line i + 1 exists, parses, and its prev is not hash. */
static bool next_breaks(const struct lines *l, size_t i, const uint8_t hash[32])
{
    uint8_t prev[32];
    uint64_t seq;
    size_t len;
    const char *s;

    if (i + 1 >= l->n) {
        return false;
    }
    s = line_at(l, i + 1, &len);
    return audit_parse_line(s, len, &seq, prev) == 0 && memcmp(prev, hash, 32) != 0;
}

static int check_line(struct walk *w, const char *name, const struct lines *l, size_t i)
{
    uint8_t prev[32];
    uint8_t hash[32];
    uint64_t seq;
    uint64_t no = i + 1;
    size_t len;
    const char *s = line_at(l, i, &len);
    int r;

    if (audit_parse_line(s, len, &seq, prev) != 0) {
        return problem(w, AUDIT_BAD_LINE, name, no,
                       "not an audit record (edited or garbage): bad JSON, seq or prev");
    }
    if ((r = audit_sha256(s, len, hash)) != 0) {
        return r;
    }
    if (!w->has_prev) {
        static const uint8_t zeros[32] = {0};

        if (seq == 1 && memcmp(prev, zeros, 32) != 0) {
            return problem(w, AUDIT_BAD_START, name, no, "first record's prev is not 64 zeros");
        }
        if (seq != 1 && memcmp(prev, zeros, 32) == 0) {
            return problem(w, AUDIT_BAD_START, name, no,
                           "prev is 64 zeros but seq is %llu: records before it removed",
                           (unsigned long long)seq);
        }
        if (w->has_head && w->head.first_seq > 0 && seq != w->head.first_seq) {
            return problem(w, AUDIT_REMOVED, name, no,
                           "log starts at seq %llu but the head file says %llu: oldest records "
                           "removed",
                           (unsigned long long)seq, (unsigned long long)w->head.first_seq);
        }
        w->rep->first_seq = seq;
    } else if (seq <= w->prev_seq) {
        return problem(w, AUDIT_REORDERED, name, no, "seq %llu after seq %llu: records reordered",
                       (unsigned long long)seq, (unsigned long long)w->prev_seq);
    } else if (seq > w->prev_seq + 1) {
        if (peek_seq(l, i + 1) == w->prev_seq + 1) {
            return problem(w, AUDIT_REORDERED, name, no,
                           "seq %llu comes before seq %llu on the next line: records reordered",
                           (unsigned long long)seq, (unsigned long long)w->prev_seq + 1);
        }
        return problem(w, AUDIT_REMOVED, name, no,
                       "seq jumps from %llu to %llu: %llu record(s) removed before this line",
                       (unsigned long long)w->prev_seq, (unsigned long long)seq,
                       (unsigned long long)(seq - w->prev_seq - 1));
    } else if (memcmp(prev, w->prev_hash, 32) != 0) {
        /*
         * Either the previous record changed, or this one did (its prev
         * field). In the second case this record's hash no longer matches
         * the next record's prev either.
         */
        if (next_breaks(l, i, hash)) {
            return problem(w, AUDIT_EDITED, name, no,
                           "record seq %llu was changed: its prev does not chain to seq %llu "
                           "and its hash does not match the next record's prev",
                           (unsigned long long)seq, (unsigned long long)w->prev_seq);
        }
        return problem(w, AUDIT_EDITED, w->prev_file, w->prev_line,
                       "record seq %llu was changed: its hash does not match prev of seq %llu "
                       "(%s:%llu)",
                       (unsigned long long)w->prev_seq, (unsigned long long)seq, name,
                       (unsigned long long)no);
    }
    if (w->has_head && seq == w->head.seq) {
        if (memcmp(hash, w->head.hash, 32) != 0) {
            return problem(w, AUDIT_HEAD_MISMATCH, name, no,
                           "record seq %llu does not match the hash in the head file: edited",
                           (unsigned long long)seq);
        }
        w->head_seen = true;
    }
    w->has_prev = true;
    w->prev_seq = seq;
    memcpy(w->prev_hash, hash, 32);
    snprintf(w->prev_file, sizeof(w->prev_file), "%s", name);
    w->prev_line = no;
    w->rep->last_seq = seq;
    w->rep->records++;
    return AD_OK;
}

static int check_file(struct walk *w, const char *name, bool is_current)
{
    struct lines l = {0};
    int r;

    if ((r = lines_read(name, &l)) != 0) {
        if (r == AD_ERR_NOT_FOUND && is_current) {
            return AD_OK; /* rotated away and not yet re-created */
        }
        problem(w, AUDIT_IO, name, 0, "cannot read: %s", ad_strerror(r));
        return r;
    }
    for (size_t i = 0; i < l.n && r == 0; i++) {
        r = check_line(w, name, &l, i);
    }
    if (r == 0 && l.is_torn) {
        r = problem(w, AUDIT_TORN_TAIL, name, l.n + 1,
                    "last line has no newline (crash during a write; agentd cuts it on start)");
    }
    lines_free(&l);
    return r;
}

int audit_verify(const char *path, struct audit_verify_report *ret)
{
    struct walk w = {.rep = ret};
    char name[PATH_MAX];
    unsigned oldest;
    int r;

    if (path == NULL || ret == NULL) {
        return AD_ERR_INVALID;
    }
    memset(ret, 0, sizeof(*ret));
    r = audit_head_read(path, &w.head);
    if (r != 0 && r != AD_ERR_NOT_FOUND) {
        return problem(&w, AUDIT_HEAD_MISMATCH, path, 0, "head file unreadable or malformed");
    }
    w.has_head = r == 0;
    ret->head_checked = w.has_head;
    oldest = audit_oldest_rotated(path);
    for (unsigned i = oldest; i > 0; i--) {
        if ((r = audit_rotated_name(path, i, name, sizeof(name))) != 0 ||
            (r = check_file(&w, name, false)) != 0) {
            return r;
        }
    }
    if (oldest == 0 && access(path, F_OK) != 0) {
        problem(&w, AUDIT_IO, path, 0, "no audit log");
        return AD_ERR_NOT_FOUND;
    }
    if ((r = check_file(&w, path, true)) != 0) {
        return r;
    }
    if (w.has_head && w.head.seq > 0 && !w.head_seen) {
        return problem(&w, AUDIT_TRUNCATED, path, 0,
                       "log ends at seq %llu but the head file names seq %llu: newest records "
                       "removed",
                       (unsigned long long)ret->last_seq, (unsigned long long)w.head.seq);
    }
    snprintf(ret->message, sizeof(ret->message), "%s: %llu records, seq %llu..%llu, chain intact%s",
             path, (unsigned long long)ret->records, (unsigned long long)ret->first_seq,
             (unsigned long long)ret->last_seq, w.has_head ? ", head matches" : " (no head file)");
    return AD_OK;
}

int audit_tail(const char *path, size_t n, audit_tail_cb cb, void *ctx)
{
    struct lines *files = NULL;
    size_t n_files = 0;
    size_t have = 0;
    char name[PATH_MAX];
    unsigned oldest;
    int r = AD_OK;

    if (path == NULL || cb == NULL) {
        return AD_ERR_INVALID;
    }
    oldest = audit_oldest_rotated(path);
    if ((files = calloc((size_t)oldest + 1, sizeof(*files))) == NULL) {
        return AD_ERR_NOMEM;
    }
    /* newest first until n lines are collected: files[0] is path, files[k] is path.k */
    for (unsigned k = 0; k <= oldest && have < n; k++) {
        if (k == 0) {
            snprintf(name, sizeof(name), "%s", path);
        } else if ((r = audit_rotated_name(path, k, name, sizeof(name))) != 0) {
            goto out;
        }
        r = lines_read(name, &files[k]);
        n_files = k + 1;
        if (r == AD_ERR_NOT_FOUND) {
            r = AD_OK;
            continue;
        }
        if (r != 0) {
            goto out;
        }
        have += files[k].n;
    }
    /* skip the oldest surplus, then hand out oldest first */
    {
        size_t skip = have > n ? have - n : 0;

        for (size_t k = n_files; k-- > 0 && r == 0;) {
            for (size_t i = 0; i < files[k].n && r == 0; i++) {
                size_t len;
                const char *s;

                if (skip > 0) {
                    skip--;
                    continue;
                }
                s = line_at(&files[k], i, &len);
                r = cb(s, len, ctx);
            }
        }
    }
out:
    for (size_t k = 0; k < n_files; k++) {
        lines_free(&files[k]);
    }
    free(files);
    return r;
}
