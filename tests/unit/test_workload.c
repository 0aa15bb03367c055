/*
 * workload.c against the real kernel: identify ourselves and a forked child
 * over a socketpair and compare with what /proc says, detect exit and exec
 * after identification, the exe-hash cache (hit, miss on change, LRU
 * eviction) and cgroup line parsing.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cap-ng.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "privs.h"
#include "workload.h"

#ifdef TEST_NO_PEERPIDFD
/*
 * Built a second time (test_workload_nopeerpidfd) with getsockopt wrapped
 * so that SO_PEERPIDFD fails as on kernels before 6.5 (Debian 12's 6.1):
 * every test then runs the pidfd_open fallback and its checks.
 */
int __real_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int __wrap_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
static unsigned n_peerpidfd_refused;

int __wrap_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    if (level == SOL_SOCKET && name == 77 /* SO_PEERPIDFD */) {
        n_peerpidfd_refused++;
        errno = ENOPROTOOPT;
        return -1;
    }
    return __real_getsockopt(fd, level, name, val, len);
}
#endif

static void sha256_file(const char *path, uint8_t out[32])
{
    uint8_t buf[65536];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        assert_int_equal(EVP_DigestUpdate(ctx, buf, (size_t)n), 1);
    }
    assert_int_equal(n, 0);
    assert_int_equal(EVP_DigestFinal_ex(ctx, out, &len), 1);
    assert_int_equal(len, 32);
    EVP_MD_CTX_free(ctx);
    close(fd);
}

static char *proc_cgroup_of(pid_t pid)
{
    char path[64];
    char text[8192];
    char *cg = NULL;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    assert_true(n > 0);
    text[n] = '\0';
    /* Independent of workload.c: find the 0:: line by hand. */
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, "0::", 3) == 0) {
            cg = strdup(line + 3);
            break;
        }
    }
    return cg;
}

static void check_facts_match_proc(const struct workload_identity *id, pid_t pid)
{
    const struct caller_facts *f = workload_facts(id);
    char path[64];
    char exe[4096];
    uint8_t want[32];
    ssize_t n;
    char *cg;

    assert_int_equal(f->pid, pid);
    assert_int_equal(f->uid, getuid());
    assert_int_equal(f->gid, getgid());
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    n = readlink(path, exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    assert_non_null(f->exe);
    assert_string_equal(f->exe, exe);
    assert_true(f->has_sha256);
    sha256_file(exe, want);
    assert_memory_equal(f->exe_sha256, want, 32);
    cg = proc_cgroup_of(pid);
    if (cg != NULL) {
        assert_non_null(f->cgroup);
        assert_string_equal(f->cgroup, cg);
    }
    free(cg);
    assert_true(workload_pidfd(id) >= 0);
    assert_true(workload_start_time(id) > 0);
}

static void test_identify_self(void **state)
{
    struct workload_identity *id = NULL;
    struct workload_cache *cache = NULL;
    uint64_t hits = 0;
    uint64_t misses = 0;
    int sv[2];

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(workload_cache_new(8, &cache), AD_OK);
    assert_int_equal(workload_identify(sv[0], cache, &id), AD_OK);
#ifdef TEST_NO_PEERPIDFD
    assert_true(n_peerpidfd_refused > 0); /* the fallback path really ran */
#endif
    check_facts_match_proc(id, getpid());
    assert_int_equal(workload_still_same(id), AD_OK);
    workload_identity_free(id);
    /* Second identification of the same binary is a cache hit. */
    assert_int_equal(workload_identify(sv[0], cache, &id), AD_OK);
    workload_cache_stats(cache, &hits, &misses);
    assert_int_equal(misses, 1);
    assert_int_equal(hits, 1);
    workload_identity_free(id);
    workload_cache_free(cache);
    close(sv[0]);
    close(sv[1]);
}

/* Fork a child that holds sv[1] and waits for a byte on go[0], then acts. */
enum child_act { CHILD_EXIT, CHILD_EXEC, CHILD_SETUID };

static pid_t spawn_child(int sv[2], int go[2], enum child_act act)
{
    pid_t pid;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(go), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;

        close(sv[0]);
        close(go[1]);
        if (read(go[0], &c, 1) != 1) {
            _exit(2);
        }
        if (act == CHILD_EXEC) {
            /* The socket (no CLOEXEC) stays open in the new image. */
            execl("/bin/sleep", "sleep", "30", (char *)NULL);
            _exit(3);
        }
        _exit(0);
    }
    close(sv[1]);
    close(go[0]);
    return pid;
}

