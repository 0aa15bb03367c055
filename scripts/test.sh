#!/usr/bin/env bash
# Set up and run every agentd test on a fresh Debian 12 machine:
# installs missing packages, builds the release and the ASan+UBSan flavours,
# runs unit, fuzz-replay and swtpm integration tests in both, lints, and gives
# each libFuzzer target a short smoke run. Works from any directory.
#   AGENTD_FUZZ_SECONDS=N   libFuzzer time per target (default 20)
#   AGENTD_TEST_QUICK=1     release build and its tests only
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
"$top/scripts/deps.sh"

jobs=$(nproc)
status=0
run_ctest() {
    local flavour=$1
    echo "== ctest ($flavour)"
    if ! ctest --test-dir "$top/build/$flavour" --output-on-failure -j "$jobs" --timeout 600; then
        status=1
    fi
}

"$top/scripts/build.sh" release
run_ctest release
if [[ ${AGENTD_TEST_QUICK:-0} != 1 ]]; then
    "$top/scripts/build.sh" sanitize
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest sanitize
    echo "== lint"
    "$top/scripts/lint.sh" || status=1
    echo "== fuzz smoke"
    "$top/scripts/build.sh" fuzz
    "$top/scripts/fuzz.sh" "${AGENTD_FUZZ_SECONDS:-20}" || status=1
fi
if [[ $status != 0 ]]; then
    echo "scripts/test.sh: FAILED" >&2
fi
exit $status
