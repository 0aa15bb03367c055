#!/usr/bin/env bash
# agentd/agentd.service, the hardened systemd unit the README ships: systemd
# accepts it (systemd-analyze verify, with ExecStart pointed at this build)
# and its exposure stays at the level the unit was written for (offline
# systemd-analyze security; 10 is fully exposed, the unit scores 2.7).
# Skipped (77) where systemd-analyze is not installed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
: "${AGENTD_BIN:?AGENTD_BIN not set}"
MAX_EXPOSURE=3.0

command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
harness_init
sed "s|/usr/sbin/agentd|$AGENTD_BIN|" "$here/../../agentd/agentd.service" >"$T/agentd.service"
grep -q "^ExecStart=$AGENTD_BIN " "$T/agentd.service" || die "unit has no ExecStart for agentd"
(cd "$T" && systemd-analyze verify ./agentd.service) >"$T/verify.log" 2>&1 ||
    die "systemd-analyze verify: $(cat "$T/verify.log")"
[[ ! -s $T/verify.log ]] || die "systemd-analyze verify warned: $(cat "$T/verify.log")"
out=$(cd "$T" && systemd-analyze security --offline=true ./agentd.service 2>&1) ||
    die "systemd-analyze security: $out"
level=$(sed -n 's/.*Overall exposure level for agentd.service: \([0-9.]*\).*/\1/p' <<<"$out")
[[ -n $level ]] || die "no exposure level in: $out"
awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l <= m) }' ||
    die "exposure level $level is above $MAX_EXPOSURE"
echo "ok: unit verifies, exposure $level (at most $MAX_EXPOSURE)"
echo PASS