static void test_identify_child_then_exit(void **state)
{
    struct workload_identity *id = NULL;
    int sv[2];
    int go[2];
    int status = 0;
    pid_t pid;

    (void)state;
    pid = spawn_child(sv, go, CHILD_EXIT);
    /* The socketpair was created before fork: the peer creds are the parent's. */
    assert_int_equal(workload_identify(sv[0], NULL, &id), AD_OK);
    assert_int_equal(workload_facts(id)->pid, getpid());
    workload_identity_free(id);
    id = NULL;
    close(sv[0]);
    close(go[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

/*
 * A child connects to a listening socket itself, so SO_PEERCRED names it;
 * it is identified, then exits: still_same must say DENIED.
 */
static pid_t spawn_connector(const char *sock_path, int go[2], enum child_act act)
{
    pid_t pid;

    assert_int_equal(pipe(go), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        char c;

        close(go[1]);
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
            _exit(4);
        }
        if (act == CHILD_SETUID) {
            /* Connected as root; now become nobody and stay alive. */
            if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0 ||
                write(fd, "u", 1) != 1) {
                _exit(5);
            }
        }
        if (read(go[0], &c, 1) != 1) {
            _exit(2);
        }
        if (act == CHILD_EXEC) {
            execl("/bin/sleep", "sleep", "30", (char *)NULL);
            _exit(3);
        }
        _exit(0);
    }
    close(go[0]);
    return pid;
}

static int listen_tmp(char *path, size_t cap)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    snprintf(path, cap, "/tmp/test_workload.%d.sock", (int)getpid());
    unlink(path);
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

/* A child connected to a fresh listening socket, accepted: the peer under test. */
struct connector {
    char path[108];
    int lfd;
    int go[2]; /* write a byte to go[1]: the child acts (enum child_act) */
    int cfd;
    pid_t pid;
};

static void connector_start(struct connector *k, enum child_act act)
{
    k->lfd = listen_tmp(k->path, sizeof(k->path));
    k->pid = spawn_connector(k->path, k->go, act);
    k->cfd = accept4(k->lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(k->cfd >= 0);
}

static void connector_close(struct connector *k)
{
    close(k->cfd);
    close(k->go[1]);
    close(k->lfd);
    unlink(k->path);
}

static void test_connector_exit_detected(void **state)
{
    struct workload_identity *id = NULL;
    struct connector k;
    int status = 0;

    (void)state;
    connector_start(&k, CHILD_EXIT);
    assert_int_equal(workload_identify(k.cfd, NULL, &id), AD_OK);
    check_facts_match_proc(id, k.pid);
    assert_int_equal(workload_still_same(id), AD_OK);
    assert_int_equal(write(k.go[1], "x", 1), 1);
    /* Zombie (not reaped yet): the pidfd already reports the exit. */
    for (int i = 0; i < 200; i++) {
        if (workload_still_same(id) != AD_OK) {
            break;
        }
        usleep(10000);
    }
    assert_int_equal(workload_still_same(id), AD_ERR_DENIED);
    assert_int_equal(waitpid(k.pid, &status, 0), k.pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Reaped: /proc/PID is gone (or names someone else): still DENIED. */
    assert_int_equal(workload_still_same(id), AD_ERR_DENIED);
    /* And a fresh identification of the dead peer is refused. */
    {
        struct workload_identity *id2 = NULL;

        assert_int_equal(workload_identify(k.cfd, NULL, &id2), AD_ERR_DENIED);
        assert_null(id2);
    }
    workload_identity_free(id);
    connector_close(&k);
}

/*
 * The deferred hash: a cache miss leaves the identity pending (no hash, the
 * exe held open); finish with the digest completes it; with the digest
 * known to the cache the next start is complete at once. A finish with no
 * digest leaves has_sha256 false (as an unreadable exe does).
 */
static void test_identify_start_finish(void **state)
{
    struct workload_identity *id = NULL;
    struct workload_cache *cache = NULL;
    struct workload_file_key k;
    uint8_t h[32];
    int sv[2];
    int fd;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(workload_cache_new(8, &cache), AD_OK);
    assert_int_equal(workload_identify_start(sv[0], cache, &id), AD_OK);
    assert_true(workload_hash_is_pending(id));
    assert_false(workload_facts(id)->has_sha256);
    k = *workload_hash_key(id);
    fd = workload_take_exe_fd(id);
    assert_true(fd >= 0);
    assert_int_equal(workload_take_exe_fd(id), -1); /* handed over once */
    assert_int_equal(workload_hash_file(fd, &k, NULL, h), AD_OK);
    close(fd);
    workload_cache_put(cache, &k, h);
    assert_int_equal(workload_identify_finish(id, h), AD_OK);
    assert_false(workload_hash_is_pending(id));
    check_facts_match_proc(id, getpid());
    assert_int_equal(workload_identify_finish(id, h), AD_ERR_INTERNAL); /* nothing pending */
    workload_identity_free(id);

    assert_int_equal(workload_identify_start(sv[0], cache, &id), AD_OK);
    assert_false(workload_hash_is_pending(id)); /* the cache had it */
    check_facts_match_proc(id, getpid());
    workload_identity_free(id);
    workload_cache_free(cache);

    /* No cache: pending again; a failed hash completes without a digest. Free with the fd held. */
    assert_int_equal(workload_identify_start(sv[0], NULL, &id), AD_OK);
    assert_true(workload_hash_is_pending(id));
    workload_identity_free(id);
    assert_int_equal(workload_identify_start(sv[0], NULL, &id), AD_OK);
    assert_int_equal(workload_identify_finish(id, NULL), AD_OK);
    assert_false(workload_facts(id)->has_sha256);
    workload_identity_free(id);
    close(sv[0]);
    close(sv[1]);
}

/* The pid checks run again at finish: a connector that exited while its hash ran is refused. */
static void test_finish_after_exit_denied(void **state)
{
    struct workload_identity *id = NULL;
    struct connector k;
    int status = 0;

    (void)state;
    connector_start(&k, CHILD_EXIT);
    assert_int_equal(workload_identify_start(k.cfd, NULL, &id), AD_OK);
    assert_true(workload_hash_is_pending(id));
    assert_int_equal(write(k.go[1], "x", 1), 1);
    assert_int_equal(waitpid(k.pid, &status, 0), k.pid);
    assert_int_equal(workload_identify_finish(id, NULL), AD_ERR_DENIED);
    workload_identity_free(id);
    connector_close(&k);
}

/* workload_hash_file stops when cancelled, and refuses a file changed since its key was taken. */
static void test_hash_file_cancel_and_change(void **state)
{
    struct workload_file_key k;
    char path[64];
    uint8_t h[32];
    int cancel = 1;
    int fd;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/test_workload.%d.chg", (int)getpid());
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    assert_int_equal(workload_file_key_of(fd, &k), AD_OK);
    assert_int_equal(workload_hash_file(fd, &k, &cancel, h), AD_ERR_CLOSED);
    cancel = 0;
    assert_int_equal(workload_hash_file(fd, &k, &cancel, h), AD_OK);
    assert_int_equal(h[0], 0xba);                  /* SHA-256("abc") */
    assert_int_equal(pwrite(fd, "abcd", 4, 0), 4); /* grew: no longer the file keyed */
    assert_int_equal(workload_hash_file(fd, &k, NULL, h), AD_ERR_SYSTEM);
    assert_int_equal(ftruncate(fd, (off_t)WORKLOAD_HASH_FILE_MAX + 1), 0);
    assert_int_equal(workload_file_key_of(fd, &k), AD_ERR_TOO_LARGE);
    close(fd);
    unlink(path);
}

static void test_connector_exec_detected(void **state)
{
    struct workload_identity *id = NULL;
    struct connector k;
    char exe_path[64];
    char exe[4096];
    int status = 0;

    (void)state;
    connector_start(&k, CHILD_EXEC);
    assert_int_equal(workload_identify(k.cfd, NULL, &id), AD_OK);
    assert_int_equal(workload_still_same(id), AD_OK);
    assert_int_equal(write(k.go[1], "x", 1), 1);
    snprintf(exe_path, sizeof(exe_path), "/proc/%d/exe", (int)k.pid);
    for (int i = 0; i < 300; i++) {
        ssize_t n = readlink(exe_path, exe, sizeof(exe) - 1);

        if (n > 0) {
            exe[n] = '\0';
            if (strcmp(exe, workload_facts(id)->exe) != 0) {
                break;
            }
        }
        usleep(10000);
    }
    assert_string_not_equal(exe, workload_facts(id)->exe);
    /* Same k.pid, same start time, alive: only the exe inode tells. */
    assert_int_equal(workload_still_same(id), AD_ERR_DENIED);
    kill(k.pid, SIGKILL);
    assert_int_equal(waitpid(k.pid, &status, 0), k.pid);
    workload_identity_free(id);
    connector_close(&k);
}

/* SO_PEERCRED says root, /proc says nobody: the pid cannot be bound to the connector. */
static void test_identify_refuses_uid_change(void **state)
{
    struct workload_identity *id = NULL;
    struct connector k;
    char c;
    int status = 0;

    (void)state;
    if (geteuid() != 0) {
        skip();
    }
    connector_start(&k, CHILD_SETUID);
    assert_int_equal(read(k.cfd, &c, 1), 1); /* the child has changed uid */
    assert_int_equal(workload_identify(k.cfd, NULL, &id), AD_ERR_DENIED);
    assert_null(id);
    assert_int_equal(write(k.go[1], "x", 1), 1);
    assert_int_equal(waitpid(k.pid, &status, 0), k.pid);
    connector_close(&k);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int hash_path(struct workload_cache *c, const char *path, uint8_t out[32])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int r;

    assert_true(fd >= 0);
    r = workload_hash_fd(c, fd, out);
    close(fd);
    return r;
}

static void test_hash_cache(void **state)
{
    static const uint8_t sha_abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                        0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                        0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    struct workload_cache *c = NULL;
    char path[64];
    uint8_t h1[32];
    uint8_t h2[32];
    uint64_t hits = 0;
    uint64_t misses = 0;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/test_workload.%d.bin", (int)getpid());
    write_file(path, "abc");
    assert_int_equal(workload_cache_new(4, &c), AD_OK);
    assert_int_equal(hash_path(c, path, h1), AD_OK);
    assert_memory_equal(h1, sha_abc, 32);
    assert_int_equal(hash_path(c, path, h2), AD_OK);
    assert_memory_equal(h2, sha_abc, 32);
    workload_cache_stats(c, &hits, &misses);
    assert_int_equal(misses, 1);
    assert_int_equal(hits, 1);
    /* Same size, same inode, new bytes: ctime moves, so the cache misses. */
    write_file(path, "abd");
    assert_int_equal(hash_path(c, path, h2), AD_OK);
    assert_memory_not_equal(h2, sha_abc, 32);
    workload_cache_stats(c, &hits, &misses);
    assert_int_equal(misses, 2);
    assert_int_equal(hits, 1);
    /* Even with mtime forced back to the old value, ctime differs. */
    {
        struct stat st;
        struct timespec times[2];

        assert_int_equal(stat(path, &st), 0);
        write_file(path, "abc");
        times[0] = st.st_atim;
        times[1] = st.st_mtim;
        assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
        assert_int_equal(hash_path(c, path, h2), AD_OK);
        assert_memory_equal(h2, sha_abc, 32);
        workload_cache_stats(c, &hits, &misses);
        assert_int_equal(misses, 3);
    }
    unlink(path);
    workload_cache_free(c);
}

/* Over WORKLOAD_HASH_FILE_MAX: refused before reading (a sparse file, no disk used). */
static void test_hash_too_large(void **state)
{
    char path[64];
    uint8_t h[32];
    int fd;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/test_workload.%d.big", (int)getpid());
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)WORKLOAD_HASH_FILE_MAX + 1), 0);
    assert_int_equal(workload_hash_fd(NULL, fd, h), AD_ERR_TOO_LARGE);
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(workload_hash_fd(NULL, fd, h), AD_OK); /* SHA-256 of nothing */
    assert_int_equal(h[0], 0xe3);
    assert_int_equal(h[31], 0x55);
    close(fd);
    unlink(path);
}

