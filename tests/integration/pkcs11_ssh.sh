#!/usr/bin/env bash
# ssh-keygen -D lists the module's keys in OpenSSH form, and they are the
# keys the module exports (compared with ssh-keygen -i on the SPKI).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/pkcs11_common.sh"

pkcs11_start
out=$(ssh-keygen -D "$P11_MODULE" 2>&1) || die "ssh-keygen -D: $out"
grep -q "^ecdsa-sha2-nistp256 " <<<"$out" || die "no ECDSA key in: $out"
grep -q "^ssh-rsa " <<<"$out" || die "no RSA key in: $out"

for key in ec rsa; do
    pkcs11_pubkey_pem "$key" "$T/$key.pem"
    want=$(ssh-keygen -i -m PKCS8 -f "$T/$key.pem" | awk '{print $2}')
    grep -qF "$want" <<<"$out" || die "ssh-keygen -D does not show key $key"
done

pkcs11_stop
echo PASS
