#!/usr/bin/env bash
# Runs the cmocka API test (tests/unit/test_pkcs11_api.c) against swtpm +
# agentd: bad handles, session states, length queries, operation state,
# C_Finalize with open sessions, fork, 16 signing threads.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/pkcs11_common.sh"
: "${P11_API_TEST:?P11_API_TEST not set}"

# A short idle timeout: the test checks that a connection agentd closed is replaced.
export AGENTD_IDLE_MS=1000 P11_TEST_IDLE_MS=1000
pkcs11_start
"$P11_API_TEST" || {
    [[ -n ${P11_TEST_SOCKET:-} ]] || agentd_log
    die "test_pkcs11_api failed"
}
pkcs11_stop
echo PASS
