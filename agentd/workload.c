#include "workload.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; absent from older headers */
#endif

#define STAT_TEXT_MAX 2048u
#define STATUS_TEXT_MAX 8192u
#define CGROUP_TEXT_MAX (64u * 1024u)
#define HASH_CHUNK (64u * 1024u)

struct cache_entry {
    struct workload_file_key key;
    uint8_t sha256[32];
    uint64_t last_used; /* 0: slot empty */
};

struct workload_cache {
    size_t cap;
    uint64_t tick;
    uint64_t hits;
    uint64_t misses;
    struct cache_entry entries[];
};

struct workload_identity {
    struct caller_facts facts; /* strings point at the members below */
    int pidfd;
    int procfd; /* /proc/PID (O_PATH): lookups under it fail once this process is gone */
    uint64_t start_time;
    dev_t exe_dev;
    ino_t exe_ino;
    /*
     * A cache miss: the exe stays open (exe_fd) until the hash is known;
     * facts.has_sha256 is false meanwhile and the facts are not complete.
     */
    bool is_hash_pending;
    int exe_fd;
    struct workload_file_key hash_key;
    char *exe;
    char *cgroup;
    char *unit;
};

int workload_cache_new(size_t max_entries, struct workload_cache **ret)
{
    struct workload_cache *c;

    if (max_entries == 0 || max_entries > WORKLOAD_CACHE_MAX) {
        return AD_ERR_INVALID;
    }
    if ((c = calloc(1, sizeof(*c) + max_entries * sizeof(c->entries[0]))) == NULL) {
        return AD_ERR_NOMEM;
    }
    c->cap = max_entries;
    *ret = c;
    return AD_OK;
}

void workload_cache_free(struct workload_cache *cache)
{
    free(cache);
}

void workload_cache_stats(const struct workload_cache *cache, uint64_t *ret_hits,
                          uint64_t *ret_misses)
{
    if (ret_hits != NULL) {
        *ret_hits = cache != NULL ? cache->hits : 0;
    }
    if (ret_misses != NULL) {
        *ret_misses = cache != NULL ? cache->misses : 0;
    }
}

static bool ts_eq(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

bool workload_file_key_eq(const struct workload_file_key *a, const struct workload_file_key *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           ts_eq(&a->mtim, &b->mtim) && ts_eq(&a->ctim, &b->ctim);
}

static void key_of(const struct stat *st, struct workload_file_key *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->dev = st->st_dev;
    ret->ino = st->st_ino;
    ret->size = st->st_size;
    ret->mtim = st->st_mtim;
    ret->ctim = st->st_ctim;
}

static struct cache_entry *cache_find(struct workload_cache *c, const struct workload_file_key *k)
{
    for (size_t i = 0; i < c->cap; i++) {
        if (c->entries[i].last_used != 0 && workload_file_key_eq(&c->entries[i].key, k)) {
            return &c->entries[i];
        }
    }
    return NULL;
}

bool workload_cache_get(struct workload_cache *cache, const struct workload_file_key *k,
                        uint8_t ret[32])
{
    struct cache_entry *e;

    if (cache == NULL || (e = cache_find(cache, k)) == NULL) {
        return false;
    }
    cache->hits++;
    e->last_used = ++cache->tick;
    memcpy(ret, e->sha256, 32);
    return true;
}

/* Insert k, evicting the least recently used entry when full. */
void workload_cache_put(struct workload_cache *c, const struct workload_file_key *k,
                        const uint8_t h[32])
{
    struct cache_entry *victim;

    if (c == NULL) {
        return;
    }
    c->misses++; /* a hash was computed: that is what a miss costs */
    victim = &c->entries[0];

    for (size_t i = 0; i < c->cap; i++) {
        struct cache_entry *e = &c->entries[i];

        if (e->last_used == 0 || workload_file_key_eq(&e->key, k)) {
            victim = e;
            break;
        }
        if (e->last_used < victim->last_used) {
            victim = e;
        }
    }
    victim->key = *k;
    memcpy(victim->sha256, h, 32);
    victim->last_used = ++c->tick;
}

static int hash_fd_uncached(int fd, off_t size, const int *cancel, uint8_t ret[32])
{
    EVP_MD_CTX *ctx = NULL;
    uint8_t *chunk = NULL;
    unsigned int out_len = 0;
    off_t pos = 0;
    int r = AD_ERR_SYSTEM;

    if ((chunk = malloc(HASH_CHUNK)) == NULL || (ctx = EVP_MD_CTX_new()) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        r = AD_ERR_INTERNAL;
        goto out;
    }
    for (;;) {
        ssize_t n;

        if (cancel != NULL && __atomic_load_n(cancel, __ATOMIC_RELAXED) != 0) {
            r = AD_ERR_CLOSED; /* the daemon is stopping: nobody waits for this hash */
            goto out;
        }
        n = pread(fd, chunk, HASH_CHUNK, pos);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            goto out;
        }
        if (n == 0) {
            break;
        }
        if (EVP_DigestUpdate(ctx, chunk, (size_t)n) != 1) {
            r = AD_ERR_INTERNAL;
            goto out;
        }
        pos += n;
        if (pos > size) {
            goto out; /* grew while we read it: not the file we stat'ed */
        }
    }
    if (pos != size || EVP_DigestFinal_ex(ctx, ret, &out_len) != 1 || out_len != 32) {
        goto out;
    }
    r = AD_OK;
out:
    EVP_MD_CTX_free(ctx);
    free(chunk);
    return r;
}

