#!/usr/bin/env bash
# agentd enrolls itself: `agentctl enroll` with the CA down fails clearly and
# writes nothing; with the CA up it reports each step, the host SPIFFE ID and
# expiry show in `agentctl status`, and the workload key's X.509-SVID and the
# trust bundle appear through the PKCS#11 module. The certificate read through
# the module verifies against the bundle, names the entry's SPIFFE ID as its
# only URI SAN, holds the key's public key, and verifies a pkcs11-tool
# signature. A restarted agentd still lists it; an entry outside the CA's
# trust domain is refused by name.
#   enroll_daemon.sh HARNESS_DIR BUILD_DIR
set -euo pipefail
. "$(dirname "$0")/enroll_daemon_common.sh" "$1" "$2"
daemon_setup
ID=$T/state/identity

ctl status >"$T/status0.json" || die "agentctl status"
grep -q '"enrolled":false' "$T/status0.json" || die "status before enrollment: $(cat "$T/status0.json")"

# 1. CA down: a clear error, nothing written, the daemon keeps serving.
ca_stop
if ctl enroll >"$T/enroll-down.out" 2>"$T/enroll-down.err"; then
    die "agentctl enroll succeeded with the CA down: $(cat "$T/enroll-down.out")"
fi
cat "$T/enroll-down.out"
grep -q "^error: enrollment failed: start: .*127.0.0.1:$CA_PORT" "$T/enroll-down.out" ||
    die "no clear error for an unreachable CA: $(cat "$T/enroll-down.out")"
for f in ak.tss2 host.tss2 host.pem bundle.pem; do
    [[ ! -e $ID/$f ]] || die "$f written by a failed enrollment"
done
[[ -z $(find "$T/state/keys" -name '*.crt') ]] || die "a certificate written by a failed enrollment"
ctl status | grep -q '"last_error":"start: ' || die "status lacks the last error: $(ctl status)"
p11 --list-objects --type privkey >/dev/null 2>&1 || die "the module stopped working"

# 2. CA up: every step reported, the host and workload certificates issued.
ca_restart
t0=$(date +%s.%N)
ctl enroll >"$T/enroll.out" 2>"$T/enroll.err" ||
    die "agentctl enroll failed: $(cat "$T/enroll.out" "$T/enroll.err") / CA: $(tail -5 "$T/ca/stderr")"
t1=$(date +%s.%N)
cat "$T/enroll.out"
echo "agentctl enroll took $(echo "$t1 - $t0" | bc) s"
for step in "[1/4] EK certificate read" "[1/4] CA accepted" "[2/4] CA confirmed" \
    "[3/4] CA accepted" "[4/4] CA issued the host certificate spiffe://test.example/host/" \
    "saved AK, host key, host certificate and trust bundle" \
    "certificate for w1/k1: spiffe://test.example/workload/w1 serial" \
    "ok: enrolled as spiffe://test.example/host/"; do
    grep -qF "$step" "$T/enroll.out" || die "missing step report: $step"
done
for f in ak.tss2 host.tss2 host.pem bundle.pem status.json; do
    [[ -s $ID/$f ]] || die "$f not saved"
    [[ $(stat -c %a "$ID/$f") == 600 ]] || die "$f mode $(stat -c %a "$ID/$f")"
done
[[ $(stat -c %a "$ID") == 700 ]] || die "identity dir mode $(stat -c %a "$ID")"
openssl verify -CAfile "$ID/bundle.pem" "$ID/host.pem" >/dev/null || die "host certificate"
cmp <(openssl x509 -in "$ID/bundle.pem") <(openssl x509 -in "$CA_BUNDLE") ||
    die "saved bundle is not the CA's certificate"

