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
    --key-out "$T/host.key" --bundle-out "$T/bundle.pem" >"$T/enroll.out" 2>"$T/enroll.err" ||
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