int workload_file_key_of(int fd, struct workload_file_key *ret)
{
    struct stat st;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return AD_ERR_SYSTEM;
    }
    if ((uint64_t)st.st_size > WORKLOAD_HASH_FILE_MAX) {
        return AD_ERR_TOO_LARGE;
    }
    key_of(&st, ret);
    return AD_OK;
}

int workload_hash_file(int fd, const struct workload_file_key *k, const int *cancel,
                       uint8_t ret[32])
{
    struct stat after;
    struct workload_file_key ka;
    uint8_t h[32];
    int r;

    if ((r = hash_fd_uncached(fd, k->size, cancel, h)) != 0) {
        return r;
    }
    /*
     * A running executable cannot be written (ETXTBSY), but a file hashed
     * through this function need not be running: re-check that nothing
     * changed while we read it, so a torn hash is never cached or returned.
     */
    if (fstat(fd, &after) != 0) {
        return AD_ERR_SYSTEM;
    }
    key_of(&after, &ka);
    if (!workload_file_key_eq(k, &ka)) {
        return AD_ERR_SYSTEM;
    }
    memcpy(ret, h, 32);
    return AD_OK;
}

int workload_hash_fd(struct workload_cache *cache, int fd, uint8_t ret[32])
{
    struct workload_file_key k;
    uint8_t h[32];
    int r;

    if ((r = workload_file_key_of(fd, &k)) != 0) {
        return r;
    }
    if (workload_cache_get(cache, &k, ret)) {
        return AD_OK;
    }
    if ((r = workload_hash_file(fd, &k, NULL, h)) != 0) {
        return r;
    }
    workload_cache_put(cache, &k, h);
    memcpy(ret, h, 32);
    return AD_OK;
}

/* Read a small /proc file into buf (NUL-terminated). Returns bytes or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    size_t len = 0;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        return -errno;
    }
    while (len < cap - 1) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int e = errno;

            close(fd);
            return -e;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Map a /proc read failure: a vanished process is a denial, anything else a system error. */
static int proc_err(ssize_t neg_errno)
{
    return (neg_errno == -ENOENT || neg_errno == -ESRCH) ? AD_ERR_DENIED : AD_ERR_SYSTEM;
}

/* Field 22 (starttime, clock ticks since boot) of /proc/PID/stat. */
int workload_parse_start_time(const char *text, uint64_t *ret)
{
    const char *p;
    char *end = NULL;
    unsigned long long v;

    /* comm (field 2) may hold spaces and ')': fields resume after the last ')'. */
    if ((p = strrchr(text, ')')) == NULL) {
        return AD_ERR_FORMAT;
    }
    p++;
    for (int field = 2; field < 22; field++) {
        if (*p != ' ') {
            return AD_ERR_FORMAT;
        }
        p++;
        if (field < 21) {
            p += strcspn(p, " ");
        }
    }
    if (*p < '0' || *p > '9') {
        return AD_ERR_FORMAT; /* strtoull would accept a sign or blanks */
    }
    errno = 0;
    v = strtoull(p, &end, 10);
    if (errno != 0 || end == p || (*end != ' ' && *end != '\n' && *end != '\0')) {
        return AD_ERR_FORMAT;
    }
    *ret = v;
    return AD_OK;
}

/* /proc/PID/<file> into text (NUL terminated, cap bytes at most). */
static int read_proc(pid_t pid, const char *file, char *text, size_t cap)
{
    char path[64];
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    if ((n = read_small(path, text, cap)) < 0) {
        return proc_err(n);
    }
    return AD_OK;
}

