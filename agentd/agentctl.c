/*
 * agentctl: administer agentd over its socket, and verify audit logs locally.
 *
 *   agentctl [-s SOCKET] status | workloads | whoami
 *   agentctl [-s SOCKET] enroll [--certs-only]          (agentd.enroll configured)
 *   agentctl [-s SOCKET] keys [list [ENTRY]]
 *   agentctl [-s SOCKET] keys create ENTRY NAME TYPE   (ec-p256 ec-p384 rsa-2048 rsa-3072)
 *   agentctl [-s SOCKET] keys delete ENTRY NAME
 *   agentctl [-s SOCKET] audit tail [N]
 *   agentctl audit verify [PATH]                       (local: no daemon needed)
 *
 * The socket is -s, else $AGENTD_SOCKET, else /run/agentd/agentd.sock. The
 * daemon decides who may use admin messages (root or its admin group, by
 * peer credentials); agentctl only reports the answer.
 *
 * Exit status: 0 done; 1 error (daemon not running, bad reply, failed
 * verification, enrollment failed); 2 usage; 3 the daemon refused (DENIED
 * or another status).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "audit.h"
#include "buf.h"
#include "frame.h"
#include "io.h"
#include "msg.h"

#define SOCKET_DEFAULT "/run/agentd/agentd.sock"
#define AUDIT_DEFAULT "/var/lib/agentd/audit.log"
#define TAIL_DEFAULT 20u

#define EXIT_ERR 1
#define EXIT_USAGE 2
#define EXIT_REFUSED 3

struct key_type {
    const char *name;
    uint64_t ckk;
    uint32_t bits;
};

static const struct key_type key_types[] = {
    {"ec-p256", 0x3, 256},
    {"ec-p384", 0x3, 384},
    {"rsa-2048", 0x0, 2048},
    {"rsa-3072", 0x0, 3072},
};

static int usage(void)
{
    fprintf(stderr, "usage: agentctl [-s SOCKET] status | workloads | whoami\n"
                    "       agentctl [-s SOCKET] enroll [--certs-only]\n"
                    "       agentctl [-s SOCKET] keys [list [ENTRY]]\n"
                    "       agentctl [-s SOCKET] keys create ENTRY NAME TYPE\n"
                    "       agentctl [-s SOCKET] keys delete ENTRY NAME\n"
                    "       agentctl [-s SOCKET] audit tail [N]\n"
                    "       agentctl audit verify [PATH]\n"
                    "TYPE: ec-p256 ec-p384 rsa-2048 rsa-3072\n");
    return EXIT_USAGE;
}

struct ctl {
    const char *sock;
    int fd;
    struct buf *req;   /* request body */
    struct buf *reply; /* reply body */
};

static int ctl_connect(struct ctl *c)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};

    if (strlen(c->sock) >= sizeof(a.sun_path)) {
        fprintf(stderr, "agentctl: socket path too long: %s\n", c->sock);
        return EXIT_USAGE;
    }
    memcpy(a.sun_path, c->sock, strlen(c->sock) + 1);
    if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(c->fd, (const struct sockaddr *)&a, sizeof(a)) != 0) {
        fprintf(stderr, "agentctl: agentd is not running at %s (connect: %s)\n", c->sock,
                strerror(errno));
        return EXIT_ERR;
    }
    return 0;
}

/*
 * Send c->req as a request of type, read the reply into c->reply. On a
 * non-OK status say what the daemon refused and return EXIT_REFUSED.
 */
static int ctl_call(struct ctl *c, uint8_t type, const char *what)
{
    struct frame_header h;
    struct msg_error e;
    uint32_t st = 0;
    int r;

    if ((r = ctl_connect(c)) != 0) {
        return r;
    }
    if ((r = io_write_frame(c->fd, type, 1, c->req)) != 0) {
        fprintf(stderr, "agentctl: %s: send to %s failed: %s\n", what, c->sock,
                r == AD_ERR_SYSTEM ? strerror(errno) : ad_strerror(r));
        return EXIT_ERR;
    }
    if ((r = io_read_frame(c->fd, c->reply, &h)) != 0) {
        if (r == AD_ERR_CLOSED) {
            fprintf(stderr, "agentctl: %s: agentd closed the connection\n", what);
        } else {
            fprintf(stderr, "agentctl: %s: bad reply from agentd: %s\n", what, ad_strerror(r));
        }
        return EXIT_ERR;
    }
    if (h.type != (uint8_t)(type | FRAME_REPLY) || h.request_id != 1 ||
        msg_status_peek(c->reply, &st) != 0) {
        fprintf(stderr, "agentctl: %s: unexpected reply from agentd\n", what);
        return EXIT_ERR;
    }
    if (st == STATUS_OK) {
        return 0;
    }
    if (msg_error_decode(c->reply, &e) != 0) {
        fprintf(stderr, "agentctl: %s: malformed error reply\n", what);
        return EXIT_ERR;
    }
    if (st == STATUS_DENIED) {
        fprintf(stderr,
                "agentctl: %s: agentd refused: %s (%.*s); admin commands need root or the "
                "daemon's admin_group\n",
                what, status_name(st), (int)e.message.len, e.message.ptr);
    } else {
        fprintf(stderr, "agentctl: %s: agentd answered %s: %.*s\n", what, status_name(st),
                (int)e.message.len, e.message.ptr);
    }
    return EXIT_REFUSED;
}

