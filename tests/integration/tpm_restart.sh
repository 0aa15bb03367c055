#!/usr/bin/env bash
# The TPM reboots between two signatures by the same loaded key in one
# process: the layer reconnects, runs Startup, re-creates the SRK, reloads the
# key from its blob and signs again, transparently.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
: "${TPM_TOOL:?}"
harness_init
swtpm_start --no-ek
echo "restart test" >"$T/msg"

for type in p256 rsa2048; do
    scheme=ecdsa
    [[ $type == rsa* ]] && scheme=rsassa
    "$TPM_TOOL" "$SWTPM_TCTI" create "$type" "$T/$type.pem" || die "create $type"
    coproc SIGNER { "$TPM_TOOL" "$SWTPM_TCTI" sign "$T/$type.pem" "$scheme" sha256 "$T/msg" "$T/sig" --pause 2>"$T/signer.err"; }
    read -r -t 60 line <&"${SIGNER[0]}" || die "signer did not sign the first time"
    [[ $line == paused ]] || die "unexpected signer output '$line'"
    swtpm_restart_same_port
    echo go >&"${SIGNER[1]}"
    wait "$SIGNER_PID" || { cat "$T/signer.err" >&2; die "$type: sign after TPM restart failed"; }
    grep -q 'reconnecting' "$T/signer.err" || die "$type: the layer did not notice the restart"
    openssl dgst -sha256 -verify "$T/$type.pem.pub.pem" -signature "$T/sig.2" "$T/msg" >/dev/null ||
        die "$type: signature after restart does not verify"
done

# A TPM that stays down gives a clear error, not a hang or a crash.
"$TPM_TOOL" "$SWTPM_TCTI" create p256 "$T/k.pem" || die "create"
coproc SIGNER { "$TPM_TOOL" "$SWTPM_TCTI" sign "$T/k.pem" ecdsa sha256 "$T/msg" "$T/sig" --pause 2>"$T/signer.err"; }
read -r -t 60 line <&"${SIGNER[0]}" || die "signer did not sign"
swtpm_stop
echo go >&"${SIGNER[1]}"
if wait "$SIGNER_PID"; then die "signed with the TPM down"; fi
grep -q 'sign: ' "$T/signer.err" || die "no clear error with the TPM down"
echo "PASS tpm_restart"
