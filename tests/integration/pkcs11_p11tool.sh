#!/usr/bin/env bash
# GnuTLS p11tool through the module: --list-all shows both keys by their
# pkcs11: URIs, and --test-sign signs and verifies with each private key.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/pkcs11_common.sh"

pkcs11_start

out=$(p11tool --provider "$P11_MODULE" --list-all 2>&1) || die "p11tool --list-all: $out"
for want in "token=agentd" "object=ec;type=private" "object=ec;type=public" \
    "object=rsa;type=private" "Private key (EC/ECDSA-SECP256R1)" "Private key (RSA-2048)"; do
    grep -qF "$want" <<<"$out" || die "p11tool --list-all lacks '$want': $out"
done

for key in ec rsa; do
    out=$(p11tool --provider "$P11_MODULE" --test-sign \
        "pkcs11:token=agentd;object=$key;type=private" 2>&1) || die "test-sign $key: $out"
    grep -q "Verifying against public key in the token... ok" <<<"$out" ||
        die "test-sign $key did not verify: $out"
done

pkcs11_stop
echo PASS
