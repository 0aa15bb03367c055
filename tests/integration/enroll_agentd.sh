#!/usr/bin/env bash
# agentd-enroll (agentd's TPM layer, agentd/tpm*.c) enrolls a swtpm with
# agentd-ca: each step reported, the host certificate verifies against the
# bundle and is for the TPM key written to --key-out.
#   enroll_agentd.sh HARNESS_DIR BUILD_DIR
set -euo pipefail
. "$(dirname "$0")/enroll_common.sh" "$1" "$2"
ENROLL=$BUILD/agentd/agentd-enroll
[[ -x $ENROLL ]] || { echo "SKIP: agentd-enroll not built"; exit 77; }
enroll_setup
ca_start
"$ENROLL" --tcti "$SWTPM_TCTI" --url "$CA_URL" --cacert "$CA_BUNDLE" --out "$T/host.pem" \
    --key-out "$T/host.key" --ak-out "$T/ak.key" --bundle-out "$T/bundle.pem" >"$T/enroll.out" 2>"$T/enroll.err" ||
    die "agentd-enroll failed: $(cat "$T/enroll.err") / CA: $(cat "$T/ca/stderr")"
cat "$T/enroll.out"
for step in "[1/4] CA accepted" "[2/4] CA confirmed" "[3/4] CA accepted" "[4/4] CA issued" \
    "enrolled as spiffe://test.example/host/"; do
    grep -qF "$step" "$T/enroll.out" || die "missing step report: $step"
done
openssl verify -CAfile "$T/bundle.pem" "$T/host.pem" || die "host certificate does not verify"
[[ -s $T/host.key ]] || die "no host key file"
[[ $(stat -c %a "$T/host.key") == 600 ]] || die "host key file mode $(stat -c %a "$T/host.key")"
ca_admin hosts | grep -q "  enrolled  " || die "CA does not list the host as enrolled"

# A workload certificate for a new TPM key, certified by the saved AK, over
# mutual TLS with the host certificate (its key signs in the TPM). Without
# the host key there is no client certificate, and the CA refuses.
if "$ENROLL" --tcti "$SWTPM_TCTI" --url "$CA_URL" --cacert "$CA_BUNDLE" --svid workload/db \
    --ak "$T/ak.key" --host-cert "$T/host.pem" >"$T/svid.out" 2>"$T/svid.err"; then
    die "workload certificate issued without a client certificate"
fi
grep -q "CA answered 401: a client certificate for the host is required" "$T/svid.err" ||
    die "no mTLS refusal: $(cat "$T/svid.err")"
"$ENROLL" --tcti "$SWTPM_TCTI" --url "$CA_URL" --cacert "$CA_BUNDLE" --svid workload/db \
    --ak "$T/ak.key" --host-cert "$T/host.pem" --host-key "$T/host.key" --out "$T/db.pem" \
    --key-out "$T/db.key" >"$T/svid.out" 2>"$T/svid.err" ||
    die "workload certificate: $(cat "$T/svid.err") / CA: $(tail -3 "$T/ca/stderr")"
openssl verify -CAfile "$T/bundle.pem" "$T/db.pem" >/dev/null || die "workload cert"
openssl x509 -in "$T/db.pem" -noout -ext subjectAltName | grep -q "URI:spiffe://test.example/workload/db" ||
    die "workload SPIFFE ID"
[[ -s $T/db.key ]] || die "no workload key file"
echo "ok: $(cat "$T/svid.out")"

# The ECC EK: swtpm 0.7.1's is P-384 (certificate at NV 0x01c00016), so the
# CA's MakeCredential goes through ECDH + KDFe on P-384. The enrollment
# presents the RSA host's certificate (enrollment accepts any or none): the
# tool's enrollment path signs a TLS handshake in the TPM too.
"$ENROLL" --tcti "$SWTPM_TCTI" --url "$CA_URL" --cacert "$CA_BUNDLE" --ek p384 \
    --host-cert "$T/host.pem" --host-key "$T/host.key" \
    --out "$T/host384.pem" >"$T/enroll.out" 2>"$T/enroll.err" ||
    die "P-384 EK enrollment failed: $(cat "$T/enroll.err")"
openssl verify -CAfile "$CA_BUNDLE" "$T/host384.pem" >/dev/null || die "P-384 host certificate"
id_rsa=$(openssl x509 -in "$T/host.pem" -noout -ext subjectAltName | grep -o 'host/[0-9a-f]*')
id_ecc=$(openssl x509 -in "$T/host384.pem" -noout -ext subjectAltName | grep -o 'host/[0-9a-f]*')
[[ $id_rsa != "$id_ecc" ]] || die "RSA and ECC EKs gave the same host id"
echo "ok: P-384 EK enrolled as $id_ecc"

# PCRs off policy: agentd-enroll reports the CA's reason and fails.
tpm2_pcrextend -T "$SWTPM_TCTI" \
    16:sha256=0303030303030303030303030303030303030303030303030303030303030303
if "$ENROLL" --tcti "$SWTPM_TCTI" --url "$CA_URL" --cacert "$CA_BUNDLE" \
    >"$T/enroll.out" 2>"$T/enroll.err"; then
    die "enrollment with PCR 16 extended succeeded"
fi
grep -q "PCR values do not match the policy" "$T/enroll.err" || die "reason: $(cat "$T/enroll.err")"
echo "ok: $(cat "$T/enroll.err")"
echo PASS
