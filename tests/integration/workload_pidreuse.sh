#!/usr/bin/env bash
# A pid reused by another process does not inherit the identity.
#
# adclient (binary A, uid 0, the entry's selectors) connects and says HELLO,
# forks a helper that inherits the connected socket, and exits. Then:
#   1. control (--keep): the helper signs over the inherited socket while
#      the connecting process is still alive: allowed. So a second holder of
#      the fd is not by itself a reason to refuse.
#   2. the connecting process has exited (not yet necessarily reaped): the
#      helper execs A and signs over the inherited socket: refused
#      ("caller_changed"), because the pidfd taken at accept time reports the
#      exit.
#   3. real pid reuse: the helper waits until the connecting process is
#      reaped, then sets /proc/sys/kernel/ns_last_pid so that its next child
#      gets the connecting process's pid number P, and that child execs A
#      and signs over the inherited socket. Everything /proc/P says about it
#      matches the identity taken at accept time (pid, uid, gid, binary
#      inode and hash, cgroup) except the start time; the pidfd says the
#      original is gone. The daemon refuses ("caller_changed").
# What this proves: an identity is bound to the process that connected (its
# pidfd and start time), not to the pid number, the uid or the binary, so a
# process that gets the same pid, runs the same binary as the same user and
# holds the same socket is still refused. What it does not cover: a pid
# reused between connect() and the daemon's accept() on kernels without
# SO_PEERPIDFD (workload.h explains the checks made there).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/workload_common.sh"
workload_need_root

harness_init
swtpm_start --no-ek
A=$(workload_copy_client adc-a)
HA=$(sha256_of "$A")
agentd_write_conf <<EOW
{ name = "wa"; spiffe_id = "spiffe://test/wa"; selectors = { sha256 = "$HA"; uid = 0; };
  keys = ( { name = "ka"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); }
EOW
agentd_start
workload_data
S=(-s "$AGENTD_SOCK")
SIGN=(sign ka ECDSA_SHA256 "$T/data.bin")

wait_file() {
    for _ in $(seq 1 600); do
        [[ -s $1 ]] && return 0
        sleep 0.05
    done
    die "timed out waiting for $1"
}

# 1. Control: the connecting process is alive while the helper signs.
expect_rc $RC_OK "helper signs while the connecting process lives" \
    "$A" "${S[@]}" hold-then-fork --keep "$A" use-fd "${SIGN[@]}" "$T/out/keep.sig"

# 2. The connecting process has exited.
expect_rc $RC_OK "connect, fork helper, exit" \
    env RCF="$T/out/exited.sig" "$A" "${S[@]}" hold-then-fork \
    sh -c '"$0" use-fd "$@" 2>"$RCF.err"; echo $? >"$RCF.rc"' "$A" "${SIGN[@]}" "$T/out/exited.sig"
parent=$(sed -n 's/^parent=\([0-9]*\) .*/\1/p' "$T/last.out")
wait_file "$T/out/exited.sig.rc"
rc=$(cat "$T/out/exited.sig.rc")
[[ $rc == "$RC_DENIED" ]] || die "helper after the connector exited: exit $rc ($(cat "$T/out/exited.sig.err"))"
grep -q caller_changed "$T/out/exited.sig.err" || die "reason: $(cat "$T/out/exited.sig.err")"
echo "ok: helper refused after the connecting process $parent exited"
audit_expect ".pid == $parent and .op == \"sign\" and .decision == \"deny\" and .reason == \"caller_changed\"" \
    "connector $parent gone: denied"

# 3. Real pid reuse.
rm -f "$T/reuse.rc"
expect_rc $RC_OK "connect, fork helper, exit (pid reuse)" \
    "$A" "${S[@]}" hold-then-fork --reuse-pid "$T/reuse.rc" "$A" use-fd "${SIGN[@]}" "$T/out/reuse.sig"
parent=$(sed -n 's/^parent=\([0-9]*\) .*/\1/p' "$T/last.out")
[[ -n $parent ]] || die "no parent pid printed: $(cat "$T/last.out")"
wait_file "$T/reuse.rc"
rc=$(cat "$T/reuse.rc")
grep -q "ran $A as reused pid $parent" "$T/last.err" ||
    die "pid $parent was not reused: $(cat "$T/last.err")"
grep -q "pid $parent using inherited fd" "$T/last.err" ||
    die "the signer did not run as pid $parent: $(cat "$T/last.err")"
[[ $rc == "$RC_DENIED" ]] || die "process with the reused pid $parent: exit $rc ($(cat "$T/last.err"))"
grep -q caller_changed "$T/last.err" || die "reason: $(cat "$T/last.err")"
[[ ! -s $T/out/reuse.sig ]] || die "a signature was written"
echo "ok: process reusing pid $parent (same binary, same uid, same socket) refused"
audit_expect ".pid == $parent and .exe_sha256 == \"$HA\" and .op == \"sign\" and .decision == \"deny\" and .reason == \"caller_changed\"" \
    "reused pid $parent denied"
n=$(audit_count ".pid == $parent and .op == \"sign\" and .decision == \"allow\"")
[[ $n == 0 ]] || die "a sign by pid $parent was allowed"

workload_stop
workload_audit_verify
echo PASS
