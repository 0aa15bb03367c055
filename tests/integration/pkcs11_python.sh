#!/usr/bin/env bash
# A Python client through the module: PyKCS11 (Debian python3-pykcs11) finds
# the keys by label and CKA_ID, signs with ECDSA, RSA PKCS#1 and PSS (hashed
# by agentd and raw), with and without C_Login, and python3-cryptography
# verifies each signature against the token's public key (p11_python.py).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/pkcs11_common.sh"

# Debian's interpreter, where python3-pykcs11 is installed (not a python3
# from PATH that a user may have put first).
py=/usr/bin/python3
"$py" -c "import PyKCS11, cryptography" 2>/dev/null ||
    die "$py lacks PyKCS11 or cryptography (Debian packages python3-pykcs11 python3-cryptography)"

pkcs11_start

out=$("${P11_ENV[@]}" "$py" "$here/p11_python.py" "$P11_MODULE" 2>&1) || die "p11_python.py: $out"
echo "$out"
[[ $(tail -n 1 <<<"$out") == OK ]] || die "p11_python.py did not finish: $out"

pkcs11_stop
echo PASS
