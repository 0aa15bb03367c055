#!/usr/bin/env bash
# Connection limits: over max_connections a connection is accepted and
# closed at once; an idle connection is closed after idle_timeout_ms; a
# connection with requests at the in-flight cap is not read further but is
# served (backpressure, not an error).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"

harness_init
swtpm_start --no-ek
AGENTD_MAX_CONN=4
AGENTD_MAX_PER_UID=3
AGENTD_IDLE_MS=1500
AGENTD_MAX_INFLIGHT=2
daemon_default_conf
agentd_start
dc sign ec ECDSA_SHA256 1 >/dev/null || die "sign"

# Three held connections fill this uid's share; a fourth from it is closed
# at once, while another uid still gets the last slot; then the total cap.
pids=()
for i in 1 2 3; do
    "$DAEMON_CLIENT" "$AGENTD_SOCK" stall 6 &
    pids+=($!)
done
sleep 0.5
out=$(dc whoami 2>&1) && die "fourth connection of one uid was served: $out"
grep -q "per-uid cap 3 reached" "$T/agentd.log" || die "per-uid refusal not logged"
echo "ok: over the per-uid cap refused"
if command -v setpriv >/dev/null && [[ $(id -u) == 0 ]]; then
    setpriv --reuid=65534 --regid=65534 --clear-groups "$DAEMON_CLIENT" "$AGENTD_SOCK" stall 6 &
    pids+=($!)
    sleep 0.3
    out=$(setpriv --reuid=65533 --regid=65533 --clear-groups "$DAEMON_CLIENT" "$AGENTD_SOCK" whoami 2>&1) &&
        die "connection over the total cap was served: $out"
    grep -q "connection cap 4 reached" "$T/agentd.log" || die "total cap refusal not logged"
    echo "ok: over the total cap refused"
fi

# After the idle timeout the stalled connections are closed and the slots free up.
sleep 2
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
dc sign ec ECDSA_SHA256 1 >/dev/null || die "sign after idle close"
echo "ok: idle connections closed"

# 16 requests pipelined on one connection with an in-flight cap of 2: all
# answered (ECDSA: a lone client's signs run inline on the loop).
out=$(dc stress ec ECDSA_SHA256 2 1 16) || die "pipelined over the in-flight cap: $out"
echo "ok: in-flight cap, inline path ($out)"
# The same with RSA, which always goes through the TPM worker: most requests
# are dispatched when an earlier one completes, not when their bytes arrive,
# and the status must count them all.
n_requests() { dc admin status | sed -n 's/.*"requests": *\([0-9]*\).*/\1/p'; }
before=$(n_requests)
out=$(dc stress rsa SHA256_RSA_PKCS 2 1 16) || die "pipelined over the in-flight cap: $out"
after=$(n_requests)
signed=$(sed -n 's/.* signatures=\([0-9]*\) .*/\1/p' <<<"$out")
[[ -n $before && -n $after && -n $signed ]] || die "status or stress output unreadable: $out"
((after - before >= signed)) || die "status counted $((after - before)) requests for $signed signs"
echo "ok: in-flight cap, worker path ($out; status counted $((after - before)) requests)"

agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
audit_verify_ok
echo PASS
