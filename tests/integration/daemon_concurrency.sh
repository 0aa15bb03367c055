#!/usr/bin/env bash
# 64 concurrent clients signing for 10 seconds, several requests in flight on
# each connection: every reply carries its own request's id and every
# signature verifies for its own request's data (no lost or mixed replies).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"

harness_init
swtpm_start --no-ek
AGENTD_MAX_INFLIGHT=8
daemon_default_conf
agentd_start

seconds=${DAEMON_STRESS_SECONDS:-10}
out=$(dc stress ec ECDSA_SHA256 "$seconds" 64 4) || {
    echo "$out" >&2
    agentd_log
    die "stress failed"
}
echo "$out"
# The client checks ids and signatures itself; also require real progress.
n=$(sed -n 's/.*signatures=\([0-9]*\).*/\1/p' <<<"$out")
((n >= 64)) || die "only $n signatures"
agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
audit_verify_ok
echo PASS