/* Admin replies are one string(ADMIN_TEXT_MAX) of JSON: print it. */
static int admin(struct ctl *c, uint8_t type, const char *what)
{
    struct msg_admin_reply m;
    int r;

    if ((r = ctl_call(c, type, what)) != 0) {
        return r;
    }
    if (msg_admin_reply_decode(c->reply, &m) != 0) {
        fprintf(stderr, "agentctl: %s: malformed reply\n", what);
        return EXIT_ERR;
    }
    fwrite(m.json.ptr, 1, m.json.len, stdout);
    if (m.json.len == 0 || m.json.ptr[m.json.len - 1] != '\n') {
        fputc('\n', stdout);
    }
    return 0;
}

/* Encoding failed: an argument was out of range for the protocol. */
static int encode_failed(const char *what)
{
    fprintf(stderr, "agentctl: %s: arguments out of range\n", what);
    return EXIT_USAGE;
}

static int cmd_simple(struct ctl *c, uint8_t type, const char *what)
{
    buf_reset(c->req);
    if (msg_empty_request_encode(c->req) != 0) {
        return encode_failed(what);
    }
    return admin(c, type, what);
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
    const struct key_type *kt = NULL;
    int r;

    buf_reset(c->req);
    if (argc == 0 || (strcmp(argv[0], "list") == 0 && argc <= 2)) {
        struct msg_admin_keys_request m = {msg_str_c(argc == 2 ? argv[1] : "")};

        if (m.entry.len > ENTRY_MAX) {
            return check_len(argv[1], ENTRY_MAX, "ENTRY");
        }
        if (msg_admin_keys_request_encode(c->req, &m) != 0) {
            return encode_failed("keys list");
        }
        return admin(c, MSG_ADMIN_KEYS, "keys list");
    }
    if (strcmp(argv[0], "create") == 0 && argc == 4) {
        struct msg_admin_key_create_request m = {msg_str_c(argv[1]), msg_str_c(argv[2]), 0, 0};

        for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
            if (strcmp(key_types[i].name, argv[3]) == 0) {
                kt = &key_types[i];
            }
        }
        if (kt == NULL) {
            fprintf(stderr, "agentctl: unknown key type %s\n", argv[3]);
            return usage();
        }
        m.key_type = kt->ckk;
        m.bits = kt->bits;
        if ((r = check_len(argv[1], ENTRY_MAX, "ENTRY")) != 0 ||
            (r = check_len(argv[2], KEY_NAME_MAX, "NAME")) != 0) {
            return r;
        }
        if (msg_admin_key_create_request_encode(c->req, &m) != 0) {
            return encode_failed("keys create");
        }
        return admin(c, MSG_ADMIN_KEY_CREATE, "keys create");
    }
    if (strcmp(argv[0], "delete") == 0 && argc == 3) {
        struct msg_admin_key_delete_request m = {msg_str_c(argv[1]), msg_str_c(argv[2])};

        if ((r = check_len(argv[1], ENTRY_MAX, "ENTRY")) != 0 ||
            (r = check_len(argv[2], KEY_NAME_MAX, "NAME")) != 0) {
            return r;
        }
        if (msg_admin_key_delete_request_encode(c->req, &m) != 0) {
            return encode_failed("keys delete");
        }
        return admin(c, MSG_ADMIN_KEY_DELETE, "keys delete");
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
    unsigned long n = TAIL_DEFAULT;

    if (argc >= 1 && strcmp(argv[0], "verify") == 0 && argc <= 2) {
        return cmd_audit_verify(argc == 2 ? argv[1] : AUDIT_DEFAULT);
    }
    if (argc >= 1 && strcmp(argv[0], "tail") == 0 && argc <= 2) {
        if (argc == 2) {
            char *end = NULL;

            errno = 0;
            n = strtoul(argv[1], &end, 10);
            if (errno != 0 || *end != '\0' || n == 0 || n > AUDIT_TAIL_MAX) {
                fprintf(stderr, "agentctl: N must be 1..%d\n", AUDIT_TAIL_MAX);
                return EXIT_USAGE;
            }
        }
        {
            struct msg_admin_audit_tail_request m = {(uint32_t)n};

            buf_reset(c->req);
            if (msg_admin_audit_tail_request_encode(c->req, &m) != 0) {
                return encode_failed("audit tail");
            }
        }
        return admin(c, MSG_ADMIN_AUDIT_TAIL, "audit tail");
    }
    return usage();
}

