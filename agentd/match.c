#include "match.h"

#include <stddef.h>
#include <string.h>

#include <openssl/crypto.h>

unsigned match_specificity(const struct workload_entry *e)
{
    const struct conf_selectors *s = &e->sel;

    return (s->has_sha256 ? MATCH_W_SHA256 : 0) + (s->exe != NULL ? MATCH_W_EXE : 0) +
           (s->unit != NULL ? MATCH_W_UNIT : 0) + (s->cgroup != NULL ? MATCH_W_CGROUP : 0) +
           (s->has_uid ? MATCH_W_UID : 0) + (s->has_gid ? MATCH_W_GID : 0);
}

/* An absent selector matches; a present one needs the fact, and equality. */
static bool str_sel(const char *want, const char *have)
{
    return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

bool match_one(const struct workload_entry *e, const struct caller_facts *f)
{
    const struct conf_selectors *s = &e->sel;

    if (s->has_uid && s->uid != f->uid) {
        return false;
    }
    if (s->has_gid && s->gid != f->gid) {
        return false;
    }
    if (!str_sel(s->exe, f->exe) || !str_sel(s->cgroup, f->cgroup) || !str_sel(s->unit, f->unit)) {
        return false;
    }
    /* constant time: the configured hash is not secret, but the habit is cheap */
    if (s->has_sha256 && (!f->has_sha256 || CRYPTO_memcmp(s->sha256, f->exe_sha256, 32) != 0)) {
        return false;
    }
    /* never let an entry without selectors match everything (conf_load refuses it too) */
    return match_specificity(e) > 0;
}

int match_entry(const struct agentd_conf *c, const struct caller_facts *f,
                const struct workload_entry **ret, const char **ret_reason)
{
    const struct workload_entry *best = NULL;
    unsigned best_score = 0;
    bool tie = false;

    if (c == NULL || f == NULL || ret == NULL) {
        return AD_ERR_INVALID;
    }
    for (size_t i = 0; i < c->n_workloads; i++) {
        const struct workload_entry *e = &c->workloads[i];
        unsigned score;

        if (!match_one(e, f)) {
            continue;
        }
        score = match_specificity(e);
        if (score > best_score) {
            best = e;
            best_score = score;
            tie = false;
        } else if (score == best_score) {
            tie = true;
        }
    }
    if (best == NULL || tie) {
        if (ret_reason != NULL) {
            *ret_reason = best == NULL ? "no_entry" : "ambiguous_entry";
        }
        return AD_ERR_DENIED;
    }
    *ret = best;
    return AD_OK;
}
