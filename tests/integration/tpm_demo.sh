#!/usr/bin/env bash
# The README demo: agentd-tpm-demo writes a key, public key, message and DER
# signature that the openssl command line verifies.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
: "${TPM_DEMO:?}"
harness_init
swtpm_start --no-ek
mkdir "$T/d"
"$TPM_DEMO" --tcti "$SWTPM_TCTI" --dir "$T/d" || die "demo failed"
openssl dgst -sha256 -verify "$T/d/pub.pem" -signature "$T/d/sig.der" "$T/d/msg" || die "signature"
# The key file is reusable.
"$TPM_DEMO" --tcti "$SWTPM_TCTI" --dir "$T/d" --key "$T/d/key.tss2.pem" || die "demo --key failed"
openssl dgst -sha256 -verify "$T/d/pub.pem" -signature "$T/d/sig.der" "$T/d/msg" || die "signature 2"
echo "PASS tpm_demo"