ctl status | sed 's|\\/|/|g' >"$T/status.json" # json-c escapes "/"
host_id=$(openssl x509 -in "$ID/host.pem" -noout -ext subjectAltName | grep -o 'spiffe://[^ ,]*')
host_exp=$(date -u -d "$(openssl x509 -in "$ID/host.pem" -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
grep -qF "\"spiffe_id\":\"$host_id\"" "$T/status.json" || die "status lacks $host_id: $(cat "$T/status.json")"
grep -qF "\"host_cert_not_after\":\"$host_exp\"" "$T/status.json" ||
    die "status lacks the host expiry $host_exp: $(cat "$T/status.json")"
grep -q '"last_contact":"20' "$T/status.json" || die "status lacks the last CA contact"
grep -q '"entry":"w1","key":"k1","spiffe_id":"spiffe://test.example/workload/w1","serial":"[0-9a-f]' \
    "$T/status.json" || die "status lacks the workload certificate: $(cat "$T/status.json")"

# The CA requires the host certificate for workload requests (its default):
# the workload certificate above came over mutual TLS, the host key signing
# the handshake in the TPM through the worker. Nothing was refused; the same
# request without a client certificate is.
! grep -q "refused host" "$T/ca/stderr" || die "CA refused the daemon: $(grep refused "$T/ca/stderr")"
code=$(curl -s -o "$T/nocert" -w '%{http_code}' --cacert "$CA_BUNDLE" \
    -H 'Content-Type: application/json' --data-binary "{\"host_id\":\"${host_id##*/}\"}" \
    "$CA_URL/v1/svid/challenge")
[[ $code == 401 ]] || die "challenge without a client certificate: HTTP $code $(cat "$T/nocert")"
echo "ok: workload certificate over mTLS; without a client certificate the CA answers 401"

# 3. Through the module: the key's certificate (same CKA_ID) and the CA certificate.
check_module() {
    local objs key_id cert_id
    objs=$(p11 --list-objects 2>&1)
    key_id=$(key_id_of k1)
    cert_id=$(cert_id_of k1)
    [[ -n $key_id ]] || die "no private key k1: $objs"
    [[ $cert_id == "$key_id" ]] || die "certificate CKA_ID '$cert_id' is not the key's '$key_id': $objs"
    (($(grep -c "^Certificate Object" <<<"$objs") >= 2)) ||
        die "expected the key's and the CA's certificate objects: $objs"
    grep -q "subject: *DN: CN=agentd test CA" <<<"$objs" || die "no CA certificate listed: $objs"
    key_cert_pem "$key_id" "$T/k1.pem"
    openssl verify -CAfile "$ID/bundle.pem" "$T/k1.pem" || die "workload certificate does not verify"
    openssl verify -CAfile "$CA_BUNDLE" "$T/k1.pem" >/dev/null || die "not against the CA's bundle"
    san=$(openssl x509 -in "$T/k1.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
    [[ $san == "URI:spiffe://test.example/workload/w1" ]] || die "SAN is '$san'"
    pkcs11_pubkey_pem k1 "$T/k1.pub.pem"
    cmp <(openssl x509 -in "$T/k1.pem" -noout -pubkey) "$T/k1.pub.pem" ||
        die "the certificate's public key is not the key's"
    head -c 512 /dev/urandom >"$T/data"
    p11 --sign --id "$key_id" -m ECDSA-SHA256 --signature-format openssl -i "$T/data" \
        -o "$T/data.sig" >/dev/null 2>&1 || die "pkcs11-tool signature"
    openssl x509 -in "$T/k1.pem" -noout -pubkey >"$T/k1.certpub.pem"
    openssl dgst -sha256 -verify "$T/k1.certpub.pem" -signature "$T/data.sig" "$T/data" ||
        die "the signature does not verify with the certificate"
    flip_byte "$T/data" 3
    if openssl dgst -sha256 -verify "$T/k1.certpub.pem" -signature "$T/data.sig" "$T/data" \
        >/dev/null 2>&1; then
        die "a signature over other data verified"
    fi
}
check_module
serial=$(listed_serial)
[[ -f $(find "$T/state/keys" -name 'k1.crt') ]] || die "no k1.crt next to the key blob"

# A key created later gets its certificate without another agentctl enroll.
ctl keys create w1 k2 ec-p256 >/dev/null || die "agentctl keys create"
for _ in $(seq 1 50); do
    [[ -n $(cert_id_of k2) ]] && break
    sleep 0.2
done
k2=$(key_id_of k2)
[[ -n $k2 && $(cert_id_of k2) == "$k2" ]] || { agentd_log; die "no certificate for the new key k2"; }
key_cert_pem "$k2" "$T/k2.pem"
openssl verify -CAfile "$ID/bundle.pem" "$T/k2.pem" >/dev/null || die "k2's certificate"
echo "ok: a key created after enrollment was certified on its own"

# 4. Restart: the saved identity and certificates are served again.
agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
agentd_start
check_module
[[ $(listed_serial) == "$serial" ]] || die "a restart changed the certificate"
ctl status | sed 's|\\/|/|g' | grep -qF "\"spiffe_id\":\"$host_id\"" ||
    die "host identity lost across a restart"
echo "ok: certificates listed again after a restart"

# 5. An entry in another trust domain is refused by name; w1 keeps its certificate.
agentd_write_conf <<EOW
{ name = "w1"; spiffe_id = "spiffe://test.example/workload/w1";
  selectors = { uid = $(id -u); };
  keys = ( { name = "k1"; type = "ec-p256"; mechanisms = [ "ECDSA", "ECDSA_SHA256" ]; } ); },
{ name = "foreign"; spiffe_id = "spiffe://other.example/svc"; selectors = { uid = 4242; };
  keys = ( { name = "f1"; type = "ec-p256"; mechanisms = [ "ECDSA" ]; } ); }
EOW
before=$(grep -c "reload:" "$T/agentd.log" || true)
agentd_hup
for _ in $(seq 1 100); do
    (($(grep -c "reload:" "$T/agentd.log" || true) > before)) && break
    sleep 0.05
done
if ctl enroll --certs-only >"$T/foreign.out" 2>&1; then
    die "enroll with an entry outside the trust domain reported success: $(cat "$T/foreign.out")"
fi
cat "$T/foreign.out"
grep -qF 'error: entry foreign: spiffe://other.example/svc is not in the CA'"'"'s trust domain "test.example"' \
    "$T/foreign.out" || die "no clear refusal for the foreign trust domain"
grep -q "certificate for w1/k1: spiffe://test.example/workload/w1" "$T/foreign.out" ||
    die "w1 was not re-issued"
grep -q "host already enrolled" "$T/foreign.out" || die "--certs-only enrolled the host again"
# After the restart the host key came back from host.tss2 and still signs the handshake.
[[ $(grep -c "refused host" "$T/ca/stderr") == 1 ]] ||
    die "CA refused the restarted daemon: $(grep refused "$T/ca/stderr")"
[[ -z $(find "$T/state/keys" -name 'f1.crt') ]] || die "a certificate for the foreign entry"
check_module

# Non-admin callers may not enroll (checked like every admin op).
if command -v setpriv >/dev/null && [[ $(id -u) == 0 ]]; then
    if setpriv --reuid 4242 --regid 4242 --clear-groups "$AGENTCTL" -s "$AGENTD_SOCK" enroll \
        >"$T/nonadmin.out" 2>&1; then
        die "a non-admin enrolled"
    fi
    grep -q "refused: DENIED" "$T/nonadmin.out" || die "non-admin: $(cat "$T/nonadmin.out")"
fi

agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
echo PASS
