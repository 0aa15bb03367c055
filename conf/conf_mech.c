#include "conf_mech.h"

#include <stddef.h>
#include <string.h>

/* PKCS#11 3.0 values, as listed in proto/README.md. */
static const struct conf_mech mechs[] = {
    {"RSA_PKCS", 0x1, CONF_CKK_RSA, true},
    {"RSA_PKCS_PSS", 0xd, CONF_CKK_RSA, true},
    {"SHA256_RSA_PKCS", 0x40, CONF_CKK_RSA, true},
    {"SHA384_RSA_PKCS", 0x41, CONF_CKK_RSA, true},
    {"SHA512_RSA_PKCS", 0x42, CONF_CKK_RSA, true},
    {"SHA256_RSA_PKCS_PSS", 0x43, CONF_CKK_RSA, true},
    {"SHA384_RSA_PKCS_PSS", 0x44, CONF_CKK_RSA, true},
    {"SHA512_RSA_PKCS_PSS", 0x45, CONF_CKK_RSA, true},
    {"ECDSA", 0x1041, CONF_CKK_EC, true},
    {"ECDSA_SHA256", 0x1044, CONF_CKK_EC, true},
    {"ECDSA_SHA384", 0x1045, CONF_CKK_EC, true},
    {"ECDSA_SHA512", 0x1046, CONF_CKK_EC, true},
    {"SHA256", 0x250, 0, false},
    {"SHA384", 0x260, 0, false},
    {"SHA512", 0x270, 0, false},
};

static const struct {
    const char *name;
    uint64_t key_type;
    uint32_t bits;
} key_types[] = {
    {"ec-p256", CONF_CKK_EC, 256},
    {"ec-p384", CONF_CKK_EC, 384},
    {"rsa-2048", CONF_CKK_RSA, 2048},
    {"rsa-3072", CONF_CKK_RSA, 3072},
};

const struct conf_mech *conf_mech_by_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        if (strcmp(mechs[i].name, name) == 0) {
            return &mechs[i];
        }
    }
    return NULL;
}

const struct conf_mech *conf_mech_by_ckm(uint64_t ckm)
{
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        if (mechs[i].ckm == ckm) {
            return &mechs[i];
        }
    }
    return NULL;
}

bool conf_mech_valid_for_key(const struct conf_mech *m, uint64_t key_type)
{
    return m != NULL && m->is_sign && m->key_type == key_type;
}

int conf_key_type_by_name(const char *name, uint64_t *ret_key_type, uint32_t *ret_bits)
{
    for (size_t i = 0; name != NULL && i < sizeof(key_types) / sizeof(key_types[0]); i++) {
        if (strcmp(key_types[i].name, name) == 0) {
            *ret_key_type = key_types[i].key_type;
            *ret_bits = key_types[i].bits;
            return AD_OK;
        }
    }
    return AD_ERR_NOT_FOUND;
}

bool conf_key_type_valid(uint64_t key_type, uint32_t bits)
{
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
        if (key_types[i].key_type == key_type && key_types[i].bits == bits) {
            return true;
        }
    }
    return false;
}

const struct conf_mech *conf_mech_at(unsigned i)
{
    return i < sizeof(mechs) / sizeof(mechs[0]) ? &mechs[i] : NULL;
}
