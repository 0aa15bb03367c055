#!/usr/bin/env bash
# Two workloads that differ only in uid: each signs with its own key and is
# refused the other's; a uid in no entry is refused everything (and whoami
# shows no entry); every outcome is in the audit log, which verifies.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/workload_common.sh"
workload_need_root

UA=41001
UB=41002
UX=41003 # in no entry
harness_init
swtpm_start --no-ek
agentd_write_conf <<EOW
{ name = "wa"; spiffe_id = "spiffe://test/wa"; selectors = { uid = $UA; };
  keys = ( { name = "ka"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); },
{ name = "wb"; spiffe_id = "spiffe://test/wb"; selectors = { uid = $UB; };
  keys = ( { name = "kb"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); }
EOW
agentd_start
workload_data
adc="$ADCLIENT -s $AGENTD_SOCK"

expect_rc $RC_OK "uid A whoami" as_uid $UA $adc whoami
grep -q "uid=$UA .*entry=wa spiffe_id=spiffe://test/wa" "$T/last.out" || die "whoami A: $(cat "$T/last.out")"
expect_rc $RC_OK "uid A signs ka" as_uid $UA $adc sign ka ECDSA_SHA256 "$T/data.bin" "$T/out/a.sig"
expect_rc $RC_OK "uid B signs kb" as_uid $UB $adc sign kb ECDSA_SHA256 "$T/data.bin" "$T/out/b.sig"
# The signature really is by ka: verify it with ka's public key (loop does that).
expect_rc $RC_OK "uid A loop ka verifies" as_uid $UA $adc loop ka ECDSA_SHA256 0.5 4
grep -q "count=[1-9]" "$T/last.out" || die "loop A: $(cat "$T/last.out")"

# Cross use is refused: B's key for A and A's key for B.
for pair in "$UA kb" "$UB ka"; do
    set -- $pair
    rc=0
    as_uid "$1" $adc sign "$2" ECDSA_SHA256 "$T/data.bin" "$T/out/x.sig" 2>"$T/x.err" || rc=$?
    [[ $rc == "$RC_DENIED" || $rc == 4 ]] || die "uid $1 using $2: exit $rc ($(cat "$T/x.err"))"
    echo "ok: uid $1 refused key $2 (exit $rc: $(cat "$T/x.err"))"
done
# And the other's key is not even listed.
expect_rc $RC_OK "uid A list" as_uid $UA $adc list
grep -q "^ka " "$T/last.out" || die "A does not see ka"
grep -q "^kb " "$T/last.out" && die "A sees kb"

# A uid in no entry: whoami has no entry, sign is DENIED.
expect_rc $RC_OK "unknown uid whoami" as_uid $UX $adc whoami
grep -q "entry= " "$T/last.out" || die "unknown uid matched an entry: $(cat "$T/last.out")"
expect_rc $RC_DENIED "unknown uid sign" as_uid $UX $adc sign ka ECDSA_SHA256 "$T/data.bin" "$T/out/x.sig"

audit_expect ".uid == $UA and .key == \"ka\" and .decision == \"allow\" and .entry == \"wa\"" "A allowed ka"
audit_expect ".uid == $UB and .key == \"kb\" and .decision == \"allow\" and .entry == \"wb\"" "B allowed kb"
audit_expect ".uid == $UA and .key == \"kb\" and .decision == \"deny\" and .reason == \"key_not_owned\"" "A denied kb"
audit_expect ".uid == $UB and .key == \"ka\" and .decision == \"deny\" and .reason == \"key_not_owned\"" "B denied ka"
audit_expect ".uid == $UX and .decision == \"deny\" and .reason == \"no_entry\"" "unknown uid denied"

workload_stop
workload_audit_verify
echo PASS
