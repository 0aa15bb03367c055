/*
 * Configuration loading. Every setting goes through one table per group
 * (struct keyword rows: path, libconfig type, parser, min, max, default), in
 * the spirit of OpenSSH servconf.c keywords[] and systemd conf-parser: the
 * group walker refuses any member not in its table, so a typo is an error
 * that names the key, the file and the line, never a silently ignored line.
 *
 * libconfig 1.5 quirk: a decimal integer above INT32_MAX without the L suffix
 * wraps silently to a negative int. Every unsigned setting therefore refuses
 * negative values (except srk_handle, a handle usually written in hex, which
 * is read as the 32-bit pattern), and the example tells users to write the L
 * suffix for large byte counts.
 */
#include "conf.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "conf_mech.h"

struct ctx {
    const char *file; /* name for messages */
    char *err;
    size_t errlen;
    int rc; /* first error */
};

struct keyword;
typedef int (*parse_fn)(struct ctx *x, const config_setting_t *s, const char *path,
                        const struct keyword *kw, void *dst);

/* One setting: name inside its group, parser, range, default. */
struct keyword {
    const char *name;
    parse_fn parse;
    long long min; /* integers: value range; strings: length range */
    long long max;
    bool required;
    long long def_int;   /* integers, booleans, enums (when not required) */
    double def_float;    /* floats */
    const char *def_str; /* strings (NULL: leave NULL) */
    size_t offset;       /* into the group's struct */
};

static int fail(struct ctx *x, const config_setting_t *s, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Record the first error as "file:line: path: message". The file is the one
 * the setting came from (it differs from the main file after @include).
 */
static int fail(struct ctx *x, const config_setting_t *s, const char *path, const char *fmt, ...)
{
    const char *file = s != NULL ? config_setting_source_file(s) : NULL;
    int line = s != NULL ? (int)config_setting_source_line(s) : 0;
    char msg[CONF_ERR_MAX];
    va_list ap;

    if (x->rc != 0) {
        return x->rc;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (x->err != NULL && x->errlen > 0) {
        snprintf(x->err, x->errlen, "%s:%d: %s: %s", file != NULL ? file : x->file, line, path,
                 msg);
    }
    x->rc = AD_ERR_CONFIG;
    return x->rc;
}

static int oom(struct ctx *x)
{
    if (x->rc == 0) {
        if (x->err != NULL && x->errlen > 0) {
            snprintf(x->err, x->errlen, "%s: out of memory", x->file);
        }
        x->rc = AD_ERR_NOMEM;
    }
    return x->rc;
}

static int line_of(const config_setting_t *s)
{
    return s != NULL ? (int)config_setting_source_line(s) : 0;
}

static void path_fmt(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Setting paths are for messages only: a truncated one is still useful. */
static void path_fmt(char *out, size_t outlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
}

static void join(char *out, size_t outlen, const char *parent, const char *name)
{
    if (parent == NULL || parent[0] == '\0') {
        path_fmt(out, outlen, "%s", name);
    } else {
        path_fmt(out, outlen, "%s.%s", parent, name);
    }
}

static char *xstrdup(struct ctx *x, const char *s)
{
    char *d = strdup(s);

    if (d == NULL) {
        oom(x);
    }
    return d;
}

/* ---- scalar parsers --------------------------------------------------- */

static int get_int(struct ctx *x, const config_setting_t *s, const char *path, long long *ret)
{
    int t = config_setting_type(s);

    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
        return fail(x, (s), path, "expected an integer");
    }
    *ret = config_setting_get_int64(s);
    return AD_OK;
}

static int check_range(struct ctx *x, const config_setting_t *s, const char *path,
                       const struct keyword *kw, long long v)
{
    if (v < kw->min || v > kw->max) {
        return fail(x, (s), path, "%lld out of range %lld..%lld", v, kw->min, kw->max);
    }
    return AD_OK;
}

static int p_u32(struct ctx *x, const config_setting_t *s, const char *path,
                 const struct keyword *kw, void *dst)
{
    long long v = 0; /* set by get_int; gcc -O2 cannot see fail() is nonzero */
    int r;

    if ((r = get_int(x, s, path, &v)) != 0 || (r = check_range(x, s, path, kw, v)) != 0) {
        return r;
    }
    *(uint32_t *)dst = (uint32_t)v;
    return AD_OK;
}

static int p_u64(struct ctx *x, const config_setting_t *s, const char *path,
                 const struct keyword *kw, void *dst)
{
    long long v = 0; /* set by get_int; gcc -O2 cannot see fail() is nonzero */
    int r;

    if ((r = get_int(x, s, path, &v)) != 0 || (r = check_range(x, s, path, kw, v)) != 0) {
        return r;
    }
    *(uint64_t *)dst = (uint64_t)v;
    return AD_OK;
}

/* A persistent handle is 0x81xxxxxx: a negative int here is the hex pattern. */
static int p_srk_handle(struct ctx *x, const config_setting_t *s, const char *path,
                        const struct keyword *kw, void *dst)
{
    long long v = 0; /* set by get_int; gcc -O2 cannot see fail() is nonzero */
    uint32_t h;
    int r;

    (void)kw;
    if ((r = get_int(x, s, path, &v)) != 0) {
        return r;
    }
    if (v < 0 && config_setting_type(s) == CONFIG_TYPE_INT) {
        v = (long long)(uint32_t)(int32_t)v;
    }
    if (v < 0 || v > 0xffffffffLL) {
        return fail(x, (s), path, "not a 32-bit handle");
    }
    h = (uint32_t)v;
    if (h != 0 && (h < 0x81000000u || h > 0x81ffffffu)) {
        return fail(x, (s), path, "0x%08x is neither 0 nor a persistent handle", h);
    }
    *(uint32_t *)dst = h;
    return AD_OK;
}

static int p_bool(struct ctx *x, const config_setting_t *s, const char *path,
                  const struct keyword *kw, void *dst)
{
    (void)kw;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        return fail(x, (s), path, "expected true or false");
    }
    *(bool *)dst = config_setting_get_bool(s) != 0;
    return AD_OK;
}

/* Floats: min and max are in thousandths so the table stays integer. */
static int p_rate(struct ctx *x, const config_setting_t *s, const char *path,
                  const struct keyword *kw, void *dst)
{
    int t = config_setting_type(s);
    double v;

    if (t == CONFIG_TYPE_FLOAT) {
        v = config_setting_get_float(s);
    } else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
        v = (double)config_setting_get_int64(s);
    } else {
        return fail(x, (s), path, "expected a number");
    }
    if (!(v >= (double)kw->min / 1000.0 && v <= (double)kw->max / 1000.0)) {
        return fail(x, (s), path, "%g out of range %g..%g", v, (double)kw->min / 1000.0,
                    (double)kw->max / 1000.0);
    }
    *(double *)dst = v;
    return AD_OK;
}

