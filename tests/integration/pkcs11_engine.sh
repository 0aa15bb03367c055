#!/usr/bin/env bash
# OpenSSL through libengine-pkcs11-openssl: pkeyutl -sign with the key named
# by its pkcs11: URI, verified by openssl with the exported public key.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/pkcs11_common.sh"

pkcs11_start
conf=$(pkcs11_engine_conf)
head -c 4096 /dev/urandom >"$T/msg"
openssl dgst -sha256 -binary "$T/msg" >"$T/dgst"

# -pkeyopt digest:sha256: OpenSSL sends RSA-PKCS a DigestInfo (as TLS does).
for key in ec rsa; do
    pkcs11_pubkey_pem "$key" "$T/$key.pem"
    OPENSSL_CONF=$conf openssl pkeyutl -engine pkcs11 -keyform engine \
        -inkey "pkcs11:token=agentd;object=$key;type=private" -pkeyopt digest:sha256 \
        -sign -in "$T/dgst" -out "$T/$key.sig" || die "engine sign with $key"
    openssl pkeyutl -verify -pubin -inkey "$T/$key.pem" -pkeyopt digest:sha256 -in "$T/dgst" \
        -sigfile "$T/$key.sig" || die "signature by $key does not verify"
    # The same signature must not verify another digest.
    openssl dgst -sha256 -binary /dev/null >"$T/other"
    if openssl pkeyutl -verify -pubin -inkey "$T/$key.pem" -pkeyopt digest:sha256 -in "$T/other" \
        -sigfile "$T/$key.sig" >/dev/null 2>&1; then
        die "signature by $key verified the wrong digest"
    fi
done

pkcs11_stop
echo PASS
