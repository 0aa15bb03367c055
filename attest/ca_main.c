/*
 * agentd-ca: the enrollment CA.
 *   agentd-ca -c CONFIG [serve]            run the HTTPS server
 *   agentd-ca -c CONFIG admin hosts        list hosts and their state
 *   agentd-ca -c CONFIG admin show HOST    one host and every event recorded for it
 *   agentd-ca -c CONFIG admin clear HOST   forget a refused or removed host
 *   agentd-ca -c CONFIG admin remove HOST  mark a host removed (refused until cleared)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca.h"
#include "ca_conf.h"
#include "ca_http.h"
#include "store.h"

static void fmt_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(buf, cap, "-");
    }
}

static int print_host(const struct store_host *h, void *arg)
{
    char upd[32], exp[32];

    (void)arg;
    fmt_time(h->updated, upd, sizeof(upd));
    fmt_time(h->cert_not_after, exp, sizeof(exp));
    printf("%s  %-8s  class=%s  updated=%s  cert_expires=%s%s%s\n", h->id, h->status,
           h->host_class[0] ? h->host_class : "-", upd, exp, h->reason[0] ? "  reason=" : "",
           h->reason);
    return AD_OK;
}

static int print_event(int64_t at, const char *what, const char *reason, void *arg)
{
    char when[32];

    (void)arg;
    fmt_time(at, when, sizeof(when));
    printf("  %s  %s: %s\n", when, what, reason);
    return AD_OK;
}

static int admin(struct store *st, int argc, char **argv)
{
    struct store_host h;
    int r;

    if (argc == 1 && strcmp(argv[0], "hosts") == 0) {
        return store_host_list(st, print_host, NULL) == AD_OK ? 0 : 1;
    }
    if (argc != 2) {
        return 2;
    }
    if (strcmp(argv[0], "show") == 0) {
        if ((r = store_host_get(st, argv[1], &h)) != AD_OK) {
            printf("%s  (no host record)\n", argv[1]);
        } else {
            print_host(&h, NULL);
        }
        printf("events:\n");
        return store_event_list(st, argv[1], print_event, NULL) == AD_OK && r == AD_OK ? 0 : 1;
    }
    if (strcmp(argv[0], "clear") == 0) {
        if ((r = store_host_delete(st, argv[1])) != AD_OK) {
            fprintf(stderr, "agentd-ca: clear %s: %s\n", argv[1], ad_strerror(r));
            return 1;
        }
        r = store_event_add(st, argv[1], "admin", "cleared; the host may enroll again");
        printf("cleared %s\n", argv[1]);
        return r == AD_OK ? 0 : 1;
    }
    if (strcmp(argv[0], "remove") == 0) {
        if ((r = store_host_get(st, argv[1], &h)) != AD_OK) {
            fprintf(stderr, "agentd-ca: remove %s: %s\n", argv[1], ad_strerror(r));
            return 1;
        }
        snprintf(h.status, sizeof(h.status), "%s", STORE_REMOVED);
        snprintf(h.reason, sizeof(h.reason), "removed by an admin");
        h.updated = (int64_t)time(NULL);
        if (store_host_put(st, &h) != AD_OK ||
            store_event_add(st, argv[1], "admin", "removed") != AD_OK) {
            return 1;
        }
        printf("removed %s\n", argv[1]);
        return 0;
    }
    return 2;
}

static int usage(void)
{
    fprintf(stderr, "usage: agentd-ca -c CONFIG [serve]\n"
                    "       agentd-ca -c CONFIG admin hosts|show HOST|clear HOST|remove HOST\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *path = "/etc/agentd/agentd-ca.conf";
    struct ca_conf *conf = calloc(1, sizeof(*conf));
    struct store *st = NULL;
    struct ca *ca = NULL;
    char err[512];
    int opt, rc = 1;

    /* tss2-mu logs every malformed structure it refuses: that is input from
     * the network, so keep it out of the log unless asked for. */
    setenv("TSS2_LOG", "all+none", 0);
    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        if (opt == 'c') {
            path = optarg;
        } else {
            free(conf);
            return usage();
        }
    }
    if (conf == NULL || ca_conf_load(path, conf, err, sizeof(err)) != AD_OK) {
        fprintf(stderr, "agentd-ca: %s\n", conf != NULL ? err : "out of memory");
        goto out;
    }
    if (optind < argc && strcmp(argv[optind], "admin") == 0) {
        if (store_open(conf->database, &st) != AD_OK) {
            fprintf(stderr, "agentd-ca: cannot open database %s\n", conf->database);
            goto out;
        }
        rc = admin(st, argc - optind - 1, argv + optind + 1);
        if (rc == 2) {
            usage();
        }
        goto out;
    }
    if (optind < argc && strcmp(argv[optind], "serve") != 0) {
        rc = usage();
        goto out;
    }
    if (ca_new(conf, &ca, err, sizeof(err)) != AD_OK) {
        fprintf(stderr, "agentd-ca: %s\n", err);
        goto out;
    }
    rc = ca_http_serve(ca, conf) == AD_OK ? 0 : 1;
out:
    ca_free(ca);
    store_close(st);
    free(conf);
    return rc;
}
