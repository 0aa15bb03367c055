#!/usr/bin/env bash
# kill -9 of the daemon during a stream of signs; after a restart every key
# still signs and the audit chain verifies.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"

harness_init
swtpm_start --no-ek
daemon_default_conf
agentd_start

# Create both keys, and one generated key, before the crash.
dc sign ec ECDSA_SHA256 2 >/dev/null || die "sign ec"
dc sign rsa SHA256_RSA_PKCS 2 >/dev/null || die "sign rsa"
dc generate gen1 ec 256 >/dev/null || die "generate"

for round in 1 2 3; do
    # Two streams of pipelined signs, killed in the middle.
    dc stream ec ECDSA_SHA256 8 >"$T/stream1.$round" 2>&1 &
    s1=$!
    dc stream rsa SHA256_RSA_PKCS 4 >"$T/stream2.$round" 2>&1 &
    s2=$!
    sleep 1.5
    agentd_kill9
    wait "$s1" 2>/dev/null || true
    wait "$s2" 2>/dev/null || true
    grep -q "signed" "$T/stream1.$round" || die "round $round: the stream signed nothing"
    # swtpm has no resource manager: the killed daemon's transient objects
    # stay loaded (the kernel's /dev/tpmrm0 would flush them when the fd
    # closes). Do what the resource manager would.
    tpm2_flushcontext -T "$SWTPM_TCTI" -t >/dev/null 2>&1 || true
    agentd_start
    dc sign ec ECDSA_SHA256 3 >/dev/null || die "round $round: ec key lost"
    dc sign rsa SHA256_RSA_PKCS 3 >/dev/null || die "round $round: rsa key lost"
    dc sign gen1 ECDSA_SHA256 3 >/dev/null || die "round $round: generated key lost"
    echo "ok: round $round ($(cat "$T/stream1.$round" | tail -1))"
done
agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
audit_verify_ok
# A head that lags the log after a crash is no finding.
! grep -q "records were cut" "$T/agentd.log" || die "a lagging head was reported as a cut"

# The log's last records cut while agentd is down: the start says so, and
# the head naming them is kept aside rather than overwritten by the next.
head_seq=$(grep -ao '"seq":[0-9]*' "$AGENTD_AUDIT.head" | cut -d: -f2 | sort -n | tail -n 1)
n=$(wc -l <"$AGENTD_AUDIT")
((n > 3)) || die "want more than 3 records in the current log file, have $n"
head -n $((n - 3)) "$AGENTD_AUDIT" >"$T/cut.log"
cat "$T/cut.log" >"$AGENTD_AUDIT"
agentd_start
grep -q "the head names record $head_seq but the log ends at $((head_seq - 3)): records were cut" \
    "$T/agentd.log" || {
    agentd_log
    die "the cut was not reported"
}
[[ -f $AGENTD_AUDIT.head.$head_seq ]] || die "the head naming $head_seq was not kept"
dc sign ec ECDSA_SHA256 1 >/dev/null || die "sign after the cut"
agentd_stop
grep -q "\"seq\":$head_seq," "$AGENTD_AUDIT.head.$head_seq" || die "the kept head was changed"
echo "ok: the cut of records $((head_seq - 2))..$head_seq reported, its head kept"
echo PASS
