/*
 * agentctl: administer agentd over its socket, and verify audit logs locally.
 *
 *   agentctl [-s SOCKET] status | workloads | whoami
 *   agentctl [-s SOCKET] keys [list [ENTRY]]
 *   agentctl [-s SOCKET] keys create ENTRY NAME TYPE   (ec-p256 ec-p384 rsa-2048 rsa-3072 rsa-4096)
 *   agentctl [-s SOCKET] keys delete ENTRY NAME
 *   agentctl [-s SOCKET] audit tail [N]
 *   agentctl audit verify [PATH]                       (local: no daemon needed)
 *
 * The socket is -s, else $AGENTD_SOCKET, else /run/agentd/agentd.sock. The
 * daemon decides who may use admin messages (root or its admin group, by
 * peer credentials); agentctl only reports the answer.
 *
 * Exit status: 0 done; 1 error (daemon not running, bad reply, failed
 * verification); 2 usage; 3 the daemon refused (DENIED or another status).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentctl_wire.h"
#include "audit.h"

#define SOCKET_DEFAULT "/run/agentd/agentd.sock"
#define AUDIT_DEFAULT "/var/lib/agentd/audit.log"
#define TEXT_MAX 200000u /* ADMIN_TEXT_MAX */
#define TAIL_DEFAULT 20u
#define TAIL_MAX 1000u /* AUDIT_TAIL_MAX */
#define ENTRY_MAX 128u
#define KEY_NAME_MAX 64u

#define EXIT_ERR 1
#define EXIT_USAGE 2
#define EXIT_REFUSED 3

struct key_type {
    const char *name;
    uint64_t ckk;
    uint32_t bits;
};

static const struct key_type key_types[] = {
    {"ec-p256", 0x3, 256},   {"ec-p384", 0x3, 384},   {"rsa-2048", 0x0, 2048},
    {"rsa-3072", 0x0, 3072}, {"rsa-4096", 0x0, 4096},
};

static int usage(void)
{
    fprintf(stderr, "usage: agentctl [-s SOCKET] status | workloads | whoami\n"
                    "       agentctl [-s SOCKET] keys [list [ENTRY]]\n"
                    "       agentctl [-s SOCKET] keys create ENTRY NAME TYPE\n"
                    "       agentctl [-s SOCKET] keys delete ENTRY NAME\n"
                    "       agentctl [-s SOCKET] audit tail [N]\n"
                    "       agentctl audit verify [PATH]\n"
                    "TYPE: ec-p256 ec-p384 rsa-2048 rsa-3072 rsa-4096\n");
    return EXIT_USAGE;
}

struct ctl {
    const char *sock;
    int fd;
};

static int ctl_connect(struct ctl *c)
{
    if (agentctl_wire_connect(c->sock, &c->fd) != 0) {
        fprintf(stderr, "agentctl: agentd is not running at %s (connect: %s)\n", c->sock,
                strerror(errno));
        return EXIT_ERR;
    }
    return 0;
}

/*
 * Send w, read the reply. On a non-OK status say what the daemon refused
 * and return EXIT_REFUSED. On success *rep is the caller's.
 */
static int ctl_call(struct ctl *c, struct agentctl_wire_w *w, const char *what,
                    struct agentctl_wire_reply *rep)
{
    int r;

    if ((r = ctl_connect(c)) != 0) {
        agentctl_wire_w_free(w);
        return r;
    }
    r = agentctl_wire_send(c->fd, w);
    agentctl_wire_w_free(w);
    if (r != 0) {
        fprintf(stderr, "agentctl: %s: send to %s failed: %s\n", what, c->sock, strerror(errno));
        return EXIT_ERR;
    }
    if ((r = agentctl_wire_recv(c->fd, rep)) != 0) {
        if (r == AD_ERR_CLOSED) {
            fprintf(stderr, "agentctl: %s: agentd closed the connection\n", what);
        } else {
            fprintf(stderr, "agentctl: %s: bad reply from agentd: %s\n", what, ad_strerror(r));
        }
        return EXIT_ERR;
    }
    if (rep->status != AGENTCTL_ST_OK) {
        if (rep->status == AGENTCTL_ST_DENIED) {
            fprintf(stderr,
                    "agentctl: %s: agentd refused: %s (%s); admin commands need root or the "
                    "daemon's admin_group\n",
                    what, agentctl_wire_status_name(rep->status), rep->msg);
        } else {
            fprintf(stderr, "agentctl: %s: agentd answered %s: %s\n", what,
                    agentctl_wire_status_name(rep->status), rep->msg);
        }
        agentctl_wire_reply_free(rep);
        return EXIT_REFUSED;
    }
    return 0;
}

