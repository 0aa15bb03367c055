#!/usr/bin/env bash
# The many-processes benchmark client (bench/p11_procs) runs against the
# module: 8 processes, each with its own connection and session, set up in
# turn and signing together with the EC and the RSA key; every first
# signature verifies with OpenSSL (p11_procs checks it) and none fails.
# Speed is not judged here (bench/).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/pkcs11_common.sh"
: "${P11_PROCS:?P11_PROCS not set}"

pkcs11_start
for km in "ec ecdsa" "rsa rsa-pkcs"; do
    read -r key mech <<<"$km"
    out=$("$P11_PROCS" -m "$P11_MODULE" -l "$key" -M "$mech" -P 8 -d 0.3 -q smoke 2>&1) ||
        die "p11_procs $mech failed: $out"
    line=$(grep '^RESULT' <<<"$out") || die "p11_procs $mech printed no RESULT: $out"
    grep -q " procs=8 failed=0 " <<<"$line" || die "p11_procs $mech: a process failed: $line"
    ops=$(sed -n 's/.* ops=\([0-9]*\) .*/\1/p' <<<"$line")
    [[ $ops -ge 8 ]] || die "p11_procs $mech signed $ops times: $line"
    echo "ok: $mech, 8 processes, $ops signatures"
done

# A key that is not there: every process fails, and the tool says so.
if out=$("$P11_PROCS" -m "$P11_MODULE" -l no-such-key -M ecdsa -P 2 -d 0.3 2>&1); then
    die "p11_procs with a missing key succeeded: $out"
fi
grep -q "failed=2" <<<"$out" || die "missing key not reported: $out"
echo "ok: a missing key fails every process"

pkcs11_stop
echo PASS
