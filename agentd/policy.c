#include "policy.h"

#include <stdlib.h>
#include <string.h>

#include "conf_mech.h"

/* One token bucket per entry, found by entry name (survives reloads). */
struct bucket {
    char *name;
    double tokens;
    uint64_t last_ns;
    bool is_started; /* last_ns valid */
};

struct policy {
    struct bucket *b; /* sorted by name */
    size_t n;
};

static const char *const reason_names[POLICY_REASON_COUNT_] = {
    [POLICY_REASON_ALLOWED] = "allowed",
    [POLICY_REASON_NO_ENTRY] = "no_entry",
    [POLICY_REASON_AMBIGUOUS_ENTRY] = "ambiguous_entry",
    [POLICY_REASON_KEY_NOT_OWNED] = "key_not_owned",
    [POLICY_REASON_MECHANISM_NOT_ALLOWED] = "mechanism_not_allowed",
    [POLICY_REASON_DATA_TOO_LONG] = "data_too_long",
    [POLICY_REASON_RATE_LIMITED] = "rate_limited",
    [POLICY_REASON_GENERATE_NOT_ALLOWED] = "generate_not_allowed",
    [POLICY_REASON_TOO_MANY_KEYS] = "too_many_keys",
    [POLICY_REASON_KEY_TYPE_NOT_ALLOWED] = "key_type_not_allowed",
    [POLICY_REASON_DESTROY_NOT_ALLOWED] = "destroy_not_allowed",
    [POLICY_REASON_BAD_REQUEST] = "bad_request",
    [POLICY_REASON_AUDIT_FAILED] = "audit_failed",
    [POLICY_REASON_ADMIN_ONLY] = "admin_only",
};

static const char *const op_names[POLICY_OP_COUNT_] = {
    [POLICY_OP_LIST] = "list",       [POLICY_OP_SIGN] = "sign",
    [POLICY_OP_VERIFY] = "verify",   [POLICY_OP_DIGEST] = "digest",
    [POLICY_OP_RANDOM] = "random",   [POLICY_OP_GENERATE] = "generate",
    [POLICY_OP_DESTROY] = "destroy",
};

const char *policy_reason_name(enum policy_reason r)
{
    if ((unsigned)r >= POLICY_REASON_COUNT_ || reason_names[r] == NULL) {
        return "unknown";
    }
    return reason_names[r];
}

const char *policy_op_name(enum policy_op op)
{
    if ((unsigned)op >= POLICY_OP_COUNT_) {
        return "unknown";
    }
    return op_names[op];
}

const char *policy_verdict_name(enum policy_verdict v)
{
    switch (v) {
    case POLICY_ALLOW:
        return "allow";
    case POLICY_DENY:
        return "deny";
    case POLICY_HOLD:
        return "hold";
    }
    return "unknown";
}

static int bucket_cmp(const void *a, const void *b)
{
    return strcmp(((const struct bucket *)a)->name, ((const struct bucket *)b)->name);
}

static struct bucket *bucket_find(struct bucket *b, size_t n, const char *name)
{
    struct bucket key = {.name = (char *)name};

    return n == 0 ? NULL : bsearch(&key, b, n, sizeof(*b), bucket_cmp);
}

static void buckets_free(struct bucket *b, size_t n)
{
    for (size_t i = 0; b != NULL && i < n; i++) {
        free(b[i].name);
    }
    free(b);
}

/*
 * Build buckets for c's entries; carry tokens over from old (may be NULL)
 * for names that still exist, clamped to the new burst.
 */
static int buckets_build(const struct agentd_conf *c, struct bucket *old, size_t n_old,
                         struct bucket **ret, size_t *ret_n)
{
    struct bucket *b = NULL;
    size_t n = 0;
    int r = AD_ERR_NOMEM;

