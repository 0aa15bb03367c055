/*
 * ADMIN_* replies as JSON text (json-c does the escaping). Callers check
 * that the peer is root or in the admin group (dispatch does, by peer
 * credentials) before calling any of these. Every function returns a
 * malloc'd NUL-terminated string in *ret (caller frees) or an ad_err.
 */
#ifndef AGENTD_ADMIN_H
#define AGENTD_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "server.h"

struct keystore;
struct keystore_pub;
struct workload_entry;

/* True when uid is 0 or uid/gid is a member of group (by name; NULL/"" = root only). */
bool admin_is_allowed(uid_t uid, gid_t gid, const char *group);

/* Loop thread: {"version":..,"uptime_s":..,"connections":..,...}. */
AD_MUST_CHECK int admin_status_json(const struct daemon *d, char **ret);

/* Loop thread: every entry with its selectors, keys and the connected callers it matches now. */
AD_MUST_CHECK int admin_workloads_json(const struct daemon *d, struct conn *conns, char **ret);

/*
 * Worker thread: keys of entry e (every entry of c when e is NULL):
 * {"keys":[{"entry":..,"name":..,"type":..,"bits":..,"generated":..,"id":"hex"},..]}.
 */
AD_MUST_CHECK int admin_keys_json(struct keystore *ks, const struct agentd_conf *c,
                                  const struct workload_entry *e, char **ret);

/* {"ok":true,"entry":..,"key":{..}} / {"ok":true,"deleted":..}. */
AD_MUST_CHECK int admin_key_json(const char *entry, const struct keystore_pub *p, char **ret);
AD_MUST_CHECK int admin_deleted_json(const char *entry, const char *key, char **ret);

/* Loop thread: the last n audit lines, newline-separated, at most max bytes (oldest dropped). */
AD_MUST_CHECK int admin_audit_tail(const char *path, size_t n, size_t max, char **ret);

#endif
