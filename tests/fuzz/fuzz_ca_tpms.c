/*
 * TPM structures from the wire as agentd-ca decodes them (tss2-mu, bounds
 * checked): TPM2B_PUBLIC (with name and key conversion), TPMS_ATTEST,
 * TPMT_SIGNATURE, and quote/certify verification over fuzzed attest and
 * signature bytes with a fixed AK. First byte selects the path.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quote.h"
#include "tpms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The AK from attest/testdata/ak.pub (TPM2B_PUBLIC, ECC P-256, restricted signing). */
static const uint8_t ak_pub[] = {
    0x00, 0x58, 0x00, 0x23, 0x00, 0x0b, 0x00, 0x05, 0x00, 0x72, 0x00, 0x00, 0x00, 0x10, 0x00,
    0x18, 0x00, 0x0b, 0x00, 0x03, 0x00, 0x10, 0x00, 0x20, 0xec, 0x68, 0x1e, 0xcb, 0xb8, 0xdb,
    0x0b, 0x60, 0xf4, 0x34, 0x61, 0x9d, 0x0e, 0x57, 0x0f, 0xfe, 0x7e, 0xfa, 0x81, 0x64, 0x81,
    0x29, 0x84, 0x46, 0x00, 0x5f, 0x47, 0xaf, 0xc1, 0x36, 0x3a, 0xdb, 0x00, 0x20, 0x05, 0x87,
    0x56, 0x27, 0x9f, 0x9c, 0xf6, 0x51, 0x0a, 0xbb, 0xf5, 0x26, 0x17, 0x59, 0xe3, 0x92, 0x3b,
    0x72, 0xe0, 0x31, 0x08, 0x44, 0xee, 0x19, 0xf2, 0x20, 0x4c, 0x2c, 0x17, 0xa4, 0x56, 0x70};

static void public_path(const uint8_t *d, size_t n)
{
    uint8_t name[TPMS_NAME_MAX];
    size_t len = 0;
    TPM2B_PUBLIC pub;
    EVP_PKEY *pk = NULL;
    const char *why = NULL;

    if (tpms_public_decode(d, n, &pub) != AD_OK) {
        return;
    }
    (void)!tpms_public_name(&pub.publicArea, name, &len);
    (void)!tpms_check_ak(&pub.publicArea);
    (void)!tpms_check_identity_key(&pub.publicArea, &why);
    if (tpms_public_pkey(&pub.publicArea, &pk) == AD_OK) {
        EVP_PKEY_free(pk);
    }
}

/* attest || signature split at a length given by the first two bytes. */
static void verify_path(const uint8_t *d, size_t n, int is_quote)
{
    struct quote_policy pol = {.bank = TPM2_ALG_SHA256, .mask = 1u};
    struct quote_clock clk;
    TPM2B_PUBLIC ak;
    TPMT_PUBLIC key;
    const char *why = NULL;
    size_t split;

    if (n < 2 || tpms_public_decode(ak_pub, sizeof(ak_pub), &ak) != AD_OK) {
        return;
    }
    split = ((size_t)d[0] << 8 | d[1]) % (n - 1);
    d += 2;
    n -= 2;
    if (is_quote) {
        (void)!quote_verify(&ak.publicArea, d, split, d + split, n - split, NULL, 0, &pol, &clk,
                            &why);
    } else {
        (void)!quote_verify_certify(&ak.publicArea, d, split, d + split, n - split, NULL, 0, ak_pub,
                                    sizeof(ak_pub), &key, &why);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    TPMS_ATTEST a;
    TPMT_SIGNATURE s;

    if (size < 1) {
        return 0;
    }
    switch (data[0] % 5) {
    case 0:
        public_path(data + 1, size - 1);
        break;
    case 1:
        (void)!tpms_attest_decode(data + 1, size - 1, &a);
        break;
    case 2:
        (void)!tpms_signature_decode(data + 1, size - 1, &s);
        break;
    case 3:
        verify_path(data + 1, size - 1, 1);
        break;
    default:
        verify_path(data + 1, size - 1, 0);
        break;
    }
    return 0;
}
