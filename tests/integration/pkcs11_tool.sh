#!/usr/bin/env bash
# OpenSC pkcs11-tool against the module: list objects, sign with ECDSA,
# RSA-PKCS and RSA-PKCS-PSS (each verified by openssl with the public key read
# through the module), its --test suite, its fork test (the child calls
# C_Initialize again) and its thread test.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/pkcs11_common.sh"

p11() { pkcs11-tool --module "$P11_MODULE" "$@"; }

pkcs11_start

# --list-objects: both keys as private + public objects, token label from HELLO.
objs=$(p11 --list-objects 2>&1)
grep -q "Private Key Object; EC" <<<"$objs" || die "no EC private key: $objs"
grep -q "Private Key Object; RSA" <<<"$objs" || die "no RSA private key: $objs"
grep -q "Public Key Object; EC" <<<"$objs" || die "no EC public key: $objs"
grep -q "sensitive, always sensitive, never extractable" <<<"$objs" || die "key attributes: $objs"
p11 --list-token-slots 2>&1 | grep -q "token flags *: rng, token initialized" || die "token flags"

head -c 1000 /dev/urandom >"$T/data"
pkcs11_pubkey_pem ec "$T/ec.pem"
pkcs11_pubkey_pem rsa "$T/rsa.pem"

# ECDSA over a SHA-256 digest (raw CKM_ECDSA) and ECDSA-SHA256 (daemon hashes).
p11 --sign --id "$P11_ID_EC" -m ECDSA-SHA256 --signature-format openssl \
    -i "$T/data" -o "$T/ec.sig" || die "ECDSA-SHA256 sign"
openssl dgst -sha256 -verify "$T/ec.pem" -signature "$T/ec.sig" "$T/data" || die "ECDSA-SHA256 verify"
openssl dgst -sha256 -binary "$T/data" >"$T/data.sha256"
p11 --sign --id "$P11_ID_EC" -m ECDSA --signature-format openssl \
    -i "$T/data.sha256" -o "$T/ec-raw.sig" || die "ECDSA sign"
openssl pkeyutl -verify -pubin -inkey "$T/ec.pem" -in "$T/data.sha256" \
    -sigfile "$T/ec-raw.sig" || die "ECDSA verify"

# Raw RSA-PKCS over a SHA-256 DigestInfo (what TLS and the OpenSSL engine send;
# pkcs11-tool pads whatever it is given), and PSS.
{
    printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'
    cat "$T/data.sha256"
} >"$T/data.di"
p11 --sign --id "$P11_ID_RSA" -m RSA-PKCS -i "$T/data.di" -o "$T/rsa.sig" || die "RSA-PKCS sign"
openssl pkeyutl -verify -pubin -inkey "$T/rsa.pem" -pkeyopt rsa_padding_mode:pkcs1 \
    -in "$T/data.di" -sigfile "$T/rsa.sig" || die "RSA-PKCS verify"
openssl dgst -sha256 -verify "$T/rsa.pem" -signature "$T/rsa.sig" "$T/data" ||
    die "RSA-PKCS signature is not a SHA-256 PKCS#1 signature of the data"
p11 --sign --id "$P11_ID_RSA" -m SHA256-RSA-PKCS -i "$T/data" -o "$T/rsa256.sig" ||
    die "SHA256-RSA-PKCS sign"
openssl dgst -sha256 -verify "$T/rsa.pem" -signature "$T/rsa256.sig" "$T/data" ||
    die "SHA256-RSA-PKCS verify"
p11 --sign --id "$P11_ID_RSA" -m SHA256-RSA-PKCS-PSS -i "$T/data" -o "$T/pss.sig" ||
    die "SHA256-RSA-PKCS-PSS sign"
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 \
    -verify "$T/rsa.pem" -signature "$T/pss.sig" "$T/data" || die "PSS verify"
p11 --sign --id "$P11_ID_RSA" -m RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 \
    -i "$T/data.sha256" -o "$T/pss-raw.sig" || die "RSA-PKCS-PSS sign"
openssl pkeyutl -verify -pubin -inkey "$T/rsa.pem" -pkeyopt rsa_padding_mode:pss \
    -pkeyopt digest:sha256 -pkeyopt rsa_pss_saltlen:-1 -in "$T/data.sha256" \
    -sigfile "$T/pss-raw.sig" || die "RSA-PKCS-PSS verify"

# A wrong signature must not verify (the checks above can fail).
flip_byte "$T/pss.sig" 10
if openssl dgst -sha256 -sigopt rsa_padding_mode:pss -verify "$T/rsa.pem" \
    -signature "$T/pss.sig" "$T/data" >/dev/null 2>&1; then
    die "a corrupted signature verified"
fi

out=$(p11 --test 2>&1) || die "pkcs11-tool --test failed: $out"
grep -q "No errors" <<<"$out" || die "pkcs11-tool --test: $out"

# Fork: the child's C_Initialize must succeed and the child must work.
out=$(timeout 120 "${P11_ENV[@]}" pkcs11-tool --module "$P11_MODULE" --test-fork 2>&1) ||
    die "--test-fork failed: $out"

# Threads: several threads initialising and listing at once.
out=$(timeout 120 "${P11_ENV[@]}" pkcs11-tool --module "$P11_MODULE" --test-threads IN \
    --test-threads ILGISLT0 --test-threads ILGISLT0 -L 2>&1) || die "--test-threads: $out"

# Clients that initialize, ask nothing of the daemon and exit (C_Initialize,
# C_Finalize, through ctypes) while agentd is stopped, so it meets them only
# after they are gone: the module does not wait for HELLO's answer, so this is
# what a quick probe looks like. agentd drops those connections without a
# warning (nothing was asked, nobody is left to answer) and goes on.
quick_client='import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
fl = ctypes.c_void_p()
assert lib.C_GetFunctionList(ctypes.byref(fl)) == 0
fn = ctypes.cast(fl, ctypes.POINTER(ctypes.c_void_p))  # [0] version, [1] C_Initialize, [2] C_Finalize
call = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)
rv = call(fn[1])(None), call(fn[2])(None)
sys.exit(0 if rv == (0, 0) else "C_Initialize, C_Finalize: %r" % (rv,))'
lines=$(wc -l <"$T/agentd.log")
kill -STOP "$AGENTD_PID"
for _ in 1 2 3; do
    if ! out=$(timeout 20 "${P11_ENV[@]}" python3 -c "$quick_client" "$P11_MODULE" 2>&1); then
        kill -CONT "$AGENTD_PID"
        die "C_Initialize + C_Finalize with agentd stopped: $out"
    fi
done
kill -CONT "$AGENTD_PID"
out=$(p11 --list-objects --type privkey 2>&1) || die "agentd after the quick clients: $out"
grep -q "label: *ec" <<<"$out" || die "agentd after the quick clients: no key listed: $out"
if tail -n +"$((lines + 1))" "$T/agentd.log" | grep -E "cannot identify|dropped"; then
    die "clients gone before identification were logged as warnings"
fi

pkcs11_stop
echo PASS
