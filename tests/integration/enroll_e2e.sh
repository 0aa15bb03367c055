#!/usr/bin/env bash
# End to end: a swtpm host enrolls with agentd-ca over HTTPS (TLS 1.3):
# EK chain, credential activation, quote, certify; the host certificate
# verifies against the bundle and carries spiffe://test.example/host/<ek>.
#   enroll_e2e.sh HARNESS_DIR BUILD_DIR
set -euo pipefail
. "$(dirname "$0")/enroll_common.sh" "$1" "$2"
enroll_setup
ca_start
echo "agentd-ca on $CA_URL"

hostsim --out "$T/host.pem" --bundle-out "$T/bundle.pem" ||
    die "enrollment failed: $(cat "$T/host.err")"
cat "$T/host.out"
for step in "[1/4] CA accepted" "[2/4] CA confirmed" "[3/4] CA accepted" "[4/4] CA issued"; do
    grep -qF "$step" "$T/host.out" || die "missing step report: $step"
done
openssl verify -CAfile "$T/bundle.pem" "$T/host.pem" || die "host certificate does not verify"
text=$(openssl x509 -in "$T/host.pem" -noout -text)
grep -q "URI:spiffe://test.example/host/[0-9a-f]\{64\}" <<<"$text" || die "no host SPIFFE ID"
grep -q "CA:FALSE" <<<"$text" || die "not CA:FALSE"
grep -A1 "Key Usage: critical" <<<"$text" | grep -q "Digital Signature" || die "key usage"
id=$(grep -o "spiffe://test.example/host/[0-9a-f]*" <<<"$text" | sed 's|.*/||')

# The CA records the host as enrolled; the admin command shows it.
ca_admin hosts | tee "$T/hosts"
grep -q "^$id  enrolled" "$T/hosts" || die "host not listed as enrolled"

# TLS 1.2 is refused by the server.
if curl -s --tlsv1.2 --tls-max 1.2 --cacert "$CA_BUNDLE" "$CA_URL/v1/bundle" >/dev/null; then
    die "TLS 1.2 accepted"
fi
curl -sf --cacert "$CA_BUNDLE" "$CA_URL/v1/bundle" | cmp -s - "$CA_BUNDLE" || die "bundle"

# A second enrollment of the same TPM (renewal) works, with a newer quote.
hostsim --out "$T/host2.pem" || die "re-enrollment failed: $(cat "$T/host.err")"
openssl verify -CAfile "$CA_BUNDLE" "$T/host2.pem" >/dev/null || die "renewed cert"
# Workload certificates (X.509-SVIDs) for keys certified by the enrolled AK.
hostsim --svids 2 --svid-path workload/web --svid-out "$T/web.pem" ||
    die "workload certificate failed: $(cat "$T/host.err")"
openssl verify -CAfile "$CA_BUNDLE" "$T/web.pem" || die "workload certificate does not verify"
wtext=$(openssl x509 -in "$T/web.pem" -noout -text)
grep -q "URI:spiffe://test.example/workload/web$" <<<"$wtext" || die "no workload SPIFFE ID"
[[ $(grep -c "URI:" <<<"$wtext") == 1 ]] || die "more than one URI SAN"
grep -q "CA:FALSE" <<<"$wtext" || die "workload cert is a CA"
nb=$(date -d "$(openssl x509 -in "$T/web.pem" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in "$T/web.pem" -noout -enddate | cut -d= -f2)" +%s)
[[ $((na - nb)) == 3660 ]] || die "workload lifetime is $((na - nb))s, want 3600 + 60 skew"
echo "ok: workload certificate $(grep -o 'spiffe://[^,]*' <<<"$wtext") verifies"
# Host names are not for workloads; a decrypt key is not certified.
if hostsim --svids 1 --svid-path host/evil; then die "host/ path issued"; fi
grep -q "workload path not allowed" "$T/host.err" || die "host/ path: $(cat "$T/host.err")"
echo PASS
