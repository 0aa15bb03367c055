#!/usr/bin/env bash
# Configure and build one flavour of agentd into build/<flavour>.
#   scripts/build.sh [release|sanitize|fuzz]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
flavour=${1:-release}
dir=$top/build/$flavour
jobs=$(nproc)
case $flavour in
release) cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ;;
sanitize) cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DAGENTD_SANITIZE=address,undefined >/dev/null ;;
fuzz) CC=clang cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DAGENTD_FUZZ=ON >/dev/null ;;
*) echo "usage: build.sh [release|sanitize|fuzz]" >&2; exit 2 ;;
esac
target=()
[[ $flavour == fuzz ]] && target=(--target fuzz_targets)
cmake --build "$dir" -j "$jobs" "${target[@]}"
