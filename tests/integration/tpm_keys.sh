#!/usr/bin/env bash
# Every key type signs with every scheme it supports; OpenSSL verifies each
# signature against the public key from tpm_key_info. RSA-PSS must use a salt
# of the digest length (what tpm.h promises), not the maximum.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
: "${TPM_TOOL:?}"
harness_init
swtpm_start --no-ek
printf 'integration test message %s\n' "$RANDOM" >"$T/msg"

verify() { # pub sig hash [sigopts...]
    local pub=$1 sig=$2 hash=$3
    shift 3
    openssl dgst "-$hash" "$@" -verify "$pub" -signature "$sig" "$T/msg" >/dev/null
}

for type in p256 p384 rsa2048 rsa3072; do
    key=$T/$type.pem
    "$TPM_TOOL" "$SWTPM_TCTI" create "$type" "$key" || die "create $type"
    [[ $(stat -c %a "$key") == 600 ]] || die "$type key file mode is not 0600"
    head -1 "$key" | grep -q 'BEGIN TSS2 PRIVATE KEY' || die "$type key file is not TSS2 PEM"
    # The attributes the issue demands, noDA (empty authValue), and no decrypt.
    attrs=$(tpm2_print -t TSSPRIVKEY_OBJ "$key" | sed -n '/^attributes:/{n;s/^ *value: *//p}')
    for a in fixedtpm fixedparent sensitivedataorigin userwithauth noda sign; do
        grep -qw "$a" <<<"$attrs" || die "$type key lacks $a: $attrs"
    done
    if grep -qw decrypt <<<"$attrs"; then die "$type key can decrypt: $attrs"; fi
    case $type in
    p*)
        for h in sha256 sha384; do
            "$TPM_TOOL" "$SWTPM_TCTI" sign "$key" ecdsa "$h" "$T/msg" "$T/sig" || die "sign $type ecdsa $h"
            verify "$key.pub.pem" "$T/sig" "$h" || die "openssl rejects $type ecdsa $h"
        done
        # A signature over another message must not verify (the check can fail).
        echo tampered >>"$T/msg"
        if verify "$key.pub.pem" "$T/sig" sha384; then die "tampered message verified"; fi
        printf 'integration test message %s\n' "$RANDOM" >"$T/msg"
        # Scheme mismatch is refused, not attempted.
        if "$TPM_TOOL" "$SWTPM_TCTI" sign "$key" rsassa sha256 "$T/msg" "$T/sig" 2>/dev/null; then
            die "EC key signed with RSASSA"
        fi
        ;;
    rsa*)
        for h in sha256 sha384 sha512; do
            "$TPM_TOOL" "$SWTPM_TCTI" sign "$key" rsassa "$h" "$T/msg" "$T/sig" || die "sign $type rsassa $h"
            verify "$key.pub.pem" "$T/sig" "$h" || die "openssl rejects $type rsassa $h"
            "$TPM_TOOL" "$SWTPM_TCTI" sign "$key" rsapss "$h" "$T/msg" "$T/sig" || die "sign $type rsapss $h"
            verify "$key.pub.pem" "$T/sig" "$h" -sigopt rsa_padding_mode:pss \
                -sigopt rsa_pss_saltlen:digest || die "openssl rejects $type rsapss $h with sLen=hLen"
            if verify "$key.pub.pem" "$T/sig" "$h" -sigopt rsa_padding_mode:pss \
                -sigopt rsa_pss_saltlen:max 2>/dev/null; then
                die "$type rsapss $h verified with the maximum salt: tpm.h is wrong"
            fi
        done
        ;;
    esac
done
# A persistent SRK: keys record it as their parent and load under it.
tpm2_createprimary -T "$SWTPM_TCTI" -C o -G ecc256:aes128cfb -g sha256 -c "$T/srk.ctx" \
    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' >/dev/null ||
    die "createprimary"
tpm2_evictcontrol -T "$SWTPM_TCTI" -C o -c "$T/srk.ctx" 0x81000001 >/dev/null || die "evictcontrol"
tpm2_flushcontext -T "$SWTPM_TCTI" -t >/dev/null || true
TPM_TOOL_SRK=0x81000001 "$TPM_TOOL" "$SWTPM_TCTI" create p256 "$T/ps.pem" || die "create under persistent SRK"
openssl asn1parse -in "$T/ps.pem" | grep -q 'INTEGER *:81000001' || die "parent is not the persistent SRK"
TPM_TOOL_SRK=0x81000001 "$TPM_TOOL" "$SWTPM_TCTI" sign "$T/ps.pem" ecdsa sha256 "$T/msg" "$T/sig" ||
    die "sign under persistent SRK"
verify "$T/ps.pem.pub.pem" "$T/sig" sha256 || die "openssl rejects persistent-SRK signature"
if TPM_TOOL_SRK=0x81000002 "$TPM_TOOL" "$SWTPM_TCTI" create p256 "$T/x.pem" 2>"$T/err"; then
    die "opened with a persistent SRK that does not exist"
fi
grep -q 'not found\|no such' "$T/err" || die "missing SRK: unclear error: $(cat "$T/err")"
echo "PASS tpm_keys"
