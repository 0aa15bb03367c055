/*
 * Workload matching: caller facts (read from the kernel by agentd/workload)
 * against the configured workload entries. Pure: no I/O, no state.
 *
 * An entry matches when every selector it has matches the caller (an absent
 * selector matches anything; an entry always has at least one selector). Of
 * the matching entries the most specific wins. Specificity is the sum of the
 * MATCH_W_* weights over the selectors the entry has:
 *
 *     sha256 16 > exe 8 > unit 4 = cgroup 4 > uid 2 > gid 1
 *
 * unit and cgroup weigh the same because a unit is a name for a cgroup. Two
 * matching entries with the same top score are a denial, "ambiguous_entry"
 * (for example {unit = "ci.service"} and {cgroup = "/system.slice/ci.service"},
 * or {sha256} and {exe, unit, cgroup}): a tie is never broken by file order.
 * No matching entry is a denial, "no_entry".
 *
 * Matching is exact: exe and cgroup compare whole paths, unit whole names.
 * The SHA-256 is compared in constant time (CRYPTO_memcmp).
 */
#ifndef AGENTD_MATCH_H
#define AGENTD_MATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "err.h"

#define MATCH_W_SHA256 16u
#define MATCH_W_EXE 8u
#define MATCH_W_UNIT 4u
#define MATCH_W_CGROUP 4u
#define MATCH_W_UID 2u
#define MATCH_W_GID 1u

/*
 * What the kernel says about the caller. Strings are borrowed for the call;
 * NULL means unknown, and an entry with that selector then does not match.
 */
struct caller_facts {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    const char *exe; /* readlink of /proc/<pid>/exe (via pidfd) */
    uint8_t exe_sha256[32];
    bool has_sha256;    /* exe_sha256 valid */
    const char *cgroup; /* cgroup v2 path, e.g. "/system.slice/ci.service" */
    const char *unit;   /* systemd unit, e.g. "ci.service" */
};

/* Specificity of entry e (sum of MATCH_W_* over its selectors). */
unsigned match_specificity(const struct workload_entry *e);

/* True when every selector of e matches f. */
bool match_one(const struct workload_entry *e, const struct caller_facts *f);

/*
 * Resolve the caller to one entry of c. On success returns AD_OK and sets
 * *ret (borrowed from c, valid while c lives). On denial returns
 * AD_ERR_DENIED and sets *ret_reason to a static string, "no_entry" or
 * "ambiguous_entry" (the policy_reason names); *ret is left alone.
 * ret_reason may be NULL.
 */
AD_MUST_CHECK int match_entry(const struct agentd_conf *c, const struct caller_facts *f,
                              const struct workload_entry **ret, const char **ret_reason);

#endif
