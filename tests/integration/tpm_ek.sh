#!/usr/bin/env bash
# EK certificates read from NV chain to the test vendor CA; random and PCR
# reads work.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
: "${TPM_TOOL:?}"
harness_init
swtpm_start

for type in rsa p384; do
    "$TPM_TOOL" "$SWTPM_TCTI" ekcert "$type" "$T/ek-$type.der" || die "read $type EK cert"
    openssl x509 -inform DER -in "$T/ek-$type.der" -out "$T/ek-$type.pem" || die "$type EK cert is not X.509"
    openssl verify -partial_chain -CAfile "$SWTPM_EK_ISSUER" "$T/ek-$type.pem" >/dev/null ||
        die "$type EK cert does not chain to the swtpm issuer"
    cat "$SWTPM_EK_CA" "$SWTPM_EK_ISSUER" >"$T/chain.pem"
    openssl verify -CAfile "$SWTPM_EK_CA" -untrusted "$SWTPM_EK_ISSUER" "$T/ek-$type.pem" >/dev/null ||
        die "$type EK cert does not chain to the vendor root"
done
# swtpm writes no P-256 EK certificate: a clean "not found".
rc=0
"$TPM_TOOL" "$SWTPM_TCTI" ekcert p256 "$T/ek-p256.der" 2>/dev/null || rc=$?
[[ $rc == 4 ]] || die "absent P-256 EK cert: exit $rc, want 4 (not found)"

a=$("$TPM_TOOL" "$SWTPM_TCTI" random 100) || die "random"
b=$("$TPM_TOOL" "$SWTPM_TCTI" random 100) || die "random"
[[ ${#a} == 200 && $a != "$b" ]] || die "random bytes look wrong"
[[ $a != $(printf '0%.0s' $(seq 1 200)) ]] || die "random returned zeros"

out=$("$TPM_TOOL" "$SWTPM_TCTI" pcr sha256 0xffffff) || die "pcr read"
[[ $(wc -l <<<"$out") == 24 ]] || die "want 24 PCRs, got: $out"
want=$(tpm2_pcrread -T "$SWTPM_TCTI" sha256:16 | awk '$1 == "16:" {print tolower($2)}' | sed 's/^0x//')
got=$(awk '$1 == 16 {print $2}' <<<"$out")
[[ $got == "$want" ]] || die "PCR16 $got != tpm2_pcrread $want"
tpm2_pcrextend -T "$SWTPM_TCTI" 16:sha256=$(printf 'ab%.0s' $(seq 1 32)) || die "extend"
got2=$("$TPM_TOOL" "$SWTPM_TCTI" pcr sha256 0x10000 | awk '{print $2}')
[[ $got2 != "$got" ]] || die "PCR16 did not change after extend"
echo "PASS tpm_ek"
