#include "audit_line.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "audit_verify.h"

/* The keys, in the order audit.h documents (json-c keeps insertion order). */
enum field {
    F_SEQ,
    F_TIME,
    F_PID,
    F_UID,
    F_GID,
    F_EXE,
    F_EXE_SHA256,
    F_ENTRY,
    F_SPIFFE_ID,
    F_OP,
    F_KEY,
    F_MECHANISM,
    F_DATA_SHA256,
    F_DECISION,
    F_REASON,
    F_PREV,
    F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "seq",       "time", "pid", "uid",       "gid",         "exe",      "exe_sha256", "entry",
    "spiffe_id", "op",   "key", "mechanism", "data_sha256", "decision", "reason",     "prev",
};

static bool is_int_field(enum field f)
{
    return f == F_SEQ || f == F_PID || f == F_UID || f == F_GID;
}

struct audit_line {
    struct json_object *obj;
    struct json_object *val[F_COUNT]; /* owned by obj; NULL while that value is null */
    char *clean;                      /* utf8_clean's output, grown as needed */
    size_t clean_cap;
    char *out; /* the line: AUDIT_LINE_MAX bytes and its '\n' */
    time_t stamp_sec;
    char stamp[64]; /* "YYYY-MM-DDTHH:MM:SS" of stamp_sec (room for any int fields) */
};

void audit_line_free(struct audit_line *l)
{
    if (l == NULL) {
        return;
    }
    json_object_put(l->obj);
    free(l->clean);
    free(l->out);
    free(l);
}

int audit_line_new(struct audit_line **ret)
{
    struct audit_line *l = calloc(1, sizeof(*l));

    if (l == NULL || (l->obj = json_object_new_object()) == NULL ||
        (l->out = malloc(AUDIT_LINE_MAX + 1)) == NULL) {
        audit_line_free(l);
        return AD_ERR_NOMEM;
    }
    l->stamp_sec = (time_t)-1;
    for (int f = 0; f < F_COUNT; f++) {
        struct json_object *j =
            is_int_field(f) ? json_object_new_int64(0) : json_object_new_string("");

        if (j == NULL || json_object_object_add(l->obj, field_names[f], j) != 0) {
            json_object_put(j);
            audit_line_free(l);
            return AD_ERR_NOMEM;
        }
        l->val[f] = j;
    }
    *ret = l;
    return AD_OK;
}

/*
 * Strings from the kernel (exe, cgroup) may hold any bytes. json-c passes
 * bytes >= 0x80 through unchanged, so invalid UTF-8 would make a line some
 * parsers reject: each invalid byte becomes U+FFFD. The result is l->clean.
 */
