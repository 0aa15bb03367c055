#!/usr/bin/env bash
# One swtpm re-enrolls with one agentd-ca again and again, each time with a
# new AK (a child of the SRK, whose quotes carry resetCount/restartCount
# obfuscated per key): three `agentctl enroll` on a running agentd (what its
# host-certificate renewal does), then six `agentd-enroll` runs presenting
# the previous host certificate. Every one must be issued, none refused, and
# the host must stay enrolled: agentd-ca orders quote counters only between
# quotes by the same AK (attest/quote.c). Before that fix about every second
# re-enrollment was refused with "TPM reset counter went backwards" and the
# host locked until `agentd-ca admin clear`.
#   enroll_reenroll.sh HARNESS_DIR BUILD_DIR
set -euo pipefail
. "$(dirname "$0")/enroll_daemon_common.sh" "$1" "$2"
ENROLL=$BUILD/agentd/agentd-enroll
[[ -x $ENROLL ]] || { echo "SKIP: agentd-enroll not built"; exit 77; }
daemon_setup
ID=$T/state/identity

# The host's record at agentd-ca must say "enrolled", and no event refused it.
host_ok() { # HOST_ID WHEN
    ca_admin show "$1" >"$T/show.out" 2>&1 || die "admin show $1 ($2): $(cat "$T/show.out")"
    grep -q "^$1  enrolled " "$T/show.out" || die "host not enrolled $2: $(cat "$T/show.out")"
    if grep -q "refused" "$T/show.out"; then
        die "host refused $2: $(cat "$T/show.out")"
    fi
}

host=
for i in 1 2 3; do
    ctl enroll >"$T/ctl$i.out" 2>&1 ||
        die "agentctl enroll #$i failed: $(cat "$T/ctl$i.out") / CA: $(tail -3 "$T/ca/stderr")"
    grep -q "^ok: enrolled as spiffe://test.example/host/" "$T/ctl$i.out" ||
        die "agentctl enroll #$i: $(cat "$T/ctl$i.out")"
    id=$(openssl x509 -in "$ID/host.pem" -noout -ext subjectAltName | grep -o 'host/[0-9a-f]*')
    id=${id#host/}
    [[ -z $host || $id == "$host" ]] || die "agentctl enroll #$i enrolled another host: $id"
    host=$id
    sha256sum <"$ID/ak.tss2" >>"$T/aks"
    host_ok "$host" "after agentctl enroll #$i"
    echo "ok: agentctl enroll #$i"
done

# agentd-enroll needs the TPM to itself (swtpm serves one connection).
agentd_stop
cp "$ID/host.pem" "$T/host.pem"
cp "$ID/host.tss2" "$T/host.key"
for i in 1 2 3 4 5 6; do
    "$ENROLL" --tcti "$SWTPM_TCTI" --url "$CA_URL" --cacert "$CA_BUNDLE" \
        --host-cert "$T/host.pem" --host-key "$T/host.key" --out "$T/host$i.pem" \
        --key-out "$T/host$i.key" --ak-out "$T/ak$i.key" >"$T/enroll$i.out" 2>"$T/enroll$i.err" ||
        die "agentd-enroll #$i failed: $(cat "$T/enroll$i.err") / CA: $(tail -3 "$T/ca/stderr")"
    grep -q "^enrolled as spiffe://test.example/host/$host\$" "$T/enroll$i.out" ||
        die "agentd-enroll #$i: $(cat "$T/enroll$i.out")"
    openssl verify -CAfile "$CA_BUNDLE" "$T/host$i.pem" >/dev/null || die "host certificate #$i"
    cp "$T/host$i.pem" "$T/host.pem"
    cp "$T/host$i.key" "$T/host.key"
    sha256sum <"$T/ak$i.key" >>"$T/aks"
    host_ok "$host" "after agentd-enroll #$i"
    echo "ok: agentd-enroll #$i"
done

# Nine enrollments, nine different AKs, no refusal anywhere.
[[ $(sort -u "$T/aks" | wc -l) == 9 ]] || die "expected 9 different AKs: $(cat "$T/aks")"
if grep -q "refused" "$T/ca/stderr"; then
    die "agentd-ca refused: $(grep refused "$T/ca/stderr")"
fi
ca_admin hosts | grep -q "^$host  enrolled " || die "host not listed as enrolled"
echo PASS
