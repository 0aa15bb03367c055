#!/usr/bin/env bash
# agentd-ca on loopback: enrollments per second from a pool of simulated
# hosts (each its own swtpm with its own vendor EK CA), then workload
# certificate issuances per second, with p50/p99 latencies.
#   bench/enroll_bench.sh HARNESS_DIR BUILD_DIR [HOSTS] [ENROLLS_PER_HOST] [SVIDS_PER_HOST]
# A benchmark, never a timed test: it prints figures and asserts nothing
# beyond every request succeeding.
set -euo pipefail
HOSTS=${3:-4}
ENROLLS=${4:-25}
SVIDS=${5:-50}
. "$(cd "$(dirname "$0")/../tests/integration" && pwd)/enroll_common.sh" "$1" "$2"
harness_init
MAIN_T=$T
ca_keys
declare -a TCTIS CERTS
for i in $(seq 1 "$HOSTS"); do
    T=$MAIN_T/tpm$i
    mkdir -p "$T"
    swtpm_start
    TCTIS[i]=$SWTPM_TCTI
    CERTS[i]=$T/ek.der
    tpm2_nvread -T "$SWTPM_TCTI" 0x01c00002 -o "${CERTS[i]}" 2>/dev/null
    cp "$SWTPM_EK_CA" "$MAIN_T/ca/ekroots/vendor$i-root.pem"
    cp "$SWTPM_EK_ISSUER" "$MAIN_T/ca/ekroots/vendor$i-issuer.pem"
done
T=$MAIN_T
SWTPM_TCTI=${TCTIS[1]} # the policy: a fresh swtpm's PCRs 0 and 16, the same on all
ca_start

# phase NAME ARGS...: every host in parallel; prints the rate and latencies.
phase() {
    local name=$1 kind=$2 start end i pids=()
    shift 2
    rm -f "$T"/timings.*
    start=$(date +%s.%N)
    for i in $(seq 1 "$HOSTS"); do
        "$HOSTSIM" --tcti "${TCTIS[i]}" --ek-cert "${CERTS[i]}" --url "$CA_URL" \
            --cacert "$CA_BUNDLE" --quiet --timings "$T/timings.$i" "$@" 2>"$T/err.$i" &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[i]}" || die "$name: host $((i + 1)) failed: $(cat "$T/err.$((i + 1))")"
    done
    end=$(date +%s.%N)
    cat "$T"/timings.* | awk -v k="$kind" '$1 == k {print $2}' | sort -n >"$T/lat"
    # Rate over the slowest host's time in this kind of request (the phase's
    # other requests, e.g. the enrollment before the SVIDs, are not counted).
    local busiest
    busiest=$(for f in "$T"/timings.*; do awk -v k="$kind" '$1 == k {s += $2} END {print s}' "$f"; done |
        sort -n | tail -1)
    awk -v name="$name" -v hosts="$HOSTS" -v busy="$busiest" '
        {v[NR] = $1}
        END {
            p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1];
            printf "%-22s n=%d hosts=%d rate=%.1f/s p50=%.1fms p99=%.1fms\n",
                name, NR, hosts, NR / (busy / 1000), p50, p99
        }' "$T/lat"
}

echo "agentd-ca bench: $HOSTS hosts (swtpm each), loopback TLS 1.3, SQLite WAL"
phase "enrollments" enroll --repeat "$ENROLLS"
phase "workload SVIDs" svid --svids "$SVIDS"
