#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "conn.h"
#include "dispatch.h"
#include "fdlimit.h"
#include "hasher.h"
#include "identity.h"
#include "log.h"
#include "match.h"
#include "policy.h"
#include "worker.h"

#define EV_LISTEN 1ULL
#define EV_SIGNAL 2ULL
#define EV_WORKER 3ULL
#define EV_IDENTITY 4ULL
#define EV_HASHER 5ULL
#define EV_CONN_MIN 16ULL /* larger values are struct conn pointers */

#define SHUTDOWN_DRAIN_MS 10000 /* in-flight requests get this long at SIGTERM */
#define TICK_MS 250

struct server {
    struct daemon *d;
    int lfd;
    int epfd;
    int sfd;
    char *sock_path;
    struct conn *conns; /* doubly linked, live and dead-but-held */
    size_t n_conns;     /* live ones */
    uint64_t next_id;
    bool is_stopping;
    bool is_quiet;             /* the event being handled is the only one of this wake-up */
    uint32_t fd_conns;         /* connections the descriptor limit leaves room for */
    uint64_t accept_resume_ns; /* non-zero: accepting paused until then (no descriptor) */
    uint64_t last_nofd_log_ns;
};

struct conf_ref *conf_ref_get(struct conf_ref *r)
{
    __atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
    return r;
}

void conf_ref_put(struct conf_ref *r)
{
    if (r == NULL || __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) > 0) {
        return;
    }
    conf_free(r->c);
    free(r);
}

uint64_t server_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int server_block_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        return AD_ERR_SYSTEM;
    }
    return AD_OK;
}

/* mkdir -p of the socket's parent, each created directory 0755. */
static int make_parent_dirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len >= sizeof(buf)) {
        return AD_ERR_TOO_LARGE;
    }
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            log_error("server: mkdir %s: %s", buf, strerror(errno));
            return AD_ERR_SYSTEM;
        }
        *p = '/';
    }
    return AD_OK;
}

/* A socket file is stale when connecting to it is refused. */
static bool socket_is_live(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool is_live;

    if (fd < 0) {
        return false;
    }
    is_live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN;
    close(fd);
    return is_live;
}

static int bind_socket(const struct agentd_conf *c, int *ret_fd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd = -1;
    int r;

    if (strlen(c->socket) >= sizeof(sa.sun_path)) {
        log_error("server: socket path too long: %s", c->socket);
        return AD_ERR_CONFIG;
    }
    strcpy(sa.sun_path, c->socket);
    if ((r = make_parent_dirs(c->socket)) != 0) {
        return r;
    }
    if (lstat(c->socket, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            log_error("server: %s exists and is not a socket", c->socket);
            return AD_ERR_EXISTS;
        }
        if (socket_is_live(&sa)) {
            log_error("server: another daemon listens on %s", c->socket);
            return AD_ERR_EXISTS;
        }
        log_info("server: replacing stale socket %s", c->socket);
        unlink(c->socket);
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
        log_error("server: socket: %s", strerror(errno));
        return AD_ERR_SYSTEM;
    }
    /* Bind under a umask that leaves nothing open, then set the configured mode. */
    mode_t old = umask(0177);
    r = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r != 0 || chmod(c->socket, c->socket_mode) != 0 || listen(fd, SOMAXCONN) != 0) {
        log_error("server: bind/listen %s: %s", c->socket, strerror(errno));
        close(fd);
        return AD_ERR_SYSTEM;
    }
    *ret_fd = fd;
    return AD_OK;
}

static int ep_add(int epfd, int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = {.events = events, .data.u64 = tag};

    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        log_error("server: epoll_ctl: %s", strerror(errno));
        return AD_ERR_SYSTEM;
    }
    return AD_OK;
}

