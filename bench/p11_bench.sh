#!/usr/bin/env bash
# PKCS#11 signing benchmark, side by side in one run (area "pkcs11"):
#   agentd's module (ECDSA P-256, RSA-2048; 1 and 2 threads; cold start),
#   the raw TPM layer (esysbench: key loaded, password session; and
#   tpm_bench from "tpm" when it is built), tpm2-pkcs11 on its own swtpm,
#   SoftHSM2 in a temporary SOFTHSM2_CONF.
# Our module and the raw layer run interleaved, ROUNDS times, each on its own
# swtpm, and the medians are printed, so a busy machine moves both alike.
# The anchor tools are built from /work/shared/tools when present (nothing is
# copied into the repository); a missing one is skipped with a message.
#
# usage: bench/p11_bench.sh [BUILD_DIR]      (default: build/pkcs11)
#   AGENTD_BIN (default BUILD_DIR/agentd/agentd), P11_BENCH_OPS (300) timed
#   signatures per thread, P11_BENCH_ROUNDS (5), P11_BENCH_COLD (9) cold runs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build/pkcs11}" && pwd)
tools=${P11_BENCH_TOOLS:-/work/shared/tools}
ops=${P11_BENCH_OPS:-300}
rounds=${P11_BENCH_ROUNDS:-5}
cold_runs=${P11_BENCH_COLD:-9}
source "$root/tests/harness/lib.sh"
source "$root/tests/integration/lib_agentd.sh"

P11_MODULE=$build/pkcs11/libagentd-pkcs11.so
AGENTD_BIN=${AGENTD_BIN:-$build/agentd/agentd}
TPM2_PKCS11=${TPM2_PKCS11:-/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so}
SOFTHSM=${SOFTHSM:-/usr/lib/softhsm/libsofthsm2.so}
OURS="agentd module"
RAW="raw ESYS (loaded key, pw session)"
LAYER="raw TPM layer (tpm_bench)"
declare -A R # "row|column" -> space-separated samples
rows=()

harness_init
T0=$T
trap 'T=$T0; harness_cleanup' EXIT

# Each simulator gets its own directory under $T0 (the harness keeps its state in $T/swtpm).
swtpm_in() {
    T=$T0/$1
    mkdir -p "$T"
    swtpm_start --no-ek
}

build_tool() { # NAME LIBS...
    local src=$tools/$1.c
    if [[ ! -f $src ]]; then
        echo "note: $src not found: that anchor is skipped" >&2
        return 1
    fi
    # shellcheck disable=SC2046
    cc -std=c11 -O2 $(pkg-config --cflags p11-kit-1 libcrypto tss2-esys tss2-tctildr) \
        -o "$T0/$1" "$src" "${@:2}"
}

