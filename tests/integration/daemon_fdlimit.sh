#!/usr/bin/env bash
# Open-file limit: each client connection costs three descriptors (socket,
# pidfd, /proc/PID), so under a low RLIMIT_NOFILE the daemon
#   1. raises its soft limit as far as the hard one allows and says how many
#      connections that admits (here hard 100: (100 - 64 reserved) / 3 = 12);
#   2. refuses connections past that at once, and a connection it admitted
#      still signs then (the TPM's per-command socket finds a descriptor);
#   3. when descriptors run out all the same (here: the limit lowered under
#      the running daemon with prlimit, below every descriptor it holds),
#      stops watching its listening socket for a tick at a time instead of
#      spinning on it, and serves the connection that waited once the limit
#      comes back.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"
command -v prlimit >/dev/null || die "prlimit (util-linux) not installed"

harness_init
swtpm_start --no-ek
daemon_default_conf
real=$AGENTD_BIN
cat >"$T/agentd-lowfd" <<EOW
#!/usr/bin/env bash
ulimit -Sn 64 && ulimit -Hn 100 && exec "$real" "\$@"
EOW
chmod 755 "$T/agentd-lowfd"
AGENTD_BIN=$T/agentd-lowfd agentd_start

limits=$(grep '^Max open files' "/proc/$AGENTD_PID/limits")
[[ $(awk '{print $4, $5}' <<<"$limits") == "100 100" ]] || die "soft limit not raised: $limits"
grep -q "soft limit raised from 64 to 100" "$T/agentd.log" || die "raise not logged"
grep -q "max_connections 256 needs 832 open files but the limit is 100: 12 connections are admitted" \
    "$T/agentd.log" || die "shortfall not logged"
echo "ok: soft limit raised to the hard one, shortfall logged"
nfds() { find "/proc/$AGENTD_PID/fd" -mindepth 1 | wc -l; }
base=$(nfds)

# One connection driven through a FIFO, then 11 held ones: 12 in all.
session_open
r=$(session_say "whoami")
[[ $r == *"entry=w1"* ]] || die "session whoami: $r"
pids=()
for _ in $(seq 1 11); do
    "$DAEMON_CLIENT" "$AGENTD_SOCK" stall 30 &
    pids+=($!)
    harness_track "$!"
done
for _ in $(seq 1 100); do
    (($(nfds) >= base + 36)) && break
    sleep 0.05
done
(($(nfds) >= base + 36)) || die "12 connections did not take 36 descriptors: $base -> $(nfds)"
out=$(dc whoami 2>&1) && die "connection past the descriptor budget was served: $out"
grep -q "descriptor limit leaves room for 12 connections" "$T/agentd.log" ||
    die "refusal past the budget not logged"
r=$(session_say "sign ec ECDSA_SHA256")
[[ $r == "ok"* ]] || die "an admitted connection cannot sign at the budget: $r"
echo "ok: past the budget refused at once; admitted connections still sign"

# Descriptors gone under the daemon: no spin, and the waiting client is
# served once they come back. (RLIMIT_NOFILE bounds descriptor numbers: at 8,
# 0-7 are all taken, so accept() itself fails.)
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
prlimit --pid "$AGENTD_PID" --nofile=8:100
cpu() { awk '{print $14 + $15}' "/proc/$AGENTD_PID/stat"; }
c0=$(cpu)
"$DAEMON_CLIENT" "$AGENTD_SOCK" whoami >"$T/late.out" 2>&1 &
late=$!
harness_track "$late"
sleep 1
c1=$(cpu)
kill -0 "$late" 2>/dev/null || die "the waiting client finished with no descriptor: $(cat "$T/late.out")"
# Clock ticks (100 per second): a loop spinning on the listening socket burns ~100.
((c1 - c0 < 20)) || die "daemon used $((c1 - c0)) ticks in 1 s at the descriptor limit"
grep -q "out of descriptors (Too many open files): not accepting for 250 ms" "$T/agentd.log" ||
    die "running out of descriptors not logged"
echo "ok: out of descriptors, no spin ($((c1 - c0)) ticks in 1 s), the client waits"
prlimit --pid "$AGENTD_PID" --nofile=100:100
wait "$late" || die "the waiting client was not served after the limit came back: $(cat "$T/late.out")"
grep -q "entry=w1" "$T/late.out" || die "late whoami: $(cat "$T/late.out")"
session_close || true
dc sign ec ECDSA_SHA256 3 >/dev/null || die "sign after the limit came back"
echo "ok: recovered, the waiting client served"

agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
audit_verify_ok
echo PASS