static int read_start_time(pid_t pid, uint64_t *ret)
{
    char text[STAT_TEXT_MAX];
    int r = read_proc(pid, "stat", text, sizeof(text));

    return r != AD_OK ? r : workload_parse_start_time(text, ret);
}

int workload_parse_euid(const char *text, uid_t *ret)
{
    unsigned long real = 0;
    unsigned long eff = 0;
    const char *p;

    if ((p = strstr(text, "\nUid:")) == NULL || sscanf(p + 5, "%lu %lu", &real, &eff) != 2 ||
        eff > UINT32_MAX) {
        return AD_ERR_FORMAT;
    }
    *ret = (uid_t)eff;
    return AD_OK;
}

/* Effective uid (second value of the Uid: line) of /proc/PID/status. */
static int read_euid(pid_t pid, uid_t *ret)
{
    char text[STATUS_TEXT_MAX];
    int r = read_proc(pid, "status", text, sizeof(text));

    return r != AD_OK ? r : workload_parse_euid(text, ret);
}

static uint64_t now_ticks(void)
{
    struct timespec ts;
    long hz = sysconf(_SC_CLK_TCK);

    if (hz <= 0) {
        hz = 100;
    }
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (uint64_t)ts.tv_sec * (uint64_t)hz + (uint64_t)ts.tv_nsec / (1000000000u / (uint64_t)hz);
}

static bool pidfd_exited(int pidfd)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    int n;

    do {
        n = poll(&p, 1, 0);
    } while (n < 0 && errno == EINTR);
    return n != 0; /* readable (exited) or poll failed: treat as gone */
}

