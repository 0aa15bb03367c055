#!/usr/bin/env bash
# Lint: clang-format (no diff allowed) and cppcheck on our C sources.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
mapfile -t files < <(git ls-files '*.c' '*.h')
((${#files[@]})) || exit 0
echo "lint: clang-format on ${#files[@]} files"
clang-format --dry-run --Werror "${files[@]}"
echo "lint: cppcheck"
cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
    --std=c11 --inline-suppr --suppress=missingIncludeSystem \
    -I proto -I conf -I agentd -I pkcs11 -I attest "${files[@]}"
echo "lint: ok"