static void test_hash_cache_evicts_lru(void **state)
{
    struct workload_cache *c = NULL;
    char p[3][64];
    uint8_t h[32];
    uint64_t hits = 0;
    uint64_t misses = 0;

    (void)state;
    assert_int_equal(workload_cache_new(2, &c), AD_OK);
    for (int i = 0; i < 3; i++) {
        snprintf(p[i], sizeof(p[i]), "/tmp/test_workload.%d.%d", (int)getpid(), i);
        write_file(p[i], i == 0 ? "zero" : i == 1 ? "one" : "two");
    }
    assert_int_equal(hash_path(c, p[0], h), AD_OK); /* miss */
    assert_int_equal(hash_path(c, p[1], h), AD_OK); /* miss */
    assert_int_equal(hash_path(c, p[0], h), AD_OK); /* hit: p0 now newest */
    assert_int_equal(hash_path(c, p[2], h), AD_OK); /* miss: evicts p1 */
    assert_int_equal(hash_path(c, p[0], h), AD_OK); /* hit */
    assert_int_equal(hash_path(c, p[1], h), AD_OK); /* miss: was evicted */
    workload_cache_stats(c, &hits, &misses);
    assert_int_equal(hits, 2);
    assert_int_equal(misses, 4);
    for (int i = 0; i < 3; i++) {
        unlink(p[i]);
    }
    workload_cache_free(c);
    assert_int_equal(workload_cache_new(0, &c), AD_ERR_INVALID);
    assert_int_equal(workload_cache_new(WORKLOAD_CACHE_MAX + 1, &c), AD_ERR_INVALID);
}

