#!/usr/bin/env bash
# agentd started as root with --user nobody ends up as uid 65534 with only
# CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (effective, permitted; empty bounding set),
# no_new_privs and not dumpable, and with just those it still identifies
# callers of other uids by executable hash, including a binary the agentd
# user cannot read (mode 0711).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/workload_common.sh"
workload_need_root
getent passwd nobody >/dev/null || {
    echo "SKIP: no user nobody"
    exit 77
}

U1=41040
U2=41041
KEPT=0000000000080004 # CAP_DAC_READ_SEARCH (2) | CAP_SYS_PTRACE (19)
harness_init
swtpm_start --no-ek
A=$(workload_copy_client adc-a)
B=$(workload_copy_client adc-b X)
chmod 0711 "$B" # executable, not readable by the agentd user
HA=$(sha256_of "$A")
HB=$(sha256_of "$B")
agentd_write_conf <<EOW
{ name = "wa"; spiffe_id = "spiffe://test/wa"; selectors = { sha256 = "$HA"; uid = $U1; };
  keys = ( { name = "ka"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); },
{ name = "wb"; spiffe_id = "spiffe://test/wb"; selectors = { sha256 = "$HB"; uid = $U2; };
  keys = ( { name = "kb"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); }
EOW
# State left by an earlier root run: agentd --user hands it over itself
# (keys/<entry> is created on first use, after the drop).
mkdir -p "$AGENTD_STATE/keys/old"
touch "$AGENTD_STATE/keys/old/blob"
# Planted by a user who could write there: never followed, never given away.
install -m 0600 /dev/null "$T/outside"
ln "$T/outside" "$AGENTD_STATE/keys/old/hardlink"
ln -s "$T/outside" "$AGENTD_STATE/keys/old/symlink"
agentd_start --user nobody
[[ $(stat -c %u "$T/outside") == 0 ]] || die "a hard or symbolic link handed $T/outside to nobody"
bad=$(find "$AGENTD_STATE" ! -user nobody ! -name hardlink ! -name symlink)
[[ -z $bad ]] || die "not given to nobody: $bad"
workload_data
S=(-s "$AGENTD_SOCK")

st=/proc/$AGENTD_PID/status
field() { awk -v f="$1:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "$2"; }
[[ $(field Uid "$st") == "65534 65534 65534 65534" ]] || die "uids: $(field Uid "$st")"
[[ $(field Groups "$st") == "" ]] || die "supplementary groups: $(field Groups "$st")"
[[ $(field CapEff "$st") == "$KEPT" ]] || die "CapEff $(field CapEff "$st")"
[[ $(field CapPrm "$st") == "$KEPT" ]] || die "CapPrm $(field CapPrm "$st")"
# The bounding set only limits what an exec could gain: emptied entirely.
[[ $(field CapBnd "$st") == 0000000000000000 ]] || die "CapBnd $(field CapBnd "$st")"
[[ $(field CapAmb "$st") == "0000000000000000" ]] || die "CapAmb $(field CapAmb "$st")"
[[ $(field NoNewPrivs "$st") == 1 ]] || die "NoNewPrivs $(field NoNewPrivs "$st")"
echo "ok: agentd runs as nobody with CapEff=CapPrm=$KEPT, CapBnd=0, NoNewPrivs=1"
# Every other thread: no capability beyond the two.
for t in /proc/$AGENTD_PID/task/*/status; do
    eff=$(field CapEff "$t")
    [[ $eff == "$KEPT" || $eff == 0000000000000000 ]] || die "thread $t CapEff $eff"
    # no_new_privs is per thread (privs.h): privs_drop() runs before the TPM
    # worker thread starts, so every thread has it.
    [[ $(field NoNewPrivs "$t") == 1 ]] || die "thread $t NoNewPrivs $(field NoNewPrivs "$t")"
done
# Not dumpable: /proc/PID files become root-owned.
[[ $(stat -c %u "/proc/$AGENTD_PID/status") == 0 ]] || die "agentd is dumpable"

expect_rc $RC_OK "uid $U1 (readable binary) whoami" as_uid $U1 "$A" "${S[@]}" whoami
grep -q "sha256=$HA .*entry=wa " "$T/last.out" || die "whoami A: $(cat "$T/last.out")"
expect_rc $RC_OK "uid $U2 (mode 0711 binary) whoami" as_uid $U2 "$B" "${S[@]}" whoami
grep -q "sha256=$HB .*entry=wb " "$T/last.out" || die "whoami B: $(cat "$T/last.out")"
expect_rc $RC_OK "uid $U1 signs ka" as_uid $U1 "$A" "${S[@]}" loop ka ECDSA_SHA256 0.3 2
expect_rc $RC_OK "uid $U2 signs kb" as_uid $U2 "$B" "${S[@]}" loop kb ECDSA_SHA256 0.3 2
rc=0
as_uid $U2 "$B" "${S[@]}" sign ka ECDSA_SHA256 "$T/data.bin" "$T/out/x.sig" 2>/dev/null || rc=$?
[[ $rc == "$RC_DENIED" || $rc == 4 ]] || die "uid $U2 with ka: exit $rc"
echo "ok: uid $U2 refused ka (exit $rc)"

[[ $(stat -c %U "$AGENTD_STATE/keys/wa") == nobody ]] || die "keys/wa is not nobody's"
workload_stop
workload_audit_verify
echo PASS
