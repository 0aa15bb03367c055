#!/usr/bin/env bash
# Every refusal the enrollment must make, each a clear error on both sides
# (the host's stderr and agentd-ca's record), with nothing half-enrolled:
# unknown vendor root, AK from another TPM, replayed activation answer,
# foreign nonce, PCRs off policy, a certified key with decrypt, garbled and
# oversized bodies, a refused or removed host retrying before an admin
# clears it, a store that cannot be read, and a host removed while it
# enrolls.
#   enroll_refusals.sh HARNESS_DIR BUILD_DIR
set -euo pipefail
. "$(dirname "$0")/enroll_common.sh" "$1" "$2"
enroll_setup
ca_start
MAIN_TCTI=$SWTPM_TCTI
MAIN_T=$T

# A second TPM from another "vendor" (its own swtpm_localca CA).
T=$MAIN_T/other
mkdir -p "$T"
swtpm_start
OTHER_TCTI=$SWTPM_TCTI
tpm2_nvread -T "$OTHER_TCTI" 0x01c00002 -o "$MAIN_T/other_ek.der" 2>/dev/null
T=$MAIN_T
SWTPM_TCTI=$MAIN_TCTI

# expect_refusal NAME REASON [hostsim args]: host exits 1 with REASON, the CA logged it.
expect_refusal() {
    local name=$1 reason=$2
    shift 2
    if hostsim "$@"; then
        die "$name: enrollment succeeded"
    fi
    grep -qF "$reason" "$T/host.err" || die "$name: host error lacks '$reason': $(cat "$T/host.err")"
    grep -qF "$reason" "$T/ca/stderr" || die "$name: CA did not log '$reason'"
    echo "ok: $name refused: $(cat "$T/host.err")"
}

host_id() {
    grep -o "refused host [0-9a-f]\{64\}" "$T/ca/stderr" | tail -1 | awk '{print $3}'
}

expect_status() { # id status
    ca_admin show "$1" >"$T/show" || true
    grep -q "^$1  $2" "$T/show" || die "host $1 is not $2: $(cat "$T/show")"
}

clear_host() {
    ca_admin clear "$1" >/dev/null || die "admin clear $1"
}

# 1. EK certificate from a vendor the CA does not trust.
SWTPM_TCTI=$OTHER_TCTI EK_CERT=$MAIN_T/other_ek.der \
    expect_refusal "unknown vendor root" "does not chain to a trusted TPM vendor root"

# 2. A valid EK certificate with an AK from another TPM: activation fails.
expect_refusal "AK from another TPM" "credential activation failed" --ak-tcti "$OTHER_TCTI"
ID=$(host_id)
expect_status "$ID" refused
ca_admin show "$ID" | grep -q "credential activation failed" || die "show lacks the reason"

# 3. The refused host retries without an admin clearing it.
expect_refusal "retry of a refused host" "an admin must clear it"
clear_host "$ID"
hostsim --out "$T/host.pem" || die "enrollment after clear failed: $(cat "$T/host.err")"
expect_status "$ID" enrolled
echo "ok: enrolls after admin clear"

# 4. A replayed activation answer.
expect_refusal "replayed activation" "answer replayed or out of order" --fault replay-activation
expect_status "$ID" refused
clear_host "$ID"

# 5. A quote with a nonce that is not the CA's.
expect_refusal "foreign nonce" "stale or foreign nonce" --fault foreign-nonce
clear_host "$ID"

# 6. A certified key that can decrypt.
expect_refusal "decrypt key" "key can decrypt" --fault decrypt-key
expect_status "$ID" refused
clear_host "$ID"

# 7. PCRs that do not match the policy.
tpm2_pcrextend -T "$SWTPM_TCTI" \
    16:sha256=0202020202020202020202020202020202020202020202020202020202020202
expect_refusal "PCRs off policy" "PCR values do not match the policy"
expect_status "$ID" refused

