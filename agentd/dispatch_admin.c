/* ADMIN_* requests: status, workloads, keys, audit tail, enroll (see dispatch_job.h). */
#include "dispatch_job.h"
#include "dispatch_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "conn.h"
#include "identity.h"
#include "policy.h"
#include "status.h"

/* ADMIN_* ---------------------------------------------------------------- */

static void admin_keys_run(struct worker_job *wj, void *ctx)
{
    struct djob *j = (struct djob *)wj;

    j->r = admin_keys_json(ctx, j->conf->c, j->e, &j->json);
}

static void admin_create_run(struct worker_job *wj, void *ctx)
{
    struct djob *j = (struct djob *)wj;
    struct keystore_pub pub;
    const struct conf_key *k = conf_find_key(j->e, j->key);

    memset(&pub, 0, sizeof(pub));
    if (k != NULL) {
        /* A configured key ahead of first use (or its existing public info). */
        j->r = keystore_get_pub(ctx, j->e, j->key, &pub);
    } else {
        j->r = keystore_create(ctx, j->e, j->key, j->key_type, j->bits, false, &pub);
    }
    if (j->r == 0) {
        j->r = admin_key_json(j->e->name, &pub, &j->json);
    }
    keystore_pub_clear(&pub);
}

static void admin_delete_run(struct worker_job *wj, void *ctx)
{
    struct djob *j = (struct djob *)wj;

    j->r = keystore_destroy(ctx, j->e, j->key, true);
    if (j->r == 0) {
        j->r = admin_deleted_json(j->e->name, j->key, &j->json);
    }
}

static void json_done(struct worker_job *wj)
{
    struct djob *j = (struct djob *)wj;

    if (j->r == 0 && j->type == MT_ADMIN_KEY_CREATE && j->d->identity != NULL) {
        identity_poke(j->d->identity); /* the new key gets its certificate */
    }
    if (j->r != 0) {
        djob_reply_error(j);
    } else {
        (void)glue_send_text(j->c, j->type, j->id, j->json);
    }
    djob_finish(j);
}

/* ADMIN_ENROLL: the identity thread runs it; the reply is its step report. */
_Static_assert(IDENTITY_CERTS_ONLY == MSG_ENROLL_CERTS_ONLY, "ADMIN_ENROLL flags");
struct enroll_req {
    struct identity_request rq; /* first: done() gets &rq */
    struct conn *c;
    uint8_t type;
    uint32_t id;
};

static void enroll_done(struct identity_request *rq, const char *text, bool is_ok)
{
    struct enroll_req *er = (struct enroll_req *)rq;

    (void)is_ok; /* the report's last line says ok or error */
    (void)glue_send_text(er->c, er->type, er->id, text);
    conn_release(er->c);
    free(er);
}

static int admin_enroll(struct daemon *d, struct conn *c, uint8_t type, uint32_t id, uint32_t flags)
{
    struct enroll_req *er;
    int r;

    if (d->identity == NULL) {
        dispatch_reply_error(c, type, id, STATUS_UNSUPPORTED,
                             "enrollment is not configured (no agentd.enroll group)");
        return AD_OK;
    }
    if ((er = calloc(1, sizeof(*er))) == NULL) {
        dispatch_reply_error(c, type, id, STATUS_NO_MEMORY, "out of memory");
        return AD_OK;
    }
    er->rq.flags = flags;
    er->rq.done = enroll_done;
    er->c = c;
    er->type = type;
    er->id = id;
    conn_hold(c);
    if ((r = identity_enroll(d->identity, &er->rq)) != AD_OK) {
        conn_release(c);
        free(er);
        dispatch_reply_error(c, type, id, STATUS_BUSY, "enrollment requests already pending");
    }
    return AD_OK;
}

int dispatch_admin(struct daemon *d, struct conn *c, uint8_t type, uint32_t id, const uint8_t *body,
                   size_t len)
{
    const struct caller_facts *f = conn_facts(c);
    struct decided x = {.op = glue_admin_op_name(type)};
    struct glue_admin m;
    const struct workload_entry *e = NULL;
    char *json = NULL;
    struct djob *j = NULL;
    int r = AD_OK;

    if (!admin_is_allowed(f->uid, f->gid, d->conf->c->admin_group)) {
        x.verdict = policy_verdict_name(POLICY_DENY);
        x.reason = policy_reason_name(POLICY_REASON_ADMIN_ONLY);
        (void)dispatch_audit(d, c, &x);
        dispatch_reply_error(c, type, id, STATUS_DENIED, x.reason);
        return AD_OK;
    }
    if (glue_admin_decode(type, body, len, &m) != 0) {
        dispatch_reply_error(c, type, id, STATUS_BAD_REQUEST, "malformed request");
        return AD_OK;
    }
    if (m.entry[0] != '\0' && (e = conf_find_entry(d->conf->c, m.entry)) == NULL) {
        dispatch_reply_error(c, type, id, STATUS_NOT_FOUND, "no such entry");
        return AD_OK;
    }
    x.e = e;
    x.key = m.key[0] != '\0' ? m.key : NULL;
    x.verdict = policy_verdict_name(POLICY_ALLOW);
    x.reason = policy_reason_name(POLICY_REASON_ALLOWED);
    /* Read-only admin queries are not audited; changes are. */
    if ((type == MT_ADMIN_KEY_CREATE || type == MT_ADMIN_KEY_DELETE || type == MT_ADMIN_ENROLL) &&
        dispatch_audit(d, c, &x) != 0) {
        dispatch_reply_error(c, type, id, STATUS_DENIED, "audit log unavailable");
        return AD_OK;
    }
    switch (type) {
    case MT_ADMIN_STATUS:
        r = admin_status_json(d, &json);
        break;
    case MT_ADMIN_WORKLOADS:
        r = admin_workloads_json(d, server_conns(d->srv), &json);
        break;
    case MT_ADMIN_AUDIT_TAIL:
        r = admin_audit_tail(d->conf->c->audit.path, m.count, GLUE_ADMIN_TEXT_MAX, &json);
        break;
    case MT_ADMIN_ENROLL:
        return admin_enroll(d, c, type, id, m.flags);
    case MT_ADMIN_KEYS:
    case MT_ADMIN_KEY_CREATE:
    case MT_ADMIN_KEY_DELETE:
        if (type != MT_ADMIN_KEYS && (e == NULL || m.key[0] == '\0')) {
            dispatch_reply_error(c, type, id, STATUS_BAD_REQUEST, "entry and key name required");
            return AD_OK;
        }
        j = djob_new(d, c, e, type, id,
                     type == MT_ADMIN_KEYS         ? admin_keys_run
                     : type == MT_ADMIN_KEY_CREATE ? admin_create_run
                                                   : admin_delete_run,
                     json_done);
        if (j == NULL) {
            r = AD_ERR_NOMEM;
            break;
        }
        snprintf(j->key, sizeof(j->key), "%s", m.key);
        j->key_type = m.key_type;
        j->bits = m.bits;
        j->is_admin = true;
        djob_submit(j);
        return AD_OK;
    default:
        r = AD_ERR_UNSUPPORTED;
        break;
    }
    if (r != 0) {
        dispatch_reply_error(c, type, id, status_from_err(r), ad_strerror(r));
    } else {
        (void)glue_send_text(c, type, id, json);
    }
    free(json);
    return AD_OK;
}
