#!/usr/bin/env bash
# Sign throughput through agentd on swtpm (figures, not a test; not in ctest).
#   AGENTD_BIN=build/x/agentd/agentd DAEMON_CLIENT=build/x/tests/daemon_client \
#       tests/integration/daemon_bench.sh [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"
secs=${1:-5}
harness_init
swtpm_start --no-ek
AGENTD_MAX_INFLIGHT=32
daemon_default_conf
agentd_start
dc sign ec ECDSA_SHA256 1 >/dev/null
dc sign rsa SHA256_RSA_PKCS 1 >/dev/null
for mech in "ec ECDSA_SHA256" "rsa SHA256_RSA_PKCS"; do
    for shape in "1 1" "1 8" "8 4" "64 4"; do
        set -- $shape
        echo "$mech: $(dc stress $mech "$secs" "$1" "$2")"
    done
done
agentd_stop
