#!/usr/bin/env bash
# The main job end to end on a software TPM, all on loopback, in a fresh
# temporary directory: swtpm with a vendor-signed EK certificate, agentd-ca
# with SQLite, agentd with one workload key, `agentctl enroll` (the daemon
# enrolls the host by attestation and gets the key's X.509-SVID), a PKCS#11
# signature verified by openssl with the key's certificate read through the
# module and checked against the trust bundle, agentctl and the audit log.
# Installs missing packages and builds build/release first.
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
for b in "$AGENTD_CA" "$AGENTD_BIN" "$AGENTCTL" "$P11_MODULE"; do
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

step "agentd with an enroll group and one workload entry (uid $(id -u)) owning an EC P-256 key"
# Root is always admin; another user gets agentctl's admin view through its group.
[[ $(id -u) == 0 ]] || AGENTD_ADMIN_GROUP=$(id -gn)
AGENTD_EXTRA="  enroll = { url = \"$CA_URL\"; ca_bundle = \"$CA_BUNDLE\"; host_class = \"default\"; };"
agentd_write_conf <<EOW
{ name = "demo"; spiffe_id = "spiffe://test.example/workload/demo";
  selectors = { uid = $(id -u); };
  keys = ( { name = "signing"; type = "ec-p256"; mechanisms = [ "ECDSA", "ECDSA_SHA256" ]; } ); }
EOW
agentd_start
echo "   agentd pid $AGENTD_PID, socket $AGENTD_SOCK, config $AGENTD_CONF"
sed -n '/enroll = {/p' "$AGENTD_CONF" | show
grep -E "ready|listening|identity" "$T/agentd.log" | sed 's/^<[0-9]>//' | show

step "agentctl enroll: the daemon enrolls the host and certifies its workload key"
echo "   \$ agentctl -s $AGENTD_SOCK enroll"
ctl enroll >enroll.out 2>&1 || { show <enroll.out; fail "agentctl enroll: $(tail -n 5 ca/stderr)"; }
show <enroll.out
ID=$AGENTD_STATE/identity
ls -l "$ID" | tail -n +2 | awk '{print $1, $NF}' | show
ctl status | sed 's|\\/|/|g' >status.json || fail "agentctl status"
echo "   \$ agentctl status (identity part)"
grep -o '"identity":.*' status.json | tr ',' '\n' | sed 's/^"identity":{//; s/[]}]*$//' |
    grep -E '"(spiffe_id|host_cert_not_after|last_contact|next_renewal|key|serial|not_after)"' | show
ca_admin hosts | show

step "sign as the workload through PKCS#11 (OpenSC pkcs11-tool); its certificate, read through the module, verifies"
export AGENTD_SOCKET=$AGENTD_SOCK
p11() { pkcs11-tool --module "$P11_MODULE" "$@"; }
p11 --list-objects >objects.txt 2>&1 || fail "pkcs11-tool --list-objects: $(cat objects.txt)"
grep -E "Object|label|ID:|subject|Usage" objects.txt | show
id=$(pkcs11_id_of signing || true)
[[ -n $id ]] || fail "the module does not show the key 'signing'"
p11 --read-object --type cert --id "$id" -o signing.crt.der >/dev/null 2>&1 ||
    fail "the module shows no certificate for the key"
openssl x509 -inform DER -in signing.crt.der -out signing.crt.pem
p11 --read-object --type cert --label "agentd trust bundle 1" -o bundle.der >/dev/null 2>&1 ||
    fail "the module shows no trust bundle"
openssl x509 -inform DER -in bundle.der -out bundle.pem
echo "   certificate of CKA_ID $id: $(openssl x509 -in signing.crt.pem -noout -ext subjectAltName | grep -o 'URI:.*')"
openssl x509 -in signing.crt.pem -noout -serial -enddate | show
echo "   \$ openssl verify -CAfile bundle.pem signing.crt.pem   (both read through the module)"
openssl verify -CAfile bundle.pem signing.crt.pem | show || fail "the key's certificate does not verify"
openssl x509 -in signing.crt.pem -noout -pubkey >signing.pub.pem
pkcs11_pubkey_pem signing key.pub.pem
cmp -s signing.pub.pem key.pub.pem || fail "the certificate is not for the key"
echo "   (the certificate's public key is the TPM key's, CKA_ID $id)"
echo "hello from the agentd demo, $(date -u +%FT%TZ)" >msg.txt
echo "   \$ pkcs11-tool --module $P11_MODULE --sign --id $id -m ECDSA-SHA256 --signature-format openssl -i msg.txt -o msg.sig"
p11 --sign --id "$id" -m ECDSA-SHA256 --signature-format openssl -i msg.txt -o msg.sig 2>&1 | show ||
    fail "PKCS#11 sign: $(agentd_log 2>&1 | tail -n 5)"
echo "   signature: $(stat -c %s msg.sig) bytes DER"
echo "   \$ openssl dgst -sha256 -verify signing.pub.pem -signature msg.sig msg.txt   (key from the certificate)"
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
