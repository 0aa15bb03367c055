#!/usr/bin/env bash
# Two workloads that differ only in the executable's SHA-256 (two copies of
# adclient, one with a byte appended, so the paths differ too): each signs
# its own key and is refused the other's. Then the same path is replaced by
# the other binary, by rename (new inode) and by an in-place rewrite (same
# inode: the daemon's hash cache must notice): the identity follows the
# bytes. A process that started from A keeps A's identity after its path is
# replaced by B, because the daemon hashes the inode the process runs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/workload_common.sh"
workload_need_root

U=41010
harness_init
swtpm_start --no-ek
A=$(workload_copy_client adc-a)
B=$(workload_copy_client adc-b X)
HA=$(sha256_of "$A")
HB=$(sha256_of "$B")
[[ $HA != "$HB" ]] || die "copies have the same hash"
agentd_write_conf <<EOW
{ name = "wa"; spiffe_id = "spiffe://test/wa"; selectors = { sha256 = "$HA"; };
  keys = ( { name = "ka"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); },
{ name = "wb"; spiffe_id = "spiffe://test/wb"; selectors = { sha256 = "$HB"; };
  keys = ( { name = "kb"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); }
EOW
agentd_start
workload_data
S=(-s "$AGENTD_SOCK")

# refused_key LABEL BIN KEY: sign is refused (DENIED or NOT_FOUND) for KEY.
refused_key() {
    local rc=0
    as_uid $U "$2" "${S[@]}" sign "$3" ECDSA_SHA256 "$T/data.bin" "$T/out/x.sig" 2>"$T/x.err" || rc=$?
    [[ $rc == "$RC_DENIED" || $rc == 4 ]] || die "$1: exit $rc ($(cat "$T/x.err"))"
    echo "ok: $1 (exit $rc: $(cat "$T/x.err"))"
}

expect_rc $RC_OK "A whoami" as_uid $U "$A" "${S[@]}" whoami
grep -q "exe=$A sha256=$HA .*entry=wa " "$T/last.out" || die "whoami A: $(cat "$T/last.out")"
expect_rc $RC_OK "B whoami" as_uid $U "$B" "${S[@]}" whoami
grep -q "exe=$B sha256=$HB .*entry=wb " "$T/last.out" || die "whoami B: $(cat "$T/last.out")"
expect_rc $RC_OK "A signs ka (verified)" as_uid $U "$A" "${S[@]}" loop ka ECDSA_SHA256 0.3 2
expect_rc $RC_OK "B signs kb (verified)" as_uid $U "$B" "${S[@]}" loop kb ECDSA_SHA256 0.3 2
refused_key "A refused kb" "$A" kb
refused_key "B refused ka" "$B" ka

# Same path, replaced by rename (new inode).
X=$(workload_copy_client adc-x)
expect_rc $RC_OK "path X holding A signs ka" as_uid $U "$X" "${S[@]}" sign ka ECDSA_SHA256 "$T/data.bin" "$T/out/x1.sig"
cp "$B" "$T/bin/adc-x.new" && mv -f "$T/bin/adc-x.new" "$X"
expect_rc $RC_OK "path X renamed to B signs kb" as_uid $U "$X" "${S[@]}" sign kb ECDSA_SHA256 "$T/data.bin" "$T/out/x2.sig"
refused_key "path X renamed to B refused ka" "$X" ka

# Same path and inode, rewritten in place (A's bytes again): the cache key
# (dev, ino, size, mtime, ctime) changes, so the daemon re-hashes.
ino=$(stat -c %i "$X")
cat "$A" >"$X"
[[ $(stat -c %i "$X") == "$ino" ]] || die "in-place rewrite changed the inode"
expect_rc $RC_OK "path X rewritten to A signs ka" as_uid $U "$X" "${S[@]}" sign ka ECDSA_SHA256 "$T/data.bin" "$T/out/x3.sig"
refused_key "path X rewritten to A refused kb" "$X" kb

# A process started from A whose path is replaced by B before it connects:
# the daemon hashes the running inode (via /proc/PID/exe), so it is still A.
Y=$(workload_copy_client adc-y)
rm -f "$T/go"
rc=0
setpriv --reuid=$U --regid=$U --clear-groups "$Y" --wait-for "$T/go" "${S[@]}" sign ka ECDSA_SHA256 "$T/data.bin" "$T/out/y.sig" \
    >"$T/y.out" 2>"$T/y.err" &
ypid=$!
sleep 0.3
cp "$B" "$T/bin/adc-y.new" && mv -f "$T/bin/adc-y.new" "$Y"
touch "$T/go"
wait "$ypid" || rc=$?
[[ $rc == 0 ]] || die "process running A after its path became B: exit $rc ($(cat "$T/y.err"))"
echo "ok: process running A keeps A's identity after its path became B"
audit_expect ".pid == $ypid and .key == \"ka\" and .decision == \"allow\" and .exe_sha256 == \"$HA\"" \
    "running-inode hash for pid $ypid"

audit_expect ".exe == \"$A\" and .exe_sha256 == \"$HA\" and .key == \"ka\" and .decision == \"allow\"" "A allowed ka"
audit_expect ".exe == \"$B\" and .exe_sha256 == \"$HB\" and .key == \"kb\" and .decision == \"allow\"" "B allowed kb"
audit_expect ".exe == \"$A\" and .key == \"kb\" and .decision == \"deny\"" "A denied kb"
audit_expect ".exe == \"$B\" and .key == \"ka\" and .decision == \"deny\"" "B denied ka"
audit_expect ".exe == \"$X\" and .exe_sha256 == \"$HB\" and .key == \"ka\" and .decision == \"deny\"" "X-as-B denied ka"

workload_stop
workload_audit_verify
echo PASS
