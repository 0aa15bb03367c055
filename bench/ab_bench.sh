#!/usr/bin/env bash
# Interleaved A/B of two agentd binaries (area "pkcs11"): each on its own
# swtpm with one key (EC P-256, or RSA-2048 with AB_KEY=rsa), and tpm_bench
# with the same kind of key on a third swtpm between them,
# ROUNDS times; prints each round's signatures/s and ratios to tpm_bench,
# then the medians and how many rounds B won. Interleaving is what makes a
# difference of a point visible on a machine whose speed drifts by several
# percent within the hour (bench/README.md). Run an A/A first (the same
# binary twice) to see the harness's own spread.
#
# usage: bench/ab_bench.sh AGENTD_A AGENTD_B [BUILD_DIR]   (default build/release)
#   AB_ROUNDS (8), AB_MODE (1t: one thread, 2t, 64p: 64 processes for 2 s),
#   AB_OPS (3000 signatures per thread; 500 with AB_KEY=rsa), AB_KEY (ec:
#   ECDSA, rsa: RSA-PKCS), AB_ENV_A / AB_ENV_B (NAME=VALUE given to that
#   daemon only, e.g. a switch in a throwaway build).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -ge 2 ]] || {
    sed -n '2,15p' "$0" >&2
    exit 2
}
bin_a=$(realpath "$1")
bin_b=$(realpath "$2")
build=$(cd "${3:-$root/build/release}" && pwd)
rounds=${AB_ROUNDS:-8}
mode=${AB_MODE:-1t}
tools=${P11_BENCH_TOOLS:-/work/shared/tools}
source "$root/tests/harness/lib.sh"
source "$root/tests/integration/lib_agentd.sh"

module=$build/pkcs11/libagentd-pkcs11.so
tpm_bench=$build/bench/tpm_bench
p11_procs=$build/bench/p11_procs
for f in "$bin_a" "$bin_b" "$module" "$tpm_bench" "$p11_procs" "$tools/p11bench.c"; do
    [[ -e $f ]] || die "missing: $f (scripts/build.sh release builds the first ones)"
done
case $mode in 1t | 2t | 64p) ;; *) die "AB_MODE must be 1t, 2t or 64p" ;; esac
key=${AB_KEY:-ec}
case $key in
ec) key_type=ec-p256 mech=ecdsa key_mechs='"ECDSA"' raw_type=p256 ops=${AB_OPS:-3000} ;;
rsa) key_type=rsa-2048 mech=rsa-pkcs key_mechs='"RSA_PKCS"' raw_type=rsa2048 ops=${AB_OPS:-500} ;;
*) die "AB_KEY must be ec or rsa" ;;
esac

harness_init
T0=$T
trap 'T=$T0; harness_cleanup' EXIT
# shellcheck disable=SC2046
cc -std=c11 -O2 $(pkg-config --cflags p11-kit-1 libcrypto) -o "$T0/p11bench" \
    "$tools/p11bench.c" $(pkg-config --libs libcrypto) -ldl -lpthread

declare -A sock
start_daemon() { # NAME BINARY ENV
    T=$T0/$1
    mkdir -p "$T"
    unset AGENTD_SOCK AGENTD_STATE AGENTD_AUDIT AGENTD_CONF
    swtpm_start --no-ek
    agentd_write_conf <<EOW
{ name = "ab"; spiffe_id = "spiffe://bench/ab"; selectors = { uid = $(id -u); };
  keys = ( { name = "$key"; type = "$key_type"; mechanisms = [ $key_mechs ]; } ); }
EOW
    # The variable reaches this daemon only: exported for its start, then removed.
    [[ -z $3 ]] || export "${3?}"
    AGENTD_BIN=$2 agentd_start
    [[ -z $3 ]] || unset "${3%%=*}"
    sock[$1]=$AGENTD_SOCK
}

sign_rate() { # SOCKET
    if [[ $mode == 64p ]]; then
        AGENTD_SOCKET=$1 "$p11_procs" -m "$module" -l "$key" -M "$mech" -P 64 -d 2 2>/dev/null
    else
        AGENTD_SOCKET=$1 "$T0/p11bench" -m "$module" -l "$key" -M "$mech" -g -n "$ops" \
            -t "${mode%t}" 2>/dev/null
    fi | sed -n 's/^RESULT.* ops_s=\([0-9.]*\).*/\1/p'
}

start_daemon a "$bin_a" "${AB_ENV_A:-}"
start_daemon b "$bin_b" "${AB_ENV_B:-}"
T=$T0/raw
mkdir -p "$T"
swtpm_start --no-ek
raw_tcti=$SWTPM_TCTI
T=$T0

echo "A: $bin_a ${AB_ENV_A:-}"
echo "B: $bin_b ${AB_ENV_B:-}"
echo "mode $mode, key $key, $rounds rounds; ratios to tpm_bench on its own swtpm"
for r in $(seq 1 "$rounds"); do
    a=$(sign_rate "${sock[a]}")
    x=$("$tpm_bench" --tcti "$raw_tcti" --seconds 1 --type "$raw_type" 2>/dev/null |
        sed -n 's/^RESULT.* ops_s=\([0-9.]*\).*/\1/p')
    b=$(sign_rate "${sock[b]}")
    [[ -n $a && -n $b && -n $x ]] || die "round $r: a run failed (A=$a B=$b raw=$x)"
    awk -v r="$r" -v a="$a" -v b="$b" -v x="$x" 'BEGIN {
        printf "round %d  A %8.1f  B %8.1f  raw %8.1f  A/raw %5.1f %%  B/raw %5.1f %%\n",
            r, a, b, x, 100 * a / x, 100 * b / x }'
done | tee "$T0/rounds"
awk '{ a[NR] = $10; b[NR] = $13; won += ($6 > $4) }
    function median(v, n,   i, j, t) {
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
    END { n = NR; printf "median A/raw %.1f %%, B/raw %.1f %%; B won %d of %d rounds\n",
        median(a, n), median(b, n), won, n }' "$T0/rounds"
