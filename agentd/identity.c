#include "identity.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "atomic_file.h"
#include "conf.h"
#include "enroll.h"
#include "identity_tpm.h"
#include "keyblob.h"
#include "keystore.h"
#include "log.h"
#include "server.h"
#include "worker.h"

#define PEM_MAX (64 * 1024)
#define ERR_MAX 512
#define TD_MAX 255
#define HOST_ID_LEN 64

struct identity {
    pthread_t thread;
    bool has_thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int efd;
    char *dir; /* state_dir/identity */
    /* Guarded by lock. */
    bool is_stopping;
    struct conf_ref *conf;
    struct identity_request *todo;
    struct identity_request *done;
    char *spiffe_id; /* published copies of the thread's state, for status and LIST */
    int64_t host_not_after;
    struct certinfo *bundle;
    size_t n_bundle;
    int64_t last_contact;
    int64_t last_error_at;
    char last_error[ERR_MAX];
    int64_t next_due; /* 0: nothing scheduled */
    char *keys_json;
    /* Loop thread only. */
    size_t n_pending;
    /* Identity thread only (and identity_new before it starts). */
    struct identity_tpm it;
    bool is_enrolled;
    char td[TD_MAX + 1];
    char host_id[HOST_ID_LEN + 1];
    int64_t host_issued_at;
    unsigned failures; /* consecutive failed cycles: the backoff exponent */
};

/* A step report under construction (NULL report: lines only go to the log). */
struct report {
    struct identity_request *rq;
};