static void expect_cgroup(const char *text, int want_r, const char *want_cg, const char *want_unit)
{
    char *cg = NULL;
    char *unit = NULL;
    int r = workload_parse_cgroup(text, strlen(text), &cg, &unit);

    assert_int_equal(r, want_r);
    if (want_r != AD_OK) {
        assert_null(cg);
        return;
    }
    assert_string_equal(cg, want_cg);
    if (want_unit == NULL) {
        assert_null(unit);
    } else {
        assert_non_null(unit);
        assert_string_equal(unit, want_unit);
    }
    free(cg);
    free(unit);
}

/* /proc/PID/stat: a comm with spaces and ')' cannot shift the fields. */
static void test_stat_start_time(void **state)
{
    char fields[256];
    char text[512];
    uint64_t v = 0;
    uid_t uid = 0;

    (void)state;
    /* fields 3..21, then 22 = starttime, then more */
    snprintf(fields, sizeof(fields), "S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 %s 99 100\n",
             "4242");
    snprintf(text, sizeof(text), "77 (evil) 1 2 3) %s", fields);
    assert_int_equal(workload_parse_start_time(text, &v), AD_OK);
    assert_int_equal(v, 4242);
    snprintf(text, sizeof(text), "77 (plain) %s", fields);
    assert_int_equal(workload_parse_start_time(text, &v), AD_OK);
    assert_int_equal(v, 4242);
    /* no ')' / too few fields / a sign where the number is */
    assert_int_equal(workload_parse_start_time("77 evil S 1 2", &v), AD_ERR_FORMAT);
    assert_int_equal(workload_parse_start_time("77 (x) S 1 2 3\n", &v), AD_ERR_FORMAT);
    snprintf(text, sizeof(text), "77 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -5 0\n");
    assert_int_equal(workload_parse_start_time(text, &v), AD_ERR_FORMAT);
    /* the effective uid is the second Uid: value */
    assert_int_equal(workload_parse_euid("Name:\tx\nUid:\t1000\t0\t0\t0\n", &uid), AD_OK);
    assert_int_equal(uid, 0);
    assert_int_equal(workload_parse_euid("Name:\tx\nUid:\t1000\n", &uid), AD_ERR_FORMAT);
    assert_int_equal(workload_parse_euid("Uid:\t1 2\n", &uid),
                     AD_ERR_FORMAT); /* not a line start */
}