static int utf8_clean(struct audit_line *l, const char *s, size_t n)
{
    size_t o = 0;

    if (3 * n + 1 > l->clean_cap) {
        char *p = realloc(l->clean, 3 * n + 1);

        if (p == NULL) {
            return AD_ERR_NOMEM;
        }
        l->clean = p;
        l->clean_cap = 3 * n + 1;
    }
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80             ? 0
                      : (c & 0xe0) == 0xc0 ? 1
                      : (c & 0xf0) == 0xe0 ? 2
                      : (c & 0xf8) == 0xf0 ? 3
                                           : 9;
        bool ok = need < 9 && !(c == 0xc0 || c == 0xc1 || c > 0xf4);

        for (size_t k = 1; ok && k <= need; k++) {
            ok = i + k < n && ((unsigned char)s[i + k] & 0xc0) == 0x80;
        }
        if (ok && need >= 2) { /* no overlong forms, surrogates or code points past U+10FFFF */
            unsigned char c1 = (unsigned char)s[i + 1];

            ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 > 0x9f) &&
                 !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 > 0x8f);
        }
        if (ok) {
            memcpy(l->clean + o, s + i, need + 1);
            o += need + 1;
            i += need + 1;
        } else {
            memcpy(l->clean + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    l->clean[o] = '\0';
    return (int)o; /* o <= 3 * AUDIT_LINE_MAX: see set_str */
}

static int set_str(struct audit_line *l, enum field f, const char *v)
{
    size_t n;
    int len;

    if (v == NULL) {
        /* Replacing a value with NULL writes null; json-c frees the old object. */
        if (l->val[f] != NULL && json_object_object_add(l->obj, field_names[f], NULL) != 0) {
            return AD_ERR_NOMEM;
        }
        l->val[f] = NULL;
        return AD_OK;
    }
    if ((n = strlen(v)) > AUDIT_LINE_MAX) {
        return AD_ERR_TOO_LARGE; /* the line could not hold it anyway */
    }
    if ((len = utf8_clean(l, v, n)) < 0) {
        return len;
    }
    if (l->val[f] == NULL) {
        struct json_object *j = json_object_new_string_len(l->clean, len);

        if (j == NULL || json_object_object_add(l->obj, field_names[f], j) != 0) {
            json_object_put(j);
            return AD_ERR_NOMEM;
        }
        l->val[f] = j;
        return AD_OK;
    }
    /* In place: json-c reuses the string's storage when the new one fits. */
    return json_object_set_string_len(l->val[f], l->clean, len) == 1 ? AD_OK : AD_ERR_NOMEM;
}

static int set_hex(struct audit_line *l, enum field f, const uint8_t *v)
{
    char hex[65];

    if (v == NULL) {
        return set_str(l, f, NULL);
    }
    audit_hex(v, 32, hex);
    return set_str(l, f, hex);
}

static void set_int(struct audit_line *l, enum field f, int64_t v)
{
    (void)json_object_set_int64(l->val[f], v); /* an int field's object: cannot fail */
}

/* RFC 3339 UTC with milliseconds; the date and time are formatted once a second. */
static void stamp_now(struct audit_line *l, char out[96])
{
    struct timespec ts;
    long ms;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != l->stamp_sec) {
        struct tm tm;

        gmtime_r(&ts.tv_sec, &tm);
        snprintf(l->stamp, sizeof(l->stamp), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        l->stamp_sec = ts.tv_sec;
    }
    ms = ts.tv_nsec / 1000000;
    snprintf(out, 96, "%s.%03ldZ", l->stamp, ms);
}

int audit_line_format(struct audit_line *l, uint64_t seq, const uint8_t prev[32],
                      const struct audit_record *rec, const char **ret_line, size_t *ret_len)
{
    const char *s;
    char when[96];
    size_t len = 0;
    int r;

    stamp_now(l, when);
    set_int(l, F_SEQ, (int64_t)seq);
    set_int(l, F_PID, (int64_t)rec->pid);
    set_int(l, F_UID, (int64_t)rec->uid);
    set_int(l, F_GID, (int64_t)rec->gid);
    if ((r = set_str(l, F_TIME, when)) != 0 || (r = set_str(l, F_EXE, rec->exe)) != 0 ||
        (r = set_hex(l, F_EXE_SHA256, rec->exe_sha256)) != 0 ||
        (r = set_str(l, F_ENTRY, rec->entry)) != 0 ||
        (r = set_str(l, F_SPIFFE_ID, rec->spiffe_id)) != 0 ||
        (r = set_str(l, F_OP, rec->op)) != 0 || (r = set_str(l, F_KEY, rec->key)) != 0 ||
        (r = set_str(l, F_MECHANISM, rec->mechanism)) != 0 ||
        (r = set_hex(l, F_DATA_SHA256, rec->data_sha256)) != 0 ||
        (r = set_str(l, F_DECISION, rec->decision)) != 0 ||
        (r = set_str(l, F_REASON, rec->reason)) != 0 || (r = set_hex(l, F_PREV, prev)) != 0) {
        return r; /* every field is set again by the next call */
    }
    s = json_object_to_json_string_length(
        l->obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (s == NULL) {
        return AD_ERR_NOMEM;
    }
    if (len > AUDIT_LINE_MAX) {
        return AD_ERR_TOO_LARGE;
    }
    memcpy(l->out, s, len);
    l->out[len] = '\n';
    *ret_line = l->out;
    *ret_len = len + 1;
    return AD_OK;
}