static void report_add(struct report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report_add(struct report *rep, const char *fmt, ...)
{
    struct identity_request *rq = rep != NULL ? rep->rq : NULL;
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_info("identity: %s", line);
    if (rq == NULL || n < 0) {
        return;
    }
    if ((size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1;
    }
    if (rq->text == NULL && (rq->text = calloc(1, IDENTITY_REPORT_MAX)) == NULL) {
        return;
    }
    if (rq->len + (size_t)n + 2 > IDENTITY_REPORT_MAX) {
        return; /* the report is capped; the log has every line */
    }
    memcpy(rq->text + rq->len, line, (size_t)n);
    rq->len += (size_t)n;
    rq->text[rq->len++] = '\n';
    rq->text[rq->len] = '\0';
}

static void enroll_line(const char *line, void *arg)
{
    report_add(arg, "%s", line);
}

static int is_cancelled(void *arg)
{
    struct identity *id = arg;

    return __atomic_load_n(&id->is_stopping, __ATOMIC_RELAXED) ? 1 : 0;
}

static void iso_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
        snprintf(out, 32, "never");
        return;
    }
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int file_path(const struct identity *id, const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", id->dir, name);

    return n < 0 || (size_t)n >= size ? AD_ERR_TOO_LARGE : AD_OK;
}

/* ---- status record ------------------------------------------------------ */

/* Caller holds the lock. */
static void status_save_locked(struct identity *id)
{
    json_object *o = json_object_new_object();
    const char *text;
    char path[4200];

    if (o == NULL || file_path(id, "status.json", path, sizeof(path)) != AD_OK) {
        json_object_put(o);
        return;
    }
    json_object_object_add(o, "last_contact", json_object_new_int64(id->last_contact));
    json_object_object_add(o, "last_error_at", json_object_new_int64(id->last_error_at));
    json_object_object_add(o, "last_error", json_object_new_string(id->last_error));
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    if (text != NULL && atomic_file_write(path, text, strlen(text), 0600) != AD_OK) {
        log_warn("identity: status record not saved");
    }
    json_object_put(o);
}

static void status_load(struct identity *id)
{
    json_object *o = NULL, *v = NULL;
    char path[4200];
    char *text = NULL;
    size_t len = 0;

    if (file_path(id, "status.json", path, sizeof(path)) != AD_OK ||
        atomic_file_read(path, 4096, &text, &len) != AD_OK) {
        return;
    }
    if ((o = json_tokener_parse(text)) != NULL) {
        if (json_object_object_get_ex(o, "last_contact", &v)) {
            id->last_contact = json_object_get_int64(v);
        }
        if (json_object_object_get_ex(o, "last_error_at", &v)) {
            id->last_error_at = json_object_get_int64(v);
        }
        if (json_object_object_get_ex(o, "last_error", &v) &&
            json_object_is_type(v, json_type_string)) {
            snprintf(id->last_error, sizeof(id->last_error), "%s", json_object_get_string(v));
        }
    }
    json_object_put(o);
    free(text);
}

/* An answer came from the CA (r says whether it was a success). */
static void note_contact(struct identity *id, int r, const char *err)
{
    int64_t now = (int64_t)time(NULL);

    pthread_mutex_lock(&id->lock);
    if (r != AD_ERR_CLOSED && r != AD_ERR_TOO_LARGE) {
        id->last_contact = now; /* the CA answered, even if it refused */
    }
    if (r != AD_OK) {
        id->last_error_at = now;
        snprintf(id->last_error, sizeof(id->last_error), "%s", err);
    }
    status_save_locked(id);
    pthread_mutex_unlock(&id->lock);
}

/* ---- host enrollment ---------------------------------------------------- */

static void options_of(struct identity *id, const struct conf_enroll *ec, struct report *rep,
                       struct enroll_options *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->url = ec->url;
    ret->ca_bundle = ec->ca_bundle;
    ret->host_class = ec->host_class;
    ret->timeout_s = (long)ec->timeout_s;
    ret->report = enroll_line;
    ret->report_arg = rep;
    ret->is_cancelled = is_cancelled;
    ret->cancel_arg = id;
}

/* "spiffe://<td>/host/<64 hex>" -> td and the hex id. */
static int parse_host_id(const char *id, char td[TD_MAX + 1], char hex[HOST_ID_LEN + 1])
{
    static const char scheme[] = "spiffe://";
    const char *p;
    const char *slash;

    if (id == NULL || strncmp(id, scheme, strlen(scheme)) != 0) {
        return AD_ERR_FORMAT;
    }
    p = id + strlen(scheme);
    if ((slash = strchr(p, '/')) == NULL || slash == p || (size_t)(slash - p) > TD_MAX ||
        strncmp(slash, "/host/", 6) != 0 || strlen(slash + 6) != HOST_ID_LEN ||
        strspn(slash + 6, "0123456789abcdef") != HOST_ID_LEN) {
        return AD_ERR_FORMAT;
    }
    memcpy(td, p, (size_t)(slash - p));
    td[slash - p] = '\0';
    memcpy(hex, slash + 6, HOST_ID_LEN + 1);
    return AD_OK;
}

static void publish_bundle(struct identity *id, struct certinfo *list, size_t n)
{
    pthread_mutex_lock(&id->lock);
    certinfo_list_free(id->bundle, id->n_bundle);
    id->bundle = list;
    id->n_bundle = n;
    pthread_mutex_unlock(&id->lock);
}

static void publish_host(struct identity *id, const struct certinfo *host)
{
    char *copy = host->uri != NULL ? strdup(host->uri) : NULL;

    pthread_mutex_lock(&id->lock);
    free(id->spiffe_id);
    id->spiffe_id = copy;
    id->host_not_after = host->not_after;
    pthread_mutex_unlock(&id->lock);
}

/* Write what the CA issued: blobs and bundle first, host.pem last (it marks "enrolled"). */
static int save_host(struct identity *id, const struct enroll_result *res)
{
    char ak[4200], key[4200], bundle[4200], host[4200];
    int r;

    if ((r = file_path(id, "ak.tss2", ak, sizeof(ak))) != AD_OK ||
        (r = file_path(id, "host.tss2", key, sizeof(key))) != AD_OK ||
        (r = file_path(id, "bundle.pem", bundle, sizeof(bundle))) != AD_OK ||
        (r = file_path(id, "host.pem", host, sizeof(host))) != AD_OK) {
        return r;
    }
    if (id->it.new_ak_blob == NULL || id->it.new_host_blob == NULL) {
        return AD_ERR_INTERNAL;
    }
    if ((r = keyblob_write_file(ak, id->it.new_ak_blob)) != AD_OK ||
        (r = keyblob_write_file(key, id->it.new_host_blob)) != AD_OK ||
        (r = atomic_file_write(bundle, res->bundle_pem, strlen(res->bundle_pem), 0600)) != AD_OK ||
        (r = atomic_file_write(host, res->cert_pem, strlen(res->cert_pem), 0600)) != AD_OK) {
        return r;
    }
    return AD_OK;
}

/* The CA's answer is checked by enroll_run; here: its names, and keep it. */
static int install_host(struct identity *id, const struct enroll_result *res, struct report *rep)
{
    struct certinfo host, *list = NULL;
    char td[TD_MAX + 1], hex[HOST_ID_LEN + 1];
    size_t n = 0;
    int r;

    memset(&host, 0, sizeof(host));
    if ((r = parse_host_id(res->spiffe_id, td, hex)) != AD_OK ||
        (r = certinfo_from_pem(res->cert_pem, &host)) != AD_OK ||
        (r = certinfo_list_from_pem(res->bundle_pem, &list, &n)) != AD_OK) {
        report_add(rep, "error: the CA's host certificate or bundle is unusable (%s)",
                   ad_strerror(r));
        goto out;
    }
    if ((r = save_host(id, res)) != AD_OK) {
        report_add(rep, "error: saving the identity under %s failed (%s)", id->dir, ad_strerror(r));
        goto out;
    }
    identity_tpm_commit(&id->it);
    memcpy(id->td, td, sizeof(td));
    memcpy(id->host_id, hex, sizeof(hex));
    id->host_issued_at = (int64_t)time(NULL);
    id->is_enrolled = true;
    publish_host(id, &host);
    publish_bundle(id, list, n);
    list = NULL;
    report_add(rep, "saved AK, host key, host certificate and trust bundle under %s", id->dir);
out:
    certinfo_list_free(list, n);
    certinfo_clear(&host);
    return r;
}

static int enroll_host(struct identity *id, const struct conf_enroll *ec, struct report *rep)
{
    struct enroll_options opt;
    struct enroll_result res = {0};
    struct enroll_tpm ops;
    char err[ERR_MAX];
    int r;

    id->it.ek = ec->ek_type;
    identity_tpm_host_ops(&id->it, &ops);
    options_of(id, ec, rep, &opt);
    report_add(rep, "enrolling with %s (host class %s, %s EK)", ec->url, ec->host_class,
               conf_ek_type_name(ec->ek_type));
    if ((r = enroll_run(&opt, &ops, &res, err, sizeof(err))) == AD_OK) {
        r = install_host(id, &res, rep);
        snprintf(err, sizeof(err), "saving the host identity failed: %s", ad_strerror(r));
    }
    if (r != AD_OK) {
        identity_tpm_abort(&id->it);
        report_add(rep, "error: enrollment failed: %s", err);
        log_warn("identity: enrollment failed: %s", err);
    }
    note_contact(id, r, err);
    enroll_result_clear(&res);
    return r;
}

/* ---- workload certificates ---------------------------------------------- */

struct list_call {
    const struct workload_entry *e;
    struct keystore_pub *pubs;
    size_t n;
    const char *key;
    const char *pem;
    int r;
};

static void run_list(void *ctx, void *arg)
{
    struct list_call *c = arg;

    c->r = keystore_list(ctx, c->e, &c->pubs, &c->n);
}

static void run_set_cert(void *ctx, void *arg)
{
    struct list_call *c = arg;

    c->r = keystore_set_cert(ctx, c->e, c->key, c->pem);
}

/* The path of e's SPIFFE ID when its trust domain is the CA's, else NULL. */
static const char *path_in_domain(const struct identity *id, const struct workload_entry *e)
{
    const char *td = e->spiffe_id + strlen("spiffe://");
    size_t n = strlen(id->td);

    if (strncmp(td, id->td, n) != 0 || td[n] != '/' || td[n + 1] == '\0') {
        return NULL;
    }
    return td + n + 1;
}

/* The CA's bundle came with a certificate: keep it when it changed. */
static void update_bundle(struct identity *id, const char *pem)
{
    struct certinfo *list = NULL;
    char path[4200];
    size_t n = 0;
    bool is_same;

    if (certinfo_list_from_pem(pem, &list, &n) != AD_OK) {
        return;
    }
    pthread_mutex_lock(&id->lock);
    is_same = n == id->n_bundle;
    for (size_t i = 0; is_same && i < n; i++) {
        is_same = list[i].der_len == id->bundle[i].der_len &&
                  memcmp(list[i].der, id->bundle[i].der, list[i].der_len) == 0;
    }
    pthread_mutex_unlock(&id->lock);
    if (is_same || file_path(id, "bundle.pem", path, sizeof(path)) != AD_OK ||
        atomic_file_write(path, pem, strlen(pem), 0600) != AD_OK) {
        certinfo_list_free(list, n);
        return;
    }
    log_info("identity: trust bundle changed (%zu certificates)", n);
    publish_bundle(id, list, n);
}

/* certify -> issue for key of e; the certificate replaces the key's on success. */
static int issue(struct identity *id, const struct conf_enroll *ec, const struct workload_entry *e,
                 const char *key, const char *path, struct report *rep)
{
    struct enroll_options opt;
    struct enroll_result res = {0};
    struct enroll_tpm ops;
    struct list_call set = {.e = e, .key = key};
    struct certinfo ci;
    char err[ERR_MAX];
    int r;

    memset(&ci, 0, sizeof(ci));
    identity_tpm_workload_ops(&id->it, e, key, &ops);
    options_of(id, ec, NULL, &opt); /* per-step lines of a workload certificate: log only */
    if ((r = enroll_svid(&opt, &ops, id->host_id, path, &res, err, sizeof(err))) == AD_OK) {
        if (strcmp(res.spiffe_id, e->spiffe_id) != 0) {
            snprintf(err, sizeof(err), "the CA issued %s, not %s", res.spiffe_id, e->spiffe_id);
            r = AD_ERR_DENIED;
        } else {
            set.pem = res.cert_pem;
            worker_run_sync(id->it.w, run_set_cert, &set);
            if ((r = set.r) != AD_OK) {
                snprintf(err, sizeof(err), "storing the certificate failed: %s", ad_strerror(r));
            }
        }
    }
    note_contact(id, r, err);
    if (r != AD_OK) {
        report_add(rep, "error: certificate for %s/%s (%s): %s", e->name, key, e->spiffe_id, err);
        goto out;
    }
    update_bundle(id, res.bundle_pem);
    if (certinfo_from_pem(res.cert_pem, &ci) == AD_OK) {
        char exp[32];

        iso_time(ci.not_after, exp);
        report_add(rep, "certificate for %s/%s: %s serial %s, expires %s", e->name, key,
                   res.spiffe_id, ci.serial_hex, exp);
    }
out:
    certinfo_clear(&ci);
    enroll_result_clear(&res);
    return r;
}

/* Renew at half the lifetime the certificate had when it was stored. */
static int64_t renew_at(const struct keystore_pub *p)
{
    int64_t from = p->cert_issued_at > 0 ? p->cert_issued_at : p->cert.not_before;

    if (p->cert.der == NULL) {
        return 0;
    }
    return p->cert.not_after <= from ? from : from + (p->cert.not_after - from) / 2;
}

static bool is_unreachable(int r)
{
    return r == AD_ERR_CLOSED || r == AD_ERR_TOO_LARGE;
}

/* What one cycle learned. */
struct cycle {
    bool is_forced;
    bool may_issue;
    int64_t now;
    int64_t next;
    unsigned issued;
    unsigned failed;
    json_object *keys;
};

static void key_status(struct cycle *cy, const struct workload_entry *e,
                       const struct keystore_pub *p, int64_t when)
{
    json_object *k = json_object_new_object();
    char exp[32], due[32];

    if (k == NULL) {
        return;
    }
    iso_time(p->cert.der != NULL ? p->cert.not_after : 0, exp);
    iso_time(when, due);
    json_object_object_add(k, "entry", json_object_new_string(e->name));
    json_object_object_add(k, "key", json_object_new_string(p->name));
    json_object_object_add(k, "spiffe_id", json_object_new_string(e->spiffe_id));
    json_object_object_add(k, "serial", json_object_new_string(p->cert.serial_hex));
    json_object_object_add(k, "not_after", json_object_new_string(exp));
    json_object_object_add(k, "renew_at", json_object_new_string(due));
    json_object_array_add(cy->keys, k);
}

/* Issue what is due among e's keys; returns how many were issued. */
static unsigned issue_due(struct identity *id, const struct conf_enroll *ec,
                          const struct workload_entry *e, const char *path,
                          const struct list_call *lc, struct cycle *cy, struct report *rep)
{
    unsigned issued = 0;
    int r;

    for (size_t i = 0; i < lc->n && cy->may_issue; i++) {
        const struct keystore_pub *p = &lc->pubs[i];

        if (!cy->is_forced && p->cert.der != NULL && cy->now < renew_at(p)) {
            continue;
        }
        if ((r = issue(id, ec, e, p->name, path, rep)) == AD_OK) {
            issued++;
        } else {
            cy->failed++;
            cy->may_issue = !is_unreachable(r); /* one timeout per cycle is enough */
        }
    }
    return issued;
}

static void cycle_entry(struct identity *id, const struct conf_enroll *ec,
                        const struct workload_entry *e, struct cycle *cy, struct report *rep)
{
    struct list_call lc = {.e = e};
    const char *path = path_in_domain(id, e);
    unsigned issued;

    if (path == NULL) {
        if (cy->is_forced) {
            report_add(rep,
                       "error: entry %s: %s is not in the CA's trust domain \"%s\": no "
                       "certificate",
                       e->name, e->spiffe_id, id->td);
            cy->failed++;
        }
        return;
    }
    worker_run_sync(id->it.w, run_list, &lc);
    if (lc.r == AD_OK && (issued = issue_due(id, ec, e, path, &lc, cy, rep)) > 0) {
        cy->issued += issued;
        keystore_pubs_free(lc.pubs, lc.n); /* list again: the new certificates */
        lc.pubs = NULL;
        lc.n = 0;
        worker_run_sync(id->it.w, run_list, &lc);
    }
    if (lc.r != AD_OK) {
        log_warn("identity: keys of %s: %s", e->name, ad_strerror(lc.r));
        return;
    }
    for (size_t i = 0; i < lc.n; i++) {
        int64_t when = renew_at(&lc.pubs[i]);

        key_status(cy, e, &lc.pubs[i], when);
        if (when < cy->next) {
            cy->next = when; /* 0 (no certificate yet) means: due now */
        }
    }
    keystore_pubs_free(lc.pubs, lc.n);
}

/* Jittered exponential backoff: retry_min * 2^failures, capped, minus up to half. */
static int64_t backoff_s(const struct conf_enroll *ec, unsigned failures)
{
    uint64_t d = ec->retry_min_s;
    uint32_t rnd = 0;

    for (unsigned i = 1; i < failures && d < ec->retry_max_s; i++) {
        d *= 2;
    }
    if (d > ec->retry_max_s) {
        d = ec->retry_max_s;
    }
    if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1) {
        rnd = 0;
    }
    return (int64_t)(d - (d / 2) * (rnd % 1001) / 1000);
}