    if (c->n_workloads > 0 && (b = calloc(c->n_workloads, sizeof(*b))) == NULL) {
        goto out;
    }
    for (; n < c->n_workloads; n++) {
        const struct workload_entry *e = &c->workloads[n];
        struct bucket *o = bucket_find(old, n_old, e->name);

        if ((b[n].name = strdup(e->name)) == NULL) {
            goto out;
        }
        b[n].tokens = (double)e->rate_burst;
        if (o != NULL) {
            b[n].tokens = o->tokens < b[n].tokens ? o->tokens : b[n].tokens;
            b[n].last_ns = o->last_ns;
            b[n].is_started = o->is_started;
        }
    }
    if (n > 0) {
        qsort(b, n, sizeof(*b), bucket_cmp);
    }
    *ret = b; /* caller owns it now */
    *ret_n = n;
    b = NULL;
    n = 0;
    r = AD_OK;
out:
    buckets_free(b, n);
    return r;
}

int policy_new(const struct agentd_conf *c, struct policy **ret)
{
    struct policy *p = NULL;
    int r;

    if (c == NULL || ret == NULL) {
        return AD_ERR_INVALID;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        return AD_ERR_NOMEM;
    }
    if ((r = buckets_build(c, NULL, 0, &p->b, &p->n)) != 0) {
        goto out;
    }
    *ret = p; /* caller owns it now */
    p = NULL;
out:
    policy_free(p);
    return r;
}

int policy_reload(struct policy *p, const struct agentd_conf *c)
{
    struct bucket *b = NULL;
    size_t n = 0;
    int r;

    if (p == NULL || c == NULL) {
        return AD_ERR_INVALID;
    }
    if ((r = buckets_build(c, p->b, p->n, &b, &n)) != 0) {
        return r;
    }
    buckets_free(p->b, p->n);
    p->b = b;
    p->n = n;
    return AD_OK;
}

void policy_free(struct policy *p)
{
    if (p == NULL) {
        return;
    }
    buckets_free(p->b, p->n);
    free(p);
}

/* Refill by elapsed time (a clock going backwards refills nothing), then take one. */
static bool bucket_take(struct bucket *b, const struct workload_entry *e, uint64_t now_ns)
{
    double burst = (double)e->rate_burst;

    if (b->is_started && now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) * e->rate_per_second / 1e9;
    }
    if (b->tokens > burst) {
        b->tokens = burst;
    }
    if (!b->is_started || now_ns > b->last_ns) {
        b->last_ns = now_ns;
        b->is_started = true;
    }
    if (b->tokens < 1.0) {
        return false;
    }
    b->tokens -= 1.0;
    return true;
}

bool policy_key_allows(const struct conf_key *k, uint64_t mechanism)
{
    for (size_t i = 0; k != NULL && i < k->n_mechanisms; i++) {
        if (k->mechanisms[i] == mechanism) {
            return true;
        }
    }
    return false;
}

/* Key use (SIGN, VERIFY): the key must be the entry's and allow the mechanism. */
static enum policy_reason check_key_use(const struct workload_entry *e,
                                        const struct policy_request *rq)
{
    const struct conf_key *k;

    if (rq->key == NULL) {
        return POLICY_REASON_BAD_REQUEST;
    }
    if ((k = conf_find_key(e, rq->key)) != NULL) {
        if (!policy_key_allows(k, rq->mechanism)) {
            return POLICY_REASON_MECHANISM_NOT_ALLOWED;
        }
    } else if (rq->key_is_generated) {
        /* a key the entry generated may use every mechanism of its type */
        if (!conf_mech_valid_for_key(conf_mech_by_ckm(rq->mechanism), rq->key_type)) {
            return POLICY_REASON_MECHANISM_NOT_ALLOWED;
        }
    } else {
        return POLICY_REASON_KEY_NOT_OWNED;
    }
    if (rq->data_len > e->max_data) {
        return POLICY_REASON_DATA_TOO_LONG;
    }
    return POLICY_REASON_ALLOWED;
}

static enum policy_reason check_op(const struct workload_entry *e, const struct policy_request *rq)
{
    const struct conf_mech *m;