int server_new(struct daemon *d, struct server **ret)
{
    struct server *s = NULL;
    sigset_t set;
    int r;

    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return AD_ERR_NOMEM;
    }
    s->d = d;
    s->lfd = -1;
    s->sfd = -1;
    s->next_id = 1;
    if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        log_error("server: epoll_create1: %s", strerror(errno));
        r = AD_ERR_SYSTEM;
        goto out;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if ((s->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        log_error("server: signalfd: %s", strerror(errno));
        r = AD_ERR_SYSTEM;
        goto out;
    }
    if ((s->sock_path = strdup(d->conf->c->socket)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    s->fd_conns = fdlimit_conns(fdlimit_fit(d->conf->c->max_connections));
    if ((r = bind_socket(d->conf->c, &s->lfd)) != 0 ||
        (r = ep_add(s->epfd, s->lfd, EPOLLIN, EV_LISTEN)) != 0 ||
        (r = ep_add(s->epfd, s->sfd, EPOLLIN, EV_SIGNAL)) != 0) {
        goto out;
    }
    d->srv = s;
    *ret = s;
    s = NULL;
    r = AD_OK;
out:
    server_free(s);
    return r;
}

bool server_is_quiet(const struct server *s)
{
    return s->is_quiet;
}

size_t server_n_conns(const struct server *s)
{
    return s->n_conns;
}

struct conn *server_conns(const struct server *s)
{
    return s->conns;
}

uint64_t server_n_requests(const struct server *s)
{
    return s->d->n_requests;
}

/*
 * Out of descriptors (EMFILE, ENFILE): the pending connection keeps the
 * listening socket readable, and a level-triggered loop would spin on it.
 * Stop watching it for a tick; resume_accepting() tries again, and what
 * connected meanwhile waits in the backlog rather than being dropped.
 */
static void pause_accepting(struct server *s, int err)
{
    struct epoll_event ev = {.events = 0, .data.u64 = EV_LISTEN};
    uint64_t now = server_now_ns();

    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->lfd, &ev) != 0) {
        log_error("server: epoll_ctl: %s", strerror(errno));
        return;
    }
    s->accept_resume_ns = now + TICK_MS * 1000000ULL;
    /* Once every 10 s, not at every retry. */
    if (s->last_nofd_log_ns == 0 || now - s->last_nofd_log_ns >= 10000000000ULL) {
        log_warn("server: out of descriptors (%s): not accepting for %d ms at a time; each "
                 "client connection needs %u (see max_connections and LimitNOFILE)",
                 strerror(err), TICK_MS, FDLIMIT_PER_CONN);
        s->last_nofd_log_ns = now;
    }
}

static void resume_accepting(struct server *s, uint64_t now)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_LISTEN};

    if (s->accept_resume_ns == 0 || now < s->accept_resume_ns || s->lfd < 0) {
        return; /* not paused, not yet, or closed for shutdown */
    }
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->lfd, &ev) != 0) {
        log_error("server: epoll_ctl: %s", strerror(errno));
        return;
    }
    s->accept_resume_ns = 0;
}

static void accept_one(struct server *s)
{
    const struct agentd_conf *c = s->d->conf->c;
    struct conn *cn = NULL;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    size_t same_uid = 0;
    int fd;
    int r;

    fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
        pause_accepting(s, errno);
        return;
    }
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
            log_warn("server: accept: %s", strerror(errno));
        }
        return;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        log_warn("server: SO_PEERCRED: %s", strerror(errno));
        close(fd);
        return;
    }
    s->n_conns = 0;
    for (struct conn *i = s->conns; i != NULL; i = conn_next(i)) {
        if (conn_is_live(i)) {
            s->n_conns++;
            same_uid += conn_uid(i) == cred.uid;
        }
    }
    if (s->n_conns >= c->max_connections) {
        log_warn("server: connection cap %u reached, refusing pid %d uid %u", c->max_connections,
                 (int)cred.pid, (unsigned)cred.uid);
        close(fd);
        return;
    }
    if (s->n_conns >= s->fd_conns) {
        log_warn("server: the descriptor limit leaves room for %u connections, refusing pid %d "
                 "uid %u",
                 s->fd_conns, (int)cred.pid, (unsigned)cred.uid);
        close(fd);
        return;
    }
    if (same_uid >= c->max_connections_per_uid) {
        log_warn("server: per-uid cap %u reached for uid %u", c->max_connections_per_uid,
                 (unsigned)cred.uid);
        close(fd);
        return;
    }
    /* conn_new takes fd in every case. */
    if ((r = conn_new(s->d, s->epfd, fd, s->next_id++, &cred, &cn)) != 0) {
        if (r != AD_ERR_CLOSED) {
            log_warn("server: connection from pid %d dropped: %s", (int)cred.pid, ad_strerror(r));
        }
        return;
    }
    conn_link(&s->conns, cn);
    s->n_conns++;
}

