#!/usr/bin/env bash
# Every request type end to end on swtpm: sign with each mechanism family
# (checked locally), VERIFY (good and tampered), DIGEST, RANDOM,
# GENERATE/DESTROY, mechanism and PSS-parameter refusals, a non-owner's
# refusal, admin replies for root and their refusal for others.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"

harness_init
swtpm_start --no-ek
daemon_default_conf
agentd_start

# One signature: far fewer records than the count that starts a head write
# (AUDIT_HEAD_START), yet the head names the newest within about a second
# (audit.h: AUDIT_HEAD_AGE_NS), not at the next 48th record or at shutdown.
dc sign ec ECDSA_SHA256 1 >/dev/null || die "first sign"
last=$(tail -n 1 "$AGENTD_AUDIT" | sed -n 's/^{"seq":\([0-9]*\),.*/\1/p')
[[ -n $last ]] || die "no record in $AGENTD_AUDIT"
head_seq() { grep -ao '"seq":[0-9]*' "$AGENTD_AUDIT.head" 2>/dev/null | cut -d: -f2 | sort -n | tail -n 1; }
for _ in $(seq 1 60); do
    [[ $(head_seq) -ge $last ]] 2>/dev/null && break
    sleep 0.05
done
[[ $(head_seq) -ge $last ]] 2>/dev/null || die "audit head at '$(head_seq)' 3 s after record $last"
echo "ok: the head names record $last without waiting for more"

for m in "ec ECDSA" "ec ECDSA_SHA256" "ec ECDSA_SHA384" "rsa RSA_PKCS" "rsa SHA256_RSA_PKCS" \
    "rsa RSA_PKCS_PSS" "rsa SHA256_RSA_PKCS_PSS"; do
    # shellcheck disable=SC2086
    dc sign $m 3 >/dev/null || die "sign $m"
    # shellcheck disable=SC2086
    out=$(dc verify $m) || die "verify $m: $out"
    echo "ok: $m ($out)"
done

# A mechanism the key's config does not allow, and one for the wrong key type.
out=$(dc sign ec ECDSA_SHA512 1 2>&1) && die "ECDSA_SHA512 not configured but signed"
[[ $out == *"status 5"* ]] || die "want MECHANISM_INVALID, got: $out"
out=$(dc sign ec SHA256_RSA_PKCS 1 2>&1) && die "RSA mechanism on an EC key signed"
# An unknown key.
out=$(dc sign nosuch ECDSA_SHA256 1 2>&1) && die "unknown key signed"

# Input rules of the raw mechanisms and PSS parameters.
di="3031300d060960864801650304020105000420$(printf '11%.0s' $(seq 1 32))"
out=$(dc sign-data rsa RSA_PKCS "$di") || die "sign-data"
[[ $out == "ok len=256" ]] || die "RSA_PKCS with a SHA-256 DigestInfo: $out"
out=$(dc sign-data rsa RSA_PKCS "00112233445566778899") || die "sign-data"
[[ $out == "status=6"* ]] || die "RSA_PKCS without a DigestInfo: want DATA_LEN_RANGE, got $out"
out=$(dc sign-data rsa RSA_PKCS_PSS "$(printf '22%.0s' $(seq 1 32))" 20) || die "sign-data"
[[ $out == "status=15"* ]] || die "PSS with salt 20: want MECHANISM_PARAM, got $out"
out=$(dc sign-data rsa RSA_PKCS_PSS "$(printf '22%.0s' $(seq 1 31))" 32) || die "sign-data"
[[ $out == "status=6"* ]] || die "PSS with a 31-byte digest: want DATA_LEN_RANGE, got $out"
out=$(dc sign-data ec ECDSA "$(printf '33%.0s' $(seq 1 40))") || die "sign-data"
[[ $out == "status=6"* ]] || die "ECDSA with a 40-byte digest: want DATA_LEN_RANGE, got $out"
out=$(dc sign-data ec ECDSA "$(printf '33%.0s' $(seq 1 20))") || die "sign-data"
[[ $out == "ok len=64" ]] || die "ECDSA with a 20-byte digest: $out"
echo "ok: raw mechanism input rules"

for h in SHA256 SHA384 SHA512; do
    dc digest "$h" >/dev/null || die "digest $h"
done
out=$(dc digest SHA1) && die "SHA1 digest offered: $out"
dc random 32 >/dev/null || die "random"
dc random 4096 >/dev/null || die "random 4096"
out=$(dc random 5000) && die "random over RANDOM_MAX: $out"
echo "ok: digest, random"

out=$(dc generate g1 ec 256) || die "generate: $out"
dc sign g1 ECDSA_SHA256 2 >/dev/null || die "sign with generated key"
out=$(dc generate g1 ec 256) && die "duplicate generate succeeded: $out"
[[ $out == "status=12"* ]] || die "duplicate generate: want EXISTS, got $out"
dc list | grep -q "g1:ec:256" || die "generated key not listed"
out=$(dc destroy ec) && die "configured key destroyed: $out"
dc destroy g1 >/dev/null || die "destroy generated key"
dc list | grep -q "g1:" && die "destroyed key still listed"
[[ ! -e $AGENTD_STATE/keys/w1/g1.tss2 ]] || die "destroyed key file left behind"
echo "ok: generate / destroy"

# Admin as root.
dc admin status | grep -q '"connections"' || die "admin status"
dc admin workloads | grep -q '"name":"w1"' || die "admin workloads"
dc admin keys | grep -q '"name":"rsa"' || die "admin keys"
n=$(dc admin tail 5 | wc -l)
((n == 5)) || die "admin tail gave $n lines"
echo "ok: admin"

# Another uid: no entry matches it, and admin is refused.
if command -v setpriv >/dev/null && [[ $(id -u) == 0 ]]; then
    nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$DAEMON_CLIENT" "$AGENTD_SOCK" "$@"; }
    out=$(nobody sign ec ECDSA_SHA256 1 2>&1) && die "nobody signed with w1's key"
    [[ $out == *"cannot connect or find key"* ]] || die "nobody: $out"
    out=$(nobody admin status) && die "nobody used admin: $out"
    [[ $out == "status=3"* ]] || die "nobody admin: want DENIED, got $out"
    grep -q '"uid":65534.*"reason":"admin_only"' "$AGENTD_AUDIT" || die "admin denial not audited"
    grep -q '"uid":65534.*"reason":"no_entry"' "$AGENTD_AUDIT" || die "no_entry denial not audited"
    echo "ok: other uid refused"
fi

agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
audit_verify_ok
echo PASS
