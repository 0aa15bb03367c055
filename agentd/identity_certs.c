/* The identity's workload certificates: certify -> issue per key, renewal, backoff. */
#include "identity_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "atomic_file.h"
#include "keystore.h"
#include "log.h"
#include "worker.h"

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

    c->r = keystore_list(ctx, c->e, true, &c->pubs, &c->n);
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
    if (is_same || identity_path(id, "bundle.pem", path, sizeof(path)) != AD_OK ||
        atomic_file_write(path, pem, strlen(pem), 0600) != AD_OK) {
        certinfo_list_free(list, n);
        return;
    }
    log_info("identity: trust bundle changed (%zu certificates)", n);
    identity_publish_bundle(id, list, n);
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
    identity_options(id, ec, NULL, &opt); /* per-step lines of a workload certificate: log only */
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
    identity_note_contact(id, r, err);
    if (r != AD_OK) {
        identity_report(rep, "error: certificate for %s/%s (%s): %s", e->name, key, e->spiffe_id,
                        err);
        goto out;
    }
    update_bundle(id, res.bundle_pem);
    if (certinfo_from_pem(res.cert_pem, &ci) == AD_OK) {
        char exp[32];

        identity_iso_time(ci.not_after, exp);
        identity_report(rep, "certificate for %s/%s: %s serial %s, expires %s", e->name, key,
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
    identity_iso_time(p->cert.der != NULL ? p->cert.not_after : 0, exp);
    identity_iso_time(when, due);
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
            identity_report(rep,
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
unsigned identity_run_cycle(struct identity *id, const struct agentd_conf *c, bool is_forced,
                            struct report *rep)
{
    const struct conf_enroll *ec = &c->enroll;
    struct cycle cy = {.is_forced = is_forced, .now = (int64_t)time(NULL), .next = INT64_MAX};
    char *text = NULL;
    int64_t due = 0;

    cy.may_issue = id->is_enrolled && (is_forced || ec->renew);
    if (cy.may_issue && !is_forced && host_is_due(id, cy.now)) {
        log_info("identity: host certificate at half-life: enrolling again");
        if (identity_enroll_host(id, ec, NULL) != AD_OK) {
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
    id->is_backing_off = cy.failed > 0;
    if (text != NULL) {
        free(id->keys_json);
        id->keys_json = text;
    }
    pthread_mutex_unlock(&id->lock);
    if (rep != NULL && cy.issued > 0) {
        identity_report(rep, "%u workload certificate(s) issued", cy.issued);
    }
    return cy.failed;
}