static void reload(struct server *s)
{
    struct daemon *d = s->d;
    struct agentd_conf *nc = NULL;
    struct conf_ref *ref = NULL;
    char err[CONF_ERR_MAX];
    int r;

    if ((r = conf_load(d->conf_path, &nc, err, sizeof(err))) != 0) {
        log_error("reload: keeping the old config: %s", err);
        return;
    }
    if (strcmp(nc->socket, d->conf->c->socket) != 0 || strcmp(nc->tcti, d->conf->c->tcti) != 0 ||
        strcmp(nc->state_dir, d->conf->c->state_dir) != 0 ||
        strcmp(nc->audit.path, d->conf->c->audit.path) != 0 ||
        nc->tpm_worker_boost != d->conf->c->tpm_worker_boost) {
        log_warn("reload: socket, tcti, state_dir, audit path and tpm_worker_boost changes need a "
                 "restart");
    }
    if ((ref = calloc(1, sizeof(*ref))) == NULL) {
        log_error("reload: keeping the old config: out of memory");
        conf_free(nc);
        return;
    }
    if ((r = policy_reload(d->policy, nc)) != 0) {
        log_error("reload: keeping the old config: policy: %s", ad_strerror(r));
        conf_free(nc);
        free(ref);
        return;
    }
    if (nc->max_connections != d->conf->c->max_connections) {
        s->fd_conns = fdlimit_conns(fdlimit_fit(nc->max_connections));
    }
    ref->c = nc;
    ref->refs = 1;
    conf_ref_put(d->conf);
    d->conf = ref;
    if (d->identity != NULL) {
        identity_set_conf(d->identity, ref);
    }
    log_info("reload: %s: %zu workload entries", nc->path, nc->n_workloads);
}

static bool handle_signals(struct server *s)
{
    struct signalfd_siginfo si;

    while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            reload(s);
        } else {
            log_info("server: signal %u: shutting down", si.ssi_signo);
            return true;
        }
    }
    return false;
}

/* Does a live connection still wait for the hash of key? */
static bool hash_is_wanted(void *arg, const struct workload_file_key *key)
{
    const struct server *s = arg;

    for (const struct conn *i = s->conns; i != NULL; i = conn_next(i)) {
        if (conn_waits_for_hash(i, key)) {
            return true;
        }
    }
    return false;
}

/*
 * Free conns that are closed and hold no requests; enforce idle timeouts;
 * drop queued hashes whose connections are all gone; let the audit head
 * catch up with records that came too slowly to reach its count (audit.h).
 */
static void sweep(struct server *s, uint64_t now)
{
    uint64_t idle_ns = (uint64_t)s->d->conf->c->idle_timeout_ms * 1000000ULL;
    struct conn *next;

    for (struct conn *i = s->conns; i != NULL; i = next) {
        next = conn_next(i);
        if (conn_is_live(i) && idle_ns > 0 && conn_idle_since(i, now) > idle_ns) {
            log_debug("server: connection %llu idle, closing", (unsigned long long)conn_id(i));
            conn_shutdown(i);
        }
        if (conn_is_reapable(i)) {
            conn_unlink(&s->conns, i);
            conn_destroy(i);
        }
    }
    if (s->d->hasher != NULL && hasher_n_pending(s->d->hasher) > 0) {
        hasher_drop_queued(s->d->hasher, hash_is_wanted, s);
    }
    (void)audit_tick(s->d->audit, now);
}