# 8. A removed host, once cleared and enrolled again? First: removed stays refused.
clear_host "$ID"
ca_admin remove "$ID" >/dev/null 2>&1 && die "remove of an unknown host succeeded"
tpm2_pcrreset -T "$SWTPM_TCTI" 16 2>/dev/null || true
hostsim || die "enrollment after PCR reset failed: $(cat "$T/host.err")"
ca_admin remove "$ID" >/dev/null || die "admin remove"
expect_refusal "removed host" "host was removed earlier"

# 9. Garbled, mistyped, unknown-field and oversized bodies.
post() { # path body -> HTTP status
    curl -s -o "$T/resp" -w '%{http_code}' --cacert "$CA_BUNDLE" -H 'Content-Type: application/json' \
        --data-binary "$2" "$CA_URL$1"
}
[[ $(post /v1/enroll/start '{"ek_cert": 12') == 400 ]] || die "garbled JSON not 400"
[[ $(post /v1/enroll/start '{"ek_cert":1,"ek_pub":"","ak_pub":"","host_class":"default"}') == 400 ]] ||
    die "mistyped field not 400"
[[ $(post /v1/enroll/activate '{"session":"00000000000000000000000000000000","secret":"AA==","x":1}') == 400 ]] ||
    die "unknown field not 400"
[[ $(post /v1/enroll/activate '{"session":"0000","secret":"AA=="}') == 400 ]] || die "short session"
[[ $(post /v1/enroll/activate '{"session":"00000000000000000000000000000000","secret":"AA=="}') == 404 ]] ||
    die "unknown session not 404"
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
[[ $(post /v1/enroll/start "{\"ek_cert\":\"$big\"}") == 413 ]] || die "oversized body not 413"
grep -q "bad request from" "$T/ca/stderr" || die "CA did not record bad requests"
grep -q '"reason"' "$T/resp" || true
echo "ok: garbled, mistyped, unknown-field, unknown-session and oversized requests refused"
# 10. A store that cannot be read: the CA answers "try again" (503) rather
# than let a host whose record it cannot see through; the record is intact.
python3 - "$T/ca/ca.db" hosts hosts_away <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("ALTER TABLE %s RENAME TO %s" % (sys.argv[2], sys.argv[3]))
db.commit()
PY
if hostsim; then
    die "enrollment succeeded while the host records could not be read"
fi
grep -qF "cannot read the host record" "$T/host.err" || die "host error: $(cat "$T/host.err")"
grep -qF "cannot read the host record" "$T/ca/stderr" || die "CA did not log the store failure"
echo "ok: unreadable store refused for now: $(cat "$T/host.err")"
python3 - "$T/ca/ca.db" hosts_away hosts <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("ALTER TABLE %s RENAME TO %s" % (sys.argv[2], sys.argv[3]))
db.commit()
PY
expect_refusal "removed host, store back" "host was removed earlier"
clear_host "$ID"
hostsim || die "enrollment after clear failed: $(cat "$T/host.err")"

# 11. An admin removes the host while it re-enrolls: the removal stands.
rm -f "$T/pause"
hostsim --pause-before-certify "$T/pause" &
sim=$!
for _ in $(seq 1 500); do
    [[ -e $T/pause ]] && break
    sleep 0.02
done
[[ -e $T/pause ]] || die "hostsim never reached its certify"
ca_admin remove "$ID" >/dev/null || die "admin remove during enrollment"
rm -f "$T/pause"
rc=0
wait "$sim" || rc=$?
((rc == 1)) || die "enrollment over a removal: exit $rc: $(cat "$T/host.err")"
grep -qF "removed while it enrolled" "$T/host.err" || die "host error: $(cat "$T/host.err")"
expect_status "$ID" removed
echo "ok: removal during an enrollment stands: $(cat "$T/host.err")"

kill -0 "$CA_PID" || die "agentd-ca died"
echo PASS