/* Admin replies are one string(ADMIN_TEXT_MAX) of JSON: print it. */
static int print_text_reply(struct agentctl_wire_reply *rep, const char *what)
{
    const uint8_t *t = NULL;
    size_t n = 0;
    int r = 0;

    if (agentctl_wire_get_bytes(&rep->body, TEXT_MAX, &t, &n) != 0 || /* json */
        agentctl_wire_get_end(&rep->body) != 0) {
        fprintf(stderr, "agentctl: %s: malformed reply\n", what);
        r = EXIT_ERR;
    } else {
        fwrite(t, 1, n, stdout);
        if (n == 0 || t[n - 1] != '\n') {
            fputc('\n', stdout);
        }
    }
    agentctl_wire_reply_free(rep);
    return r;
}

static int admin(struct ctl *c, struct agentctl_wire_w *w, const char *what)
{
    struct agentctl_wire_reply rep;
    int r;

    if ((r = ctl_call(c, w, what, &rep)) != 0) {
        return r;
    }
    return print_text_reply(&rep, what);
}

static int begin(struct agentctl_wire_w *w, uint8_t type)
{
    if (agentctl_wire_begin(w, type, 1) != 0) {
        fprintf(stderr, "agentctl: out of memory\n");
        return EXIT_ERR;
    }
    return 0;
}

static int cmd_simple(struct ctl *c, uint8_t type, const char *what)
{
    struct agentctl_wire_w w;
    int r;

    if ((r = begin(&w, type)) != 0) {
        return r;
    }
    return admin(c, &w, what);
}

static int check_len(const char *s, size_t max, const char *what)
{
    if (strlen(s) == 0 || strlen(s) > max) {
        fprintf(stderr, "agentctl: %s must be 1..%zu bytes\n", what, max);
        return EXIT_USAGE;
    }
    return 0;
}

static int cmd_keys(struct ctl *c, int argc, char **argv)
{
    struct agentctl_wire_w w;
    const struct key_type *kt = NULL;
    int r;

    if (argc == 0 || (strcmp(argv[0], "list") == 0 && argc <= 2)) {
        const char *entry = argc == 2 ? argv[1] : "";

        if (strlen(entry) > ENTRY_MAX) {
            return check_len(entry, ENTRY_MAX, "ENTRY");
        }
        if ((r = begin(&w, AGENTCTL_MT_ADMIN_KEYS)) != 0) {
            return r;
        }
        agentctl_wire_put_str(&w, entry); /* entry */
        return admin(c, &w, "keys list");
    }
    if (strcmp(argv[0], "create") == 0 && argc == 4) {
        for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
            if (strcmp(key_types[i].name, argv[3]) == 0) {
                kt = &key_types[i];
            }
        }
        if (kt == NULL) {
            fprintf(stderr, "agentctl: unknown key type %s\n", argv[3]);
            return usage();
        }
        if ((r = check_len(argv[1], ENTRY_MAX, "ENTRY")) != 0 ||
            (r = check_len(argv[2], KEY_NAME_MAX, "NAME")) != 0 ||
            (r = begin(&w, AGENTCTL_MT_ADMIN_KEY_CREATE)) != 0) {
            return r;
        }
        agentctl_wire_put_str(&w, argv[1]);  /* entry */
        agentctl_wire_put_str(&w, argv[2]);  /* name */
        agentctl_wire_put_u64(&w, kt->ckk);  /* key_type */
        agentctl_wire_put_u32(&w, kt->bits); /* bits */
        return admin(c, &w, "keys create");
    }
    if (strcmp(argv[0], "delete") == 0 && argc == 3) {
        if ((r = check_len(argv[1], ENTRY_MAX, "ENTRY")) != 0 ||
            (r = check_len(argv[2], KEY_NAME_MAX, "NAME")) != 0 ||
            (r = begin(&w, AGENTCTL_MT_ADMIN_KEY_DELETE)) != 0) {
            return r;
        }
        agentctl_wire_put_str(&w, argv[1]); /* entry */
        agentctl_wire_put_str(&w, argv[2]); /* name */
        return admin(c, &w, "keys delete");
    }
    return usage();
}

static int cmd_audit_verify(const char *path)
{
    struct audit_verify_report rep;
    int r = audit_verify(path, &rep);

    if (r == AD_OK) {
        printf("audit log %s: ok, %llu records (seq %llu..%llu)%s\n", path,
               (unsigned long long)rep.records, (unsigned long long)rep.first_seq,
               (unsigned long long)rep.last_seq,
               rep.head_checked ? ", head file matches" : ", no head file");
        return 0;
    }
    if (r == AD_ERR_CORRUPT) {
        char where[4200];
        const char *file = rep.file[0] != '\0' ? rep.file : path;

        /* "file:line: what"; audit_verify's message may already start with file:line. */
        snprintf(where, sizeof(where), "%s:%llu: ", file, (unsigned long long)rep.line);
        if (strncmp(rep.message, where, strlen(where)) == 0) {
            fprintf(stderr, "%s\n", rep.message);
        } else {
            fprintf(stderr, "%s%s\n", where, rep.message);
        }
        return EXIT_ERR;
    }
    fprintf(stderr, "agentctl: cannot read audit log %s: %s%s%s\n", path, ad_strerror(r),
            rep.message[0] != '\0' ? ": " : "", rep.message);
    return EXIT_ERR;
}

