/*
 * agentd -c CONFIG [--foreground] [--debug] [--user NAME]
 *
 * --user: the account to run as after start-up when started as root; the
 * state directory and the audit files are given to it before the drop.
 *
 * Start-up order matters: signals are blocked before any thread exists (the
 * loop takes them through a signalfd); dumps are disabled before any secret
 * or TPM handle exists; the TPM, keystore and audit log are opened and the
 * socket bound while still privileged; privileges are dropped before the
 * first byte from a client is read.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "audit_verify.h"
#include "conf.h"
#include "hasher.h"
#include "identity.h"
#include "keystore.h"
#include "log.h"
#include "policy.h"
#include "privs.h"
#include "server.h"
#include "tpm.h"
#include "worker.h"
#include "workload.h"

#ifndef AGENTD_VERSION
#define AGENTD_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: agentd -c CONFIG [--foreground] [--debug] [--user NAME]\n");
}

static void tpm_log_line(enum tpm_log_level level, const char *line)
{
    log_msg(level == TPM_LOG_ERROR  ? LOG_LEVEL_ERROR
            : level == TPM_LOG_WARN ? LOG_LEVEL_WARN
                                    : LOG_LEVEL_INFO,
            "%s", line);
}

static int load_conf(const char *path, struct conf_ref **ret)
{
    struct agentd_conf *c = NULL;
    struct conf_ref *ref = NULL;
    char err[CONF_ERR_MAX];
    int r;

    if ((r = conf_load(path, &c, err, sizeof(err))) != 0) {
        log_error("agentd: %s", err);
        return r;
    }
    if ((ref = calloc(1, sizeof(*ref))) == NULL) {
        conf_free(c);
        return AD_ERR_NOMEM;
    }
    ref->c = c;
    ref->refs = 1;
    *ret = ref;
    return AD_OK;
}

/*
 * Started as root with --user: the state tree and the audit files become
 * the user's, so what is written after the drop needs no root. The audit
 * log's directory must already be writable by the user when it lies
 * outside the state directory (head and rotations are created there).
 */