static int open_pidfd(int client_fd, pid_t pid, int *ret)
{
    socklen_t len = sizeof(int);
    int fd = -1;

    if (getsockopt(client_fd, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0 && fd >= 0) {
        *ret = fd;
        return AD_OK;
    }
    /* Older kernels (Debian 12's 6.1): bind the pid by the checks in workload_identify. */
    if ((fd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
        return errno == ESRCH ? AD_ERR_DENIED : AD_ERR_SYSTEM;
    }
    *ret = fd;
    return AD_OK;
}

/*
 * /proc/PID as an O_PATH directory. Opened right after the pidfd and before
 * still_bound()'s final pidfd poll, so when that poll finds the process
 * alive, the directory opened was this process's and not a successor's.
 */
static int open_procfd(pid_t pid, int *ret)
{
    char path[32];
    int fd;

    snprintf(path, sizeof(path), "/proc/%d", (int)pid);
    if ((fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
        return proc_err(-errno);
    }
    *ret = fd;
    return AD_OK;
}

int workload_unit_from_cgroup(const char *cgroup, char **ret)
{
    const char *p = cgroup;
    char *unit = NULL;

    while (p != NULL && *p != '\0') {
        size_t len;

        p += strspn(p, "/");
        len = strcspn(p, "/");
        if (len == 0) {
            break;
        }
        if (len > 6 && memcmp(p + len - 6, ".slice", 6) == 0) {
            p += len;
            continue;
        }
        if ((len > 8 && memcmp(p + len - 8, ".service", 8) == 0) ||
            (len > 6 && memcmp(p + len - 6, ".scope", 6) == 0)) {
            if (len >= WORKLOAD_UNIT_MAX) {
                break;
            }
            if ((unit = strndup(p, len)) == NULL) {
                return AD_ERR_NOMEM;
            }
        }
        break; /* the first non-slice component decides */
    }
    *ret = unit;
    return AD_OK;
}

/*
 * The first "0::" line is the v2 path (hybrid hosts list v1 hierarchies
 * first). Cgroup names are chosen by whoever may create cgroups (delegated
 * subtrees), but the kernel refuses '\n' and '/' in them, so a name cannot
 * fake a line; were it possible, the first line would still be the real
 * prefix.
 */
int workload_parse_cgroup(const char *text, size_t len, char **ret_cgroup, char **ret_unit)
{
    const char *p = text;
    const char *end = text + len;
    char *cg = NULL;
    char *unit = NULL;
    int r;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl != NULL ? nl : end;
        size_t line_len = (size_t)(line_end - p);

        if (line_len >= 3 && memcmp(p, "0::", 3) == 0) {
            size_t plen = line_len - 3;

            if (plen == 0 || p[3] != '/' || memchr(p + 3, '\0', plen) != NULL) {
                return AD_ERR_FORMAT;
            }
            if (plen >= WORKLOAD_PATH_MAX) {
                return AD_ERR_TOO_LARGE;
            }
            if ((cg = strndup(p + 3, plen)) == NULL) {
                return AD_ERR_NOMEM;
            }
            break;
        }
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    if (cg == NULL) {
        return AD_ERR_NOT_FOUND;
    }
    if ((r = workload_unit_from_cgroup(cg, &unit)) != 0) {
        free(cg);
        return r;
    }
    *ret_cgroup = cg;
    *ret_unit = unit;
    return AD_OK;
}

static int read_cgroup(struct workload_identity *id)
{
    char path[64];
    char *text = NULL;
    ssize_t n;
    int r;

    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)id->facts.pid);
    if ((text = malloc(CGROUP_TEXT_MAX)) == NULL) {
        return AD_ERR_NOMEM;
    }
    if ((n = read_small(path, text, CGROUP_TEXT_MAX)) < 0) {
        r = proc_err(n);
        goto out;
    }
    r = workload_parse_cgroup(text, (size_t)n, &id->cgroup, &id->unit);
    if (r == AD_ERR_NOT_FOUND) {
        r = AD_OK; /* cgroup v1 host: cgroup and unit stay unknown */
    }
out:
    free(text);
    return r;
}

/*
 * The SHA-256 of the exe open at fd (st: its fstat), when it is cheap: a
 * cache hit. On a miss fd is kept (id->exe_fd) for a hash off the loop; *fd
 * is then -1. Anything else (not a regular file, over
 * WORKLOAD_HASH_FILE_MAX) leaves has_sha256 false, as a file we cannot read
 * does.
 */
static void exe_hash_or_defer(struct workload_identity *id, struct workload_cache *cache,
                              const struct stat *st, int *fd)
{
    struct workload_file_key k;

    if (!S_ISREG(st->st_mode) || (uint64_t)st->st_size > WORKLOAD_HASH_FILE_MAX) {
        return;
    }
    key_of(st, &k);
    if (workload_cache_get(cache, &k, id->facts.exe_sha256)) {
        id->facts.has_sha256 = true;
        return;
    }
    id->is_hash_pending = true;
    id->hash_key = k;
    id->exe_fd = *fd;
    *fd = -1;
}

/* exe path, the inode it runs and, when cached, its SHA-256 (optional: no permission). */
static int read_exe(struct workload_identity *id, struct workload_cache *cache)
{
    char path[64];
    char *target = NULL;
    struct stat st;
    ssize_t n;
    int fd = -1;
    int r;

    snprintf(path, sizeof(path), "/proc/%d/exe", (int)id->facts.pid);
    if ((target = malloc(WORKLOAD_PATH_MAX)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if ((n = readlink(path, target, WORKLOAD_PATH_MAX - 1)) < 0) {
        r = proc_err(-errno);
        goto out;
    }
    target[n] = '\0';
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
        if (fstat(fd, &st) != 0) {
            r = AD_ERR_SYSTEM;
            goto out;
        }
        exe_hash_or_defer(id, cache, &st, &fd);
    } else if (stat(path, &st) != 0) {
        r = proc_err(-errno);
        goto out;
    }
    id->exe_dev = st.st_dev;
    id->exe_ino = st.st_ino;
    id->exe = target;
    target = NULL;
    r = AD_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    free(target);
    return r;
}

/* Through procfd: a pid since reused by another process cannot answer for this one. */
static int exe_inode_same(const struct workload_identity *id)
{
    struct stat st;

    if (fstatat(id->procfd, "exe", &st, 0) != 0) {
        return proc_err(-errno);
    }
    return (st.st_dev == id->exe_dev && st.st_ino == id->exe_ino) ? AD_OK : AD_ERR_DENIED;
}

/*
 * The pid-binding checks that end identification, run again when a deferred
 * hash arrives: the start time has not changed, the exe is the inode read
 * at accept, and the pidfd (polled last) says the process is still alive.
 */
static int still_bound(const struct workload_identity *id)
{
    uint64_t start_now = 0;
    int r;

    if ((r = read_start_time(id->facts.pid, &start_now)) != 0) {
        return r;
    }
    if (start_now != id->start_time || (r = exe_inode_same(id)) != 0 || pidfd_exited(id->pidfd)) {
        return AD_ERR_DENIED; /* the pid changed hands or exec'd while we read */
    }
    return AD_OK;
}

int workload_identify_start(int client_fd, struct workload_cache *cache,
                            struct workload_identity **ret)
{
    struct workload_identity *id = NULL;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uint64_t began = now_ticks();
    uid_t euid = 0;
    int r;

    if (getsockopt(client_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred) ||
        cred.pid <= 0) {
        return AD_ERR_SYSTEM;
    }
    if ((id = calloc(1, sizeof(*id))) == NULL) {
        return AD_ERR_NOMEM;
    }
    id->pidfd = -1;
    id->procfd = -1;
    id->exe_fd = -1;
    id->facts.pid = cred.pid;
    id->facts.uid = cred.uid;
    id->facts.gid = cred.gid;
    if ((r = open_pidfd(client_fd, cred.pid, &id->pidfd)) != 0 ||
        (r = open_procfd(cred.pid, &id->procfd)) != 0 ||
        (r = read_start_time(cred.pid, &id->start_time)) != 0) {
        goto out;
    }
    /* +1 tick: the two clocks round differently. */
    if (id->start_time > began + 1) {
        r = AD_ERR_DENIED; /* started after we began: not the process that connected */
        goto out;
    }
    if ((r = read_euid(cred.pid, &euid)) != 0) {
        goto out;
    }
    if (euid != cred.uid) {
        r = AD_ERR_DENIED;
        goto out;
    }
    if ((r = read_exe(id, cache)) != 0 || (r = read_cgroup(id)) != 0 ||
        (r = still_bound(id)) != 0) {
        goto out;
    }
    id->facts.exe = id->exe;
    id->facts.cgroup = id->cgroup;
    id->facts.unit = id->unit;
    *ret = id;
    id = NULL;
    r = AD_OK;
out:
    workload_identity_free(id);
    return r;
}

int workload_identify_finish(struct workload_identity *id, const uint8_t *sha256)
{
    if (!id->is_hash_pending) {
        return AD_ERR_INTERNAL;
    }
    if (id->exe_fd >= 0) {
        close(id->exe_fd);
        id->exe_fd = -1;
    }
    id->is_hash_pending = false;
    if (sha256 != NULL) {
        memcpy(id->facts.exe_sha256, sha256, 32);
        id->facts.has_sha256 = true;
    }
    /* Time passed since accept: the facts must still be this process's. */
    return still_bound(id);
}

int workload_identify(int client_fd, struct workload_cache *cache, struct workload_identity **ret)
{
    struct workload_identity *id = NULL;
    uint8_t h[32];
    bool is_hashed;
    int r;

    if ((r = workload_identify_start(client_fd, cache, &id)) != 0) {
        return r;
    }
    if (id->is_hash_pending) {
        is_hashed = workload_hash_file(id->exe_fd, &id->hash_key, NULL, h) == AD_OK;
        if (is_hashed) {
            workload_cache_put(cache, &id->hash_key, h);
        }
        if ((r = workload_identify_finish(id, is_hashed ? h : NULL)) != 0) {
            workload_identity_free(id);
            return r;
        }
    }
    *ret = id;
    return AD_OK;
}

bool workload_hash_is_pending(const struct workload_identity *id)
{
    return id->is_hash_pending;
}

const struct workload_file_key *workload_hash_key(const struct workload_identity *id)
{
    return &id->hash_key;
}

int workload_take_exe_fd(struct workload_identity *id)
{
    int fd = id->exe_fd;

    id->exe_fd = -1;
    return fd;
}

void workload_identity_free(struct workload_identity *id)
{
    if (id == NULL) {
        return;
    }
    if (id->pidfd >= 0) {
        close(id->pidfd);
    }
    if (id->procfd >= 0) {
        close(id->procfd);
    }
    if (id->exe_fd >= 0) {
        close(id->exe_fd);
    }
    free(id->exe);
    free(id->cgroup);
    free(id->unit);
    free(id);
}

const struct caller_facts *workload_facts(const struct workload_identity *id)
{
    return &id->facts;
}

int workload_pidfd(const struct workload_identity *id)
{
    return id->pidfd;
}

uint64_t workload_start_time(const struct workload_identity *id)
{
    return id->start_time;
}

int workload_still_same(const struct workload_identity *id)
{
    /*
     * One lookup under procfd, which stays bound to the process that
     * connected: once it has exited (zombie or reaped, pid reused or not)
     * the lookup fails, so no pidfd poll is needed after it, and neither is
     * the start time (see workload.h).
     */
    return exe_inode_same(id);
}
