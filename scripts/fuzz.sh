#!/usr/bin/env bash
# Run every libFuzzer target built in build/fuzz for a bounded time each,
# starting from its checked-in corpus (never writing into it).
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${1:-20}
bad=0
shopt -s nullglob
for corpus in "$top"/tests/fuzz/corpus/*/; do
    name=$(basename "$corpus")
    bin=$top/build/fuzz/tests/fuzz_$name
    [[ -x $bin ]] || { echo "fuzz: missing binary for corpus $name" >&2; bad=1; continue; }
    work=$(mktemp -d)
    echo "fuzz: $name for ${secs}s"
    if ! "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 \
        "$work" "$corpus" >"$work.log" 2>&1; then
        tail -40 "$work.log" >&2
        bad=1
    fi
    rm -rf "$work" "$work.log"
done
exit $bad
