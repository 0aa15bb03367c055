#include "admin.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"
#include "conn.h"
#include "identity.h"
#include "keystore.h"
#include "match.h"
#include "worker.h"

#ifndef AGENTD_VERSION
#define AGENTD_VERSION "0.1.0"
#endif

bool admin_is_allowed(uid_t uid, gid_t gid, const char *group)
{
    struct group grbuf;
    struct group *gr = NULL;
    struct passwd pwbuf;
    struct passwd *pw = NULL;
    char buf[16384];

    if (uid == 0) {
        return true;
    }
    if (group == NULL || group[0] == '\0' ||
        getgrnam_r(group, &grbuf, buf, sizeof(buf), &gr) != 0 || gr == NULL) {
        return false;
    }
    if (gr->gr_gid == gid) {
        return true;
    }
    /* Supplementary membership by user name (the peer's credentials give only the primary gid). */
    {
        char pwb[16384];

        if (getpwuid_r(uid, &pwbuf, pwb, sizeof(pwb), &pw) != 0 || pw == NULL) {
            return false;
        }
        for (char **m = gr->gr_mem; *m != NULL; m++) {
            if (strcmp(*m, pw->pw_name) == 0) {
                return true;
            }
        }
    }
    return false;
}

static int to_text(json_object *o, char **ret)
{
    const char *s;
    char *out;

    if (o == NULL) {
        return AD_ERR_NOMEM;
    }
    s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    out = s != NULL ? strdup(s) : NULL;
    json_object_put(o);
    if (out == NULL) {
        return AD_ERR_NOMEM;
    }
    *ret = out;
    return AD_OK;
}

static json_object *str_or_null(const char *s)
{
    return s != NULL ? json_object_new_string(s) : NULL;
}

static json_object *hex(const uint8_t *p, size_t n)
{
    char buf[2 * 64 + 1];

    if (n > 64) {
        n = 64;
    }
    for (size_t i = 0; i < n; i++) {
        static const char digits[] = "0123456789abcdef";

        buf[2 * i] = digits[p[i] >> 4];
        buf[2 * i + 1] = digits[p[i] & 15];
    }
    buf[2 * n] = '\0';
    return json_object_new_string(buf);
}

int admin_status_json(const struct daemon *d, char **ret)
{
    json_object *o = json_object_new_object();
    const struct agentd_conf *c = d->conf->c;

    if (o == NULL) {
        return AD_ERR_NOMEM;
    }
    json_object_object_add(o, "version", json_object_new_string(AGENTD_VERSION));
    json_object_object_add(o, "pid", json_object_new_int64((int64_t)getpid()));
    json_object_object_add(
        o, "uptime_s",
        json_object_new_int64((int64_t)((server_now_ns() - d->started_ns) / 1000000000ULL)));
    json_object_object_add(o, "config", json_object_new_string(c->path));
    json_object_object_add(o, "tcti", json_object_new_string(c->tcti));
    json_object_object_add(o, "socket", json_object_new_string(c->socket));
    json_object_object_add(o, "workloads", json_object_new_int64((int64_t)c->n_workloads));
    json_object_object_add(o, "connections",
                           json_object_new_int64((int64_t)server_n_conns(d->srv)));
    json_object_object_add(o, "requests",
                           json_object_new_int64((int64_t)server_n_requests(d->srv)));
    json_object_object_add(o, "tpm_queue",
                           json_object_new_int64((int64_t)worker_pending(d->worker)));
    json_object_object_add(o, "audit_next_seq",
                           json_object_new_int64((int64_t)audit_next_seq(d->audit)));
    if (d->identity != NULL) {
        char *id = NULL;

        if (identity_status_json(d->identity, &id) != AD_OK) {
            json_object_put(o);
            return AD_ERR_NOMEM;
        }
        json_object_object_add(o, "identity", json_tokener_parse(id));
        free(id);
    }
    return to_text(o, ret);
}

static json_object *selectors_json(const struct conf_selectors *s)
{
    json_object *o = json_object_new_object();

    if (o == NULL) {
        return NULL;
    }
    if (s->has_uid) {
        json_object_object_add(o, "uid", json_object_new_int64((int64_t)s->uid));
    }
    if (s->has_gid) {
        json_object_object_add(o, "gid", json_object_new_int64((int64_t)s->gid));
    }
    if (s->exe != NULL) {
        json_object_object_add(o, "exe", json_object_new_string(s->exe));
    }
    if (s->has_sha256) {
        json_object_object_add(o, "sha256", hex(s->sha256, 32));
    }
    if (s->cgroup != NULL) {
        json_object_object_add(o, "cgroup", json_object_new_string(s->cgroup));
    }
    if (s->unit != NULL) {
        json_object_object_add(o, "unit", json_object_new_string(s->unit));
    }
    return o;
}

