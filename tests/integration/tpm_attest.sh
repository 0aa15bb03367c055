#!/usr/bin/env bash
# Attestation verbs against swtpm and tpm2-tools as the independent verifier:
# EK public areas match the EK certificates; credential activation returns the
# secret tpm2_makecredential sealed to (EK, AK name); a quote verifies with
# tpm2_checkquote; TPM2_Certify names the certified key and carries the nonce.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
: "${TPM_TOOL:?}"
harness_init
swtpm_start
cd "$T"

for type in rsa p384; do
    "$TPM_TOOL" "$SWTPM_TCTI" ekpub "$type" "ek-$type.pub" || die "ekpub $type"
    tpm2_print -t TPM2B_PUBLIC -f pem "ek-$type.pub" >"ek-$type.pem" || die "ekpub $type does not parse"
    "$TPM_TOOL" "$SWTPM_TCTI" ekcert "$type" "ek-$type.der" || die "ekcert $type"
    a=$(openssl pkey -pubin -in "ek-$type.pem" -outform DER | sha256sum)
    b=$(openssl x509 -inform DER -in "ek-$type.der" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)
    [[ $a == "$b" ]] || die "$type EK public area does not match its certificate"
done

name=$("$TPM_TOOL" "$SWTPM_TCTI" ak ak.pem) || die "create AK"
[[ $name =~ ^000b[0-9a-f]{64}$ ]] || die "AK name '$name' is not SHA-256"
for type in rsa p384; do
    head -c 32 /dev/urandom >"secret-$type"
    tpm2_makecredential -T none -u "ek-$type.pub" -s "secret-$type" -n "$name" -o "cred-$type" ||
        die "makecredential $type"
    "$TPM_TOOL" "$SWTPM_TCTI" activate ak.pem "$type" "cred-$type" "got-$type" || die "activate $type"
    cmp -s "secret-$type" "got-$type" || die "activate $type returned the wrong secret"
    # A credential for another AK name must not activate.
    tpm2_makecredential -T none -u "ek-$type.pub" -s "secret-$type" -n "000b$(printf '11%.0s' $(seq 1 32))" \
        -o "bad-$type" || die "makecredential bad"
    if "$TPM_TOOL" "$SWTPM_TCTI" activate ak.pem "$type" "bad-$type" "got-bad" 2>/dev/null; then
        die "activate $type accepted a credential for another AK"
    fi
done

head -c 20 /dev/urandom >nonce
"$TPM_TOOL" "$SWTPM_TCTI" quote ak.pem nonce 0x10001 q || die "quote"
tpm2_checkquote -u ak.pem.pub.pem -m q.msg -s q.sig -q "$(xxd -p nonce | tr -d '\n')" -g sha256 ||
    die "quote does not verify"
if tpm2_checkquote -u ak.pem.pub.pem -m q.msg -s q.sig -q "00$(xxd -p nonce | tr -d '\n' | cut -c3-)" \
    -g sha256 >/dev/null 2>&1; then
    die "quote verified with the wrong nonce"
fi

"$TPM_TOOL" "$SWTPM_TCTI" create p256 k.pem || die "create key"
"$TPM_TOOL" "$SWTPM_TCTI" certify ak.pem k.pem nonce c || die "certify"
tpm2_print -t TPMS_ATTEST c.msg >c.txt 2>&1 || true # 5.4 prints certify but exits 1
grep -q 'type: .*ATTEST_CERTIFY\|type: 8017' c.txt || die "not a certify attestation: $(head -5 c.txt)"
grep -qi "$(xxd -p nonce | tr -d '\n')" c.txt || die "certify lacks the nonce"
"$TPM_TOOL" - attest-verify ak.pem.pub.pem c.msg c.sig || die "certify signature does not verify"
"$TPM_TOOL" - attest-verify ak.pem.pub.pem q.msg q.sig || die "quote signature does not verify"
if "$TPM_TOOL" - attest-verify k.pem.pub.pem c.msg c.sig; then die "certify verified with the wrong key"; fi
echo "PASS tpm_attest"
