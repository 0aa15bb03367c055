#!/usr/bin/env bash
# Regenerate the swtpm artifacts the attest unit tests read (run by hand; the
# outputs are checked in). Needs swtpm, swtpm_setup and tpm2-tools.
#   attest/testdata/mkvectors.sh attest/testdata
set -euo pipefail
out=$(realpath "${1:?output dir}")
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../tests/harness/lib.sh
. "$here/tests/harness/lib.sh"
harness_init
swtpm_start
export TPM2TOOLS_TCTI=$SWTPM_TCTI
cd "$T"
mkdir -p "$out/roots"
cp "$SWTPM_EK_CA" "$out/roots/vendor_root.pem"
cp "$SWTPM_EK_ISSUER" "$out/roots/vendor_issuer.pem"
tpm2_nvread 0x01c00002 -o "$out/ek_rsa_cert.der"
tpm2_createek -c ek.ctx -G rsa -u "$out/ek_rsa.pub"
tpm2_createak -C ek.ctx -c ak.ctx -G ecc -g sha256 -s ecdsa -u "$out/ak.pub" -n "$out/ak.name"
tpm2_flushcontext -t
# PCR 16 extended once so the quote covers a non-zero value.
tpm2_pcrextend 16:sha256=0101010101010101010101010101010101010101010101010101010101010101
printf 'quote-nonce-0123456789abcdef0123' >"$out/quote.nonce"
tpm2_quote -c ak.ctx -l sha256:0,16 -q "$(xxd -p -c 256 "$out/quote.nonce")" \
    -m "$out/quote.attest" -s "$out/quote.sig" -o "$out/quote.pcrs" -g sha256 --pcrs_format values
tpm2_flushcontext -t
tpm2_createprimary -C o -g sha256 -G ecc -c srk.ctx
tpm2_flushcontext -t
# A sign-only, TPM-bound key and an exportable decrypt key.
tpm2_create -C srk.ctx -G ecc256:ecdsa -u key.pub -r key.priv \
    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign'
tpm2_flushcontext -t
tpm2_load -C srk.ctx -u key.pub -r key.priv -c key.ctx
tpm2_flushcontext -t
cp key.pub "$out/key_good.pub"
# tpm2_certify 5.4 has no qualifying-data option and always uses 00ff55aa.
printf '\x00\xff\x55\xaa' >"$out/certify.nonce"
tpm2_certify -c key.ctx -C ak.ctx -g sha256 \
    -o "$out/certify_good.attest" -s "$out/certify_good.sig" >/dev/null
tpm2_flushcontext -t
tpm2_flushcontext -t
tpm2_create -C srk.ctx -G ecc256 -u bad.pub -r bad.priv \
    -a 'userwithauth|sign|decrypt|sensitivedataorigin'
tpm2_flushcontext -t
tpm2_load -C srk.ctx -u bad.pub -r bad.priv -c bad.ctx
tpm2_flushcontext -t
cp bad.pub "$out/key_bad.pub"
tpm2_certify -c bad.ctx -C ak.ctx -g sha256 \
    -o "$out/certify_bad.attest" -s "$out/certify_bad.sig" >/dev/null
echo "vectors written to $out"