static void test_cgroup_parse(void **state)
{
    char big[WORKLOAD_PATH_MAX + 16];

    (void)state;
    expect_cgroup("0::/system.slice/ci.service\n", AD_OK, "/system.slice/ci.service", "ci.service");
    expect_cgroup("0::/system.slice/ci.service", AD_OK, "/system.slice/ci.service", "ci.service");
    expect_cgroup("12:pids:/x\n1:name=systemd:/y\n0::/system.slice/a.service/sub\n", AD_OK,
                  "/system.slice/a.service/sub", "a.service");
    expect_cgroup("0::/user.slice/user-1000.slice/session-3.scope\n", AD_OK,
                  "/user.slice/user-1000.slice/session-3.scope", "session-3.scope");
    expect_cgroup("0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope\n", AD_OK,
                  "/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope",
                  "user@1000.service");
    expect_cgroup("0::/init.scope\n", AD_OK, "/init.scope", "init.scope");
    /*
     * The first "0::" line wins: text after it cannot replace the real path
     * (the kernel refuses '\n' in cgroup names anyway: mkdir gives EINVAL).
     */
    expect_cgroup("0::/user.slice/u.slice/x\n0::/system.slice/ci.service\n", AD_OK,
                  "/user.slice/u.slice/x", NULL);
    expect_cgroup("0::/\n", AD_OK, "/", NULL);
    expect_cgroup("0::/mygroup/foo.service\n", AD_OK, "/mygroup/foo.service", NULL);
    expect_cgroup("0::/system.slice\n", AD_OK, "/system.slice", NULL);
    expect_cgroup("0::/.service\n", AD_OK, "/.service", NULL);
    expect_cgroup("12:pids:/x\n1:name=systemd:/y\n", AD_ERR_NOT_FOUND, NULL, NULL);
    expect_cgroup("", AD_ERR_NOT_FOUND, NULL, NULL);
    expect_cgroup("0::\n", AD_ERR_FORMAT, NULL, NULL);
    expect_cgroup("0::relative/path\n", AD_ERR_FORMAT, NULL, NULL);
    expect_cgroup("10::/x\n", AD_ERR_NOT_FOUND, NULL, NULL);
    /* Embedded NUL in the path. */
    {
        static const char nul[] = "0::/a\0b\n";
        char *cg = NULL;
        char *unit = NULL;

        assert_int_equal(workload_parse_cgroup(nul, sizeof(nul) - 1, &cg, &unit), AD_ERR_FORMAT);
    }
    /* Not NUL-terminated: only len bytes are read. */
    {
        static const char text[] = "0::/system.slice/ci.serviceXXXX";
        char *cg = NULL;
        char *unit = NULL;

        assert_int_equal(
            workload_parse_cgroup(text, strlen("0::/system.slice/ci.service"), &cg, &unit), AD_OK);
        assert_string_equal(cg, "/system.slice/ci.service");
        assert_string_equal(unit, "ci.service");
        free(cg);
        free(unit);
    }
    memset(big, 'a', sizeof(big));
    memcpy(big, "0::/", 4);
    big[sizeof(big) - 1] = '\0';
    expect_cgroup(big, AD_ERR_TOO_LARGE, NULL, NULL);
}

