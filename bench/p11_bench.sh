#!/usr/bin/env bash
# PKCS#11 signing benchmark, side by side in one run (area "pkcs11"):
#   agentd's module (ECDSA P-256, RSA-2048; 1 and 2 threads; cold start),
#   the raw TPM layer (tpm_bench from "tpm" when built, and esysbench with a
#   loaded key and a password session), tpm2-pkcs11 on its own fresh swtpm,
#   SoftHSM2 in a temporary SOFTHSM2_CONF.
# The anchor tools are built from /work/shared/tools when present (nothing is
# copied into the repository); a missing one is skipped with a message.
#
# usage: bench/p11_bench.sh [BUILD_DIR]      (default: build/pkcs11)
#   P11_BENCH_OPS (default 300) timed signatures per thread; P11_BENCH_COLD (7) cold runs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build/pkcs11}" && pwd)
tools=${P11_BENCH_TOOLS:-/work/shared/tools}
ops=${P11_BENCH_OPS:-300}
cold_runs=${P11_BENCH_COLD:-7}
source "$root/tests/harness/lib.sh"
source "$root/tests/integration/lib_agentd.sh"

P11_MODULE=$build/pkcs11/libagentd-pkcs11.so
AGENTD_BIN=${AGENTD_BIN:-$build/agentd/agentd}
TPM2_PKCS11=${TPM2_PKCS11:-/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so}
SOFTHSM=${SOFTHSM:-/usr/lib/softhsm/libsofthsm2.so}
declare -A R # "row|column" -> figure
rows=()

harness_init

build_tool() { # NAME LIBS...
    local src=$tools/$1.c
    if [[ ! -f $src ]]; then
        echo "note: $src not found: that anchor is skipped" >&2
        return 1
    fi
    cc -std=c11 -O2 $(pkg-config --cflags p11-kit-1 libcrypto tss2-esys tss2-tctildr) \
        -o "$T/$1" "$src" "${@:2}"
}

