/*
 * Fuzz keyblob decoding: DER and PEM inputs either decode into a blob whose
 * re-encoding decodes to the same blob, or fail with an ad_err; never a
 * crash, leak or out-of-bounds read. Also runs tpm_key_info on what decodes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyblob.h"
#include "tpm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const struct keyblob *kb)
{
    struct keyblob *back = NULL;
    struct tpm_pubinfo info = {0};
    uint8_t *der = NULL;
    size_t len = 0;

    if (keyblob_encode_der(kb, &der, &len) != 0) {
        abort(); /* a decoded blob must encode */
    }
    if (keyblob_decode_der(der, len, &back) != 0 || back->pub_len != kb->pub_len ||
        back->priv_len != kb->priv_len || memcmp(back->pub, kb->pub, kb->pub_len) != 0 ||
        memcmp(back->priv, kb->priv, kb->priv_len) != 0 || back->parent != kb->parent) {
        abort();
    }
    if (tpm_key_info(kb, &info) == 0) {
        tpm_pubinfo_clear(&info);
    }
    keyblob_free(back);
    free(der);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keyblob *kb = NULL;

    if (keyblob_decode_der(data, size, &kb) == 0) {
        check_round_trip(kb);
        keyblob_free(kb);
        kb = NULL;
    }
    if (keyblob_decode_pem((const char *)data, size, &kb) == 0) {
        check_round_trip(kb);
        keyblob_free(kb);
    }
    return 0;
}
