/*
 * Private to identity*.c: the identity's state and the helpers its parts
 * share. identity.c runs the thread and the API, identity_host.c the host
 * enrollment, the status record and the step report, identity_certs.c the
 * workload certificates and their renewal.
 */
#ifndef AGENTD_IDENTITY_PRIV_H
#define AGENTD_IDENTITY_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "enroll.h"
#include "identity.h"
#include "identity_tpm.h"

#define PEM_MAX (64 * 1024)
#define ERR_MAX 512
#define TD_MAX 255
#define HOST_ID_LEN 64

struct identity {
    pthread_t thread;
    bool has_thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int efd;
    char *dir; /* state_dir/identity */
    /* Guarded by lock. */
    bool is_stopping;
    struct conf_ref *conf;
    struct identity_request *todo;
    struct identity_request *done;
    char *spiffe_id; /* published copies of the thread's state, for status and LIST */
    int64_t host_not_after;
    struct certinfo *bundle;
    size_t n_bundle;
    int64_t last_contact;
    int64_t last_error_at;
    char last_error[ERR_MAX];
    int64_t next_due;    /* 0: nothing scheduled */
    bool is_backing_off; /* the last pass failed: next_due is a retry */
    char *keys_json;
    /* Loop thread only. */
    size_t n_pending;
    /* Identity thread only (and identity_new before it starts). */
    struct identity_tpm it;
    bool is_enrolled;
    char td[TD_MAX + 1];
    char host_id[HOST_ID_LEN + 1];
    int64_t host_issued_at;
    char *host_pem; /* the host certificate, presented to the CA (mutual TLS) */
    struct enroll_host_key host_key;
    unsigned failures; /* consecutive failed cycles: the backoff exponent */
};

/* A step report under construction (NULL report: lines only go to the log). */
struct report {
    struct identity_request *rq;
};

/* Append a line to the step report (and the log). rep may be NULL: log only. */
void identity_report(struct report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "2026-01-02T03:04:05Z", or "never" for t <= 0. */
void identity_iso_time(int64_t t, char out[32]);

/* dir/name into out; AD_ERR_TOO_LARGE when it does not fit. */
int identity_path(const struct identity *id, const char *name, char *out, size_t size);

/* Keep pem (copied) as the host certificate to present. AD_ERR_NOMEM. */
int identity_set_host_pem(struct identity *id, const char *pem);

/* Read status.json back (start-up). */
void identity_status_load(struct identity *id);

/* Record a CA exchange: r == 0 success, else err is the last error. */
void identity_note_contact(struct identity *id, int r, const char *err);

/*
 * Client options from the enroll group; rep receives the protocol's step
 * lines. Once enrolled, and while the host certificate has not expired, the
 * options present it (mutual TLS); an expired one is not presented, so the
 * renewal is a full enrollment without a client certificate.
 */
void identity_options(struct identity *id, const struct conf_enroll *ec, struct report *rep,
                      struct enroll_options *ret);

/* "spiffe://<td>/host/<64 hex>" into td and hex. AD_ERR_FORMAT otherwise. */
int identity_parse_host_id(const char *id, char td[TD_MAX + 1], char hex[HOST_ID_LEN + 1]);

/* Replace the published trust bundle (takes list). */
void identity_publish_bundle(struct identity *id, struct certinfo *list, size_t n);

/* Enroll the host (new AK and host key); saved and made current only on success. */
int identity_enroll_host(struct identity *id, const struct conf_enroll *ec, struct report *rep);

/*
 * One pass over every workload key of c: issue what is due (everything when
 * forced), publish the status, schedule the next pass. Returns the failures.
 */
unsigned identity_run_cycle(struct identity *id, const struct agentd_conf *c, bool is_forced,
                            struct report *rep);

#endif
