#!/usr/bin/env bash
# Workloads selected by systemd unit and by cgroup v2 path: a process placed
# in a cgroup named like a unit (…/agentd-wl-N.service) is that unit; one in
# …/agentd-wl-N.slice/inner-N.service matches a cgroup selector; the same
# binary and uid outside those cgroups is refused. Needs a writable cgroup v2
# hierarchy (skipped otherwise).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/workload_common.sh"
workload_need_root

CGROOT=""
for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
    if [[ $(stat -f -c %T "$d" 2>/dev/null) == cgroup2fs && -w $d ]]; then
        CGROOT=$d
        break
    fi
done
[[ -n $CGROOT ]] || {
    echo "SKIP: no writable cgroup v2 hierarchy"
    exit 77
}
# Our own cgroup v2 path: new groups go below it (a delegated subtree).
base=$(sed -n 's/^0:://p' /proc/self/cgroup)
[[ $base == / ]] && base=""
UNIT=agentd-wl-$$.service
SLICE=agentd-wl-$$.slice
INNER=inner-$$.service
CG_UNIT=$CGROOT$base/$UNIT
CG_INNER=$CGROOT$base/$SLICE/$INNER

U=41050
harness_init
cg_cleanup() {
    local rc=$?
    harness_cleanup || rc=1
    rmdir "$CG_UNIT" "$CG_INNER" "$CGROOT$base/$SLICE" 2>/dev/null || true
    exit "$rc"
}
trap cg_cleanup EXIT
mkdir -p "$CG_UNIT" "$CG_INNER" || {
    echo "SKIP: cannot create cgroups under $CGROOT$base"
    exit 77
}

swtpm_start --no-ek
agentd_write_conf <<EOW
{ name = "wu"; spiffe_id = "spiffe://test/wu"; selectors = { unit = "$UNIT"; };
  keys = ( { name = "ku"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); },
{ name = "wc"; spiffe_id = "spiffe://test/wc"; selectors = { cgroup = "$base/$SLICE/$INNER"; };
  keys = ( { name = "kc"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); }
EOW
agentd_start
workload_data
S=(-s "$AGENTD_SOCK")

# in_cg DIR CMD...: run CMD (as uid U) after moving this shell into DIR.
in_cg() {
    local dir=$1
    shift
    sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$dir" \
        setpriv --reuid=$U --regid=$U --clear-groups "$@"
}

expect_rc $RC_OK "in $UNIT: whoami" in_cg "$CG_UNIT" "$ADCLIENT" "${S[@]}" whoami
grep -q "cgroup=$base/$UNIT entry=wu " "$T/last.out" || die "whoami in unit: $(cat "$T/last.out")"
expect_rc $RC_OK "in $UNIT: signs ku (verified)" in_cg "$CG_UNIT" "$ADCLIENT" "${S[@]}" loop ku ECDSA_SHA256 0.3 2
expect_rc $RC_OK "in $SLICE/$INNER: whoami" in_cg "$CG_INNER" "$ADCLIENT" "${S[@]}" whoami
grep -q "entry=wc " "$T/last.out" || die "whoami in inner: $(cat "$T/last.out")"
expect_rc $RC_OK "in $SLICE/$INNER: signs kc" in_cg "$CG_INNER" "$ADCLIENT" "${S[@]}" sign kc ECDSA_SHA256 "$T/data.bin" "$T/out/c.sig"
rc=0
in_cg "$CG_INNER" "$ADCLIENT" "${S[@]}" sign ku ECDSA_SHA256 "$T/data.bin" "$T/out/x.sig" 2>/dev/null || rc=$?
[[ $rc == "$RC_DENIED" || $rc == 4 ]] || die "inner using ku: exit $rc"
echo "ok: $INNER refused ku (exit $rc)"
# Same binary and uid, outside both cgroups.
expect_rc $RC_DENIED "outside: sign ku refused" as_uid $U "$ADCLIENT" "${S[@]}" sign ku ECDSA_SHA256 "$T/data.bin" "$T/out/y.sig"
expect_rc $RC_DENIED "outside: sign kc refused" as_uid $U "$ADCLIENT" "${S[@]}" sign kc ECDSA_SHA256 "$T/data.bin" "$T/out/z.sig"

audit_expect ".entry == \"wu\" and .key == \"ku\" and .decision == \"allow\"" "unit allowed"
audit_expect ".entry == \"wc\" and .key == \"kc\" and .decision == \"allow\"" "cgroup allowed"
audit_expect ".uid == $U and .decision == \"deny\" and .reason == \"no_entry\"" "outside denied"
workload_stop
workload_audit_verify
echo PASS