/*
 * *ret is set only on success. Callers still start their pointer as NULL:
 * fail() is variadic and never inlined, so gcc -O2 cannot see that it never
 * returns 0 and warns (-Wmaybe-uninitialized) about the failure path.
 */
static int get_str(struct ctx *x, const config_setting_t *s, const char *path,
                   const struct keyword *kw, const char **ret)
{
    const char *v;
    size_t n;

    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        return fail(x, (s), path, "expected a string");
    }
    v = config_setting_get_string(s);
    n = strlen(v);
    if ((long long)n < kw->min || (long long)n > kw->max) {
        return fail(x, (s), path, "length %zu out of range %lld..%lld", n, kw->min, kw->max);
    }
    *ret = v;
    return AD_OK;
}

static int p_str(struct ctx *x, const config_setting_t *s, const char *path,
                 const struct keyword *kw, void *dst)
{
    const char *v = NULL; /* set by get_str */
    char *d;
    int r;

    if ((r = get_str(x, s, path, kw, &v)) != 0) {
        return r;
    }
    if ((d = xstrdup(x, v)) == NULL) {
        return x->rc;
    }
    free(*(char **)dst);
    *(char **)dst = d;
    return AD_OK;
}

static int p_abspath(struct ctx *x, const config_setting_t *s, const char *path,
                     const struct keyword *kw, void *dst)
{
    const char *v = NULL; /* set by get_str */
    int r;

    if ((r = get_str(x, s, path, kw, &v)) != 0) {
        return r;
    }
    if (v[0] != '/') {
        return fail(x, (s), path, "\"%s\" is not an absolute path", v);
    }
    return p_str(x, s, path, kw, dst);
}

static int p_mode(struct ctx *x, const config_setting_t *s, const char *path,
                  const struct keyword *kw, void *dst)
{
    const char *v = NULL; /* set by get_str */
    char *end = NULL;
    unsigned long m;
    int r;

    if ((r = get_str(x, s, path, kw, &v)) != 0) {
        return r;
    }
    errno = 0;
    m = strtoul(v, &end, 8);
    if (errno != 0 || end == v || *end != '\0' || m > 0777) {
        return fail(x, (s), path, "\"%s\" is not an octal mode 0000..0777", v);
    }
    *(mode_t *)dst = (mode_t)m;
    return AD_OK;
}

static int p_sync(struct ctx *x, const config_setting_t *s, const char *path,
                  const struct keyword *kw, void *dst)
{
    const char *v = NULL; /* set by get_str */
    int r;

    if ((r = get_str(x, s, path, kw, &v)) != 0) {
        return r;
    }
    if (strcmp(v, "write") == 0) {
        *(enum conf_audit_sync *)dst = CONF_AUDIT_SYNC_WRITE;
    } else if (strcmp(v, "fsync") == 0) {
        *(enum conf_audit_sync *)dst = CONF_AUDIT_SYNC_FSYNC;
    } else {
        return fail(x, (s), path, "\"%s\" is not \"write\" or \"fsync\"", v);
    }
    return AD_OK;
}

