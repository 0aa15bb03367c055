#!/usr/bin/env bash
# The TPM layer benchmark runs, plain, behind its one-process relay
# (--relay, the ceiling bench/p11_bench.sh prints for the module) and idling
# before each signature (--idle, the floor under the module's cold start):
# each prints a RESULT line with signatures counted, and a TPM that cannot be
# reached is an error, not a figure. Speed is not judged here (bench/).
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
: "${TPM_BENCH:?}"
harness_init
swtpm_start --no-ek

for relay in "" --relay "--idle 20"; do
    # shellcheck disable=SC2086
    out=$("$TPM_BENCH" --tcti "$SWTPM_TCTI" --seconds 0.3 --type p256 $relay) ||
        die "tpm_bench $relay failed: $out"
    line=$(grep '^RESULT' <<<"$out") || die "tpm_bench $relay printed no RESULT: $out"
    case $relay in
    "") tool=tpm_bench ;;
    --relay) tool=tpm_bench_relay ;;
    *) tool=tpm_bench_idle ;;
    esac
    grep -q "tool=$tool " <<<"$line" || die "tpm_bench $relay: not $tool: $line"
    ops=$(sed -n 's/.* ops=\([0-9]*\) .*/\1/p' <<<"$line")
    [[ $ops -gt 0 ]] || die "tpm_bench $relay signed nothing: $line"
    [[ $(grep -c '^RESULT' <<<"$out") == 1 ]] || die "tpm_bench $relay: RESULT printed twice"
    echo "ok: tpm_bench ${relay:-plain}: $ops signatures"
done

# A socket path nobody listens on (a port could be bound by another test meanwhile).
if out=$("$TPM_BENCH" --tcti "swtpm:path=$T/no-such-tpm" --seconds 0.3 --type p256 \
    --relay 2>&1); then
    die "tpm_bench against nothing succeeded: $out"
fi
echo "ok: no TPM is an error"
if out=$("$TPM_BENCH" --tcti "$SWTPM_TCTI" --seconds 0.3 --relay --idle 5 2>&1); then
    die "tpm_bench --relay --idle was accepted: $out"
fi
echo "ok: --relay with --idle is refused"
# Option values that are not whole numbers in range are refused, not read as 0.
for bad in "--idle five" "--idle 5ms" "--idle 10001" "--keys 0" "--keys 2.5" "--seconds x" \
    "--seconds 0"; do
    # shellcheck disable=SC2086 # word splitting wanted: option and value
    if out=$("$TPM_BENCH" --tcti "$SWTPM_TCTI" --type p256 $bad 2>&1); then
        die "tpm_bench $bad was accepted: $out"
    fi
    grep -q "^tpm_bench: --" <<<"$out" || die "tpm_bench $bad: no usage line: $out"
done
echo "ok: bad option values are refused"
