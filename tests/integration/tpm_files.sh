#!/usr/bin/env bash
# Damaged key files are refused with a clear error (corrupt), never a crash,
# and a damaged file is never sent to the TPM.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
: "${TPM_TOOL:?}"
harness_init
swtpm_start --no-ek
"$TPM_TOOL" "$SWTPM_TCTI" create p256 "$T/k.pem" || die "create"
"$TPM_TOOL" - read "$T/k.pem" | grep -q ': ok$' || die "a good key file is refused"

expect_corrupt() { # file what
    local out rc=0
    out=$("$TPM_TOOL" - read "$1") || rc=$?
    [[ $rc == 3 ]] || die "$2: exit $rc ($out), want 3 (corrupt)"
    grep -q 'integrity' <<<"$out" || grep -qi 'corrupt' <<<"$out" || die "$2: unclear message '$out'"
}

size=$(stat -c %s "$T/k.pem")
head -c $((size / 2)) "$T/k.pem" >"$T/trunc.pem"
expect_corrupt "$T/trunc.pem" "truncated PEM"
# Damage the DER structure (the outer SEQUENCE length).
sed '2s/^MIH./MIHx/' "$T/k.pem" >"$T/flip.pem"
cmp -s "$T/k.pem" "$T/flip.pem" && die "corruption did not change the file"
expect_corrupt "$T/flip.pem" "corrupted PEM"
# Damage the encrypted private area in the middle: the file still parses, but
# the TPM's integrity check refuses to load it, and that must be a clean error.
line=$(($(wc -l <"$T/k.pem") - 2)) # a full base64 line inside the private area
awk -v n="$line" 'NR == n { c = substr($0, 30, 1); $0 = substr($0, 1, 29) (c == "A" ? "B" : "A") substr($0, 31) } { print }' \
    "$T/k.pem" >"$T/payload.pem"
cmp -s "$T/k.pem" "$T/payload.pem" && die "payload corruption did not change the file"
{ cat "$T/k.pem"; echo garbage; } >"$T/trail.pem"
expect_corrupt "$T/trail.pem" "trailing text"
openssl base64 -d -in "$T/k.pem" >/dev/null 2>&1 || true
sed '1d;$d' "$T/k.pem" | base64 -d >"$T/k.der"
"$TPM_TOOL" - read "$T/k.der" | grep -q ': ok$' || die "a good DER key file is refused"
head -c 100 "$T/k.der" >"$T/trunc.der"
expect_corrupt "$T/trunc.der" "truncated DER"
: >"$T/empty.pem"
expect_corrupt "$T/empty.pem" "empty file"
head -c 20000 /dev/zero >"$T/big.pem"
out=$("$TPM_TOOL" - read "$T/big.pem") && die "oversized file accepted"
grep -qi 'limit\|large' <<<"$out" || die "oversized: unclear message '$out'"
# Signing with a damaged file fails cleanly before the TPM.
echo msg >"$T/msg"
if "$TPM_TOOL" "$SWTPM_TCTI" sign "$T/flip.pem" ecdsa sha256 "$T/msg" "$T/sig" 2>"$T/err"; then
    die "signed with a corrupted key file"
fi
grep -q "key '$T/flip.pem'" "$T/err" || die "sign error does not name the file"
rc=0
"$TPM_TOOL" "$SWTPM_TCTI" sign "$T/payload.pem" ecdsa sha256 "$T/msg" "$T/sig" 2>"$T/err" || rc=$?
[[ $rc == 1 ]] || die "damaged private area: exit $rc, want 1"
grep -q 'agentd: tpm: load: ' "$T/err" || die "damaged private area: no decoded TPM error: $(cat "$T/err")"
echo "PASS tpm_files"