/* Host certificate past half its lifetime: enroll again (new AK, new host key). */
static bool host_is_due(const struct identity *id, int64_t now)
{
    /* host_not_after is written only by this thread: reading it needs no lock here */
    return id->is_enrolled &&
           now >= id->host_issued_at + (id->host_not_after - id->host_issued_at) / 2;
}

/*
 * One pass over every workload key: issue what is due (everything when
 * forced), publish the status, schedule the next pass. Returns the failures.
 */
static unsigned run_cycle(struct identity *id, const struct agentd_conf *c, bool is_forced,
                          struct report *rep)
{
    const struct conf_enroll *ec = &c->enroll;
    struct cycle cy = {.is_forced = is_forced, .now = (int64_t)time(NULL), .next = INT64_MAX};
    char *text = NULL;
    int64_t due = 0;

    cy.may_issue = id->is_enrolled && (is_forced || ec->renew);
    if (cy.may_issue && !is_forced && host_is_due(id, cy.now)) {
        log_info("identity: host certificate at half-life: enrolling again");
        if (enroll_host(id, ec, NULL) != AD_OK) {
            cy.failed++;
            cy.may_issue = false;
        }
    }
    if ((cy.keys = json_object_new_array()) == NULL) {
        return cy.failed + 1;
    }
    for (size_t i = 0; id->is_enrolled && i < c->n_workloads; i++) {
        cycle_entry(id, ec, &c->workloads[i], &cy, rep);
    }
    if (id->is_enrolled) {
        int64_t h = id->host_issued_at + (id->host_not_after - id->host_issued_at) / 2;

        cy.next = h < cy.next ? h : cy.next;
    }
    if (cy.failed > 0) {
        int64_t wait = backoff_s(ec, ++id->failures);

        log_warn("identity: %u certificate request(s) failed; valid certificates are still "
                 "served; retrying in %lld s",
                 cy.failed, (long long)wait);
        cy.next = cy.now + wait;
    } else {
        id->failures = 0;
    }
    if (ec->renew && id->is_enrolled) {
        due = cy.next < cy.now + 1 ? cy.now + 1 : cy.next;
    }
    if ((text = strdup(json_object_to_json_string_ext(cy.keys, JSON_C_TO_STRING_PLAIN))) == NULL) {
        log_warn("identity: status not updated: out of memory");
    }
    json_object_put(cy.keys);
    pthread_mutex_lock(&id->lock);
    id->next_due = due;
    if (text != NULL) {
        free(id->keys_json);
        id->keys_json = text;
    }
    pthread_mutex_unlock(&id->lock);
    if (rep != NULL && cy.issued > 0) {
        report_add(rep, "%u workload certificate(s) issued", cy.issued);
    }
    return cy.failed;
}

