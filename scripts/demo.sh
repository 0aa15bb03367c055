#!/usr/bin/env bash
# The main job end to end on a software TPM, all on loopback, in a fresh
# temporary directory: swtpm with a vendor-signed EK certificate, agentd-ca,
# host enrollment by attestation, agentd with one workload key, a PKCS#11
# signature verified by openssl, a workload X.509-SVID, agentctl and the
# audit log. Installs missing packages and builds build/release first.
#   scripts/demo.sh            (as root, or a user with sudo; from any directory)
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$top/build/release
n=0
step() {
    n=$((n + 1))
    printf '\n== %d. %s\n' "$n" "$*"
}
show() { sed 's/^/   /'; }
fail() {
    echo "demo: FAILED: $*" >&2
    exit 1
}

printf '== setup: packages (scripts/deps.sh)\n'
"$top/scripts/deps.sh" || fail "scripts/deps.sh could not install the packages"
printf '== setup: build (scripts/build.sh release -> %s)\n' "$BUILD"
t0=$SECONDS
blog=$(mktemp "${TMPDIR:-/tmp}/agentd-demo-build.XXXXXX")
if ! "$top/scripts/build.sh" release >"$blog" 2>&1; then
    tail -n 40 "$blog" >&2
    rm -f "$blog"
    fail "scripts/build.sh release (last lines above)"
fi
rm -f "$blog"
echo "   built in $((SECONDS - t0))s"
t0=${EPOCHREALTIME/./}

# Shared test helpers: harness (swtpm, PIDs, cleanup), the CA set-up of the
# enroll tests, agentd start/stop, and the PKCS#11 helpers.
# shellcheck source=SCRIPTDIR/../tests/integration/enroll_common.sh
. "$top/tests/integration/enroll_common.sh" "$top/tests/harness" "$BUILD"
# shellcheck source=SCRIPTDIR/../tests/integration/lib_agentd.sh
. "$top/tests/integration/lib_agentd.sh"
P11_MODULE=$BUILD/pkcs11/libagentd-pkcs11.so
# shellcheck source=SCRIPTDIR/../tests/integration/pkcs11_common.sh
. "$top/tests/integration/pkcs11_common.sh"
AGENTD_BIN=$BUILD/agentd/agentd
AGENTCTL=$BUILD/agentd/agentctl
ENROLL=$BUILD/agentd/agentd-enroll
for b in "$AGENTD_CA" "$AGENTD_BIN" "$AGENTCTL" "$ENROLL" "$P11_MODULE"; do
    [[ -e $b ]] || fail "$b was not built"
done
ctl() { "$AGENTCTL" -s "$AGENTD_SOCK" "$@"; }

step "swtpm with an EK certificate from a test vendor CA"
enroll_setup # harness_init, swtpm_start, EK cert from NV, CA keys, vendor root as EK root
# The harness stops everything by PID at exit; on failure keep the files.
failed='' rc=0
trap 'failed=$BASH_COMMAND' ERR
trap 'rc=$?; if ((rc != 0)); then HARNESS_KEEP=1
      echo "demo: FAILED in step $n (exit $rc${failed:+: $failed}); logs kept in $T" >&2; fi
      harness_cleanup' EXIT
cd "$T"
echo "   swtpm pid $SWTPM_PID, TCTI $SWTPM_TCTI, files in $T"
openssl x509 -inform DER -in "$EK_CERT" -noout -issuer | sed 's/^/   RSA EK certificate /' ||
    fail "unreadable EK certificate"
openssl x509 -in "$SWTPM_EK_CA" -noout -subject | sed 's/^/   vendor root /'

step "agentd-ca on loopback (SQLite store, PCR 0+16 policy)"
ca_start
echo "   agentd-ca pid $CA_PID at $CA_URL"
sed -n 's/^\(trust_domain\|database\|ek_roots\) = /   \1 = /p' "$CA_CONF"
show <"$T/ca/stdout"

step "enroll the host with agentd-enroll over the TPM"
"$ENROLL" --tcti "$SWTPM_TCTI" --url "$CA_URL" --cacert "$CA_BUNDLE" --out host.pem \
    --key-out host.key --ak-out ak.key --bundle-out bundle.pem 2>enroll.err | show ||
    fail "agentd-enroll: $(cat enroll.err) / agentd-ca: $(tail -n 5 ca/stderr)"
openssl x509 -in host.pem -noout -ext subjectAltName | grep -o 'URI:.*' | sed 's/^/   host certificate /' ||
    fail "host certificate has no SPIFFE URI"
openssl verify -CAfile bundle.pem host.pem | show || fail "host certificate does not verify"
ca_admin hosts | show