static int p_tier(struct ctx *x, const config_setting_t *s, const char *path,
                  const struct keyword *kw, void *dst)
{
    const char *v = NULL; /* set by get_str */
    int r;

    if ((r = get_str(x, s, path, kw, &v)) != 0) {
        return r;
    }
    for (int t = CONF_TIER_CRITICAL; t <= CONF_TIER_BATCH; t++) {
        if (strcmp(v, conf_tier_name((enum conf_tier)t)) == 0) {
            *(enum conf_tier *)dst = (enum conf_tier)t;
            return AD_OK;
        }
    }
    return fail(x, (s), path, "\"%s\" is not critical, standard or batch", v);
}

/* An https:// URL without a trailing slash (paths are appended to it). */
static int p_url(struct ctx *x, const config_setting_t *s, const char *path,
                 const struct keyword *kw, void *dst)
{
    static const char scheme[] = "https://";
    const char *v = NULL; /* set by get_str */
    size_t n;
    int r;

    if ((r = get_str(x, s, path, kw, &v)) != 0) {
        return r;
    }
    n = strlen(v);
    if (strncmp(v, scheme, strlen(scheme)) != 0 || n == strlen(scheme) || v[n - 1] == '/') {
        return fail(x, (s), path, "\"%s\" is not https://<host>[:port] without a trailing slash",
                    v);
    }
    for (const char *p = v; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            return fail(x, (s), path, "URL contains a space or non-ASCII byte");
        }
    }
    return p_str(x, s, path, kw, dst);
}

static int p_ek(struct ctx *x, const config_setting_t *s, const char *path,
                const struct keyword *kw, void *dst)
{
    const char *v = NULL; /* set by get_str */
    int r;

    if ((r = get_str(x, s, path, kw, &v)) != 0) {
        return r;
    }
    for (int t = CONF_EK_RSA_2048; t <= CONF_EK_EC_P384; t++) {
        if (strcmp(v, conf_ek_type_name((enum conf_ek_type)t)) == 0) {
            *(enum conf_ek_type *)dst = (enum conf_ek_type)t;
            return AD_OK;
        }
    }
    return fail(x, (s), path, "\"%s\" is not rsa2048, p256 or p384", v);
}

static int p_spiffe_id(struct ctx *x, const config_setting_t *s, const char *path,
                       const struct keyword *kw, void *dst)
{
    static const char scheme[] = "spiffe://";
    const char *v = NULL; /* set by get_str */
    const char *td;
    int r;

    if ((r = get_str(x, s, path, kw, &v)) != 0) {
        return r;
    }
    td = v + strlen(scheme);
    if (strncmp(v, scheme, strlen(scheme)) != 0 || td[0] == '\0' || td[0] == '/') {
        return fail(x, (s), path, "\"%s\" is not spiffe://<trust-domain>/<path>", v);
    }
    for (const char *p = v; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            return fail(x, (s), path, "SPIFFE ID contains a space or non-ASCII byte");
        }
    }
    return p_str(x, s, path, kw, dst);
}

