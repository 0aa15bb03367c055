#!/usr/bin/env bash
# agentd renews a workload certificate by itself: agentd-ca issues 60 s
# certificates (its minimum); the certificate is replaced near half-life
# (new serial, same daemon). With the CA stopped, agentd logs a warning,
# keeps listing the still-valid certificate and retries with backoff; once
# the CA is back (same port and database) the renewal goes through.
#   enroll_renew.sh HARNESS_DIR BUILD_DIR
set -euo pipefail
. "$(dirname "$0")/enroll_daemon_common.sh" "$1" "$2"
CA_EXTRA="workload_cert_lifetime = 60;"
RETRY_MIN=2 RETRY_MAX=8
daemon_setup
pid=$AGENTD_PID

ctl enroll >"$T/enroll.out" 2>&1 || die "agentctl enroll: $(cat "$T/enroll.out")"
issued=$(date +%s)
s1=$(listed_serial)
[[ -n $s1 ]] || die "no certificate listed after enrollment"
openssl x509 -in "$T/serial.der" -inform DER -noout -checkend 55 >/dev/null ||
    die "the certificate should live about 60 s"

# Wait for a new serial; it may come no earlier than near half-life (30 s).
wait_new_serial() { # OLD TIMEOUT_S
    local s
    for _ in $(seq 1 "$2"); do
        s=$(listed_serial)
        if [[ -n $s && $s != "$1" ]]; then
            echo "$s"
            return 0
        fi
        sleep 1
    done
    return 1
}
s2=$(wait_new_serial "$s1" 50) || { agentd_log; die "certificate not renewed within 50 s"; }
renewed=$(date +%s)
elapsed=$((renewed - issued))
echo "renewed after ${elapsed} s: serial $s1 -> $s2"
((elapsed >= 25 && elapsed <= 40)) || die "renewed after $elapsed s, not near half-life (30 s)"
[[ $AGENTD_PID == "$pid" ]] && kill -0 "$pid" || die "agentd restarted"
openssl x509 -in "$T/serial.der" -inform DER -out "$T/s2.pem"
openssl verify -CAfile "$T/state/identity/bundle.pem" "$T/s2.pem" >/dev/null ||
    die "renewed certificate does not verify"

# The CA goes away: at the next half-life agentd warns, keeps serving, retries.
ca_stop
warned=0
for _ in $(seq 1 45); do
    warned=$(grep -c "^<4>identity: .*failed; valid certificates are still served; retrying in" \
        "$T/agentd.log" || true)
    ((warned >= 2)) && break
    sleep 1
done
((warned >= 2)) || { agentd_log; die "no repeated renewal warning with the CA down"; }
grep "^<4>identity:" "$T/agentd.log" | tail -4
now_serial=$(listed_serial)
[[ $now_serial == "$s2" ]] || die "the still-valid certificate is not listed ($now_serial)"
openssl x509 -in "$T/serial.der" -inform DER -noout -checkend 1 >/dev/null ||
    die "the listed certificate has expired"
ctl status | grep -q '"last_error":"workload challenge: .*Couldn.t connect' ||
    die "status lacks the CA error: $(ctl status)"
# Backoff: the retry delays come from retry_min_s..retry_max_s, jittered.
grep -o "retrying in [0-9]* s" "$T/agentd.log" | awk '{ if ($3 < 1 || $3 > 8) exit 1 }' ||
    die "retry delay outside 1..8 s"

# The CA is back (same state): the next retry renews.
ca_restart
s3=$(wait_new_serial "$s2" 20) || { agentd_log; die "no renewal after the CA came back"; }
echo "renewed after the CA came back: serial $s2 -> $s3"
openssl x509 -in "$T/serial.der" -inform DER -out "$T/s3.pem"
openssl verify -CAfile "$T/state/identity/bundle.pem" "$T/s3.pem" >/dev/null ||
    die "certificate after the outage does not verify"
[[ $AGENTD_PID == "$pid" ]] && kill -0 "$pid" || die "agentd restarted"

agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
echo PASS