step "workload X.509-SVID from agentd-ca (agentd-enroll --svid)"
# Before agentd starts: swtpm has 3 transient slots and no resource manager,
# so agentd-enroll (SRK, AK, new key) and agentd must not use it at once.
echo "   note: agentd-enroll --svid certifies a NEW TPM key it creates itself (svid.key);"
echo "   it cannot certify a key agentd holds, so this SVID is not for agentd's key below."
"$ENROLL" --tcti "$SWTPM_TCTI" --url "$CA_URL" --cacert "$CA_BUNDLE" --svid workload/demo \
    --ak ak.key --host-cert host.pem --out svid.pem --key-out svid.key 2>svid.err | show ||
    fail "workload certificate: $(cat svid.err)"
openssl x509 -in svid.pem -noout -ext subjectAltName | grep -o 'URI:.*' | sed 's/^/   SVID /' ||
    fail "SVID has no SPIFFE URI"
openssl x509 -in svid.pem -noout -enddate | sed 's/^/   SVID /'
openssl verify -CAfile bundle.pem svid.pem | show || fail "SVID does not verify"

step "agentd with one workload entry (uid $(id -u)) owning an EC P-256 key"
# Root is always admin; another user gets agentctl's admin view through its group.
[[ $(id -u) == 0 ]] || AGENTD_ADMIN_GROUP=$(id -gn)
agentd_write_conf <<EOW
{ name = "demo"; spiffe_id = "spiffe://test.example/workload/demo";
  selectors = { uid = $(id -u); };
  keys = ( { name = "signing"; type = "ec-p256"; mechanisms = [ "ECDSA", "ECDSA_SHA256" ]; } ); }
EOW
agentd_start
echo "   agentd pid $AGENTD_PID, socket $AGENTD_SOCK, config $AGENTD_CONF"
grep -E "ready|listening" "$T/agentd.log" | show
ctl keys list demo | show || fail "agentctl keys list: $(agentd_log 2>&1)"

step "sign as the workload through PKCS#11 (OpenSC pkcs11-tool), verify with openssl"
export AGENTD_SOCKET=$AGENTD_SOCK
p11() { pkcs11-tool --module "$P11_MODULE" "$@"; }
p11 --list-objects >objects.txt 2>&1 || fail "pkcs11-tool --list-objects: $(cat objects.txt)"
grep -E "Object|label|ID:|Usage" objects.txt | show
id=$(pkcs11_id_of signing || true)
[[ -n $id ]] || fail "the module does not show the key 'signing'"
pkcs11_pubkey_pem signing signing.pub.pem
echo "   exported public key (CKA_ID $id) to signing.pub.pem:"
openssl pkey -pubin -in signing.pub.pem -noout -text | sed -n '1p;/ASN1 OID/p;/NIST/p' | show
echo "hello from the agentd demo, $(date -u +%FT%TZ)" >msg.txt
echo "   \$ pkcs11-tool --module $P11_MODULE --sign --id $id -m ECDSA-SHA256 --signature-format openssl -i msg.txt -o msg.sig"
p11 --sign --id "$id" -m ECDSA-SHA256 --signature-format openssl -i msg.txt -o msg.sig 2>&1 | show ||
    fail "PKCS#11 sign: $(agentd_log 2>&1 | tail -n 5)"
echo "   signature: $(stat -c %s msg.sig) bytes DER"
echo "   \$ openssl dgst -sha256 -verify signing.pub.pem -signature msg.sig msg.txt"
openssl dgst -sha256 -verify signing.pub.pem -signature msg.sig msg.txt | show ||
    fail "openssl does not verify the PKCS#11 signature"
echo "tampered" >>msg.txt
if openssl dgst -sha256 -verify signing.pub.pem -signature msg.sig msg.txt >/dev/null 2>&1; then
    fail "a signature verified over altered data"
fi
echo "   (and openssl rejects it over altered data)"

step "agentctl: whoami, the audit log"
echo "   \$ agentctl -s $AGENTD_SOCK whoami"
ctl whoami | show || fail "agentctl whoami"
echo "   \$ agentctl -s $AGENTD_SOCK audit tail 4"
ctl audit tail 4 | sed -E 's/,"(gid|exe_sha256|data_sha256|prev)":("[0-9a-f]*"|[0-9]+)//g; s/,"[a-z_0-9]*":null//g' | show ||
    fail "agentctl audit tail"
echo "   (gid and the exe, data and chain hashes left out here)"
echo "   \$ agentctl audit verify $AGENTD_AUDIT"
"$AGENTCTL" audit verify "$AGENTD_AUDIT" 2>&1 | show || fail "audit log does not verify"

step "stop agentd and agentd-ca (swtpm is stopped by PID at exit)"
agentd_stop
kill "$CA_PID"
wait "$CA_PID" || true
[[ $AGENTD_RC == 0 ]] || fail "agentd exit status $AGENTD_RC: $(agentd_log 2>&1 | tail -n 5)"
"$AGENTCTL" audit verify "$AGENTD_AUDIT" 2>&1 | show || fail "audit log does not verify after stop"

t1=$((${EPOCHREALTIME/./} - t0))
printf '\ndemo: OK (%d.%ds after the build)\n' \
    $((t1 / 1000000)) $((t1 / 100000 % 10))
