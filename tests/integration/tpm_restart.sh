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

# A TPM that comes back *without* TPM2_Startup (swtpm without startup-clear,
# like a real TPM after a reset with no firmware to start it): the layer sees
# TPM_RC_INITIALIZE and sends TPM2_Startup(CLEAR) itself, at open and mid-run.
raw_swtpm_once() {
    swtpm socket --tpm2 --server type=tcp,port="$1",bindaddr=127.0.0.1 \
        --ctrl type=tcp,port=$(($1 + 1)),bindaddr=127.0.0.1 --tpmstate dir="$T/swtpm/tpm" \
        --flags not-need-init --pid file="$T/raw.pid" --daemon || return 1
    for _ in $(seq 1 100); do [[ -s $T/raw.pid ]] && break; sleep 0.02; done
    RAW_PID=$(cat "$T/raw.pid")
    harness_track "$RAW_PID"
}
raw_stop() {
    kill "$RAW_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$RAW_PID" 2>/dev/null || break; sleep 0.02; done
    rm -f "$T/raw.pid"
}
swtpm_stop
# free_port_pair sees listeners only; a port in TIME-WAIT fails to bind: try another.
for _ in $(seq 1 20); do
    port=$(free_port_pair) || die "no free port"
    raw_swtpm_once "$port" 2>>"$T/raw.start.err" && break
    port=
done
[[ -n $port ]] || die "raw swtpm: $(tail -1 "$T/raw.start.err")"
RAW_TCTI="swtpm:host=127.0.0.1,port=$port"
sleep 0.2
"$TPM_TOOL" "$RAW_TCTI" create p256 "$T/raw.pem" 2>"$T/raw.err" || { cat "$T/raw.err" >&2; die "open of an unstarted TPM failed"; }
# Every kill above was an unorderly TPM shutdown, and libtpms counts each one as
# a dictionary-attack failure (TPM 2.0 Part 1 §19.8.6): with our DA-protected
# keys (no noDA, per the key template) the TPM is now close to or in lockout,
# which the layer reports as a clear TPM_RC_LOCKOUT error. Clear it (empty
# lockout auth on swtpm) so the next restart tests Startup, not DA policy.
tpm2_dictionarylockout -T "$RAW_TCTI" -c >/dev/null || die "clear DA lockout"
coproc SIGNER { "$TPM_TOOL" "$RAW_TCTI" sign "$T/raw.pem" ecdsa sha256 "$T/msg" "$T/sig" --pause 2>"$T/signer.err"; }
read -r -t 60 line <&"${SIGNER[0]}" || die "signer did not sign on the raw TPM: $(cat "$T/signer.err")"
# CMD_INIT on the control channel: a TPM reset in place (no new process, same
# port), after which the TPM answers TPM_RC_INITIALIZE until TPM2_Startup.
swtpm_ioctl --tcp "127.0.0.1:$((port + 1))" -i || die "swtpm_ioctl -i"
echo go >&"${SIGNER[1]}"
wait "$SIGNER_PID" || { cat "$T/signer.err" >&2; die "sign after an unstarted restart failed"; }
grep -qi 'initialize' "$T/signer.err" || die "TPM_RC_INITIALIZE was not seen: $(cat "$T/signer.err")"
openssl dgst -sha256 -verify "$T/raw.pem.pub.pem" -signature "$T/sig.2" "$T/msg" >/dev/null ||
    die "signature after unstarted restart does not verify"
raw_stop
swtpm_launch

# A TPM that stays down gives a clear error, not a hang or a crash.
"$TPM_TOOL" "$SWTPM_TCTI" create p256 "$T/k.pem" || die "create"
coproc SIGNER { "$TPM_TOOL" "$SWTPM_TCTI" sign "$T/k.pem" ecdsa sha256 "$T/msg" "$T/sig" --pause 2>"$T/signer.err"; }
read -r -t 60 line <&"${SIGNER[0]}" || die "signer did not sign"
swtpm_stop
echo go >&"${SIGNER[1]}"
if wait "$SIGNER_PID"; then die "signed with the TPM down"; fi
grep -q 'sign: ' "$T/signer.err" || die "no clear error with the TPM down"
echo "PASS tpm_restart"