static int give_state(const char *user, const struct agentd_conf *c)
{
    char name[PATH_MAX];
    const char *paths[] = {c->state_dir, c->audit.path, name};
    const char *failed = NULL;
    int r = audit_head_name(c->audit.path, name, sizeof(name));

    if (r == 0) {
        r = privs_give_paths(user, paths, 3, &failed);
    }
    for (unsigned i = 1; r == 0 && i <= c->audit.keep; i++) {
        if ((r = audit_rotated_name(c->audit.path, i, name, sizeof(name))) == 0) {
            r = privs_give_paths(user, &paths[2], 1, &failed);
        }
    }
    if (r != 0) {
        log_error("agentd: giving the state to %s: %s", user,
                  failed != NULL && failed[0] != '\0' ? failed : ad_strerror(r));
    }
    return r;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
        {"debug", no_argument, NULL, 'd'},        {"user", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct daemon d = {0};
    struct tpm *tpm = NULL;
    struct tpm_options topt = {0};
    struct worker_boost boost = {0};
    const char *user = NULL;
    bool is_foreground = false;
    int opt;
    int r;

    while ((opt = getopt_long(argc, argv, "c:fdhu:", opts, NULL)) != -1) {
        switch (opt) {
        case 'u':
            user = optarg;
            break;
        case 'c':
            d.conf_path = optarg;
            break;
        case 'f':
            is_foreground = true;
            break;
        case 'd':
            log_set_level(LOG_LEVEL_DEBUG);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (d.conf_path == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    if ((r = privs_harden_process()) != 0 || (r = server_block_signals()) != 0) {
        return 1;
    }
    if ((r = load_conf(d.conf_path, &d.conf)) != 0) {
        return 1;
    }
    if (!is_foreground && daemon(0, 1) != 0) {
        log_error("agentd: daemon: %m");
        r = AD_ERR_SYSTEM;
        goto out;
    }
    d.started_ns = server_now_ns();
    /* The socket first: a second daemon on the same path stops here, before the TPM. */
    if ((r = server_new(&d, &d.srv)) != 0) {
        goto out;
    }
    if ((r = audit_open(d.conf->c->audit.path, d.conf->c->audit.rotate_bytes, d.conf->c->audit.keep,
                        d.conf->c->audit.sync, &d.audit)) != 0) {
        log_error("agentd: audit log %s: %s", d.conf->c->audit.path, ad_strerror(r));
        goto out;
    }
    if (audit_open_note(d.audit) != NULL) {
        log_warn("agentd: audit: %s", audit_open_note(d.audit));
    }
    if ((r = policy_new(d.conf->c, &d.policy)) != 0) {
        log_error("agentd: policy: %s", ad_strerror(r));
        goto out;
    }
    /* Our tpm layer logs decoded TPM errors itself; tpm2-tss would repeat them. */
    if (setenv("TSS2_LOG", "all+none", 0) != 0) {
        log_warn("agentd: setenv TSS2_LOG: %m");
    }
    tpm_set_log(tpm_log_line);
    topt.tcti = d.conf->c->tcti;
    topt.srk_handle = d.conf->c->srk_handle;
    /*
     * swtpm has 3 transient slots and no resource manager: SRK + loaded keys
     * + the slot TPM2_Create needs. Without enrollment one loaded key is
     * enough there (a hot key still costs one command); with it, TPM2_Certify
     * needs the AK and the key loaded together, and the tpm layer frees a
     * slot for TPM2_Create when the TPM runs out (TPM_RC_OBJECT_MEMORY).
     */
    if ((strncmp(topt.tcti, "swtpm", 5) == 0 || strncmp(topt.tcti, "mssim", 5) == 0) &&
        !d.conf->c->enroll.is_enabled) {
        topt.max_loaded = 1;
    }
    if ((r = tpm_open(&topt, &tpm)) != 0) {
        log_error("agentd: TPM %s: %s", d.conf->c->tcti, ad_strerror(r));
        goto out;
    }
    if ((r = keystore_open(tpm, d.conf->c, &d.ks)) != 0) {
        log_error("agentd: keystore %s: %s", d.conf->c->state_dir, ad_strerror(r));
        goto out;
    }
    tpm = NULL; /* the keystore owns it */
    if ((r = workload_cache_new(WORKLOAD_CACHE_DEFAULT, &d.wcache)) != 0) {
        goto out;
    }
    /*
     * Everything privileged is open now (TPM, state, audit log, socket).
     * Keep only what identifying callers needs (privs.h). This must come
     * before the TPM worker thread starts: capabilities and no_new_privs
     * are per thread, and a thread started earlier would keep root's.
     */
    worker_boost_prepare((int)d.conf->c->tpm_worker_boost, &boost); /* while we still may */
    if ((r = give_state(user, d.conf->c)) != 0 || (r = privs_drop(user)) != 0) {
        log_error("agentd: dropping privileges to %s: %s", user != NULL ? user : "(none)",
                  ad_strerror(r));
        goto out;
    }
    if ((r = worker_new(d.ks, &boost, &d.worker)) != 0 ||
        (r = hasher_new(workload_hash_file, &d.hasher)) != 0) {
        goto out;
    }
    if (d.conf->c->enroll.is_enabled && (r = identity_new(d.worker, d.conf, &d.identity)) != 0) {
        log_error("agentd: identity: %s", ad_strerror(r));
        goto out;
    }
    log_info("agentd %s: ready (%zu workload entries)", AGENTD_VERSION, d.conf->c->n_workloads);
    r = server_run(d.srv);
out:
    /*
     * Order: the identity thread (it uses the worker), then queued TPM jobs.
     * The hasher cancels a hash in progress: nobody waits for it any more.
     */
    identity_free(d.identity);
    worker_free(d.worker);
    hasher_free(d.hasher);
    server_free(d.srv);
    workload_cache_free(d.wcache);
    keystore_free(d.ks);
    tpm_close(tpm);
    policy_free(d.policy);
    if (d.audit != NULL && audit_close(d.audit) != 0) {
        log_error("agentd: audit head not written");
        r = r != 0 ? r : AD_ERR_SYSTEM;
    }
    conf_ref_put(d.conf);
    log_info("agentd: exit (%s)", ad_strerror(r));
    return r == 0 ? 0 : 1;
}
