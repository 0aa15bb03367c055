#!/usr/bin/env bash
# Mutual TLS with the host identity: agentd-ca asks every client for a
# certificate, enrollment still works without one, and the enrolled host's
# requests (/v1/svid/challenge, /v1/svid) need its own host certificate,
# whose key signs the TLS handshake inside the TPM. Refused, each with a
# JSON error, recorded and shown by `agentd-ca admin show`: no client
# certificate (401), one from another CA (401), one for another host of
# the same CA (403), and the workload certify sent on a connection without
# the certificate (401). tls_require_host_cert = false turns the check off.
#   enroll_mtls.sh HARNESS_DIR BUILD_DIR
set -euo pipefail
. "$(dirname "$0")/enroll_common.sh" "$1" "$2"
enroll_setup
ca_start
D=$T/ca

# 1. The server requests a client certificate and names the CA it trusts.
openssl s_client -connect "127.0.0.1:$CA_PORT" -CAfile "$CA_BUNDLE" -tls1_3 </dev/null \
    >"$T/s_client.out" 2>&1 || true
grep -q "^Acceptable client certificate CA names" "$T/s_client.out" ||
    die "no CertificateRequest: $(cat "$T/s_client.out")"
grep -A1 "^Acceptable client certificate CA names" "$T/s_client.out" | grep -q "CN = agentd test CA" ||
    die "CertificateRequest does not name the CA"
echo "ok: s_client sees a certificate request naming the CA"

# 2. First enrollment without a client certificate; then a re-enrollment and
#    two workload certificates presenting the host certificate (TPM-signed).
hostsim --repeat 2 --out "$T/host.pem" --svids 2 --svid-path workload/web --svid-out "$T/web.pem" ||
    die "enrollment or workload certificate with mTLS failed: $(cat "$T/host.err") / CA: $(tail -3 "$T/ca/stderr")"