int admin_workloads_json(const struct daemon *d, struct conn *conns, char **ret)
{
    const struct agentd_conf *c = d->conf->c;
    json_object *o = json_object_new_object();
    json_object *arr = json_object_new_array();

    if (o == NULL || arr == NULL) {
        json_object_put(o);
        json_object_put(arr);
        return AD_ERR_NOMEM;
    }
    json_object_object_add(o, "workloads", arr);
    for (size_t i = 0; i < c->n_workloads; i++) {
        const struct workload_entry *e = &c->workloads[i];
        json_object *w = json_object_new_object();
        json_object *keys = json_object_new_array();
        json_object *callers = json_object_new_array();

        json_object_object_add(w, "name", json_object_new_string(e->name));
        json_object_object_add(w, "spiffe_id", json_object_new_string(e->spiffe_id));
        json_object_object_add(w, "tier", json_object_new_string(conf_tier_name(e->tier)));
        json_object_object_add(w, "selectors", selectors_json(&e->sel));
        for (size_t k = 0; k < e->n_keys; k++) {
            json_object_array_add(keys, json_object_new_string(e->keys[k].name));
        }
        json_object_object_add(w, "keys", keys);
        json_object_object_add(w, "allow_generate", json_object_new_boolean(e->allow_generate));
        for (struct conn *cn = conns; cn != NULL; cn = conn_next(cn)) {
            const struct caller_facts *f = conn_facts(cn);
            const struct workload_entry *m = NULL;
            json_object *p;

            /* A caller whose exe hash is pending is not identified yet: not listed. */
            if (!conn_is_live(cn) || !conn_is_identified(cn) || match_entry(c, f, &m, NULL) != 0 ||
                m != e) {
                continue;
            }
            p = json_object_new_object();
            json_object_object_add(p, "pid", json_object_new_int64((int64_t)f->pid));
            json_object_object_add(p, "uid", json_object_new_int64((int64_t)f->uid));
            json_object_object_add(p, "exe", str_or_null(f->exe));
            json_object_array_add(callers, p);
        }
        json_object_object_add(w, "callers", callers);
        json_object_array_add(arr, w);
    }
    return to_text(o, ret);
}

static json_object *key_obj(const char *entry, const struct keystore_pub *p)
{
    json_object *k = json_object_new_object();

    if (k == NULL) {
        return NULL;
    }
    json_object_object_add(k, "entry", json_object_new_string(entry));
    json_object_object_add(k, "name", json_object_new_string(p->name));
    json_object_object_add(k, "type", json_object_new_string(p->key_type == 0x3 ? "ec" : "rsa"));
    json_object_object_add(k, "bits", json_object_new_int64(p->bits));
    json_object_object_add(k, "generated", json_object_new_boolean(p->is_generated));
    json_object_object_add(k, "id", hex(p->id, sizeof(p->id)));
    return k;
}

int admin_keys_json(struct keystore *ks, const struct agentd_conf *c,
                    const struct workload_entry *e, char **ret)
{
    json_object *o = json_object_new_object();
    json_object *arr = json_object_new_array();
    int r;

    if (o == NULL || arr == NULL) {
        json_object_put(o);
        json_object_put(arr);
        return AD_ERR_NOMEM;
    }
    json_object_object_add(o, "keys", arr);
    for (size_t i = 0; i < c->n_workloads; i++) {
        const struct workload_entry *w = &c->workloads[i];
        struct keystore_pub *pubs = NULL;
        size_t n = 0;

        if (e != NULL && w != e) {
            continue;
        }
        if ((r = keystore_list(ks, w, true, &pubs, &n)) != 0) {
            json_object_put(o);
            return r;
        }
        for (size_t k = 0; k < n; k++) {
            json_object_array_add(arr, key_obj(w->name, &pubs[k]));
        }
        keystore_pubs_free(pubs, n);
    }
    return to_text(o, ret);
}

int admin_key_json(const char *entry, const struct keystore_pub *p, char **ret)
{
    json_object *o = json_object_new_object();

    if (o == NULL) {
        return AD_ERR_NOMEM;
    }
    json_object_object_add(o, "ok", json_object_new_boolean(1));
    json_object_object_add(o, "key", key_obj(entry, p));
    return to_text(o, ret);
}

int admin_deleted_json(const char *entry, const char *key, char **ret)
{
    json_object *o = json_object_new_object();

    if (o == NULL) {
        return AD_ERR_NOMEM;
    }
    json_object_object_add(o, "ok", json_object_new_boolean(1));
    json_object_object_add(o, "entry", json_object_new_string(entry));
    json_object_object_add(o, "deleted", json_object_new_string(key));
    return to_text(o, ret);
}

struct tail_ctx {
    char *buf;
    size_t len;
    size_t max;
};

static int tail_line(const char *line, size_t len, void *arg)
{
    struct tail_ctx *t = arg;

    if (len + 1 > t->max) {
        return AD_OK; /* a line that alone is over the cap is left out */
    }
    /* Keep the newest lines: drop from the front until this one fits. */
    while (t->len + len + 1 > t->max) {
        char *nl = memchr(t->buf, '\n', t->len);
        size_t cut = nl != NULL ? (size_t)(nl - t->buf) + 1 : t->len;

        memmove(t->buf, t->buf + cut, t->len - cut);
        t->len -= cut;
    }
    memcpy(t->buf + t->len, line, len);
    t->len += len;
    t->buf[t->len++] = '\n';
    return AD_OK;
}

int admin_audit_tail(const char *path, size_t n, size_t max, char **ret)
{
    struct tail_ctx t = {.max = max};
    int r;

    if ((t.buf = malloc(max + 1)) == NULL) {
        return AD_ERR_NOMEM;
    }
    if ((r = audit_tail(path, n, tail_line, &t)) != 0) {
        free(t.buf);
        return r;
    }
    if (t.len > 0 && t.buf[t.len - 1] == '\n') {
        t.len--; /* lines are separated, not terminated */
    }
    t.buf[t.len] = '\0';
    *ret = t.buf;
    return AD_OK;
}
