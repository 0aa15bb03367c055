#!/usr/bin/env bash
# The TPM reboots under a running daemon (swtpm restarted on the same port:
# state kept, transient objects and sessions gone): agentd reopens the
# TCTI, reloads its keys from their blobs, and every key signs again
# without a restart of agentd; the log says so at warning level, not error.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"

harness_init
swtpm_start --no-ek
daemon_default_conf
agentd_start

dc sign ec ECDSA_SHA256 2 >/dev/null || die "sign ec"
dc sign rsa SHA256_RSA_PKCS 2 >/dev/null || die "sign rsa"
for round in 1 2; do
    swtpm_restart_same_port
    dc sign ec ECDSA_SHA256 3 >/dev/null || { agentd_log; die "round $round: ec after TPM restart"; }
    dc sign rsa SHA256_RSA_PKCS 3 >/dev/null || { agentd_log; die "round $round: rsa after TPM restart"; }
    kill -0 "$AGENTD_PID" 2>/dev/null || die "agentd died"
    echo "ok: round $round, both keys sign after the TPM restarted"
done
# A recovery that succeeded is a warning in the log, not an error.
grep -q '^<4>.*reconnecting and restoring keys' "$T/agentd.log" ||
    { agentd_log; die "the recovery was not logged as a warning"; }
if grep '^<3>' "$T/agentd.log"; then
    die "error-level lines for restarts that were recovered"
fi
echo "ok: recoveries logged as warnings, no errors"
agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
audit_verify_ok
echo PASS