/*
 * One finished exe hash: cache it (the cache is the loop's alone), then
 * resume every connection that waits for that file. A connection closed
 * meanwhile is not live, and one already freed is no longer in the list:
 * the result refers to no conn, so neither can be touched.
 */
static void on_hash_done(void *arg, const struct hasher_result *res)
{
    struct server *s = arg;
    const uint8_t *sha = res->r == AD_OK ? res->sha256 : NULL;

    if (sha != NULL) {
        workload_cache_put(s->d->wcache, &res->key, sha);
    } else {
        log_warn("server: hashing an executable (inode %llu): %s", (unsigned long long)res->key.ino,
                 ad_strerror(res->r));
    }
    for (struct conn *i = s->conns; i != NULL; i = conn_next(i)) {
        if (conn_waits_for_hash(i, &res->key)) {
            conn_hash_done(i, sha);
        }
    }
}

int server_run(struct server *s)
{
    struct epoll_event evs[64];
    uint64_t drain_deadline = 0;
    uint64_t last_sweep = 0;
    int n;

    if (ep_add(s->epfd, worker_fd(s->d->worker), EPOLLIN, EV_WORKER) != 0 ||
        (s->d->identity != NULL &&
         ep_add(s->epfd, identity_fd(s->d->identity), EPOLLIN, EV_IDENTITY) != 0) ||
        (s->d->hasher != NULL &&
         ep_add(s->epfd, hasher_fd(s->d->hasher), EPOLLIN, EV_HASHER) != 0)) {
        return AD_ERR_SYSTEM;
    }
    log_info("server: listening on %s", s->sock_path);
    for (;;) {
        uint64_t now = server_now_ns();

        if (s->is_stopping && (worker_pending(s->d->worker) == 0 || now > drain_deadline) &&
            conns_all_flushed(s->conns)) {
            break;
        }
        if (s->is_stopping && now > drain_deadline) {
            log_warn("server: shutdown: %zu requests still queued, giving up on them",
                     worker_pending(s->d->worker));
            break;
        }
        n = epoll_wait(s->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), TICK_MS);
        if (n < 0 && errno != EINTR) {
            log_error("server: epoll_wait: %s", strerror(errno));
            return AD_ERR_SYSTEM;
        }
        s->is_quiet = n == 1;
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;

            if (tag == EV_LISTEN) {
                if (!s->is_stopping) {
                    accept_one(s);
                }
            } else if (tag == EV_SIGNAL) {
                if (handle_signals(s) && !s->is_stopping) {
                    s->is_stopping = true;
                    drain_deadline = server_now_ns() + SHUTDOWN_DRAIN_MS * 1000000ULL;
                    epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
                    close(s->lfd);
                    s->lfd = -1;
                    unlink(s->sock_path);
                    conns_stop_reading(s->conns);
                }
            } else if (tag == EV_WORKER) {
                worker_complete(s->d->worker);
            } else if (tag == EV_IDENTITY) {
                identity_complete(s->d->identity);
            } else if (tag == EV_HASHER) {
                hasher_complete(s->d->hasher, on_hash_done, s);
            } else {
                conn_on_event((struct conn *)(uintptr_t)tag, evs[i].events);
            }
        }
        now = server_now_ns();
        resume_accepting(s, now);
        if (now - last_sweep > TICK_MS * 1000000ULL || n == 0) {
            sweep(s, now);
            last_sweep = now;
        }
    }
    return AD_OK;
}

void server_free(struct server *s)
{
    struct conn *next;

    if (s == NULL) {
        return;
    }
    for (struct conn *i = s->conns; i != NULL; i = next) {
        next = conn_next(i);
        conn_shutdown(i);
        if (conn_is_reapable(i)) {
            conn_unlink(&s->conns, i);
            conn_destroy(i);
        }
    }
    if (s->lfd >= 0) {
        close(s->lfd);
        unlink(s->sock_path);
    }
    if (s->sfd >= 0) {
        close(s->sfd);
    }
    if (s->epfd >= 0) {
        close(s->epfd);
    }
    free(s->sock_path);
    free(s);
}