field() { # KEY LINE
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

median() { # samples...
    printf '%s\n' "$@" | sort -n | awk 'NF {v[++n]=$1} END {print (n ? v[int((n+1)/2)] : "-")}'
}

add() { # ROW COLUMN VALUE
    [[ -n $3 ]] && R["$1|$2"]="${R["$1|$2"]:-} $3"
    return 0
}

add_row() {
    local r
    for r in "${rows[@]}"; do
        [[ $r == "$1" ]] && return 0
    done
    rows+=("$1")
}

# One pass of p11bench for ROW: ECDSA and RSA-PKCS, 1 and 2 threads.
p11_pass() { # ROW MODULE EC_LABEL RSA_LABEL [p11bench args...]
    local row=$1 mod=$2 ec=$3 rsa=$4 line m t label
    shift 4
    add_row "$row"
    for m in ecdsa rsa-pkcs; do
        label=$ec
        [[ $m == rsa-pkcs ]] && label=$rsa
        for t in 1 2; do
            line=$("$T0/p11bench" -m "$mod" "$@" -l "$label" -M "$m" -g -n "$ops" -t "$t" \
                -q "$row" 2>"$T0/p11bench.err" | grep '^RESULT') || {
                echo "$row $m t=$t failed: $(tail -n 3 "$T0/p11bench.err")" >&2
                continue
            }
            add "$row" "$m-$t" "$(field ops_s "$line")"
        done
    done
}

p11_cold() { # ROW MODULE LABEL [p11bench args...]
    local row=$1 mod=$2 label=$3 line
    shift 3
    for _ in $(seq 1 "$cold_runs"); do
        line=$("$T0/p11bench" -m "$mod" "$@" -l "$label" -M ecdsa -c 2>/dev/null |
            grep '^RESULT_COLD') || continue
        add "$row" cold "$(field total_ms "$line")"
    done
}

layer_pass() {
    local k line m
    add_row "$LAYER"
    for k in p256 rsa2048; do
        line=$("$tpm_bench" --tcti "$RAW_TCTI" --seconds 1 --type "$k" 2>/dev/null |
            grep '^RESULT') || continue
        m=ecdsa
        [[ $k == rsa2048 ]] && m=rsa-pkcs
        add "$LAYER" "$m-1" "$(field ops_s "$line")"
    done
}

raw_pass() {
    local a line m
    add_row "$RAW"
    for a in ecc rsa; do
        line=$("$T0/esysbench" -T "$RAW_TCTI" -a "$a" -k child -s pw -o sign -n "$ops" \
            2>/dev/null | grep '^RESULT') || continue
        m=ecdsa
        [[ $a == rsa ]] && m=rsa-pkcs
        add "$RAW" "$m-1" "$(field ops_s "$line")"
    done
}

have_p11bench=0
build_tool p11bench $(pkg-config --libs libcrypto) -ldl -lpthread && have_p11bench=1
have_esys=0
build_tool esysbench $(pkg-config --libs tss2-esys tss2-tctildr tss2-rc) && have_esys=1

# 1. agentd + our module on swtpm "a", the raw layer on swtpm "b", interleaved.
have_ours=0
if [[ -x $AGENTD_BIN && -f $P11_MODULE && $have_p11bench == 1 ]]; then
    swtpm_in a
    agentd_write_conf <<EOW
{ name = "bench"; spiffe_id = "spiffe://bench/p11"; selectors = { uid = $(id -u); };
  keys = ( { name = "ec"; type = "ec-p256"; mechanisms = [ "ECDSA", "ECDSA_SHA256" ]; },
           { name = "rsa"; type = "rsa-2048"; mechanisms = [ "RSA_PKCS", "SHA256_RSA_PKCS" ]; } ); }
EOW
    agentd_start
    have_ours=1
else
    echo "note: agentd ($AGENTD_BIN), the module or p11bench missing: our row skipped" >&2
fi
tpm_bench=$(find "$build" -name tpm_bench -type f -perm -u+x 2>/dev/null | head -n1)
[[ -n $tpm_bench ]] ||
    echo "note: tpm_bench (area tpm) not built in $build (target tpm_bench): row skipped" >&2
if [[ $have_esys == 1 || -n $tpm_bench ]]; then
    swtpm_in b
    RAW_TCTI=$SWTPM_TCTI
fi
for r in $(seq 1 "$rounds"); do
    echo "round $r/$rounds" >&2
    if [[ $have_ours == 1 ]]; then
        AGENTD_SOCKET=$AGENTD_SOCK p11_pass "$OURS" "$P11_MODULE" ec rsa
    fi
    if [[ -n $tpm_bench ]]; then
        layer_pass
    fi
    if [[ $have_esys == 1 ]]; then
        raw_pass
    fi
done
if [[ $have_ours == 1 ]]; then
    AGENTD_SOCKET=$AGENTD_SOCK p11_cold "$OURS" "$P11_MODULE" ec
    agentd_stop
fi

# 2. tpm2-pkcs11 on its own fresh swtpm "c".
if [[ -f $TPM2_PKCS11 && $have_p11bench == 1 ]]; then
    swtpm_in c
    export TPM2_PKCS11_STORE=$T/tpm2-pkcs11 TPM2_PKCS11_TCTI=$SWTPM_TCTI TPM2TOOLS_TCTI=$SWTPM_TCTI
    mkdir -p "$TPM2_PKCS11_STORE"
    if command -v tpm2_ptool >/dev/null; then
        ok() { tpm2_ptool init >/dev/null &&
            tpm2_ptool addtoken --pid=1 --label=bench --sopin=1234 --userpin=1234 >/dev/null; }
    else
        echo "note: tpm2_ptool not installed: token made with C_InitToken/C_InitPIN" >&2
        ok() {
            pkcs11-tool --module "$TPM2_PKCS11" --init-token --label bench --so-pin 1234 &&
                pkcs11-tool --module "$TPM2_PKCS11" --token-label bench --login \
                    --login-type so --so-pin 1234 --init-pin --pin 1234
        } >/dev/null 2>&1
    fi
    if ok; then
        for _ in $(seq 1 "$rounds"); do
            p11_pass "tpm2-pkcs11" "$TPM2_PKCS11" bench-ec bench-rsa -T bench -p 1234
        done
        p11_cold "tpm2-pkcs11" "$TPM2_PKCS11" bench-ec -T bench -p 1234
    else
        echo "note: tpm2-pkcs11 token set-up failed: row skipped" >&2
    fi
else
    echo "note: tpm2-pkcs11 ($TPM2_PKCS11) not installed: row skipped" >&2
fi

# 3. SoftHSM2 (software keys) in a private configuration.
if [[ -f $SOFTHSM && $have_p11bench == 1 ]] && command -v softhsm2-util >/dev/null; then
    mkdir -p "$T0/softhsm/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T0/softhsm/tokens" \
        >"$T0/softhsm/softhsm2.conf"
    export SOFTHSM2_CONF=$T0/softhsm/softhsm2.conf
    softhsm2-util --init-token --free --label bench --so-pin 1234 --pin 1234 >/dev/null
    for _ in $(seq 1 "$rounds"); do
        p11_pass "SoftHSM2" "$SOFTHSM" bench-ec bench-rsa -T bench -p 1234
    done
    p11_cold "SoftHSM2" "$SOFTHSM" bench-ec -T bench -p 1234
else
    echo "note: SoftHSM2 not installed: row skipped" >&2
fi

echo
echo "signatures/s, median of $rounds rounds x $ops per thread; cold start (ms) = dlopen ->"
echo "first signature, median of $cold_runs; $(nproc) CPUs"
printf '%-36s %10s %10s %10s %10s %9s\n' "path" "ECDSA 1t" "ECDSA 2t" "RSA 1t" "RSA 2t" "cold ms"
for row in "${rows[@]}"; do
    # shellcheck disable=SC2086
    printf '%-36s %10s %10s %10s %10s %9s\n' "$row" "$(median ${R[$row|ecdsa-1]:-})" \
        "$(median ${R[$row|ecdsa-2]:-})" "$(median ${R[$row|rsa-pkcs-1]:-})" \
        "$(median ${R[$row|rsa-pkcs-2]:-})" "$(median ${R[$row|cold]:-})"
done
echo
for base in "$LAYER" "$RAW"; do
    for m in ecdsa rsa-pkcs; do
        # shellcheck disable=SC2086
        ours=$(median ${R["$OURS|$m-1"]:-}) raw=$(median ${R["$base|$m-1"]:-})
        [[ $ours != - && $raw != - ]] || continue
        awk -v o="$ours" -v r="$raw" -v m="$m" -v b="$base" 'BEGIN {
            printf "agentd module / %s, %s, 1 thread: %.0f%% (target >= 90%%)\n", b, m, 100 * o / r }'
    done
done
