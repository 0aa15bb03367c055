#!/usr/bin/env bash
# An unknown process is refused and audited; a process that execs another
# binary after connecting does not keep the first identity.
#
# adclient (binary A, the only entry's sha256) connects, says HELLO, then
# execs with the connected socket open (ADCLIENT_FD):
#   - into A again (same inode): control, its sign over the inherited
#     connection is allowed, so exec itself is not what is refused;
#   - into O, a copy of adclient with one byte appended (in no entry): same
#     pid, same uid, same start time, same connection, but the daemon's
#     per-request check (workload_still_same: exe inode) sees another binary
#     and refuses with "caller_changed", then closes the connection.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/workload_common.sh"
workload_need_root

U=41020
harness_init
swtpm_start --no-ek
A=$(workload_copy_client adc-a)
O=$(workload_copy_client adc-other X)
HA=$(sha256_of "$A")
agentd_write_conf <<EOW
{ name = "wa"; spiffe_id = "spiffe://test/wa"; selectors = { sha256 = "$HA"; uid = $U; };
  keys = ( { name = "ka"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); }
EOW
agentd_start
workload_data
S=(-s "$AGENTD_SOCK")
SIGN=(sign ka ECDSA_SHA256 "$T/data.bin")

# Unknown process: binary O is in no entry.
expect_rc $RC_OK "unknown binary whoami" as_uid $U "$O" "${S[@]}" whoami
grep -q "entry= " "$T/last.out" || die "O matched an entry: $(cat "$T/last.out")"
expect_rc $RC_DENIED "unknown binary sign refused" as_uid $U "$O" "${S[@]}" "${SIGN[@]}" "$T/out/o.sig"
audit_expect ".exe == \"$O\" and .op == \"sign\" and .decision == \"deny\" and .reason == \"no_entry\"" \
    "unknown binary denied (no_entry)"

# Control: exec into the same binary keeps the identity.
expect_rc $RC_OK "exec into A, sign over inherited fd" \
    as_uid $U "$A" "${S[@]}" hold-then-exec "$A" use-fd "${SIGN[@]}" "$T/out/a.sig"
grep -q "using inherited fd" "$T/last.err" || die "use-fd did not run: $(cat "$T/last.err")"

# exec into O: refused.
expect_rc $RC_DENIED "exec into O, sign over inherited fd refused" \
    as_uid $U "$A" "${S[@]}" hold-then-exec "$O" use-fd "${SIGN[@]}" "$T/out/b.sig"
grep -q "caller_changed" "$T/last.err" || die "refusal reason: $(cat "$T/last.err")"
[[ ! -s $T/out/b.sig ]] || die "a signature was written"
# The refusal is recorded against the identity the connection was opened with.
audit_expect ".exe == \"$A\" and .exe_sha256 == \"$HA\" and .op == \"sign\" and .decision == \"deny\" and .reason == \"caller_changed\"" \
    "exec'd caller denied (caller_changed)"

workload_stop
workload_audit_verify
echo PASS
