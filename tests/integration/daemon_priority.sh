#!/usr/bin/env bash
# The TPM worker thread runs tpm_worker_boost nice levels above the rest of
# the daemon (default 5), set before privileges are dropped; 0 leaves it
# alone; without the right to lower nice the daemon warns once and still
# serves; a reload that changes the setting says it needs a restart.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"

# nice of the task at /proc/PID/task/TID $1 (field 19 of its stat, counted
# after the parenthesised name, which may hold spaces).
task_nice() {
    sed 's/^.*) //' "$1/stat" | awk '{print $17}'
}

# nice of the daemon's thread named $1.
thread_nice() {
    local t
    for t in /proc/"$AGENTD_PID"/task/*; do
        if [[ $(cat "$t/comm" 2>/dev/null) == "$1" ]]; then
            task_nice "$t"
            return 0
        fi
    done
    echo "none"
}

loop_nice() {
    task_nice /proc/"$AGENTD_PID"/task/"$AGENTD_PID"
}

signs() {
    dc sign ec ECDSA_SHA256 3 >/dev/null || die "ECDSA sign (inline path)"
    dc sign rsa RSA_PKCS 2 >/dev/null || die "RSA sign (worker path)"
}

harness_init
swtpm_start --no-ek
base=$(nice)

# 1. Default: the worker alone is boosted; the loop and the hasher are not.
daemon_default_conf
agentd_start
signs
[[ $(thread_nice agentd-tpm) == $((base - 5)) ]] ||
    die "TPM worker nice $(thread_nice agentd-tpm), want $((base - 5))"
[[ $(loop_nice) == "$base" ]] || die "loop thread nice $(loop_nice), want $base"
[[ $(thread_nice agentd-hash) == "$base" ]] || die "hasher nice $(thread_nice agentd-hash)"
! grep -q "TPM worker stays at nice" "$T/agentd.log" || die "warned although permitted"
echo "ok: worker at nice $((base - 5)), loop and hasher at $base"

# 2. A reload cannot change it: it says so and keeps the running value.
AGENTD_EXTRA="  tpm_worker_boost = 0;" daemon_default_conf
agentd_hup
for _ in $(seq 1 100); do
    grep -q "tpm_worker_boost changes need a restart" "$T/agentd.log" && break
    sleep 0.05
done
grep -q "tpm_worker_boost changes need a restart" "$T/agentd.log" ||
    die "reload did not say the change needs a restart"
[[ $(thread_nice agentd-tpm) == $((base - 5)) ]] || die "reload changed the worker's nice"
agentd_stop
echo "ok: reload keeps the boost and says a restart is needed"

# 3. tpm_worker_boost = 0: the worker keeps the daemon's priority.
agentd_start
signs
[[ $(thread_nice agentd-tpm) == "$base" ]] || die "boost 0: worker nice $(thread_nice agentd-tpm)"
agentd_stop
echo "ok: boost 0 leaves the worker at $base"

# 4. No CAP_SYS_NICE and RLIMIT_NICE 0 (a unit without LimitNICE=): one
#    warning, the worker stays at the daemon's priority, signing works.
daemon_default_conf
AGENTD_BIN_REAL=$AGENTD_BIN
AGENTD_BIN="$T/agentd-nonice"
cat >"$AGENTD_BIN" <<EOS
#!/bin/sh
exec prlimit --nice=0:0 setpriv --bounding-set=-sys_nice --inh-caps=-sys_nice "$AGENTD_BIN_REAL" "\$@"
EOS
chmod 755 "$AGENTD_BIN"
agentd_start
signs
[[ $(thread_nice agentd-tpm) == "$base" ]] ||
    die "unprivileged: worker nice $(thread_nice agentd-tpm), want $base"
[[ $(grep -c "TPM worker stays at nice" "$T/agentd.log") == 1 ]] || {
    agentd_log
    die "no single warning when the boost is not permitted"
}
agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exited $AGENTD_RC"
audit_verify_ok
echo "ok: not permitted: one warning, worker at $base, signatures served"