    switch (rq->op) {
    case POLICY_OP_LIST:
        return POLICY_REASON_ALLOWED;
    case POLICY_OP_SIGN:
    case POLICY_OP_VERIFY:
        return check_key_use(e, rq);
    case POLICY_OP_DIGEST:
        m = conf_mech_by_ckm(rq->mechanism);
        if (m == NULL || m->is_sign) {
            return POLICY_REASON_MECHANISM_NOT_ALLOWED;
        }
        return rq->data_len > e->max_data ? POLICY_REASON_DATA_TOO_LONG : POLICY_REASON_ALLOWED;
    case POLICY_OP_RANDOM:
        if (rq->data_len == 0) {
            return POLICY_REASON_BAD_REQUEST;
        }
        return rq->data_len > e->max_data ? POLICY_REASON_DATA_TOO_LONG : POLICY_REASON_ALLOWED;
    case POLICY_OP_GENERATE:
        if (!e->allow_generate) {
            return POLICY_REASON_GENERATE_NOT_ALLOWED;
        }
        if (!conf_key_type_valid(rq->key_type, rq->bits)) {
            return POLICY_REASON_KEY_TYPE_NOT_ALLOWED;
        }
        if (rq->key != NULL && conf_find_key(e, rq->key) != NULL) {
            return POLICY_REASON_BAD_REQUEST; /* would shadow a configured key */
        }
        return rq->n_generated_keys >= e->max_keys ? POLICY_REASON_TOO_MANY_KEYS
                                                   : POLICY_REASON_ALLOWED;
    case POLICY_OP_DESTROY:
        if (rq->key == NULL) {
            return POLICY_REASON_BAD_REQUEST;
        }
        if (conf_find_key(e, rq->key) != NULL) {
            return POLICY_REASON_DESTROY_NOT_ALLOWED; /* configured keys stay */
        }
        if (!rq->key_is_generated) {
            return POLICY_REASON_KEY_NOT_OWNED;
        }
        return e->allow_generate ? POLICY_REASON_ALLOWED : POLICY_REASON_GENERATE_NOT_ALLOWED;
    case POLICY_OP_COUNT_:
        break;
    }
    return POLICY_REASON_BAD_REQUEST;
}

int policy_decide(struct policy *p, const struct workload_entry *e, const struct policy_request *rq,
                  uint64_t now_ns, struct policy_decision *ret)
{
    enum policy_reason reason;
    struct bucket *b;

    if (rq == NULL || ret == NULL) {
        return AD_ERR_INVALID;
    }
    ret->verdict = POLICY_DENY; /* deny by default: only the end of this function allows */
    ret->reason = POLICY_REASON_BAD_REQUEST;
    if (e == NULL) {
        ret->reason = POLICY_REASON_NO_ENTRY;
        return AD_OK;
    }
    if (p == NULL) {
        return AD_OK;
    }
    if ((reason = check_op(e, rq)) != POLICY_REASON_ALLOWED) {
        ret->reason = reason;
        return AD_OK;
    }
    if (rq->op != POLICY_OP_LIST && e->has_rate) {
        if ((b = bucket_find(p->b, p->n, e->name)) == NULL) {
            return AD_OK; /* entry not from the config p knows: bad_request */
        }
        if (!bucket_take(b, e, now_ns)) {
            ret->reason = POLICY_REASON_RATE_LIMITED;
            return AD_OK;
        }
    }
    ret->verdict = POLICY_ALLOW;
    ret->reason = POLICY_REASON_ALLOWED;
    return AD_OK;
}

uint64_t policy_mech_mask_for_type(uint64_t key_type)
{
    const struct conf_mech *m;
    uint64_t mask = 0;

    for (unsigned i = 0; i < 64 && (m = conf_mech_at(i)) != NULL; i++) {
        if (conf_mech_valid_for_key(m, key_type)) {
            mask |= UINT64_C(1) << i;
        }
    }
    return mask;
}

uint64_t policy_mech_mask(const struct workload_entry *e, const struct conf_key *k)
{
    const struct conf_mech *m;
    uint64_t mask = 0;

    (void)e;
    if (k == NULL) {
        return 0;
    }
    for (unsigned i = 0; i < 64 && (m = conf_mech_at(i)) != NULL; i++) {
        if (policy_key_allows(k, m->ckm)) {
            mask |= UINT64_C(1) << i;
        }
    }
    return mask;
}
