#!/usr/bin/env bash
# Fail closed: when the audit record cannot be written, the request is
# denied and no signature leaves the daemon; once the log is writable again
# signing resumes and the chain still verifies.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"

[[ $(id -u) == 0 ]] || { echo "SKIP: needs root (agentd drops CAP_DAC_OVERRIDE)"; exit 0; }
harness_init
swtpm_start --no-ek
mkdir -p "$T/auditdir"
AGENTD_AUDIT=$T/auditdir/audit.log
# Rotation every ~4 KiB: the rotation needs to create a file in the directory.
AGENTD_AUDIT_EXTRA='    rotate_bytes = 4096; keep = 4;'
daemon_default_conf
agentd_start
dc sign ec ECDSA_SHA256 2 >/dev/null || die "sign"

# The daemon runs without CAP_DAC_OVERRIDE: a read-only directory stops rotation.
chmod 0500 "$T/auditdir"
denied=0
for _ in $(seq 1 60); do
    out=$(dc sign-data ec ECDSA "$(printf '44%.0s' $(seq 1 32))")
    if [[ $out == "status=3"* ]]; then
        denied=1
        break
    fi
    [[ $out == "ok len=64" ]] || die "unexpected reply: $out"
done
((denied)) || {
    chmod 0700 "$T/auditdir"
    die "audit writes never failed (is CAP_DAC_OVERRIDE still held?)"
}
# That ECDSA sign ran on the loop thread (ECDSA measured quick, one client:
# the inline path, agentd/sign_gate.h). The daemon's first RSA sign has no
# measured TPM time yet, so it goes through the TPM worker. Both fail closed.
rsa_out=$(dc sign-data rsa SHA256_RSA_PKCS "$(printf '44%.0s' $(seq 1 32))")
chmod 0700 "$T/auditdir"
[[ $rsa_out == "status=3"* ]] || die "RSA sign (worker path) not denied: $rsa_out"
grep -q "audit: append failed" "$T/agentd.log" || die "audit failure not logged"
echo "ok: denied while the audit log could not be written ($out; RSA: $rsa_out)"

dc sign ec ECDSA_SHA256 3 >/dev/null || die "signing did not resume"
agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
audit_verify_ok
echo PASS
