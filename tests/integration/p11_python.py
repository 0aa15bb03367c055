"""A Python PKCS#11 client (PyKCS11, Debian python3-pykcs11) against agentd.

usage: p11_python.py MODULE

Opens the token without logging in and again after C_Login with an
arbitrary PIN, finds each key pair by label and then by CKA_ID, signs with
the mechanisms Python code uses (hashing in agentd, and raw ECDSA, RSA
PKCS#1 and PSS over a digest computed here), and verifies every signature
with python3-cryptography against the public key's CKA_PUBLIC_KEY_INFO: a
signature over other data must not verify. Also: the private keys' values
cannot be read (CKA_SENSITIVE, not CKA_EXTRACTABLE), an unknown mechanism
is CKR_MECHANISM_INVALID, and C_GenerateRandom returns fresh bytes. Prints
one line per check, then OK.
"""

import hashlib
import sys

import PyKCS11
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

DATA = b"agentd python client test"
OTHER = b"agentd python client test!"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def find_one(s, template, what):
    objs = s.findObjects(template)
    if len(objs) != 1:
        fail("%s: %d objects found, want 1" % (what, len(objs)))
    return objs[0]


def key_pair(s, label):
    """The private key labelled label, and its public key found by the private key's CKA_ID."""
    priv = find_one(
        s, [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_LABEL, label)], label
    )
    key_id = bytes(s.getAttributeValue(priv, [PyKCS11.CKA_ID])[0])
    by_id = find_one(
        s, [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_ID, key_id)], label + " by id"
    )
    if by_id.value() != priv.value():
        fail(label + ": finding by CKA_ID gave another object")
    pub = find_one(
        s, [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_ID, key_id)], label + " pub"
    )
    spki = bytes(s.getAttributeValue(pub, [PyKCS11.CKA_PUBLIC_KEY_INFO])[0])
    return priv, serialization.load_der_public_key(spki)


def must_not_verify(verify, what):
    try:
        verify(OTHER)
    except InvalidSignature:
        return
    fail(what + ": a signature over other data verified")


def check_ec(s, priv, pub):
    def der(sig):  # PKCS#11 gives r || s
        half = len(sig) // 2
        return utils.encode_dss_signature(
            int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big")
        )

    sig = bytes(s.sign(priv, DATA, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA_SHA256)))
    if len(sig) != 64:
        fail("ECDSA_SHA256: %d-byte signature, want 64" % len(sig))
    pub.verify(der(sig), DATA, ec.ECDSA(hashes.SHA256()))
    must_not_verify(lambda d: pub.verify(der(sig), d, ec.ECDSA(hashes.SHA256())), "ECDSA_SHA256")
    print("ok: ECDSA_SHA256 (hashed by agentd) verifies")

    digest = hashlib.sha256(DATA).digest()
    sig = bytes(s.sign(priv, digest, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA)))
    pub.verify(der(sig), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    print("ok: raw ECDSA over a SHA-256 digest verifies")


def check_rsa(s, priv, pub):
    sig = bytes(s.sign(priv, DATA, PyKCS11.Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS)))
    pub.verify(sig, DATA, padding.PKCS1v15(), hashes.SHA256())
    must_not_verify(
        lambda d: pub.verify(sig, d, padding.PKCS1v15(), hashes.SHA256()), "SHA256_RSA_PKCS"
    )
    print("ok: SHA256_RSA_PKCS verifies")

    # CKM_RSA_PKCS signs a DigestInfo the caller built, as TLS libraries do.
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(
        DATA
    ).digest()
    sig = bytes(s.sign(priv, digest_info, PyKCS11.Mechanism(PyKCS11.CKM_RSA_PKCS)))
    pub.verify(sig, DATA, padding.PKCS1v15(), hashes.SHA256())
    print("ok: raw RSA_PKCS over a DigestInfo verifies")

    pss = PyKCS11.RSA_PSS_Mechanism(
        PyKCS11.CKM_SHA256_RSA_PKCS_PSS, PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256, 32
    )
    sig = bytes(s.sign(priv, DATA, pss))
    pss_pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    pub.verify(sig, DATA, pss_pad, hashes.SHA256())
    must_not_verify(lambda d: pub.verify(sig, d, pss_pad, hashes.SHA256()), "SHA256_RSA_PKCS_PSS")
    print("ok: SHA256_RSA_PKCS_PSS verifies")

    digest = hashlib.sha256(DATA).digest()
    raw_pss = PyKCS11.RSA_PSS_Mechanism(
        PyKCS11.CKM_RSA_PKCS_PSS, PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256, 32
    )
    sig = bytes(s.sign(priv, digest, raw_pss))
    pub.verify(sig, digest, pss_pad, utils.Prehashed(hashes.SHA256()))
    print("ok: raw RSA_PKCS_PSS over a SHA-256 digest verifies")


def expect_error(fn, code, what):
    try:
        fn()
    except PyKCS11.PyKCS11Error as e:
        if e.value != code:
            fail("%s: %s, want %s" % (what, e, PyKCS11.CKR[code]))
        return
    fail(what + ": no error")


def session_checks(lib, slot, pin):
    s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)
    if pin is not None:
        s.login(pin)
    ec_priv, ec_pub = key_pair(s, "ec")
    rsa_priv, rsa_pub = key_pair(s, "rsa")
    check_ec(s, ec_priv, ec_pub)
    check_rsa(s, rsa_priv, rsa_pub)
    # PyKCS11 turns CKR_ATTRIBUTE_SENSITIVE into a None value.
    for priv in (ec_priv, rsa_priv):
        value, sensitive, extractable = s.getAttributeValue(
            priv, [PyKCS11.CKA_VALUE, PyKCS11.CKA_SENSITIVE, PyKCS11.CKA_EXTRACTABLE]
        )
        if value is not None or not sensitive or extractable:
            fail("a private key is readable or not marked sensitive and non-extractable")
    expect_error(
        lambda: s.sign(ec_priv, DATA, PyKCS11.Mechanism(PyKCS11.CKM_MD5_RSA_PKCS)),
        PyKCS11.CKR_MECHANISM_INVALID,
        "signing with MD5_RSA_PKCS",
    )
    print("ok: private values sensitive and unreadable, unknown mechanism refused")
    a, b = bytes(s.generateRandom(32)), bytes(s.generateRandom(32))
    if len(a) != 32 or a == b:
        fail("C_GenerateRandom: two equal or short answers")
    print("ok: C_GenerateRandom")
    if pin is not None:
        s.logout()
    s.closeSession()


def main():
    lib = PyKCS11.PyKCS11Lib()
    lib.load(sys.argv[1])
    slots = lib.getSlotList(tokenPresent=True)
    if len(slots) != 1:
        fail("%d slots with a token, want 1" % len(slots))
    info = lib.getTokenInfo(slots[0])
    if not info.flags & PyKCS11.CKF_TOKEN_INITIALIZED:
        fail("token not initialized")
    print("token: %s (%s)" % (info.label.strip(), info.manufacturerID.strip()))
    session_checks(lib, slots[0], None)
    session_checks(lib, slots[0], "any PIN: access comes from the caller's identity")
    print("OK")


if __name__ == "__main__":
    main()