static int cmd_audit(struct ctl *c, int argc, char **argv)
{
    struct agentctl_wire_w w;
    unsigned long n = TAIL_DEFAULT;
    int r;

    if (argc >= 1 && strcmp(argv[0], "verify") == 0 && argc <= 2) {
        return cmd_audit_verify(argc == 2 ? argv[1] : AUDIT_DEFAULT);
    }
    if (argc >= 1 && strcmp(argv[0], "tail") == 0 && argc <= 2) {
        if (argc == 2) {
            char *end = NULL;

            errno = 0;
            n = strtoul(argv[1], &end, 10);
            if (errno != 0 || *end != '\0' || n == 0 || n > TAIL_MAX) {
                fprintf(stderr, "agentctl: N must be 1..%u\n", TAIL_MAX);
                return EXIT_USAGE;
            }
        }
        if ((r = begin(&w, AGENTCTL_MT_ADMIN_AUDIT_TAIL)) != 0) {
            return r;
        }
        agentctl_wire_put_u32(&w, (uint32_t)n); /* count */
        return admin(c, &w, "audit tail");
    }
    return usage();
}

static int cmd_whoami(struct ctl *c)
{
    struct agentctl_wire_w w;
    struct agentctl_wire_reply rep;
    struct agentctl_wire_r *b = &rep.body;
    uint32_t pid, uid, gid;
    const uint8_t *exe, *sha, *cg, *entry, *spiffe, *tier;
    size_t exe_n, sha_n, cg_n, entry_n, spiffe_n, tier_n;
    int r;

    if ((r = begin(&w, AGENTCTL_MT_WHOAMI)) != 0 || (r = ctl_call(c, &w, "whoami", &rep)) != 0) {
        return r;
    }
    if (agentctl_wire_get_u32(b, &pid) != 0 ||                       /* pid */
        agentctl_wire_get_u32(b, &uid) != 0 ||                       /* uid */
        agentctl_wire_get_u32(b, &gid) != 0 ||                       /* gid */
        agentctl_wire_get_bytes(b, 4096, &exe, &exe_n) != 0 ||       /* exe */
        agentctl_wire_get_bytes(b, 32, &sha, &sha_n) != 0 ||         /* exe_sha256 */
        agentctl_wire_get_bytes(b, 4096, &cg, &cg_n) != 0 ||         /* cgroup */
        agentctl_wire_get_bytes(b, 128, &entry, &entry_n) != 0 ||    /* entry */
        agentctl_wire_get_bytes(b, 2048, &spiffe, &spiffe_n) != 0 || /* spiffe_id */
        agentctl_wire_get_bytes(b, 16, &tier, &tier_n) != 0 ||       /* tier */
        agentctl_wire_get_end(b) != 0) {
        fprintf(stderr, "agentctl: whoami: malformed reply\n");
        agentctl_wire_reply_free(&rep);
        return EXIT_ERR;
    }
    printf("pid:       %u\nuid:       %u\ngid:       %u\nexe:       %.*s\nsha256:    ", pid, uid,
           gid, (int)exe_n, (const char *)exe);
    for (size_t i = 0; i < sha_n; i++) {
        printf("%02x", sha[i]);
    }
    printf("%s\ncgroup:    %.*s\n", sha_n == 0 ? "(unknown)" : "", (int)cg_n, (const char *)cg);
    if (entry_n == 0) {
        printf("entry:     (none: no workload entry matches this process)\n");
    } else {
        printf("entry:     %.*s\nspiffe_id: %.*s\ntier:      %.*s\n", (int)entry_n,
               (const char *)entry, (int)spiffe_n, (const char *)spiffe, (int)tier_n,
               (const char *)tier);
    }
    agentctl_wire_reply_free(&rep);
    return 0;
}

int main(int argc, char **argv)
{
    struct ctl c = {.sock = getenv("AGENTD_SOCKET"), .fd = -1};
    int i = 1;
    int r;

    if (c.sock == NULL || c.sock[0] == '\0') {
        c.sock = SOCKET_DEFAULT;
    }
    if (argc > 2 && strcmp(argv[1], "-s") == 0) {
        c.sock = argv[2];
        i = 3;
    }
    if (i >= argc) {
        return usage();
    }
    if (strcmp(argv[i], "status") == 0 && argc == i + 1) {
        r = cmd_simple(&c, AGENTCTL_MT_ADMIN_STATUS, "status");
    } else if (strcmp(argv[i], "workloads") == 0 && argc == i + 1) {
        r = cmd_simple(&c, AGENTCTL_MT_ADMIN_WORKLOADS, "workloads");
    } else if (strcmp(argv[i], "whoami") == 0 && argc == i + 1) {
        r = cmd_whoami(&c);
    } else if (strcmp(argv[i], "keys") == 0) {
        r = cmd_keys(&c, argc - i - 1, argv + i + 1);
    } else if (strcmp(argv[i], "audit") == 0) {
        r = cmd_audit(&c, argc - i - 1, argv + i + 1);
    } else {
        r = usage();
    }
    if (c.fd >= 0) {
        close(c.fd);
    }
    return r;
}