openssl verify -CAfile "$CA_BUNDLE" "$T/web.pem" >/dev/null || die "workload certificate"
ID=$(openssl x509 -in "$T/host.pem" -noout -ext subjectAltName | grep -o 'host/[0-9a-f]*' | cut -d/ -f2)
[[ ${#ID} == 64 ]] || die "no host id in the host certificate"
! grep -q "refused" "$T/ca/stderr" || die "CA refused something: $(grep refused "$T/ca/stderr")"
echo "ok: enrolled as host/$ID; workload certificates issued over mTLS"

# post PATH BODY [curl args]: the HTTP status; the body in $T/resp (json-c's "\/" unescaped).
post() {
    local path=$1 body=$2
    shift 2
    curl -s -o "$T/resp.raw" -w '%{http_code}' --cacert "$CA_BUNDLE" \
        -H 'Content-Type: application/json' "$@" --data-binary "$body" "$CA_URL$path"
    sed 's|\\/|/|g' "$T/resp.raw" >"$T/resp"
}
# expect_refused NAME STATUS REASON PATH BODY [curl args]
expect_refused() {
    local name=$1 status=$2 reason=$3 path=$4 body=$5 got
    shift 5
    got=$(post "$path" "$body" "$@")
    [[ $got == "$status" ]] || die "$name: HTTP $got, want $status: $(cat "$T/resp")"
    grep -qF "$reason" "$T/resp" || die "$name: reply lacks '$reason': $(cat "$T/resp")"
    grep -qF "$reason" "$T/ca/stderr" || die "$name: CA did not log '$reason'"
    ca_admin show "$ID" | grep -qF "$reason" || die "$name: admin show lacks '$reason'"
    echo "ok: $name: $got $(cat "$T/resp")"
}
CHALLENGE="{\"host_id\":\"$ID\"}"

# 3. No client certificate.
expect_refused "challenge without a client certificate" 401 \
    "a client certificate for the host is required" /v1/svid/challenge "$CHALLENGE"
grep -q '"error":"unauthenticated"' "$T/resp" || die "error code: $(cat "$T/resp")"

# 4. A certificate for this very host id, but from another CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=rogue CA" \
    -keyout "$T/rogue.key" -out "$T/rogue.pem" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign" 2>/dev/null || die "rogue CA"
# cert NAME ISSUER_PEM ISSUER_KEY URI: a client certificate in $T/NAME.{pem,key}.
cert() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null || die "$1 key"
    openssl x509 -req -in "$T/$1.csr" -CA "$2" -CAkey "$3" -days 1 -out "$T/$1.pem" \
        -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' "$4") \
        2>/dev/null || die "$1 cert"
}
cert forged "$T/rogue.pem" "$T/rogue.key" "URI:spiffe://test.example/host/$ID"
expect_refused "certificate from another CA" 401 "client certificate does not verify" \
    /v1/svid/challenge "$CHALLENGE" --cert "$T/forged.pem" --key "$T/forged.key"

# 5. A valid certificate of the same CA for another host (what a second
#    enrolled host holds): refused for this host's requests.
OTHER=$(printf 'other host' | sha256sum | cut -c1-64)
cert otherhost "$D/ca.pem" "$D/ca.key" "URI:spiffe://test.example/host/$OTHER"
expect_refused "certificate of another host" 403 \
    "client certificate is for spiffe://test.example/host/$OTHER, not for host $ID" \
    /v1/svid/challenge "$CHALLENGE" --cert "$T/otherhost.pem" --key "$T/otherhost.key"
grep -q '"error":"refused"' "$T/resp" || die "error code: $(cat "$T/resp")"
# A workload identity of the same CA is not a host identity either.
cert wl "$D/ca.pem" "$D/ca.key" "URI:spiffe://test.example/workload/web"
expect_refused "workload certificate as host" 403 "client certificate is for spiffe://test.example/workload/web" \
    /v1/svid/challenge "$CHALLENGE" --cert "$T/wl.pem" --key "$T/wl.key"
# Two URI SANs: not one identity.
cert two "$D/ca.pem" "$D/ca.key" "URI:spiffe://test.example/host/$ID,URI:spiffe://test.example/host/$OTHER"
expect_refused "two URI SANs" 401 "client certificate has not exactly one URI SAN" \
    /v1/svid/challenge "$CHALLENGE" --cert "$T/two.pem" --key "$T/two.key"

# 6. The workload certify on a connection without the client certificate.
if hostsim --svids 1 --fault svid-no-cert; then
    die "workload certify without a client certificate issued"
fi
grep -q "CA answered 401: a client certificate for the host is required" "$T/host.err" ||
    die "svid without certificate: $(cat "$T/host.err")"
echo "ok: /v1/svid without a client certificate: $(cat "$T/host.err")"

# 7. Enrollment endpoints need no certificate, and an invalid one does not
#    stop them either (a bad request is answered 400, not refused).
[[ $(post /v1/enroll/start '{"ek_cert": 1}') == 400 ]] || die "enroll/start without certificate"
[[ $(post /v1/enroll/start '{"ek_cert": 1}' --cert "$T/forged.pem" --key "$T/forged.key") == 400 ]] ||
    die "enroll/start with an invalid certificate"
# None of these refusals locked the host: it still gets certificates.
hostsim --svids 1 || die "host locked out by unauthenticated requests: $(cat "$T/host.err")"
ca_admin show "$ID" | tee "$T/show" | head -1
grep -q "^$ID  enrolled" "$T/show" || die "host not enrolled any more"

# 8. A removed host: refused even with its still-valid certificate (the
#    challenge goes through mTLS, then the store says no).
ca_admin remove "$ID" >/dev/null || die "admin remove"
if hostsim --svids 1; then die "removed host enrolled again"; fi
grep -q "host was removed earlier" "$T/host.err" || die "removed host: $(cat "$T/host.err")"
ca_admin clear "$ID" >/dev/null

# 9. tls_require_host_cert = false: the AK certify alone authenticates.
kill -TERM "$CA_PID"
wait "$CA_PID" 2>/dev/null || true
ca_config_extra() { echo "tls_require_host_cert = false;" >>"$CA_CONF"; }
ca_start
hostsim --out "$T/host3.pem" || die "enrollment after restart: $(cat "$T/host.err")"
[[ $(post /v1/svid/challenge "$CHALLENGE") == 200 ]] ||
    die "challenge without certificate refused with tls_require_host_cert = false: $(cat "$T/resp")"
echo "ok: tls_require_host_cert = false accepts a challenge without a client certificate"
echo PASS