static int p_id(struct ctx *x, const config_setting_t *s, const char *path,
                const struct keyword *kw, void *dst)
{
    long long v = 0; /* set by get_int; gcc -O2 cannot see fail() is nonzero */
    int r;

    if ((r = get_int(x, s, path, &v)) != 0 || (r = check_range(x, s, path, kw, v)) != 0) {
        return r;
    }
    if (kw->offset == offsetof(struct conf_selectors, uid)) {
        *(uid_t *)dst = (uid_t)v;
    } else {
        *(gid_t *)dst = (gid_t)v;
    }
    return AD_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int p_sha256(struct ctx *x, const config_setting_t *s, const char *path,
                    const struct keyword *kw, void *dst)
{
    uint8_t *out = dst;
    const char *v = NULL; /* set by get_str */
    int r;

    if ((r = get_str(x, s, path, kw, &v)) != 0) {
        return r;
    }
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(v[2 * i]);
        int lo = hexval(v[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return fail(x, (s), path, "not 64 hex digits");
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return AD_OK;
}

/* ---- the group walker ------------------------------------------------- */

/*
 * Parse group g (may be NULL: all defaults) into base with the table kws.
 * Members not in the table are errors. has[] (optional) records which rows
 * were present.
 */
static int walk(struct ctx *x, const config_setting_t *g, const char *path,
                const struct keyword *kws, size_t n, void *base, bool *has)
{
    char sub[512];
    int r;

    if (g != NULL && config_setting_type(g) != CONFIG_TYPE_GROUP) {
        return fail(x, (g), path, "expected a group { ... }");
    }
    for (int i = 0; g != NULL && i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(m);
        bool known = false;

        for (size_t k = 0; k < n && !known; k++) {
            known = strcmp(kws[k].name, name) == 0;
        }
        if (!known) {
            join(sub, sizeof(sub), path, name);
            return fail(x, (m), sub, "unknown key");
        }
    }
    for (size_t k = 0; k < n; k++) {
        const struct keyword *kw = &kws[k];
        config_setting_t *m = g != NULL ? config_setting_get_member(g, kw->name) : NULL;
        void *dst = (char *)base + kw->offset;

        join(sub, sizeof(sub), path, kw->name);
        if (has != NULL) {
            has[k] = m != NULL;
        }
        if (kw->parse == NULL) { /* a sub-group or list the caller parses */
            if (m == NULL && kw->required) {
                return fail(x, (g), sub, "missing (required)");
            }
            continue;
        }
        if (m != NULL) {
            if ((r = kw->parse(x, m, sub, kw, dst)) != 0) {
                return r;
            }
            continue;
        }
        if (kw->required) {
            return fail(x, (g), sub, "missing (required)");
        }
        if (kw->parse == p_str || kw->parse == p_abspath || kw->parse == p_spiffe_id ||
            kw->parse == p_url) {
            if (kw->def_str != NULL && (*(char **)dst = xstrdup(x, kw->def_str)) == NULL) {
                return x->rc;
            }
        } else if (kw->parse == p_mode) {
            *(mode_t *)dst = (mode_t)kw->def_int;
        } else if (kw->parse == p_u32 || kw->parse == p_srk_handle) {
            *(uint32_t *)dst = (uint32_t)kw->def_int;
        } else if (kw->parse == p_u64) {
            *(uint64_t *)dst = (uint64_t)kw->def_int;
        } else if (kw->parse == p_bool) {
            *(bool *)dst = kw->def_int != 0;
        } else if (kw->parse == p_rate) {
            *(double *)dst = kw->def_float;
        } else if (kw->parse == p_sync) {
            *(enum conf_audit_sync *)dst = (enum conf_audit_sync)kw->def_int;
        } else if (kw->parse == p_tier) {
            *(enum conf_tier *)dst = (enum conf_tier)kw->def_int;
        } else if (kw->parse == p_ek) {
            *(enum conf_ek_type *)dst = (enum conf_ek_type)kw->def_int;
        }
        /* selectors (p_id, p_sha256) have no default: absent stays absent */
    }
    return AD_OK;
}

#define NKW(a) (sizeof(a) / sizeof((a)[0]))
#define OFF(type, field) offsetof(type, field)

/* Top level: only these two groups exist. */
static const struct keyword top_kws[] = {
    {"agentd", NULL, 0, 0, false, 0, 0, NULL, 0},
    {"workloads", NULL, 0, 0, false, 0, 0, NULL, 0},
};

static const struct keyword agentd_kws[] = {
    {"tcti", p_str, 1, 256, false, 0, 0, "device:/dev/tpmrm0", OFF(struct agentd_conf, tcti)},
    {"srk_handle", p_srk_handle, 0, 0, false, 0, 0, NULL, OFF(struct agentd_conf, srk_handle)},
    {"state_dir", p_abspath, 2, 1024, false, 0, 0, "/var/lib/agentd",
     OFF(struct agentd_conf, state_dir)},
    {"socket", p_abspath, 2, 107, false, 0, 0, "/run/agentd/agentd.sock",
     OFF(struct agentd_conf, socket)},
    {"socket_mode", p_mode, 1, 8, false, 0666, 0, NULL, OFF(struct agentd_conf, socket_mode)},
    {"admin_group", p_str, 0, 64, false, 0, 0, "agentd-admin",
     OFF(struct agentd_conf, admin_group)},
    {"max_connections", p_u32, 1, 65536, false, 1024, 0, NULL,
     OFF(struct agentd_conf, max_connections)},
    {"max_connections_per_uid", p_u32, 1, 65536, false, 128, 0, NULL,
     OFF(struct agentd_conf, max_connections_per_uid)},
    {"idle_timeout_ms", p_u32, 1000, 86400000, false, 300000, 0, NULL,
     OFF(struct agentd_conf, idle_timeout_ms)},
    {"max_in_flight_per_connection", p_u32, 1, 1024, false, 32, 0, NULL,
     OFF(struct agentd_conf, max_in_flight_per_connection)},
    {"tpm_worker_boost", p_u32, 0, 20, false, 5, 0, NULL,
     OFF(struct agentd_conf, tpm_worker_boost)},
    {"audit", NULL, 0, 0, false, 0, 0, NULL, 0},
    {"token", NULL, 0, 0, false, 0, 0, NULL, 0},
    {"enroll", NULL, 0, 0, false, 0, 0, NULL, 0},
};

static const struct keyword enroll_kws[] = {
    {"url", p_url, 9, 1024, true, 0, 0, NULL, OFF(struct conf_enroll, url)},
    {"ca_bundle", p_abspath, 2, CONF_PATH_MAX - 1, true, 0, 0, NULL,
     OFF(struct conf_enroll, ca_bundle)},
    {"host_class", p_str, 1, 64, false, 0, 0, "default", OFF(struct conf_enroll, host_class)},
    {"ek_type", p_ek, 1, 16, false, CONF_EK_RSA_2048, 0, NULL, OFF(struct conf_enroll, ek_type)},
    {"renew", p_bool, 0, 1, false, 1, 0, NULL, OFF(struct conf_enroll, renew)},
    {"retry_min_s", p_u32, 1, 3600, false, 5, 0, NULL, OFF(struct conf_enroll, retry_min_s)},
    {"retry_max_s", p_u32, 1, 86400, false, 300, 0, NULL, OFF(struct conf_enroll, retry_max_s)},
    {"timeout_s", p_u32, 1, 300, false, 30, 0, NULL, OFF(struct conf_enroll, timeout_s)},
};

static const struct keyword audit_kws[] = {
    {"path", p_abspath, 2, 1024, false, 0, 0, NULL, OFF(struct conf_audit, path)},
    {"rotate_bytes", p_u64, 0, 1LL << 40, false, 16777216, 0, NULL,
     OFF(struct conf_audit, rotate_bytes)},
    {"keep", p_u32, 0, 1000, false, 8, 0, NULL, OFF(struct conf_audit, keep)},
    {"sync", p_sync, 1, 16, false, CONF_AUDIT_SYNC_WRITE, 0, NULL, OFF(struct conf_audit, sync)},
};

static const struct keyword token_kws[] = {
    {"label", p_str, 1, 32, false, 0, 0, "agentd", 0},
};

static const struct keyword entry_kws[] = {
    {"name", p_str, 1, CONF_NAME_MAX, true, 0, 0, NULL, OFF(struct workload_entry, name)},
    {"spiffe_id", p_spiffe_id, 10, CONF_SPIFFE_ID_MAX, true, 0, 0, NULL,
     OFF(struct workload_entry, spiffe_id)},
    {"tier", p_tier, 1, 16, false, CONF_TIER_STANDARD, 0, NULL, OFF(struct workload_entry, tier)},
    {"selectors", NULL, 0, 0, true, 0, 0, NULL, 0},
    {"keys", NULL, 0, 0, false, 0, 0, NULL, 0},
    {"allow_generate", p_bool, 0, 1, false, 0, 0, NULL, OFF(struct workload_entry, allow_generate)},
    {"max_keys", p_u32, 0, 1024, false, 4, 0, NULL, OFF(struct workload_entry, max_keys)},
    {"rate", NULL, 0, 0, false, 0, 0, NULL, 0},
    {"max_data", p_u32, 1, 262144, false, 65536, 0, NULL, OFF(struct workload_entry, max_data)},
};

/* Row order matters: entry_selector_weight() and has[] follow it. */
static const struct keyword sel_kws[] = {
    {"uid", p_id, 0, 4294967294LL, false, 0, 0, NULL, OFF(struct conf_selectors, uid)},
    {"gid", p_id, 0, 4294967294LL, false, 0, 0, NULL, OFF(struct conf_selectors, gid)},
    {"exe", p_abspath, 2, CONF_PATH_MAX - 1, false, 0, 0, NULL, OFF(struct conf_selectors, exe)},
    {"sha256", p_sha256, 64, 64, false, 0, 0, NULL, OFF(struct conf_selectors, sha256)},
    {"cgroup", p_abspath, 1, CONF_PATH_MAX - 1, false, 0, 0, NULL,
     OFF(struct conf_selectors, cgroup)},
    {"unit", p_str, 1, 256, false, 0, 0, NULL, OFF(struct conf_selectors, unit)},
};

static const struct keyword rate_kws[] = {
    {"per_second", p_rate, 1, 1000000000LL, true, 0, 0, NULL,
     OFF(struct workload_entry, rate_per_second)},
    {"burst", p_u32, 1, 1000000, true, 0, 0, NULL, OFF(struct workload_entry, rate_burst)},
};

static const struct keyword key_kws[] = {
    {"name", p_str, 1, CONF_KEY_NAME_MAX, true, 0, 0, NULL, OFF(struct conf_key, name)},
    {"type", p_str, 1, 32, true, 0, 0, NULL, OFF(struct conf_key, type_name)},
    {"mechanisms", NULL, 0, 0, true, 0, 0, NULL, 0},
};

/* ---- composite parts --------------------------------------------------- */

static int parse_mechanisms(struct ctx *x, const config_setting_t *a, const char *path,
                            struct conf_key *k)
{
    int t = config_setting_type(a);
    int n;

    if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
        return fail(x, (a), path, "expected [ \"MECH\", ... ]");
    }
    n = config_setting_length(a);
    if (n < 1 || n > CONF_MECHS_MAX) {
        return fail(x, (a), path, "%d mechanisms, expected 1..%d", n, CONF_MECHS_MAX);
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(a, (unsigned)i);
        const struct conf_mech *d;
        const char *name;

        if (config_setting_type(m) != CONFIG_TYPE_STRING) {
            return fail(x, (a), path, "element %d is not a string", i);
        }
        name = config_setting_get_string(m);
        if ((d = conf_mech_by_name(name)) == NULL) {
            return fail(x, (a), path, "unknown mechanism \"%s\"", name);
        }
        if (!conf_mech_valid_for_key(d, k->key_type)) {
            return fail(x, (a), path, "mechanism %s is not valid for a %s key", name, k->type_name);
        }
        for (size_t j = 0; j < k->n_mechanisms; j++) {
            if (k->mechanisms[j] == d->ckm) {
                return fail(x, (a), path, "mechanism %s listed twice", name);
            }
        }
        k->mechanisms[k->n_mechanisms++] = d->ckm;
    }
    return AD_OK;
}

static int parse_key(struct ctx *x, const config_setting_t *g, const char *path, struct conf_key *k)
{
    char sub[512];
    int r;

    k->line = line_of(g);
    if ((r = walk(x, g, path, key_kws, NKW(key_kws), k, NULL)) != 0) {
        return r;
    }
    if (conf_key_type_by_name(k->type_name, &k->key_type, &k->bits) != 0) {
        join(sub, sizeof(sub), path, "type");
        return fail(x, (config_setting_get_member(g, "type")), sub, "unknown key type \"%s\" (%s)",
                    k->type_name, CONF_KEY_TYPE_NAMES);
    }
    join(sub, sizeof(sub), path, "mechanisms");
    return parse_mechanisms(x, config_setting_get_member(g, "mechanisms"), sub, k);
}

static int parse_keys(struct ctx *x, const config_setting_t *l, const char *path,
                      struct workload_entry *e)
{
    char sub[512];
    int n;
    int r;

    if (l == NULL) {
        return AD_OK;
    }
    if (config_setting_type(l) != CONFIG_TYPE_LIST) {
        return fail(x, (l), path, "expected a list ( { ... }, ... )");
    }
    n = config_setting_length(l);
    if (n > CONF_KEYS_MAX) {
        return fail(x, (l), path, "%d keys, at most %d", n, CONF_KEYS_MAX);
    }
    if (n == 0) {
        return AD_OK;
    }
    if ((e->keys = calloc((size_t)n, sizeof(*e->keys))) == NULL) {
        return oom(x);
    }
    for (int i = 0; i < n; i++) {
        struct conf_key *k = &e->keys[i];

        path_fmt(sub, sizeof(sub), "%s[%d]", path, i);
        e->n_keys = (size_t)i + 1; /* so conf_free sees the partly filled row */
        if ((r = parse_key(x, config_setting_get_elem(l, (unsigned)i), sub, k)) != 0) {
            return r;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(e->keys[j].name, k->name) == 0) {
                char field[520];

                join(field, sizeof(field), sub, "name");
                return fail(x, config_setting_get_elem(l, (unsigned)i), field,
                            "duplicate key name \"%s\" (first at line %d)", k->name,
                            e->keys[j].line);
            }
        }
    }
    return AD_OK;
}

static bool sel_empty(const struct conf_selectors *s)
{
    return !s->has_uid && !s->has_gid && s->exe == NULL && !s->has_sha256 && s->cgroup == NULL &&
           s->unit == NULL;
}

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool sel_equal(const struct conf_selectors *a, const struct conf_selectors *b)
{
    return a->has_uid == b->has_uid && (!a->has_uid || a->uid == b->uid) &&
           a->has_gid == b->has_gid && (!a->has_gid || a->gid == b->gid) &&
           a->has_sha256 == b->has_sha256 &&
           (!a->has_sha256 || memcmp(a->sha256, b->sha256, 32) == 0) && str_eq(a->exe, b->exe) &&
           str_eq(a->cgroup, b->cgroup) && str_eq(a->unit, b->unit);
}

static int parse_entry(struct ctx *x, const config_setting_t *g, const char *path,
                       struct workload_entry *e)
{
    bool has[NKW(sel_kws)] = {false};
    const config_setting_t *sel;
    const config_setting_t *rate;
    char sub[512];
    int r;

    e->line = line_of(g);
    if ((r = walk(x, g, path, entry_kws, NKW(entry_kws), e, NULL)) != 0) {
        return r;
    }
    sel = config_setting_get_member(g, "selectors");
    join(sub, sizeof(sub), path, "selectors");
    if ((r = walk(x, sel, sub, sel_kws, NKW(sel_kws), &e->sel, has)) != 0) {
        return r;
    }
    e->sel.has_uid = has[0];
    e->sel.has_gid = has[1];
    e->sel.has_sha256 = has[3];
    if (sel_empty(&e->sel)) {
        return fail(x, (sel), sub, "an entry needs at least one selector");
    }
    rate = config_setting_get_member(g, "rate");
    join(sub, sizeof(sub), path, "rate");
    if (rate != NULL) {
        if ((r = walk(x, rate, sub, rate_kws, NKW(rate_kws), e, NULL)) != 0) {
            return r;
        }
        e->has_rate = true;
    }
    join(sub, sizeof(sub), path, "keys");
    if ((r = parse_keys(x, config_setting_get_member(g, "keys"), sub, e)) != 0) {
        return r;
    }
    if (e->tier == CONF_TIER_CRITICAL) {
        join(sub, sizeof(sub), path, "tier");
        if (!e->sel.has_sha256 && e->sel.exe == NULL) {
            return fail(x, g, sub, "a critical entry needs a sha256 or exe selector");
        }
        if (!e->has_rate) {
            return fail(x, g, sub, "a critical entry needs a rate limit");
        }
    }
    return AD_OK;
}

static int parse_workloads(struct ctx *x, const config_setting_t *l, struct agentd_conf *c)
{
    char path[64];
    int n;
    int r;

    if (l == NULL) {
        return AD_OK;
    }
    if (config_setting_type(l) != CONFIG_TYPE_LIST) {
        return fail(x, (l), "workloads", "expected a list ( { ... }, ... )");
    }
    n = config_setting_length(l);
    if (n > CONF_ENTRIES_MAX) {
        return fail(x, (l), "workloads", "%d entries, at most %d", n, CONF_ENTRIES_MAX);
    }
    if (n == 0) {
        return AD_OK;
    }
    if ((c->workloads = calloc((size_t)n, sizeof(*c->workloads))) == NULL) {
        return oom(x);
    }
    for (int i = 0; i < n; i++) {
        struct workload_entry *e = &c->workloads[i];

        path_fmt(path, sizeof(path), "workloads[%d]", i);
        c->n_workloads = (size_t)i + 1;
        if ((r = parse_entry(x, config_setting_get_elem(l, (unsigned)i), path, e)) != 0) {
            return r;
        }
        for (int j = 0; j < i; j++) {
            const struct workload_entry *o = &c->workloads[j];

            if (strcmp(o->name, e->name) == 0) {
                return fail(x, config_setting_get_elem(l, (unsigned)i), path,
                            "duplicate entry name \"%s\" (first at line %d)", e->name, o->line);
            }
            if (sel_equal(&o->sel, &e->sel)) {
                return fail(x, config_setting_get_elem(l, (unsigned)i), path,
                            "selectors identical to entry \"%s\" (line %d): no caller could "
                            "be told apart",
                            o->name, o->line);
            }
        }
    }
    return AD_OK;
}

/* agentd.enroll: absent leaves enrollment off (and every field zero). */
static int parse_enroll(struct ctx *x, const config_setting_t *g, struct conf_enroll *e)
{
    int r;

    if (g == NULL) {
        return AD_OK;
    }
    if ((r = walk(x, g, "agentd.enroll", enroll_kws, NKW(enroll_kws), e, NULL)) != 0) {
        return r;
    }
    if (e->retry_max_s < e->retry_min_s) {
        return fail(x,
                    config_setting_get_member(g, "retry_max_s") != NULL
                        ? config_setting_get_member(g, "retry_max_s")
                        : g,
                    "agentd.enroll.retry_max_s", "%u is below retry_min_s (%u)", e->retry_max_s,
                    e->retry_min_s);
    }
    e->is_enabled = true;
    return AD_OK;
}

static int parse_root(struct ctx *x, const config_t *cfg, struct agentd_conf *c)
{
    const config_setting_t *root = config_root_setting(cfg);
    const config_setting_t *ad;
    bool has_audit_path[NKW(audit_kws)] = {false};
    int r;

    if ((r = walk(x, root, "", top_kws, NKW(top_kws), c, NULL)) != 0) {
        return r;
    }
    ad = config_setting_get_member(root, "agentd");
    if ((r = walk(x, ad, "agentd", agentd_kws, NKW(agentd_kws), c, NULL)) != 0 ||
        (r = walk(x, ad != NULL ? config_setting_get_member(ad, "audit") : NULL, "agentd.audit",
                  audit_kws, NKW(audit_kws), &c->audit, has_audit_path)) != 0 ||
        (r = walk(x, ad != NULL ? config_setting_get_member(ad, "token") : NULL, "agentd.token",
                  token_kws, NKW(token_kws), &c->token_label, NULL)) != 0) {
        return r;
    }
    if ((r = parse_enroll(x, ad != NULL ? config_setting_get_member(ad, "enroll") : NULL,
                          &c->enroll)) != 0) {
        return r;
    }
    if (c->max_connections_per_uid > c->max_connections) {
        return fail(x, (ad), "agentd.max_connections_per_uid", "%u is above max_connections (%u)",
                    c->max_connections_per_uid, c->max_connections);
    }
    if (c->audit.path == NULL) { /* default depends on state_dir */
        size_t n = strlen(c->state_dir) + sizeof("/audit.log");

        if ((c->audit.path = malloc(n)) == NULL) {
            return oom(x);
        }
        snprintf(c->audit.path, n, "%s/audit.log", c->state_dir);
    }
    return parse_workloads(x, config_setting_get_member(root, "workloads"), c);
}

static int load(const char *path, const char *text, const char *name, struct agentd_conf **ret,
                char *err, size_t errlen)
{
    struct ctx x = {.file = name, .err = err, .errlen = errlen, .rc = 0};
    struct agentd_conf *c = NULL;
    config_t cfg;
    int ok;
    int r;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    config_init(&cfg);
    ok = text != NULL ? config_read_string(&cfg, text) : config_read_file(&cfg, path);
    if (!ok) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO) {
            if (err != NULL && errlen > 0) {
                snprintf(err, errlen, "%s: cannot read file", name);
            }
            r = AD_ERR_SYSTEM;
        } else {
            if (err != NULL && errlen > 0) {
                const char *f = config_error_file(&cfg);
                const char *t = config_error_text(&cfg);

                snprintf(err, errlen, "%s:%d: syntax: %s", f != NULL ? f : name,
                         config_error_line(&cfg), t != NULL ? t : "parse error");
            }
            r = AD_ERR_CONFIG;
        }
        goto out;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->path = strdup(name)) == NULL) {
        r = oom(&x);
        goto out;
    }
    if ((r = parse_root(&x, &cfg, c)) != 0) {
        goto out;
    }
    *ret = c; /* caller owns it now */
    c = NULL;