/* ---- the thread --------------------------------------------------------- */

static struct conf_ref *conf_take(struct identity *id)
{
    struct conf_ref *ref;

    pthread_mutex_lock(&id->lock);
    ref = conf_ref_get(id->conf);
    pthread_mutex_unlock(&id->lock);
    return ref;
}

static void handle_request(struct identity *id, struct identity_request *rq)
{
    struct conf_ref *ref = conf_take(id);
    const struct agentd_conf *c = ref->c;
    struct report rep = {rq};
    unsigned failed;
    char *spiffe_id = NULL;

    rq->is_ok = false;
    if ((rq->flags & IDENTITY_CERTS_ONLY) == 0 || !id->is_enrolled) {
        if (enroll_host(id, &c->enroll, &rep) != AD_OK) {
            goto out;
        }
    } else {
        report_add(&rep, "host already enrolled; issuing workload certificates");
    }
    failed = run_cycle(id, c, true, &rep);
    pthread_mutex_lock(&id->lock);
    spiffe_id = id->spiffe_id != NULL ? strdup(id->spiffe_id) : NULL;
    pthread_mutex_unlock(&id->lock);
    if (failed > 0) {
        report_add(&rep, "error: enrolled as %s, but %u workload certificate request(s) failed",
                   spiffe_id != NULL ? spiffe_id : "?", failed);
        goto out;
    }
    report_add(&rep, "ok: enrolled as %s", spiffe_id != NULL ? spiffe_id : "?");
    rq->is_ok = true;
out:
    free(spiffe_id);
    conf_ref_put(ref);
}