/* Correctness under repetition; prints the per-call cost (not asserted). */
static void test_still_same_repeated(void **state)
{
    struct workload_identity *id = NULL;
    struct timespec t0;
    struct timespec t1;
    int sv[2];
    const int n = 20000;
    double ns;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(workload_identify(sv[0], NULL, &id), AD_OK);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(workload_still_same(id), AD_OK);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n;
    print_message("workload_still_same: %.0f ns per call (%d calls)\n", ns, n);
    workload_identity_free(id);
    close(sv[0]);
    close(sv[1]);
}

/*
 * privs: in a forked child (the drop is one-way), as root only. The child
 * reports the first failed check as its exit status.
 */
static int child_checks(pid_t root_pid, const char *root_only_file)
{
    char path[64];
    char buf[256];
    struct rlimit rl;
    int fd;

    if (privs_harden_process() != AD_OK) {
        return 10;
    }
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 || getrlimit(RLIMIT_CORE, &rl) != 0 ||
        rl.rlim_cur != 0 || rl.rlim_max != 0) {
        return 11;
    }
    if (privs_drop("nobody") != AD_OK) {
        return 12;
    }
    if (getuid() == 0 || geteuid() == 0 || getegid() == 0 || getgroups(0, NULL) != 0) {
        return 13;
    }
    if (setuid(0) == 0) {
        return 14;
    }
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
        return 15;
    }
    capng_get_caps_process();
    if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_PTRACE) == 0 ||
        capng_have_capability(CAPNG_EFFECTIVE, CAP_DAC_READ_SEARCH) == 0 ||
        capng_have_capability(CAPNG_EFFECTIVE, CAP_DAC_OVERRIDE) != 0 ||
        capng_have_capability(CAPNG_EFFECTIVE, CAP_SETUID) != 0 ||
        capng_have_capability(CAPNG_BOUNDING_SET, CAP_SYS_ADMIN) != 0) {
        return 16;
    }
    /* Kept capabilities do their job: another uid's exe, a root-only file. */
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)root_pid);
    if (readlink(path, buf, sizeof(buf)) <= 0) {
        return 17;
    }
    if ((fd = open(root_only_file, O_RDONLY)) < 0) {
        return 18;
    }
    close(fd);
    /* And are needed: without them both are refused. */
    capng_clear(CAPNG_SELECT_CAPS);
    if (capng_apply(CAPNG_SELECT_CAPS) != 0) {
        return 19;
    }
    if (readlink(path, buf, sizeof(buf)) > 0) {
        return 20;
    }
    if ((fd = open(root_only_file, O_RDONLY)) >= 0) {
        return 21;
    }
    return 0;
}

