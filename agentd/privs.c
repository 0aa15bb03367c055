#include "privs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cap-ng.h>

#define PW_BUF_MAX 16384

int privs_harden_process(void)
{
    const struct rlimit none = {0, 0};

    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || setrlimit(RLIMIT_CORE, &none) != 0) {
        return AD_ERR_SYSTEM;
    }
    return AD_OK;
}

static int lookup_user(const char *user, uid_t *ret_uid, gid_t *ret_gid)
{
    struct passwd pw;
    struct passwd *res = NULL;
    char *buf = NULL;
    int e;

    if ((buf = malloc(PW_BUF_MAX)) == NULL) {
        return AD_ERR_NOMEM;
    }
    e = getpwnam_r(user, &pw, buf, PW_BUF_MAX, &res);
    if (e != 0 || res == NULL) {
        free(buf);
        return e != 0 ? AD_ERR_SYSTEM : AD_ERR_NOT_FOUND;
    }
    *ret_uid = pw.pw_uid;
    *ret_gid = pw.pw_gid;
    free(buf);
    return AD_OK;
}

/* nftw() passes no argument to its callback; start-up is single-threaded. */
static uid_t give_uid;
static gid_t give_gid;
static char give_failed[4096];

static int give_failure(const char *path, int e)
{
    snprintf(give_failed, sizeof(give_failed), "%s: %s", path, strerror(e));
    return 1;
}

/*
 * The state directory may have been writable by the unprivileged user in an
 * earlier run, so its entries are not trusted: only directories and regular
 * files with a single link are given, through an fd opened without following
 * links and checked again after the open (a hard link to a root-owned file
 * elsewhere, or a swap between lstat and chown, would otherwise hand that
 * file to the user). Symlinks and anything else are left as they are.
 */
static int give_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    struct stat now;
    int fd;

    (void)ftw;
    if ((flag != FTW_F && flag != FTW_D) || (flag == FTW_F && !S_ISREG(st->st_mode))) {
        return 0;
    }
    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0) {
        return give_failure(path, errno);
    }
    if (fstat(fd, &now) != 0) {
        int e = errno;

        close(fd);
        return give_failure(path, e);
    }
    if ((S_ISREG(now.st_mode) && now.st_nlink == 1) || S_ISDIR(now.st_mode)) {
        if ((now.st_uid != give_uid || now.st_gid != give_gid) &&
            fchown(fd, give_uid, give_gid) != 0) {
            int e = errno;

            close(fd);
            return give_failure(path, e);
        }
    }
    close(fd);
    return 0;
}

int privs_give_paths(const char *user, const char *const *paths, size_t n, const char **ret_failed)
{
    int r;

    *ret_failed = give_failed;
    give_failed[0] = '\0';

    if (geteuid() != 0 || user == NULL || user[0] == '\0') {
        return AD_OK;
    }
    if ((r = lookup_user(user, &give_uid, &give_gid)) != AD_OK) {
        return r;
    }
    if (give_uid == 0) {
        return AD_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        r = nftw(paths[i], give_one, 16, FTW_PHYS);
        if (r != 0 && !(r == -1 && errno == ENOENT)) {
            if (give_failed[0] == '\0') {
                snprintf(give_failed, sizeof(give_failed), "%s: %s", paths[i], strerror(errno));
            }
            return AD_ERR_SYSTEM;
        }
    }
    return AD_OK;
}

/* Only the two capabilities privs.h explains, effective and permitted. */
static int select_kept_caps(bool only_if_held)
{
    bool ptrace_held = true;
    bool dac_held = true;

    if (only_if_held) {
        if (capng_get_caps_process() != 0) {
            return AD_ERR_SYSTEM;
        }
        ptrace_held = capng_have_capability(CAPNG_PERMITTED, CAP_SYS_PTRACE) != 0;
        dac_held = capng_have_capability(CAPNG_PERMITTED, CAP_DAC_READ_SEARCH) != 0;
    }
    capng_clear(CAPNG_SELECT_CAPS);
    if ((ptrace_held &&
         capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SYS_PTRACE) != 0) ||
        (dac_held &&
         capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_DAC_READ_SEARCH) != 0)) {
        return AD_ERR_SYSTEM;
    }
    return AD_OK;
}

/* After a switch to uid/gid: nothing may bring root back. */
static int check_dropped(uid_t uid, gid_t gid)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;

    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != uid || eu != uid ||
        su != uid || rg != gid || eg != gid || sg != gid || getgroups(0, NULL) != 0) {
        return AD_ERR_SYSTEM;
    }
    if (setuid(0) == 0 || seteuid(0) == 0) {
        return AD_ERR_SYSTEM;
    }
    return AD_OK;
}

int privs_drop(const char *user)
{
    bool is_root = geteuid() == 0;
    bool switch_user = is_root && user != NULL && user[0] != '\0';
    uid_t uid = 0;
    gid_t gid = 0;
    int r;

    if (switch_user) {
        if ((r = lookup_user(user, &uid, &gid)) != 0) {
            return r;
        }
        if (uid == 0) {
            return AD_ERR_INVALID;
        }
    }
    if ((r = select_kept_caps(!is_root)) != 0) {
        return r;
    }
    if (switch_user) {
        /* setgroups(0), setresgid, setresuid keeping the selected caps, clear bounding/ambient. */
        if (capng_change_id((int)uid, (int)gid,
                            CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING | CAPNG_CLEAR_AMBIENT) !=
            0) {
            return AD_ERR_SYSTEM;
        }
    } else if (is_root) {
        capng_clear(CAPNG_SELECT_BOUNDS);
        if (capng_apply(CAPNG_SELECT_BOTH) != 0) {
            return AD_ERR_SYSTEM;
        }
    } else if (capng_apply(CAPNG_SELECT_CAPS) != 0) {
        return AD_ERR_SYSTEM; /* no CAP_SETPCAP: the bounding set stays as systemd left it */
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        return AD_ERR_SYSTEM;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return AD_ERR_SYSTEM;
    }
    if (switch_user && (r = check_dropped(uid, gid)) != 0) {
        return r;
    }
    return AD_OK;
}
