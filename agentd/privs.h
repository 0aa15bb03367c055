/*
 * Process hardening and privilege drop for agentd.
 *
 * After the drop agentd keeps exactly two capabilities, and only in its
 * effective and permitted sets (never inheritable or ambient; after a switch
 * from root the bounding set is emptied, which only limits what an exec
 * could gain):
 *
 *   CAP_SYS_PTRACE       reading /proc/PID/exe of a process owned by another
 *                        user (readlink and open) is a ptrace "read" access
 *                        check: without it every other-uid caller would be
 *                        unidentifiable by executable (workload.c).
 *   CAP_DAC_READ_SEARCH  hashing an executable the daemon's user may not
 *                        read (mode 0711 binaries, private home
 *                        directories): workload.c opens the file through
 *                        /proc/PID/exe and needs read permission on it.
 *
 * Nothing else: no CAP_DAC_OVERRIDE (no writes outside the state and run
 * directories, which the agentd user owns), no CAP_SETUID afterwards.
 * PR_SET_NO_NEW_PRIVS is set so nothing agentd might exec can regain
 * privileges through setuid bits or file capabilities.
 */
#ifndef AGENTD_PRIVS_H
#define AGENTD_PRIVS_H

#include <stddef.h>

#include "err.h"

/*
 * PR_SET_DUMPABLE 0 (no core dumps, no ptrace attach by same-uid processes,
 * /proc/self owned by root) and RLIMIT_CORE 0. Call first thing in main.
 * Returns 0 or AD_ERR_SYSTEM.
 */
AD_MUST_CHECK int privs_harden_process(void);

/*
 * When running as root: switch to user's uid and primary gid, clear the
 * supplementary groups, keep only CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH
 * (effective and permitted), clear the bounding and ambient sets, then set
 * PR_SET_NO_NEW_PRIVS and check that root cannot be regained.
 * When not root (e.g. started by systemd as User=agentd with ambient
 * capabilities): keep the intersection of what we hold with those two,
 * drop the rest, clear ambient, set PR_SET_NO_NEW_PRIVS; user is not used.
 * user NULL or "" when root: stay root (tests), still clear other caps.
 * Returns 0; AD_ERR_NOT_FOUND (no such user); AD_ERR_INVALID (user is uid
 * 0); AD_ERR_SYSTEM (a step failed: the caller must exit, not continue
 * half-privileged).
 *
 * Call it while the process has ONE thread. Linux keeps capabilities, the
 * bounding set and no_new_privs per thread: glibc broadcasts setresuid to
 * every thread, but capset, PR_CAPBSET_DROP and PR_SET_NO_NEW_PRIVS apply to
 * the calling thread only. A thread created earlier keeps its full
 * capability set when root stays root (user NULL), and loses its caps but
 * keeps no_new_privs unset after a switch to a user (measured on 6.18:
 * the earlier thread showed CapEff 000001fffeffffff, NoNewPrivs 0).
 */
AD_MUST_CHECK int privs_drop(const char *user);

/*
 * When running as root with a user to switch to: give each path (and, for a
 * directory, everything beneath it; only directories and singly-linked
 * regular files, symlinks never followed) to that user and its primary group, so what agentd writes
 * after privs_drop() (keys/<entry>/ on first use, certificates, audit rotations) needs no root.
 * Paths that do not exist are skipped. Not root, or user NULL/"": nothing to do. Returns 0,
 * AD_ERR_NOT_FOUND (no such user), AD_ERR_INVALID (uid 0) or AD_ERR_SYSTEM (*ret_failed then says
 * which path and why).
 */
AD_MUST_CHECK int privs_give_paths(const char *user, const char *const *paths, size_t n,
                                   const char **ret_failed);

#endif