static void test_privs_drop(void **state)
{
    char file[64];
    pid_t me = getpid();
    pid_t pid;
    int status = 0;

    (void)state;
    if (geteuid() != 0 || getpwnam("nobody") == NULL) {
        skip();
    }
    snprintf(file, sizeof(file), "/tmp/test_workload.%d.root", (int)me);
    write_file(file, "root only");
    assert_int_equal(chmod(file, 0700), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(child_checks(me, file));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    unlink(file);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * Started as a non-root user holding more capabilities than needed (as
 * systemd's AmbientCapabilities= would give): privs_drop keeps only the two,
 * clears the ambient set and sets no_new_privs.
 */
static int child_unprivileged(void)
{
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setgroups(0, NULL) != 0 || setresuid(65534, 65534, 65534) != 0) {
        return 30;
    }
    capng_clear(CAPNG_SELECT_CAPS);
    if (capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_INHERITABLE,
                      CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_NET_BIND_SERVICE, -1) != 0 ||
        capng_apply(CAPNG_SELECT_CAPS) != 0 ||
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) != 0) {
        return 31;
    }
    if (privs_drop("ignored-when-not-root") != AD_OK) {
        return 32;
    }
    capng_get_caps_process();
    if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_PTRACE) == 0 ||
        capng_have_capability(CAPNG_EFFECTIVE, CAP_DAC_READ_SEARCH) == 0 ||
        capng_have_capability(CAPNG_PERMITTED, CAP_NET_BIND_SERVICE) != 0 ||
        capng_have_capability(CAPNG_INHERITABLE, CAP_SYS_PTRACE) != 0) {
        return 33;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) != 0) {
        return 34;
    }
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 || getuid() != 65534) {
        return 35;
    }
    return 0;
}

static void test_privs_drop_unprivileged(void **state)
{
    pid_t pid;
    int status = 0;

    (void)state;
    if (geteuid() != 0) {
        skip();
    }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(child_unprivileged());
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_privs_drop_refuses_root_and_unknown(void **state)
{
    pid_t pid;
    int status = 0;

    (void)state;
    if (geteuid() != 0) {
        skip();
    }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (privs_drop("root") != AD_ERR_INVALID) {
            _exit(1);
        }
        if (privs_drop("no-such-user-agentd-test") != AD_ERR_NOT_FOUND) {
            _exit(2);
        }
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identify_self),
        cmocka_unit_test(test_identify_child_then_exit),
        cmocka_unit_test(test_connector_exit_detected),
        cmocka_unit_test(test_connector_exec_detected),
        cmocka_unit_test(test_identify_refuses_uid_change),
        cmocka_unit_test(test_identify_start_finish),
        cmocka_unit_test(test_finish_after_exit_denied),
        cmocka_unit_test(test_hash_file_cancel_and_change),
        cmocka_unit_test(test_hash_cache),
        cmocka_unit_test(test_hash_cache_evicts_lru),
        cmocka_unit_test(test_hash_too_large),
        cmocka_unit_test(test_cgroup_parse),
        cmocka_unit_test(test_stat_start_time),
        cmocka_unit_test(test_still_same_repeated),
        cmocka_unit_test(test_privs_drop),
        cmocka_unit_test(test_privs_drop_unprivileged),
        cmocka_unit_test(test_privs_drop_refuses_root_and_unknown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