field() { # KEY LINE
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

median() {
    sort -n | awk '{v[NR]=$1} END {print (NR ? v[int((NR+1)/2)] : "-")}'
}

# p11bench ROW MODULE [p11bench args...]: fills ecdsa/rsa x 1/2 threads and cold.
p11_row() {
    local row=$1 mod=$2 line m t c
    shift 2
    rows+=("$row")
    for m in ecdsa rsa-pkcs; do
        local label=bench-ec
        [[ $m == rsa-pkcs ]] && label=bench-rsa
        [[ $row == agentd* ]] && { [[ $m == ecdsa ]] && label=ec || label=rsa; }
        for t in 1 2; do
            line=$("$T/p11bench" -m "$mod" "$@" -l "$label" -M "$m" -g -n "$ops" -t "$t" \
                -q "$row" 2>"$T/p11bench.err" | grep '^RESULT') || {
                echo "$row $m t=$t failed: $(tail -n 3 "$T/p11bench.err")" >&2
                continue
            }
            R["$row|$m-$t"]=$(field ops_s "$line")
        done
    done
    for c in $(seq 1 "$cold_runs"); do
        line=$("$T/p11bench" -m "$mod" "$@" -l "$([[ $row == agentd* ]] && echo ec || echo bench-ec)" \
            -M ecdsa -c 2>/dev/null | grep '^RESULT_COLD') || continue
        field total_ms "$line"
    done | median >"$T/cold"
    R["$row|cold"]=$(cat "$T/cold")
}

have_p11bench=0
build_tool p11bench $(pkg-config --libs libcrypto) -ldl -lpthread && have_p11bench=1
have_esys=0
build_tool esysbench $(pkg-config --libs tss2-esys tss2-tctildr tss2-rc) && have_esys=1

# 1. agentd + our module on one swtpm.
swtpm_start --no-ek
if [[ -x $AGENTD_BIN && -f $P11_MODULE && $have_p11bench == 1 ]]; then
    agentd_write_conf <<EOW
{ name = "bench"; spiffe_id = "spiffe://bench/p11"; selectors = { uid = $(id -u); };
  keys = ( { name = "ec"; type = "ec-p256"; mechanisms = [ "ECDSA", "ECDSA_SHA256" ]; },
           { name = "rsa"; type = "rsa-2048"; mechanisms = [ "RSA_PKCS", "SHA256_RSA_PKCS" ]; } ); }
EOW
    agentd_start
    export AGENTD_SOCKET=$AGENTD_SOCK
    p11_row "agentd module" "$P11_MODULE"
    agentd_stop
    unset AGENTD_SOCKET
else
    echo "note: agentd ($AGENTD_BIN) or the module or p11bench missing: our row skipped" >&2
fi

# 2. The raw TPM layer on the same swtpm (agentd stopped, its keys flushed).
tpm_bench=$(find "$build" -name tpm_bench -type f -perm -u+x 2>/dev/null | head -n1)
if [[ -n $tpm_bench ]]; then
    echo "== tpm_bench ($tpm_bench) =="
    "$tpm_bench" -T "$SWTPM_TCTI" 2>&1 | tail -n 5 || echo "tpm_bench failed" >&2
else
    echo "note: tpm_bench (area tpm) not built in $build: esysbench is the raw anchor" >&2
fi
if [[ $have_esys == 1 ]]; then
    rows+=("raw ESYS (loaded key, pw session)")
    for a in ecc rsa; do
        line=$("$T/esysbench" -T "$SWTPM_TCTI" -a "$a" -k child -s pw -o sign -n "$ops" |
            grep '^RESULT') || continue
        m=ecdsa
        [[ $a == rsa ]] && m=rsa-pkcs
        R["raw ESYS (loaded key, pw session)|$m-1"]=$(field ops_s "$line")
    done
fi

# 3. tpm2-pkcs11 on its own fresh swtpm.
swtpm_stop
rm -rf "$T/swtpm"
swtpm_start --no-ek
if [[ -f $TPM2_PKCS11 && $have_p11bench == 1 ]]; then
    export TPM2_PKCS11_STORE=$T/tpm2-pkcs11 TPM2_PKCS11_TCTI=$SWTPM_TCTI TPM2TOOLS_TCTI=$SWTPM_TCTI
    mkdir -p "$TPM2_PKCS11_STORE"
    if command -v tpm2_ptool >/dev/null; then
        tpm2_ptool init >/dev/null &&
            tpm2_ptool addtoken --pid=1 --label=bench --sopin=1234 --userpin=1234 >/dev/null
    else
        echo "note: tpm2_ptool not installed: token made with C_InitToken/C_InitPIN" >&2
        pkcs11-tool --module "$TPM2_PKCS11" --init-token --label bench --so-pin 1234 >/dev/null &&
            pkcs11-tool --module "$TPM2_PKCS11" --token-label bench --login --login-type so \
                --so-pin 1234 --init-pin --pin 1234 >/dev/null
    fi && p11_row "tpm2-pkcs11" "$TPM2_PKCS11" -T bench -p 1234 ||
        echo "note: tpm2-pkcs11 token set-up failed: row skipped" >&2
else
    echo "note: tpm2-pkcs11 ($TPM2_PKCS11) not installed: row skipped" >&2
fi

# 4. SoftHSM2 (software keys) in a private configuration.
if [[ -f $SOFTHSM && $have_p11bench == 1 ]] && command -v softhsm2-util >/dev/null; then
    mkdir -p "$T/softhsm/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T/softhsm/tokens" \
        >"$T/softhsm/softhsm2.conf"
    export SOFTHSM2_CONF=$T/softhsm/softhsm2.conf
    softhsm2-util --init-token --free --label bench --so-pin 1234 --pin 1234 >/dev/null
    p11_row "SoftHSM2" "$SOFTHSM" -T bench -p 1234
else
    echo "note: SoftHSM2 not installed: row skipped" >&2
fi

printf '\n%-36s %12s %12s %12s %12s %10s\n' "path (ops/s; cold ms)" "ECDSA 1t" "ECDSA 2t" \
    "RSA 1t" "RSA 2t" "cold"
for row in "${rows[@]}"; do
    printf '%-36s %12s %12s %12s %12s %10s\n' "$row" "${R[$row|ecdsa-1]:--}" \
        "${R[$row|ecdsa-2]:--}" "${R[$row|rsa-pkcs-1]:--}" "${R[$row|rsa-pkcs-2]:--}" \
        "${R[$row|cold]:--}"
done
ours=${R["agentd module|ecdsa-1"]:-}
raw=${R["raw ESYS (loaded key, pw session)|ecdsa-1"]:-}
if [[ -n $ours && -n $raw ]]; then
    awk -v o="$ours" -v r="$raw" 'BEGIN {printf "\nagentd module / raw ESYS, ECDSA 1 thread: %.0f%% (target >= 90%%)\n", 100*o/r}'
fi
