/*
 * The PKCS#11 module's tables and rules without a daemon (label unit): the
 * wire status -> CK_RV map, the mechanism table against proto/mech.h (the
 * mech_mask bit order), PSS parameter checks, length-query rules of
 * C_GetMechanismList, and every C_GetAttributeValue / C_SetAttributeValue
 * rule of attr.c on synthetic key and CA records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <p11-kit/pkcs11.h>

#include "../../pkcs11/attr.h"
#include "../../pkcs11/client.h"
#include "../../pkcs11/mech.h"
#include "../../proto/mech.h"
#include "../../proto/status.h"

static void test_status_map(void **state)
{
    static const struct {
        uint32_t status;
        CK_RV rv;
    } map[] = {
        {STATUS_OK, CKR_OK},
        {STATUS_INTERNAL, CKR_GENERAL_ERROR},
        {STATUS_BAD_REQUEST, CKR_ARGUMENTS_BAD},
        {STATUS_DENIED, CKR_FUNCTION_REJECTED},
        {STATUS_NOT_FOUND, CKR_KEY_HANDLE_INVALID},
        {STATUS_MECHANISM_INVALID, CKR_MECHANISM_INVALID},
        {STATUS_DATA_LEN_RANGE, CKR_DATA_LEN_RANGE},
        {STATUS_KEY_TYPE, CKR_KEY_TYPE_INCONSISTENT},
        {STATUS_TPM_ERROR, CKR_DEVICE_ERROR},
        {STATUS_RATE_LIMITED, CKR_FUNCTION_REJECTED},
        {STATUS_UNSUPPORTED, CKR_FUNCTION_NOT_SUPPORTED},
        {STATUS_NO_MEMORY, CKR_DEVICE_MEMORY},
        {STATUS_EXISTS, CKR_ATTRIBUTE_VALUE_INVALID},
        {STATUS_BUSY, CKR_DEVICE_ERROR},
        {STATUS_VERSION, CKR_DEVICE_ERROR},
        {STATUS_MECHANISM_PARAM, CKR_MECHANISM_PARAM_INVALID},
    };
    size_t i;

    (void)state;
    assert_int_equal(sizeof(map) / sizeof(map[0]), STATUS_COUNT);
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        assert_int_equal(client_rv_from_status(map[i].status), map[i].rv);
    }
    assert_int_equal(client_rv_from_status(STATUS_COUNT), CKR_GENERAL_ERROR);
    assert_int_equal(client_rv_from_status(UINT32_MAX), CKR_GENERAL_ERROR);
}

/* Every protocol mechanism has a PKCS#11 row that agrees with it, at the same bit. */
static void test_mech_table_matches_proto(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < mech_count(); i++) {
        const struct mech *pm = mech_at(i);
        const struct mech_desc *d = mech_find(pm->ckm);

        assert_non_null(d);
        assert_int_equal(mech_mask_bit(d), (int)i);
        assert_int_equal(d->has_pss_params, pm->has_pss_params);
        assert_int_equal(d->hash_len, mech_digest_len(pm->digest));
        if (pm->key_type == MECH_NO_KEY) {
            assert_int_equal(d->flags, CKF_DIGEST);
        } else {
            assert_int_equal(d->key_type, pm->key_type);
            assert_int_equal(d->flags, CKF_SIGN | CKF_VERIFY);
            assert_int_equal(d->hash, mech_digest_ckm(pm->digest));
        }
        /* Signing rows obey the mask; digest rows need no key and are always offered. */
        assert_true(mech_is_allowed(d, UINT64_C(1) << i));
        assert_int_equal(mech_is_allowed(d, 0), pm->key_type == MECH_NO_KEY);
    }
    assert_null(mech_find(CKM_AES_CBC));
    assert_int_equal(mech_mask_bit(mech_find(CKM_EC_KEY_PAIR_GEN)), -1);
}

