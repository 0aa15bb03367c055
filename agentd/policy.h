/*
 * Policy: may this workload entry do this operation on this key now?
 *
 * Deny by default: every path through policy_decide() that does not reach
 * an explicit allow is a deny with a reason. Runtime state (token buckets)
 * lives in struct policy, keyed by entry name, so policy_reload() keeps the
 * buckets of entries that still exist after a config reload.
 *
 * Thread-safety: none. The daemon calls every function here from its
 * event-loop thread only. The clock is supplied by the caller (monotonic ns),
 * so tests drive it with a fake clock.
 */
#ifndef AGENTD_POLICY_H
#define AGENTD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "err.h"

enum policy_op {
    POLICY_OP_LIST = 0, /* LIST_OBJECTS */
    POLICY_OP_SIGN,
    POLICY_OP_VERIFY,
    POLICY_OP_DIGEST,
    POLICY_OP_RANDOM,
    POLICY_OP_GENERATE, /* GENERATE_KEY */
    POLICY_OP_DESTROY,  /* DESTROY_KEY */
    POLICY_OP_COUNT_
};

enum policy_verdict {
    POLICY_ALLOW = 0,
    POLICY_DENY = 1,
    POLICY_HOLD = 2, /* hold for approval; not produced yet */
};

/*
 * Stable reasons; policy_reason_name() gives the snake_case name that goes to
 * the audit log and agentctl. Append only: never renumber or rename.
 * policy_decide() produces all but three: ambiguous_entry comes from
 * match_entry() (its ret_reason string), audit_failed and admin_only are for
 * the daemon to record when it refuses on its own.
 */
enum policy_reason {
    POLICY_REASON_ALLOWED = 0,           /* "allowed" */
    POLICY_REASON_NO_ENTRY,              /* "no_entry": caller matches no entry */
    POLICY_REASON_AMBIGUOUS_ENTRY,       /* "ambiguous_entry": tie between entries */
    POLICY_REASON_KEY_NOT_OWNED,         /* "key_not_owned": not this entry's key */
    POLICY_REASON_MECHANISM_NOT_ALLOWED, /* "mechanism_not_allowed" */
    POLICY_REASON_DATA_TOO_LONG,         /* "data_too_long": over max_data */
    POLICY_REASON_RATE_LIMITED,          /* "rate_limited": token bucket empty */
    POLICY_REASON_GENERATE_NOT_ALLOWED,  /* "generate_not_allowed": allow_generate off */
    POLICY_REASON_TOO_MANY_KEYS,         /* "too_many_keys": max_keys reached */
    POLICY_REASON_KEY_TYPE_NOT_ALLOWED,  /* "key_type_not_allowed" */
    POLICY_REASON_DESTROY_NOT_ALLOWED,   /* "destroy_not_allowed": configured keys stay */
    POLICY_REASON_BAD_REQUEST,           /* "bad_request": unknown op, NULL key, ... */
    POLICY_REASON_AUDIT_FAILED,          /* "audit_failed": daemon could not audit (fail closed) */
    POLICY_REASON_ADMIN_ONLY,            /* "admin_only": admin message from a non-admin */
    POLICY_REASON_COUNT_
};

/*
 * One request as the daemon understands it after decoding. Strings are
 * borrowed for the call.
 */
struct policy_request {
    enum policy_op op;
    const char *key;    /* SIGN, VERIFY, DESTROY: key name; GENERATE: new name or NULL */
    uint64_t key_type;  /* CKK_*: GENERATE the new key; SIGN/VERIFY of a generated key its type */
    uint32_t bits;      /* GENERATE: key size */
    uint64_t mechanism; /* SIGN, VERIFY, DIGEST: CKM_* */
    size_t data_len;    /* SIGN, VERIFY, DIGEST: input bytes; RANDOM: bytes asked */
    /*
     * Filled by the daemon from the keystore: key (by name) is a key this
     * entry generated (not a configured one), and how many such keys the
     * entry has now (GENERATE checks it against max_keys).
     */
    bool key_is_generated;
    uint32_t n_generated_keys;

    /* Reserved for later issues; policy_decide() ignores them today. */
    const char *intent;                  /* declared intent of a task credential */
    const char *task_id;                 /* JIT task id */
    const char *const *delegation_chain; /* SPIFFE ids, outermost first */
    size_t n_delegation;
    int approval_state; /* 0 none; later: pending / approved / rejected */
};

struct policy_decision {
    enum policy_verdict verdict;
    enum policy_reason reason;
};

struct policy;

/* New runtime state for c's entries (buckets full). Caller owns *ret. */
AD_MUST_CHECK int policy_new(const struct agentd_conf *c, struct policy **ret);

/*
 * Switch to a reloaded config: buckets of entries whose name still exists are
 * kept (tokens clamped to the new burst), new entries start full, removed
 * entries' buckets are dropped. On failure p is unchanged.
 */
AD_MUST_CHECK int policy_reload(struct policy *p, const struct agentd_conf *c);

/* NULL is fine. */
void policy_free(struct policy *p);

/*
 * Decide. e is the entry match_entry() gave (NULL: caller matched none, the
 * decision is a deny with no_entry). now_ns is CLOCK_MONOTONIC in ns. A
 * request that passes every check takes one token from e's bucket (LIST
 * takes none). Always fills *ret; returns AD_OK, or AD_ERR_INVALID when rq or
 * ret is NULL.
 */
AD_MUST_CHECK int policy_decide(struct policy *p, const struct workload_entry *e,
                                const struct policy_request *rq, uint64_t now_ns,
                                struct policy_decision *ret);

/*
 * mech_mask for the LIST reply: bit i set when row i of the mechanism table
 * is a mechanism configured key k of entry e may use (0 when k is NULL).
 * policy_mech_mask_for_type() is the mask of a key the entry generated:
 * every signing mechanism valid for that key type.
 */
uint64_t policy_mech_mask(const struct workload_entry *e, const struct conf_key *k);
uint64_t policy_mech_mask_for_type(uint64_t key_type);

/* True when mechanism is allowed for configured key k (no rate or length check). */
bool policy_key_allows(const struct conf_key *k, uint64_t mechanism);

/* Stable snake_case names ("allowed", "no_entry", ...); "unknown" when out of range. */
const char *policy_reason_name(enum policy_reason r);
/* "list", "sign", "verify", "digest", "random", "generate", "destroy". */
const char *policy_op_name(enum policy_op op);
/* "allow", "deny", "hold". */
const char *policy_verdict_name(enum policy_verdict v);

#endif
