#!/usr/bin/env bash
# agentctl end to end: a clear error when agentd is not running; admin
# commands as root (status, workloads, keys list/create/delete, audit tail,
# whoami); the daemon's refusal of a non-admin uid printed clearly; audit
# verify locally, ok on the intact log and file:line on a tampered copy.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/workload_common.sh"
workload_need_root

U=41030
harness_init
swtpm_start --no-ek
ctl() { "$AGENTCTL" -s "$AGENTD_SOCK" "$@"; }

# Not running yet.
AGENTD_SOCK=$T/run/agentd.sock
rc=0
AGENTD_SOCKET=$AGENTD_SOCK "$AGENTCTL" status 2>"$T/err" || rc=$?
[[ $rc == 1 ]] || die "status without a daemon: exit $rc"
grep -q "agentd is not running at $AGENTD_SOCK (connect: No such file or directory)" "$T/err" ||
    die "message: $(cat "$T/err")"
echo "ok: $(cat "$T/err")"

agentd_write_conf <<EOW
{ name = "wa"; spiffe_id = "spiffe://test/wa"; selectors = { uid = $U; };
  keys = ( { name = "ka"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); }
EOW
agentd_start

expect_rc 0 "status" ctl status
jq -e . "$T/last.out" >/dev/null || die "status is not JSON: $(cat "$T/last.out")"
expect_rc 0 "workloads" ctl workloads
grep -q '"wa"' "$T/last.out" || die "workloads: $(cat "$T/last.out")"
expect_rc 0 "keys list" ctl keys list wa
grep -q '"ka"' "$T/last.out" || die "keys list: $(cat "$T/last.out")"
expect_rc 0 "keys create" ctl keys create wa extra ec-p256
expect_rc 0 "keys list shows the new key" ctl keys
grep -q '"extra"' "$T/last.out" || die "created key not listed: $(cat "$T/last.out")"
expect_rc 0 "keys delete" ctl keys delete wa extra
expect_rc 0 "keys list after delete" ctl keys list wa
grep -q '"extra"' "$T/last.out" && die "deleted key still listed: $(cat "$T/last.out")"
expect_rc 3 "keys create in an unknown entry" ctl keys create nope k ec-p256
grep -q "NOT_FOUND" "$T/last.err" || die "unknown entry: $(cat "$T/last.err")"
expect_rc 2 "bad key type is a usage error" ctl keys create wa k ec-p999

# Env var picks the socket too; whoami works for anyone.
expect_rc 0 "whoami via AGENTD_SOCKET" env AGENTD_SOCKET="$AGENTD_SOCK" "$AGENTCTL" whoami
grep -q "entry:     (none" "$T/last.out" || die "root whoami: $(cat "$T/last.out")"
expect_rc 0 "whoami as the workload uid" as_uid $U "$AGENTCTL" -s "$AGENTD_SOCK" whoami
grep -q "entry:     wa" "$T/last.out" || die "uid whoami: $(cat "$T/last.out")"

# A non-admin uid: the daemon refuses, agentctl says so.
expect_rc 3 "status as a non-admin uid" as_uid $U "$AGENTCTL" -s "$AGENTD_SOCK" status
grep -q "agentd refused: DENIED" "$T/last.err" || die "refusal text: $(cat "$T/last.err")"
echo "   $(cat "$T/last.err")"
expect_rc 3 "keys create as a non-admin uid" as_uid $U "$AGENTCTL" -s "$AGENTD_SOCK" keys create wa x ec-p256

expect_rc 0 "audit tail" ctl audit tail 5
[[ $(wc -l <"$T/last.out") -ge 1 ]] || die "audit tail printed nothing"
grep -q '"admin_only"\|admin' "$T/last.out" || die "audit tail misses the refusal: $(cat "$T/last.out")"
expect_rc 2 "audit tail 0 is a usage error" ctl audit tail 0

workload_stop
expect_rc 0 "audit verify (intact)" "$AGENTCTL" audit verify "$AGENTD_AUDIT"
cp "$AGENTD_AUDIT" "$T/tampered.log"
sed -i '2s/"decision":"[a-z]*"/"decision":"allow"/; 2s/"uid":[0-9]*/"uid":4242/' "$T/tampered.log"
expect_rc 1 "audit verify (tampered)" "$AGENTCTL" audit verify "$T/tampered.log"
grep -q "^$T/tampered.log:[0-9]*: " "$T/last.err" || die "no file:line: $(cat "$T/last.err")"
echo "   $(cat "$T/last.err")"
echo PASS