static void test_mech_pss_params(void **state)
{
    CK_RSA_PKCS_PSS_PARAMS p = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS_PSS, &p, sizeof(p)};
    const struct mech_desc *d = mech_find(CKM_SHA256_RSA_PKCS_PSS);
    struct client_pss pss;

    (void)state;
    assert_int_equal(mech_params(d, &m, &pss), CKR_OK);
    assert_int_equal(pss.hash, CKM_SHA256);
    assert_int_equal(pss.mgf, CKG_MGF1_SHA256);
    assert_int_equal(pss.salt_len, 32);
    p.hashAlg = CKM_SHA384; /* not the mechanism's own hash */
    p.mgf = CKG_MGF1_SHA384;
    assert_int_equal(mech_params(d, &m, &pss), CKR_MECHANISM_PARAM_INVALID);
    p.hashAlg = CKM_SHA256; /* MGF does not match the hash */
    assert_int_equal(mech_params(d, &m, &pss), CKR_MECHANISM_PARAM_INVALID);
    p.mgf = CKG_MGF1_SHA256;
    m.ulParameterLen = sizeof(p) - 1;
    assert_int_equal(mech_params(d, &m, &pss), CKR_MECHANISM_PARAM_INVALID);
    m.pParameter = NULL;
    m.ulParameterLen = sizeof(p);
    assert_int_equal(mech_params(d, &m, &pss), CKR_MECHANISM_PARAM_INVALID);
    /* Raw PSS takes any of the three hashes; ECDSA takes no parameters at all. */
    p.hashAlg = CKM_SHA512;
    p.mgf = CKG_MGF1_SHA512;
    m = (CK_MECHANISM){CKM_RSA_PKCS_PSS, &p, sizeof(p)};
    assert_int_equal(mech_params(mech_find(CKM_RSA_PKCS_PSS), &m, &pss), CKR_OK);
    m = (CK_MECHANISM){CKM_ECDSA, &p, sizeof(p)};
    assert_int_equal(mech_params(mech_find(CKM_ECDSA), &m, &pss), CKR_MECHANISM_PARAM_INVALID);
    m = (CK_MECHANISM){CKM_ECDSA, NULL, 0};
    assert_int_equal(mech_params(mech_find(CKM_ECDSA), &m, &pss), CKR_OK);
    assert_int_equal(pss.hash, 0);
}

