#!/usr/bin/env bash
# MakeCredential done by agentd_attest (software) must be accepted by a real
# TPM's ActivateCredential (swtpm via tpm2-tools), for RSA-2048, ECC P-256 and
# ECC P-384 EKs; a credential made for another AK, or to another TPM's EK,
# must fail to activate.
#   enroll_makecred.sh HARNESS_DIR AGENTD_ATTEST
set -euo pipefail
# shellcheck source=../harness/lib.sh
. "$1/lib.sh"
A=$2
harness_init
swtpm_start
export TPM2TOOLS_TCTI=$SWTPM_TCTI
cd "$T"
head -c 32 /dev/urandom >secret.bin

activate() { # ek.ctx ak.ctx cred out [password]
    local rc=0 auth=()
    if [[ ${5:-} != password ]]; then
        tpm2_startauthsession --policy-session -S session.ctx >/dev/null
        tpm2_policysecret -S session.ctx -c e >/dev/null
        auth=(-P session:session.ctx)
    fi
    tpm2_activatecredential -c "$2" -C "$1" -i "$3" -o "$4" "${auth[@]}" \
        >/dev/null 2>act.err || rc=$?
    [[ ${5:-} == password ]] || tpm2_flushcontext session.ctx >/dev/null
    tpm2_flushcontext -t >/dev/null 2>&1 || true
    return "$rc"
}

for alg in rsa2048 ecc256 ecc384; do
    tpm2_createek -c ek_$alg.ctx -G $alg -u ek_$alg.pub >/dev/null ||
        die "$alg: tpm2_createek"
    tpm2_createak -C ek_$alg.ctx -c ak_$alg.ctx -G ecc -g sha256 -s ecdsa \
        -u ak_$alg.pub -n ak_$alg.name >/dev/null || die "$alg: tpm2_createak"
    tpm2_flushcontext -t >/dev/null
    # tpm2_createek's P-384 EK has a SHA-384 nameAlg, a PolicyOR-style policy
    # and userWithAuth: authorize it with its (empty) password instead.
    how=policy
    [[ $alg == ecc384 ]] && how=password
    "$A" makecred ek_$alg.pub ak_$alg.name secret.bin cred_$alg.bin || die "$alg: makecred"
    activate ek_$alg.ctx ak_$alg.ctx cred_$alg.bin out_$alg.bin $how ||
        die "$alg: ActivateCredential refused our credential: $(cat act.err)"
    cmp -s secret.bin out_$alg.bin || die "$alg: activated secret differs"
    echo "ok: $alg EK: ActivateCredential recovered the secret"
done

# A credential bound to another object's name must not activate with this AK.
"$A" makecred ek_rsa2048.pub ak_ecc256.name secret.bin cred_wrong.bin
if activate ek_rsa2048.ctx ak_rsa2048.ctx cred_wrong.bin out_wrong.bin; then
    die "credential for another AK name activated"
fi
echo "ok: credential for another AK name refused by the TPM"

# A credential to another TPM's EK (a second swtpm) must not activate here.
T1=$T
T=$T/other
mkdir -p "$T"
swtpm_start
TPM2TOOLS_TCTI=$SWTPM_TCTI tpm2_createek -c "$T1/ek_other.ctx" -G rsa -u "$T1/ek_other.pub" \
    >/dev/null
T=$T1
"$A" makecred ek_other.pub ak_rsa2048.name secret.bin cred_other.bin
if activate ek_rsa2048.ctx ak_rsa2048.ctx cred_other.bin out_other.bin; then
    die "credential to another TPM's EK activated"
fi
echo "ok: credential to another TPM's EK refused"
echo PASS