static void post_done(struct identity *id, struct identity_request *rq)
{
    struct identity_request **pp = &id->done;
    uint64_t one = 1;

    rq->next = NULL;
    while (*pp != NULL) {
        pp = &(*pp)->next;
    }
    *pp = rq;
    if (write(id->efd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
        log_error("identity: eventfd write: %s", strerror(errno));
    }
}

static void wait_until(struct identity *id, int64_t due)
{
    struct timespec ts = {.tv_sec = (time_t)due, .tv_nsec = 0};

    if (due == 0) {
        pthread_cond_wait(&id->cond, &id->lock);
    } else {
        (void)pthread_cond_timedwait(&id->cond, &id->lock, &ts);
    }
}

static void *identity_main(void *arg)
{
    struct identity *id = arg;
    struct identity_request *rq;
    struct conf_ref *ref;

    pthread_mutex_lock(&id->lock);
    while (!id->is_stopping) {
        if ((rq = id->todo) != NULL) {
            id->todo = rq->next;
            pthread_mutex_unlock(&id->lock);
            handle_request(id, rq);
            pthread_mutex_lock(&id->lock);
            post_done(id, rq);
            continue;
        }
        if (id->next_due != 0 && (int64_t)time(NULL) >= id->next_due) {
            id->next_due = 0;
            pthread_mutex_unlock(&id->lock);
            ref = conf_take(id);
            (void)run_cycle(id, ref->c, false, NULL);
            conf_ref_put(ref);
            pthread_mutex_lock(&id->lock);
            continue;
        }
        wait_until(id, id->next_due);
    }
    pthread_mutex_unlock(&id->lock);
    return NULL;
}

/* ---- start-up: the saved identity --------------------------------------- */

static int load_text(const struct identity *id, const char *name, char **ret)
{
    char path[4200];
    size_t len = 0;
    int r;

    if ((r = file_path(id, name, path, sizeof(path))) != AD_OK) {
        return r;
    }
    return atomic_file_read(path, PEM_MAX, ret, &len);
}

/* host.pem, bundle.pem and ak.tss2 back; anything unusable: not enrolled (enroll again). */
static void load_saved(struct identity *id)
{
    struct certinfo host, *list = NULL;
    struct keyblob *ak = NULL;
    char *pem = NULL, *bundle = NULL;
    char path[4200];
    struct stat st;
    size_t n = 0;
    int r;

    memset(&host, 0, sizeof(host));
    if ((r = load_text(id, "host.pem", &pem)) == AD_ERR_NOT_FOUND) {
        log_info("identity: not enrolled yet (agentctl enroll)");
        return;
    }
    if (r != AD_OK || (r = certinfo_from_pem(pem, &host)) != AD_OK ||
        (r = parse_host_id(host.uri, id->td, id->host_id)) != AD_OK ||
        (r = load_text(id, "bundle.pem", &bundle)) != AD_OK ||
        (r = certinfo_list_from_pem(bundle, &list, &n)) != AD_OK ||
        (r = file_path(id, "ak.tss2", path, sizeof(path))) != AD_OK ||
        (r = keyblob_read_file(path, &ak)) != AD_OK ||
        (r = identity_tpm_load_ak(&id->it, ak)) != AD_OK) {
        log_warn("identity: saved identity under %s unusable (%s): enroll again", id->dir,
                 ad_strerror(r));
        goto out;
    }
    if (file_path(id, "host.pem", path, sizeof(path)) == AD_OK && stat(path, &st) == 0) {
        id->host_issued_at = (int64_t)st.st_mtime;
    }
    id->is_enrolled = true;
    id->spiffe_id = host.uri;
    host.uri = NULL;
    id->host_not_after = host.not_after;
    id->bundle = list;
    id->n_bundle = n;
    list = NULL;
    id->next_due = 1; /* a first pass at once: certificates missing or due while stopped */
    log_info("identity: enrolled as %s", id->spiffe_id);
out:
    certinfo_list_free(list, n);
    certinfo_clear(&host);
    keyblob_free(ak);
    free(pem);
    free(bundle);
}

/* ---- API ------------------------------------------------------------------ */

int identity_new(struct worker *w, struct conf_ref *conf, struct identity **ret)
{
    struct identity *id = calloc(1, sizeof(*id));
    int r;

    if (id == NULL) {
        return AD_ERR_NOMEM;
    }
    pthread_mutex_init(&id->lock, NULL);
    pthread_cond_init(&id->cond, NULL);
    id->efd = -1;
    id->it.w = w;
    id->conf = conf_ref_get(conf);
    if (asprintf(&id->dir, "%s/identity", conf->c->state_dir) < 0) {
        id->dir = NULL;
        r = AD_ERR_NOMEM;
        goto out;
    }
    if ((r = atomic_file_mkdir(id->dir)) != AD_OK) {
        goto out;
    }
    if ((id->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        log_error("identity: eventfd: %s", strerror(errno));
        r = AD_ERR_SYSTEM;
        goto out;
    }
    status_load(id);
    load_saved(id);
    if (!conf->c->enroll.renew) {
        id->next_due = 0; /* no timer; agentctl enroll issues */
    }
    if ((r = pthread_create(&id->thread, NULL, identity_main, id)) != 0) {
        log_error("identity: pthread_create: %s", strerror(r));
        r = AD_ERR_SYSTEM;
        goto out;
    }
    id->has_thread = true;
    *ret = id;
    id = NULL;
    r = AD_OK;
out:
    identity_free(id);
    return r;
}

int identity_fd(const struct identity *id)
{
    return id->efd;
}

void identity_complete(struct identity *id)
{
    struct identity_request *list;
    struct identity_request *next;
    uint64_t cnt;

    if (read(id->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN) {
        log_error("identity: eventfd read: %s", strerror(errno));
    }
    pthread_mutex_lock(&id->lock);
    list = id->done;
    id->done = NULL;
    pthread_mutex_unlock(&id->lock);
    for (; list != NULL; list = next) {
        char *text = list->text;

        next = list->next; /* done() may free the request */
        id->n_pending--;
        list->done(list, text != NULL ? text : "", list->is_ok);
        free(text);
    }
}

void identity_set_conf(struct identity *id, struct conf_ref *conf)
{
    struct conf_ref *old;

    pthread_mutex_lock(&id->lock);
    old = id->conf;
    id->conf = conf_ref_get(conf);
    if (id->next_due != 0) {
        id->next_due = 1; /* new entries or keys: look at once */
    }
    pthread_cond_signal(&id->cond);
    pthread_mutex_unlock(&id->lock);
    conf_ref_put(old);
}

int identity_enroll(struct identity *id, struct identity_request *rq)
{
    struct identity_request **pp;

    if (id->n_pending >= IDENTITY_REQUESTS_MAX) {
        return AD_ERR_RATE;
    }
    rq->next = NULL;
    rq->text = NULL;
    rq->len = 0;
    rq->is_ok = false;
    pthread_mutex_lock(&id->lock);
    for (pp = &id->todo; *pp != NULL; pp = &(*pp)->next) {
    }
    *pp = rq;
    pthread_cond_signal(&id->cond);
    pthread_mutex_unlock(&id->lock);
    id->n_pending++;
    return AD_OK;
}

int identity_bundle(struct identity *id, struct certinfo **ret, size_t *ret_n)
{
    struct certinfo *list = NULL;
    size_t n = 0;
    int r = AD_OK;

    pthread_mutex_lock(&id->lock);
    if (id->n_bundle > 0 && (list = calloc(id->n_bundle, sizeof(*list))) == NULL) {
        r = AD_ERR_NOMEM;
    }
    for (; r == AD_OK && n < id->n_bundle; n++) {
        r = certinfo_copy(&id->bundle[n], &list[n]);
    }
    pthread_mutex_unlock(&id->lock);
    if (r != AD_OK) {
        certinfo_list_free(list, n);
        return r;
    }
    *ret = list;
    *ret_n = n;
    return AD_OK;
}

int identity_status_json(struct identity *id, char **ret)
{
    json_object *o = json_object_new_object();
    char host_exp[32], contact[32], err_at[32], due[32];
    const char *text;
    int r = AD_ERR_NOMEM;

    if (o == NULL) {
        return AD_ERR_NOMEM;
    }
    pthread_mutex_lock(&id->lock);
    iso_time(id->host_not_after, host_exp);
    iso_time(id->last_contact, contact);
    iso_time(id->last_error_at, err_at);
    iso_time(id->next_due > 1 ? id->next_due : 0, due);
    json_object_object_add(o, "enrolled", json_object_new_boolean(id->spiffe_id != NULL));
    json_object_object_add(o, "spiffe_id",
                           id->spiffe_id != NULL ? json_object_new_string(id->spiffe_id) : NULL);
    json_object_object_add(o, "host_cert_not_after", json_object_new_string(host_exp));
    json_object_object_add(o, "bundle_certificates", json_object_new_int64((int64_t)id->n_bundle));
    json_object_object_add(o, "last_contact", json_object_new_string(contact));
    json_object_object_add(o, "last_error", json_object_new_string(id->last_error));
    json_object_object_add(o, "last_error_at", json_object_new_string(err_at));
    json_object_object_add(o, "next_renewal", json_object_new_string(due));
    json_object_object_add(o, "certificates",
                           id->keys_json != NULL ? json_tokener_parse(id->keys_json)
                                                 : json_object_new_array());
    pthread_mutex_unlock(&id->lock);
    if ((text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) != NULL &&
        (*ret = strdup(text)) != NULL) {
        r = AD_OK;
    }
    json_object_put(o);
    return r;
}

void identity_free(struct identity *id)
{
    if (id == NULL) {
        return;
    }
    if (id->has_thread) {
        pthread_mutex_lock(&id->lock);
        __atomic_store_n(&id->is_stopping, true, __ATOMIC_RELAXED);
        pthread_cond_signal(&id->cond);
        pthread_mutex_unlock(&id->lock);
        pthread_join(id->thread, NULL);
    }
    /* Requests never started get an answer too (their connections are released). */
    pthread_mutex_lock(&id->lock);
    while (id->todo != NULL) {
        struct identity_request *rq = id->todo;

        id->todo = rq->next;
        rq->is_ok = false;
        post_done(id, rq);
    }
    pthread_mutex_unlock(&id->lock);
    if (id->efd >= 0) {
        identity_complete(id);
        close(id->efd);
    }
    identity_tpm_clear(&id->it);
    certinfo_list_free(id->bundle, id->n_bundle);
    conf_ref_put(id->conf);
    free(id->spiffe_id);
    free(id->keys_json);
    free(id->dir);
    pthread_mutex_destroy(&id->lock);
    pthread_cond_destroy(&id->cond);
    free(id);
}