/*
 * The daemon enrolls (or, with --certs-only, only re-issues the workload
 * certificates) and answers with its step report; the last line is "ok: ..."
 * or "error: ...".
 */
static int cmd_enroll(struct ctl *c, int argc, char **argv)
{
    struct msg_admin_enroll_request m = {0};
    struct msg_admin_reply rep;
    const char *last;
    int r;

    if (argc == 1 && strcmp(argv[0], "--certs-only") == 0) {
        m.flags = MSG_ENROLL_CERTS_ONLY;
    } else if (argc != 0) {
        return usage();
    }
    buf_reset(c->req);
    if (msg_admin_enroll_request_encode(c->req, &m) != 0) {
        return encode_failed("enroll");
    }
    if ((r = ctl_call(c, MSG_ADMIN_ENROLL, "enroll")) != 0) {
        return r;
    }
    if (msg_admin_reply_decode(c->reply, &rep) != 0) {
        fprintf(stderr, "agentctl: enroll: malformed reply\n");
        return EXIT_ERR;
    }
    fwrite(rep.json.ptr, 1, rep.json.len, stdout);
    /* the last line decides: the report ends with a newline */
    last = rep.json.ptr;
    for (size_t i = 0; i + 1 < rep.json.len; i++) {
        if (rep.json.ptr[i] == '\n') {
            last = rep.json.ptr + i + 1;
        }
    }
    if ((size_t)(rep.json.ptr + rep.json.len - last) >= 3 && strncmp(last, "ok:", 3) == 0) {
        return 0;
    }
    fprintf(stderr, "agentctl: enroll failed (see the report above)\n");
    return EXIT_ERR;
}

static int cmd_whoami(struct ctl *c)
{
    struct msg_whoami_reply m;
    int r;

    buf_reset(c->req);
    if (msg_empty_request_encode(c->req) != 0) {
        return encode_failed("whoami");
    }
    if ((r = ctl_call(c, MSG_WHOAMI, "whoami")) != 0) {
        return r;
    }
    if (msg_whoami_reply_decode(c->reply, &m) != 0) {
        fprintf(stderr, "agentctl: whoami: malformed reply\n");
        return EXIT_ERR;
    }
    printf("pid:       %u\nuid:       %u\ngid:       %u\nexe:       %.*s\nsha256:    ", m.pid,
           m.uid, m.gid, (int)m.exe.len, m.exe.ptr);
    for (size_t i = 0; i < m.exe_sha256.len; i++) {
        printf("%02x", m.exe_sha256.ptr[i]);
    }
    printf("%s\ncgroup:    %.*s\n", m.exe_sha256.len == 0 ? "(unknown)" : "", (int)m.cgroup.len,
           m.cgroup.ptr);
    if (m.entry.len == 0) {
        printf("entry:     (none: no workload entry matches this process)\n");
    } else {
        printf("entry:     %.*s\nspiffe_id: %.*s\ntier:      %.*s\n", (int)m.entry.len, m.entry.ptr,
               (int)m.spiffe_id.len, m.spiffe_id.ptr, (int)m.tier.len, m.tier.ptr);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct ctl c = {.sock = getenv("AGENTD_SOCKET"), .fd = -1};
    int i = 1;
    int r;

    if ((c.req = buf_new(FRAME_BODY_MAX)) == NULL || (c.reply = buf_new(FRAME_BODY_MAX)) == NULL) {
        fprintf(stderr, "agentctl: out of memory\n");
        return EXIT_ERR;
    }

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
        r = cmd_simple(&c, MSG_ADMIN_STATUS, "status");
    } else if (strcmp(argv[i], "workloads") == 0 && argc == i + 1) {
        r = cmd_simple(&c, MSG_ADMIN_WORKLOADS, "workloads");
    } else if (strcmp(argv[i], "enroll") == 0) {
        r = cmd_enroll(&c, argc - i - 1, argv + i + 1);
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
    buf_free(c.req);
    buf_free(c.reply);
    return r;
}
