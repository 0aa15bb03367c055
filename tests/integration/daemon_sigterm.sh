#!/usr/bin/env bash
# SIGTERM: in-flight requests finish, exit 0, socket removed, audit head
# written and the chain verifies.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"

harness_init
swtpm_start --no-ek
daemon_default_conf
agentd_start
dc sign ec ECDSA_SHA256 5 >/dev/null || die "sign"
dc sign rsa SHA256_RSA_PKCS_PSS 2 >/dev/null || die "sign pss"
# A second daemon on the same socket refuses to start and leaves the first alone.
rc=0
"$AGENTD_BIN" -c "$AGENTD_CONF" --foreground 2>"$T/second.log" || rc=$?
((rc != 0)) || die "a second daemon started on a live socket"
grep -q "another daemon listens" "$T/second.log" || die "second daemon: $(cat "$T/second.log")"
dc sign ec ECDSA_SHA256 1 >/dev/null || die "first daemon disturbed by the second"
# Requests in flight at SIGTERM get their replies.
dc stream ec ECDSA_SHA256 8 >"$T/stream" 2>&1 &
s=$!
sleep 1
agentd_stop
wait "$s" || true
[[ $AGENTD_RC == 0 ]] || { agentd_log; die "agentd exit status $AGENTD_RC"; }
grep -q "bad=0" "$T/stream" || die "bad replies at shutdown: $(cat "$T/stream")"
grep -q "giving up" "$T/agentd.log" && die "in-flight requests dropped at shutdown"
[[ ! -e $AGENTD_SOCK ]] || die "socket left behind"
[[ -s $AGENTD_AUDIT.head ]] || die "no audit head written"
audit_verify_ok
echo PASS
