#!/usr/bin/env bash
# The audit head never reaches the disk before the log lines it names. With
# sync = "write" the lines are not synced one by one, so each replacement of
# the head file must be preceded by a sync of the log: otherwise a power cut
# can leave a head naming records the log lost, and verification reports
# them removed. Observed on the running daemon with strace: every write of
# the head (a slot rewritten in place, or a new file renamed over it; in the
# background, at rotation, at shutdown) comes after an fdatasync/fsync of the
# log file since the previous head write.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"

command -v strace >/dev/null || die "strace is not installed (Debian package strace)"

harness_init
swtpm_start --no-ek
# Files of ~64 KiB: a few rotations and, between them, background head writes.
AGENTD_AUDIT_EXTRA='    rotate_bytes = 65536; keep = 8;'
daemon_default_conf
# LeakSanitizer cannot run in a traced process (it aborts at exit): leak
# checks off for this daemon only; ASan and UBSan still watch it, and the
# other tests check it for leaks.
asan_before=${ASAN_OPTIONS-}
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
agentd_start
export ASAN_OPTIONS=$asan_before

strace -f -qq -y -e trace=fdatasync,fsync,rename,renameat,renameat2,pwrite64 -o "$T/strace.log" \
    -p "$AGENTD_PID" 2>"$T/strace.err" &
strace_pid=$!
harness_track "$strace_pid"
# Attached once the daemon's main thread names a tracer.
for _ in $(seq 1 100); do
    tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$AGENTD_PID/status" 2>/dev/null || echo 0)
    [[ $tracer != 0 ]] && break
    sleep 0.05
done
if [[ $tracer == 0 ]]; then
    # Not root under Yama's ptrace_scope >= 1: attaching to a non-child is refused.
    grep -q "Operation not permitted" "$T/strace.err" && {
        echo "SKIP: strace may not attach to agentd here: $(cat "$T/strace.err")"
        exit 77
    }
    die "strace did not attach: $(cat "$T/strace.err")"
fi

dc sign ec ECDSA_SHA256 400 >/dev/null || die "signing failed"
agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
wait "$strace_pid" 2>/dev/null || true
audit_verify_ok

log_name=${AGENTD_AUDIT##*/}
# strace -y prints each fd with its path: fdatasync(7</dir/audit.log>). A
# rotation renames the log to .1 and the head written next names its last
# line, so the old file must be synced before that rename: a sync of the new
# file (also "audit.log") after it would not cover those lines.
awk -v log_fd="/$log_name>)" -v tmp="/$log_name.head.tmp\"" -v head="/$log_name.head\"" \
    -v head_fd="/$log_name.head>" \
    -v cur="/$log_name\", " -v first="/$log_name.1\"" '
    /(fdatasync|fsync)\(/ && index($0, log_fd) { synced = 1 }
    /rename/ && index($0, cur) && index($0, first) {
        rotations++
        if (!synced) { bad++; print "log rotated away without a sync before it: " $0 }
    }
    (/rename/ && index($0, tmp) && index($0, head)) || (/pwrite64\(/ && index($0, head_fd)) {
        writes++
        if (/pwrite64/) { in_place++ }
        if (!synced) { bad++; print "head written without a log sync before it: " $0 }
        synced = 0
    }
    END {
        print writes + 0 " head writes (" in_place + 0 " in place), " rotations + 0 " rotations, " \
            bad + 0 " without the log synced first"
        exit (writes >= 4 && in_place >= 2 && rotations >= 2 && bad == 0) ? 0 : 1
    }' "$T/strace.log" || {
    tail -n 40 "$T/strace.log" >&2
    die "the head was written before the log lines it names were synced (or too few head writes or rotations)"
}
echo PASS
