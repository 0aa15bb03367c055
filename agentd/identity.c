#include "identity.h"
#include "identity_priv.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "atomic_file.h"
#include "keyblob.h"
#include "log.h"
#include "server.h"

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
        if (identity_enroll_host(id, &c->enroll, &rep) != AD_OK) {
            goto out;
        }
    } else {
        identity_report(&rep, "host already enrolled; issuing workload certificates");
    }
    failed = identity_run_cycle(id, c, true, &rep);
    pthread_mutex_lock(&id->lock);
    spiffe_id = id->spiffe_id != NULL ? strdup(id->spiffe_id) : NULL;
    pthread_mutex_unlock(&id->lock);
    if (failed > 0) {
        identity_report(&rep,
                        "error: enrolled as %s, but %u workload certificate request(s) failed",
                        spiffe_id != NULL ? spiffe_id : "?", failed);
        goto out;
    }
    identity_report(&rep, "ok: enrolled as %s", spiffe_id != NULL ? spiffe_id : "?");
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

    (void)pthread_setname_np(pthread_self(), "agentd-enroll"); /* top -H, ps -L */
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
            (void)identity_run_cycle(id, ref->c, false, NULL);
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

    if ((r = identity_path(id, name, path, sizeof(path))) != AD_OK) {
        return r;
    }
    return atomic_file_read(path, PEM_MAX, ret, &len);
}

/* host.pem, bundle.pem, ak.tss2 and host.tss2 back; anything unusable: not enrolled (enroll
 * again). */
static void load_saved(struct identity *id)
{
    struct certinfo host, *list = NULL;
    struct keyblob *ak = NULL, *hk = NULL;
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
        (r = identity_parse_host_id(host.uri, id->td, id->host_id)) != AD_OK ||
        (r = load_text(id, "bundle.pem", &bundle)) != AD_OK ||
        (r = certinfo_list_from_pem(bundle, &list, &n)) != AD_OK ||
        (r = identity_path(id, "ak.tss2", path, sizeof(path))) != AD_OK ||
        (r = keyblob_read_file(path, &ak)) != AD_OK ||
        (r = identity_tpm_load_ak(&id->it, ak)) != AD_OK ||
        (r = identity_path(id, "host.tss2", path, sizeof(path))) != AD_OK ||
        (r = keyblob_read_file(path, &hk)) != AD_OK ||
        (r = identity_tpm_load_host(&id->it, hk)) != AD_OK ||
        (r = identity_set_host_pem(id, pem)) != AD_OK) {
        log_warn("identity: saved identity under %s unusable (%s): enroll again", id->dir,
                 ad_strerror(r));
        goto out;
    }
    if (identity_path(id, "host.pem", path, sizeof(path)) == AD_OK && stat(path, &st) == 0) {
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
    keyblob_free(hk);
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
    identity_status_load(id);
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

void identity_poke(struct identity *id)
{
    pthread_mutex_lock(&id->lock);
    /* next_due 0: no timer (not enrolled, renew off) or a pass is running right now */
    if (id->next_due > 1 && !id->is_backing_off) {
        id->next_due = 1;
        pthread_cond_signal(&id->cond);
    }
    pthread_mutex_unlock(&id->lock);
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
    identity_iso_time(id->host_not_after, host_exp);
    identity_iso_time(id->last_contact, contact);
    identity_iso_time(id->last_error_at, err_at);
    identity_iso_time(id->next_due > 1 ? id->next_due : 0, due);
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
    free(id->host_pem);
    free(id->dir);
    pthread_mutex_destroy(&id->lock);
    pthread_cond_destroy(&id->cond);
    free(id);
}