static void test_mech_list_and_lengths(void **state)
{
    uint64_t ecdsa_only = UINT64_C(1) << mech_mask_bit(mech_find(CKM_ECDSA));
    CK_MECHANISM_TYPE list[32];
    CK_MECHANISM_INFO info;
    CK_ULONG n = 0, i;

    (void)state;
    assert_int_equal(mech_list(ecdsa_only, NULL, &n), CKR_OK);
    /* ECDSA, three digests, two key-pair generators. */
    assert_int_equal(n, 6);
    i = 2;
    assert_int_equal(mech_list(ecdsa_only, list, &i), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(i, 6);
    assert_int_equal(mech_list(ecdsa_only, list, &n), CKR_OK);
    assert_int_equal(list[0], CKM_ECDSA);
    assert_int_equal(mech_info(ecdsa_only, CKM_ECDSA_SHA256, &info), CKR_MECHANISM_INVALID);
    assert_int_equal(mech_info(ecdsa_only, CKM_ECDSA, &info), CKR_OK);
    assert_true(info.flags & CKF_SIGN);
    assert_int_equal(info.ulMinKeySize, 256);
    assert_int_equal(mech_sig_len(CKK_EC, 256), 64);
    assert_int_equal(mech_sig_len(CKK_EC, 384), 96);
    assert_int_equal(mech_sig_len(CKK_RSA, 2048), 256);
}

static uint8_t spki[] = {0x30, 0x59, 0x30, 0x13};
static uint8_t id[] = {0xaa, 0xbb};
static uint8_t params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static uint8_t point[] = {0x04, 0x03, 0x04, 0x01, 0x02};
static uint8_t cert[] = {0x30, 0x82, 0x01, 0x00};
static uint8_t subject[] = {0x30, 0x00};

static struct client_key ec_key(void)
{
    struct client_key k = {.key_type = CKK_EC, .bits = 256};

    memcpy(k.name, "web", 4);
    k.mech_mask = UINT64_C(1) << mech_mask_bit(mech_find(CKM_ECDSA));
    k.id = (struct blob){id, sizeof(id)};
    k.spki = (struct blob){spki, sizeof(spki)};
    k.ec_params = (struct blob){params, sizeof(params)};
    k.ec_point = (struct blob){point, sizeof(point)};
    k.cert = (struct blob){cert, sizeof(cert)};
    k.cert_subject = (struct blob){subject, sizeof(subject)};
    return k;
}

static void test_attr_private_key(void **state)
{
    struct client_key k = ec_key();
    struct attr_obj o = {CKO_PRIVATE_KEY, &k, NULL};
    CK_OBJECT_CLASS cls = 0;
    CK_BBOOL sensitive = 0, extractable = 1, never = 0;
    CK_BYTE small[1], value[16];
    CK_MECHANISM_TYPE allowed[4];
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_SENSITIVE, &sensitive, 1},
        {CKA_EXTRACTABLE, &extractable, 1},
        {CKA_NEVER_EXTRACTABLE, &never, 1},
        {CKA_VALUE, value, sizeof(value)},
        {CKA_MODULUS, value, sizeof(value)}, /* RSA only */
        {CKA_LABEL, small, sizeof(small)},
        {CKA_EC_PARAMS, NULL, 0},
        {CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed)},
    };
    CK_ULONG n = sizeof(t) / sizeof(t[0]);
    CK_RV rv;

    (void)state;
    rv = attr_get(&o, t, n);
    assert_true(rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(cls, CKO_PRIVATE_KEY);
    assert_int_equal(sensitive, CK_TRUE);
    assert_int_equal(extractable, CK_FALSE);
    assert_int_equal(never, CK_TRUE);
    assert_int_equal(t[4].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[5].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[6].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[7].ulValueLen, sizeof(params));
    assert_int_equal(t[8].ulValueLen, sizeof(CK_MECHANISM_TYPE));
    assert_int_equal(allowed[0], CKM_ECDSA);
    /* Alone, each case gives its own code; the caller's pValue is never changed. */
    assert_int_equal(attr_get(&o, &t[4], 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(attr_get(&o, &t[5], 1), CKR_ATTRIBUTE_TYPE_INVALID);
    t[6].ulValueLen = sizeof(small);
    assert_int_equal(attr_get(&o, &t[6], 1), CKR_BUFFER_TOO_SMALL);
    assert_ptr_equal(t[6].pValue, small);
    t[6].pValue = NULL;
    assert_int_equal(attr_get(&o, &t[6], 1), CKR_OK);
    assert_int_equal(t[6].ulValueLen, 3);
}

static void test_attr_set_and_match(void **state)
{
    struct client_key k = ec_key();
    struct attr_obj priv = {CKO_PRIVATE_KEY, &k, NULL};
    struct attr_obj pub = {CKO_PUBLIC_KEY, &k, NULL};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE weaken[] = {{CKA_SENSITIVE, &no, 1}};
    CK_ATTRIBUTE extract[] = {{CKA_EXTRACTABLE, &yes, 1}};
    CK_ATTRIBUTE label[] = {{CKA_LABEL, "other", 5}};
    CK_ATTRIBUTE same[] = {{CKA_SENSITIVE, &yes, 1}, {CKA_LABEL, "web", 3}};
    CK_ATTRIBUTE unknown[] = {{0x7fff0001UL, &yes, 1}};
    CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, id, sizeof(id)}};

    (void)state;
    assert_int_equal(attr_set(&priv, weaken, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(attr_set(&priv, extract, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(attr_set(&priv, label, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(attr_set(&priv, same, 2), CKR_OK);
    assert_int_equal(attr_set(&priv, unknown, 1), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_true(attr_match(&priv, find, 2));
    assert_false(attr_match(&pub, find, 2));
    assert_true(attr_match(&pub, NULL, 0));
    cls = CKO_PUBLIC_KEY;
    assert_true(attr_match(&pub, find, 2));
    /* A sensitive attribute never matches, so a search cannot probe it. */
    find[1] = (CK_ATTRIBUTE){CKA_VALUE, id, sizeof(id)};
    cls = CKO_PRIVATE_KEY;
    assert_false(attr_match(&priv, find, 2));
}

static void test_attr_certificates(void **state)
{
    struct client_key k = ec_key();
    struct client_ca ca = {.cert = {cert, sizeof(cert)}, .subject = {subject, sizeof(subject)}};
    struct attr_obj own = {CKO_CERTIFICATE, &k, NULL};
    struct attr_obj root = {CKO_CERTIFICATE, NULL, &ca};
    CK_ULONG category = 0;
    CK_BBOOL trusted = CK_TRUE;
    CK_BYTE buf[16];
    CK_ATTRIBUTE t[] = {
        {CKA_CERTIFICATE_CATEGORY, &category, sizeof(category)},
        {CKA_TRUSTED, &trusted, 1},
        {CKA_VALUE, buf, sizeof(buf)},
        {CKA_ID, buf, sizeof(buf)},
    };

    (void)state;
    memcpy(ca.label, "root", 5);
    assert_int_equal(attr_get(&own, t, 4), CKR_OK);
    assert_int_equal(category, 1); /* token user */
    assert_int_equal(trusted, CK_FALSE);
    assert_int_equal(t[2].ulValueLen, sizeof(cert));
    assert_memory_equal(buf, id, sizeof(id)); /* CKA_ID shared with the key */
    t[2].ulValueLen = t[3].ulValueLen = sizeof(buf);
    assert_int_equal(attr_get(&root, t, 3), CKR_OK);
    assert_int_equal(category, 2); /* authority */
    assert_int_equal(trusted, CK_TRUE);
    assert_int_equal(attr_get(&root, &t[3], 1), CKR_ATTRIBUTE_TYPE_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_map),        cmocka_unit_test(test_mech_table_matches_proto),
        cmocka_unit_test(test_mech_pss_params),   cmocka_unit_test(test_mech_list_and_lengths),
        cmocka_unit_test(test_attr_private_key),  cmocka_unit_test(test_attr_set_and_match),
        cmocka_unit_test(test_attr_certificates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
