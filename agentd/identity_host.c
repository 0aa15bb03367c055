/* The identity's host side: the step report, the status record, host enrollment. */
#include "identity_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "atomic_file.h"
#include "keyblob.h"
#include "log.h"

void identity_report(struct report *rep, const char *fmt, ...)
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
    identity_report(arg, "%s", line);
}

static int is_cancelled(void *arg)
{
    struct identity *id = arg;

    return __atomic_load_n(&id->is_stopping, __ATOMIC_RELAXED) ? 1 : 0;
}

void identity_iso_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
        snprintf(out, 32, "never");
        return;
    }
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int identity_path(const struct identity *id, const char *name, char *out, size_t size)
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

    if (o == NULL || identity_path(id, "status.json", path, sizeof(path)) != AD_OK) {
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

void identity_status_load(struct identity *id)
{
    json_object *o = NULL, *v = NULL;
    char path[4200];
    char *text = NULL;
    size_t len = 0;

    if (identity_path(id, "status.json", path, sizeof(path)) != AD_OK ||
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
void identity_note_contact(struct identity *id, int r, const char *err)
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

int identity_set_host_pem(struct identity *id, const char *pem)
{
    char *copy = strdup(pem);

    if (copy == NULL) {
        return AD_ERR_NOMEM;
    }
    free(id->host_pem);
    id->host_pem = copy;
    id->host_key = (struct enroll_host_key){id->host_pem, identity_tpm_host_sign, &id->it};
    return AD_OK;
}

void identity_options(struct identity *id, const struct conf_enroll *ec, struct report *rep,
                      struct enroll_options *ret)
{
    memset(ret, 0, sizeof(*ret));
    /* host_not_after is written only by this thread: no lock needed to read it here */
    if (id->is_enrolled && id->host_pem != NULL && id->it.host != NULL) {
        if ((int64_t)time(NULL) < id->host_not_after) {
            ret->host_key = &id->host_key;
        } else {
            identity_report(rep, "host certificate expired: no client certificate presented");
        }
    }
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
int identity_parse_host_id(const char *id, char td[TD_MAX + 1], char hex[HOST_ID_LEN + 1])
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

void identity_publish_bundle(struct identity *id, struct certinfo *list, size_t n)
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

    if ((r = identity_path(id, "ak.tss2", ak, sizeof(ak))) != AD_OK ||
        (r = identity_path(id, "host.tss2", key, sizeof(key))) != AD_OK ||
        (r = identity_path(id, "bundle.pem", bundle, sizeof(bundle))) != AD_OK ||
        (r = identity_path(id, "host.pem", host, sizeof(host))) != AD_OK) {
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
    if ((r = identity_parse_host_id(res->spiffe_id, td, hex)) != AD_OK ||
        (r = certinfo_from_pem(res->cert_pem, &host)) != AD_OK ||
        (r = certinfo_list_from_pem(res->bundle_pem, &list, &n)) != AD_OK) {
        identity_report(rep, "error: the CA's host certificate or bundle is unusable (%s)",
                        ad_strerror(r));
        goto out;
    }
    if ((r = save_host(id, res)) != AD_OK) {
        identity_report(rep, "error: saving the identity under %s failed (%s)", id->dir,
                        ad_strerror(r));
        goto out;
    }
    identity_tpm_commit(&id->it);
    if (identity_set_host_pem(id, res->cert_pem) != AD_OK) {
        log_warn("identity: out of memory: the next requests go without a client certificate");
        free(id->host_pem);
        id->host_pem = NULL;
    }
    memcpy(id->td, td, sizeof(td));
    memcpy(id->host_id, hex, sizeof(hex));
    id->host_issued_at = (int64_t)time(NULL);
    id->is_enrolled = true;
    publish_host(id, &host);
    identity_publish_bundle(id, list, n);
    list = NULL;
    identity_report(rep, "saved AK, host key, host certificate and trust bundle under %s", id->dir);
out:
    certinfo_list_free(list, n);
    certinfo_clear(&host);
    return r;
}

int identity_enroll_host(struct identity *id, const struct conf_enroll *ec, struct report *rep)
{
    struct enroll_options opt;
    struct enroll_result res = {0};
    struct enroll_tpm ops;
    char err[ERR_MAX];
    int r;

    id->it.ek = ec->ek_type;
    identity_tpm_host_ops(&id->it, &ops);
    identity_options(id, ec, rep, &opt);
    identity_report(rep, "enrolling with %s (host class %s, %s EK)", ec->url, ec->host_class,
                    conf_ek_type_name(ec->ek_type));
    if ((r = enroll_run(&opt, &ops, &res, err, sizeof(err))) == AD_OK) {
        r = install_host(id, &res, rep);
        snprintf(err, sizeof(err), "saving the host identity failed: %s", ad_strerror(r));
    }
    if (r != AD_OK) {
        identity_tpm_abort(&id->it);
        identity_report(rep, "error: enrollment failed: %s", err);
        log_warn("identity: enrollment failed: %s", err);
    }
    identity_note_contact(id, r, err);
    enroll_result_clear(&res);
    return r;
}