out:
    conf_free(c);
    config_destroy(&cfg);
    return r;
}

int conf_load(const char *path, struct agentd_conf **ret, char *err, size_t errlen)
{
    if (path == NULL || ret == NULL) {
        return AD_ERR_INVALID;
    }
    return load(path, NULL, path, ret, err, errlen);
}

int conf_load_string(const char *text, const char *name, struct agentd_conf **ret, char *err,
                     size_t errlen)
{
    if (text == NULL || ret == NULL) {
        return AD_ERR_INVALID;
    }
    return load(NULL, text, name != NULL ? name : "<string>", ret, err, errlen);
}

static void entry_clear(struct workload_entry *e)
{
    for (size_t i = 0; i < e->n_keys; i++) {
        free(e->keys[i].name);
        free(e->keys[i].type_name);
    }
    free(e->keys);
    free(e->name);
    free(e->spiffe_id);
    free(e->sel.exe);
    free(e->sel.cgroup);
    free(e->sel.unit);
}

void conf_free(struct agentd_conf *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->n_workloads; i++) {
        entry_clear(&c->workloads[i]);
    }
    free(c->workloads);
    free(c->path);
    free(c->tcti);
    free(c->state_dir);
    free(c->socket);
    free(c->admin_group);
    free(c->audit.path);
    free(c->token_label);
    free(c->enroll.url);
    free(c->enroll.ca_bundle);
    free(c->enroll.host_class);
    free(c);
}

const struct workload_entry *conf_find_entry(const struct agentd_conf *c, const char *name)
{
    if (c == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < c->n_workloads; i++) {
        if (strcmp(c->workloads[i].name, name) == 0) {
            return &c->workloads[i];
        }
    }
    return NULL;
}

const struct conf_key *conf_find_key(const struct workload_entry *e, const char *name)
{
    if (e == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < e->n_keys; i++) {
        if (strcmp(e->keys[i].name, name) == 0) {
            return &e->keys[i];
        }
    }
    return NULL;
}

const char *conf_ek_type_name(enum conf_ek_type t)
{
    switch (t) {
    case CONF_EK_RSA_2048:
        return "rsa2048";
    case CONF_EK_EC_P256:
        return "p256";
    case CONF_EK_EC_P384:
        return "p384";
    }
    return "unknown";
}

const char *conf_tier_name(enum conf_tier t)
{
    switch (t) {
    case CONF_TIER_CRITICAL:
        return "critical";
    case CONF_TIER_STANDARD:
        return "standard";
    case CONF_TIER_BATCH:
        return "batch";
    }
    return "unknown";
}
