#!/usr/bin/env bash
# agentd-ca with its CA key on a PKCS#11 token (SoftHSM2): a host enrolls and
# its certificate, signed on the token, verifies against the bundle.
#   enroll_pkcs11.sh HARNESS_DIR BUILD_DIR
set -euo pipefail
. "$(dirname "$0")/enroll_common.sh" "$1" "$2"
MODULE=/usr/lib/softhsm/libsofthsm2.so
[[ -f $MODULE ]] || { echo "SKIP: SoftHSM2 not installed"; exit 77; }
enroll_setup

# A private SoftHSM2 token with an EC P-256 CA key.
mkdir -p "$T/hsm/tokens"
export SOFTHSM2_CONF=$T/hsm/softhsm2.conf
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T/hsm/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label agentd-ca --pin 1234 --so-pin 5678 >/dev/null
pkcs11-tool --module "$MODULE" --token-label agentd-ca --login --pin 1234 --keypairgen \
    --key-type EC:prime256v1 --label ca --id 01 >/dev/null 2>&1 || die "keypairgen"
URI="pkcs11:token=agentd-ca;object=ca;type=private;pin-value=1234"

# The CA certificate, self-signed by the token key.
OPENSSL_CONF=/dev/null openssl req -x509 -engine pkcs11 -keyform engine -key "$URI" \
    -subj "/CN=agentd HSM CA" -days 30 -out "$T/ca/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$T/req.err" ||
    { cat "$T/req.err" >&2; die "CA certificate on the token"; }
# The TLS certificate was signed by the file CA from ca_keys; keep that one as
# the client's TLS trust, and the token CA as the issuer of SVIDs.
TLS_TRUST=$T/ca/tls-ca.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=tls CA" -keyout "$T/ca/tlsca.key" -out "$TLS_TRUST" 2>/dev/null
openssl x509 -req -in "$T/ca/tls.csr" -CA "$TLS_TRUST" -CAkey "$T/ca/tlsca.key" -days 30 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') -out "$T/ca/tls.pem" 2>/dev/null
CA_BUNDLE=$TLS_TRUST

ca_config_extra() {
    sed -i "s|^ca_key = .*|ca_key = \"$URI\";\npkcs11_module = \"$MODULE\";|" "$CA_CONF"
    grep -q pkcs11_module "$CA_CONF" || die "config edit"
}
ca_start
hostsim --out "$T/host.pem" --bundle-out "$T/bundle.pem" ||
    die "enrollment failed: $(cat "$T/host.err") / $(cat "$T/ca/stderr")"
openssl verify -CAfile "$T/ca/ca.pem" "$T/host.pem" || die "host certificate does not verify"
cmp -s "$T/bundle.pem" "$T/ca/ca.pem" || die "bundle is not the token CA"
openssl x509 -in "$T/host.pem" -noout -issuer | grep -q "agentd HSM CA" || die "issuer"
# The file CA key from enroll_setup must not verify it: the token key signed.
if openssl verify -CAfile "$TLS_TRUST" "$T/host.pem" >/dev/null 2>&1; then die "wrong signer"; fi
echo "ok: host certificate signed by the CA key on the PKCS#11 token"
echo PASS
