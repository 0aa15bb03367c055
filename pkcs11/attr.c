#include "attr.h"

#include <string.h>

#include "mech.h"

/* Object kinds a row applies to. */
#define PRIV 0x1u
#define PUB 0x2u
#define CERT 0x4u /* a key's own certificate */
#define CA 0x8u   /* a trust-bundle certificate */
#define KEYS (PRIV | PUB)
#define CERTS (CERT | CA)
#define ALL (KEYS | CERTS)

/* Key types a row applies to (certificates ignore it). */
#define EC 0x1u
#define RSA 0x2u
#define ANY (EC | RSA)

/* Row flags (SoftHSM's footnote flags, tpm2-pkcs11's attr_handlers[]). */
#define NEVER_REVEAL 0x1u /* exists but is never given out: CKR_ATTRIBUTE_SENSITIVE */

enum src {
    SRC_CLASS,
    SRC_TRUE,
    SRC_FALSE,
    SRC_EMPTY,
    SRC_LABEL,
    SRC_ID,
    SRC_KEY_TYPE,
    SRC_GEN_MECH,
    SRC_ALLOWED_MECHS,
    SRC_SPKI,
    SRC_EC_PARAMS,
    SRC_EC_POINT,
    SRC_MODULUS,
    SRC_MODULUS_BITS,
    SRC_EXPONENT,
    SRC_SUBJECT,
    SRC_ISSUER,
    SRC_SERIAL,
    SRC_CERT,
    SRC_CERT_TYPE,
    SRC_CERT_CATEGORY,
    SRC_IS_CA,
    SRC_DESTROYABLE,
    SRC_ZERO,
    SRC_NONE, /* NEVER_REVEAL rows */
};

struct attr_row {
    CK_ATTRIBUTE_TYPE type;
    unsigned int objs;
    unsigned int key_types;
    unsigned int flags;
    enum src src;
};

static const struct attr_row rows[] = {
    /* Common to all objects (PKCS#11 3.0 §4.4, §4.5). */
    {CKA_CLASS, ALL, ANY, 0, SRC_CLASS},
    {CKA_TOKEN, ALL, ANY, 0, SRC_TRUE},
    {CKA_PRIVATE, ALL, ANY, 0, SRC_FALSE},
    {CKA_MODIFIABLE, ALL, ANY, 0, SRC_FALSE},
    {CKA_COPYABLE, ALL, ANY, 0, SRC_FALSE},
    {CKA_DESTROYABLE, ALL, ANY, 0, SRC_DESTROYABLE},
    {CKA_LABEL, ALL, ANY, 0, SRC_LABEL},
    /* Keys (§4.7). */
    {CKA_KEY_TYPE, KEYS, ANY, 0, SRC_KEY_TYPE},
    {CKA_ID, KEYS | CERT, ANY, 0, SRC_ID},
    {CKA_START_DATE, KEYS | CERTS, ANY, 0, SRC_EMPTY},
    {CKA_END_DATE, KEYS | CERTS, ANY, 0, SRC_EMPTY},
    {CKA_DERIVE, KEYS, ANY, 0, SRC_FALSE},
    {CKA_LOCAL, KEYS, ANY, 0, SRC_TRUE},
    {CKA_KEY_GEN_MECHANISM, KEYS, ANY, 0, SRC_GEN_MECH},
    {CKA_ALLOWED_MECHANISMS, KEYS, ANY, 0, SRC_ALLOWED_MECHS},
    {CKA_SUBJECT, ALL, ANY, 0, SRC_SUBJECT},
    {CKA_PUBLIC_KEY_INFO, KEYS | CERT, ANY, 0, SRC_SPKI},
    /* Public keys (§4.8). */
    {CKA_ENCRYPT, PUB, ANY, 0, SRC_FALSE},
    {CKA_VERIFY, PUB, ANY, 0, SRC_TRUE},
    {CKA_VERIFY_RECOVER, PUB, ANY, 0, SRC_FALSE},
    {CKA_WRAP, PUB, ANY, 0, SRC_FALSE},
    {CKA_TRUSTED, PUB | CERTS, ANY, 0, SRC_IS_CA},
    /* Private keys (§4.9): always sensitive, never extractable. */
    {CKA_SENSITIVE, PRIV, ANY, 0, SRC_TRUE},
    {CKA_DECRYPT, PRIV, ANY, 0, SRC_FALSE},
    {CKA_SIGN, PRIV, ANY, 0, SRC_TRUE},
    {CKA_SIGN_RECOVER, PRIV, ANY, 0, SRC_FALSE},
    {CKA_UNWRAP, PRIV, ANY, 0, SRC_FALSE},
    {CKA_EXTRACTABLE, PRIV, ANY, 0, SRC_FALSE},
    {CKA_ALWAYS_SENSITIVE, PRIV, ANY, 0, SRC_TRUE},
    {CKA_NEVER_EXTRACTABLE, PRIV, ANY, 0, SRC_TRUE},
    {CKA_WRAP_WITH_TRUSTED, PRIV, ANY, 0, SRC_FALSE},
    {CKA_ALWAYS_AUTHENTICATE, PRIV, ANY, 0, SRC_FALSE},
    /* EC (§2.3.3, §2.3.4). The private key repeats the point, as most tokens do. */
    {CKA_EC_PARAMS, KEYS, EC, 0, SRC_EC_PARAMS},
    {CKA_EC_POINT, KEYS, EC, 0, SRC_EC_POINT},
    {CKA_VALUE, PRIV, ANY, NEVER_REVEAL, SRC_NONE},
    /* RSA (§2.1.2, §2.1.3). */
    {CKA_MODULUS, KEYS, RSA, 0, SRC_MODULUS},
    {CKA_MODULUS_BITS, PUB, RSA, 0, SRC_MODULUS_BITS},
    {CKA_PUBLIC_EXPONENT, KEYS, RSA, 0, SRC_EXPONENT},
    {CKA_PRIVATE_EXPONENT, PRIV, RSA, NEVER_REVEAL, SRC_NONE},
    {CKA_PRIME_1, PRIV, RSA, NEVER_REVEAL, SRC_NONE},
    {CKA_PRIME_2, PRIV, RSA, NEVER_REVEAL, SRC_NONE},
    {CKA_EXPONENT_1, PRIV, RSA, NEVER_REVEAL, SRC_NONE},
    {CKA_EXPONENT_2, PRIV, RSA, NEVER_REVEAL, SRC_NONE},
    {CKA_COEFFICIENT, PRIV, RSA, NEVER_REVEAL, SRC_NONE},
    /* X.509 certificates (§4.6.3). */
    {CKA_CERTIFICATE_TYPE, CERTS, ANY, 0, SRC_CERT_TYPE},
    {CKA_CERTIFICATE_CATEGORY, CERTS, ANY, 0, SRC_CERT_CATEGORY},
    {CKA_ISSUER, CERTS, ANY, 0, SRC_ISSUER},
    {CKA_SERIAL_NUMBER, CERTS, ANY, 0, SRC_SERIAL},
    {CKA_VALUE, CERTS, ANY, 0, SRC_CERT},
    {CKA_URL, CERTS, ANY, 0, SRC_EMPTY},
    {CKA_HASH_OF_SUBJECT_PUBLIC_KEY, CERTS, ANY, 0, SRC_EMPTY},
    {CKA_HASH_OF_ISSUER_PUBLIC_KEY, CERTS, ANY, 0, SRC_EMPTY},
    {CKA_JAVA_MIDP_SECURITY_DOMAIN, CERTS, ANY, 0, SRC_ZERO},
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))
#define MECHS_MAX 16

/* A value ready to copy out; scalars live in the struct itself. */
struct val {
    const void *ptr;
    size_t len;
    CK_ULONG ul;
    CK_BBOOL b;
    CK_MECHANISM_TYPE mechs[MECHS_MAX];
};

static unsigned int obj_kind(const struct attr_obj *o)
{
    switch (o->cls) {
    case CKO_PRIVATE_KEY:
        return PRIV;
    case CKO_PUBLIC_KEY:
        return PUB;
    case CKO_CERTIFICATE:
        return o->ca != NULL ? CA : CERT;
    default:
        return 0;
    }
}

static const struct attr_row *row_find(const struct attr_obj *o, CK_ATTRIBUTE_TYPE t)
{
    unsigned int kind = obj_kind(o);
    unsigned int kt = 0;
    size_t i;

    if (o->key != NULL) {
        kt = o->key->key_type == CKK_EC ? EC : RSA;
    }
    for (i = 0; i < N_ROWS; i++) {
        if (rows[i].type != t || (rows[i].objs & kind) == 0) {
            continue;
        }
        if ((kind & KEYS) != 0 && (rows[i].key_types & kt) == 0) {
            continue;
        }
        return &rows[i];
    }
    return NULL;
}

static bool row_exists(CK_ATTRIBUTE_TYPE t)
{
    size_t i;

    for (i = 0; i < N_ROWS; i++) {
        if (rows[i].type == t) {
            return true;
        }
    }
    return false;
}

static void set_blob(struct val *v, const struct blob *b)
{
    v->ptr = b->ptr;
    v->len = b->len;
}

static void set_ulong(struct val *v, CK_ULONG ul)
{
    v->ul = ul;
    v->ptr = &v->ul;
    v->len = sizeof(v->ul);
}

static void set_bool(struct val *v, bool b)
{
    v->b = b ? CK_TRUE : CK_FALSE;
    v->ptr = &v->b;
    v->len = sizeof(v->b);
}

static void set_label(struct val *v, const struct attr_obj *o)
{
    v->ptr = o->ca != NULL ? o->ca->label : o->key->name;
    v->len = strlen(v->ptr);
}

/* Certificate fields come from the CA record or the key's own certificate. */
static void set_cert_field(struct val *v, const struct attr_obj *o, enum src src)
{
    const struct client_ca *ca = o->ca;
    const struct client_key *k = o->key;

    switch (src) {
    case SRC_SUBJECT:
        set_blob(v, ca != NULL ? &ca->subject : &k->cert_subject);
        break;
    case SRC_ISSUER:
        set_blob(v, ca != NULL ? &ca->issuer : &k->cert_issuer);
        break;
    case SRC_SERIAL:
        set_blob(v, ca != NULL ? &ca->serial : &k->cert_serial);
        break;
    case SRC_CERT:
    default:
        set_blob(v, ca != NULL ? &ca->cert : &k->cert);
        break;
    }
}

static void set_key_field(struct val *v, const struct client_key *k, enum src src)
{
    size_t n;

    switch (src) {
    case SRC_ID:
        set_blob(v, &k->id);
        break;
    case SRC_KEY_TYPE:
        set_ulong(v, k->key_type);
        break;
    case SRC_GEN_MECH:
        set_ulong(v, k->key_type == CKK_EC ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN);
        break;
    case SRC_ALLOWED_MECHS:
        n = mech_allowed(k->mech_mask, k->key_type, v->mechs, MECHS_MAX);
        v->ptr = v->mechs;
        v->len = (n < MECHS_MAX ? n : MECHS_MAX) * sizeof(v->mechs[0]);
        break;
    case SRC_SPKI:
        set_blob(v, &k->spki);
        break;
    case SRC_EC_PARAMS:
        set_blob(v, &k->ec_params);
        break;
    case SRC_EC_POINT:
        set_blob(v, &k->ec_point);
        break;
    case SRC_MODULUS:
        set_blob(v, &k->modulus);
        break;
    case SRC_MODULUS_BITS:
        set_ulong(v, k->bits);
        break;
    case SRC_EXPONENT:
    default:
        set_blob(v, &k->exponent);
        break;
    }
}

static void value_of(const struct attr_row *r, const struct attr_obj *o, struct val *v)
{
    bool is_cert = o->cls == CKO_CERTIFICATE;

    memset(v, 0, sizeof(*v));
    switch (r->src) {
    case SRC_CLASS:
        set_ulong(v, o->cls);
        break;
    case SRC_TRUE:
    case SRC_FALSE:
        set_bool(v, r->src == SRC_TRUE);
        break;
    case SRC_IS_CA:
        set_bool(v, o->ca != NULL);
        break;
    case SRC_DESTROYABLE:
        set_bool(v, o->ca == NULL && !is_cert);
        break;
    case SRC_LABEL:
        set_label(v, o);
        break;
    case SRC_CERT_TYPE:
        set_ulong(v, CKC_X_509);
        break;
    case SRC_CERT_CATEGORY:
        /* PKCS#11 3.0 §4.6.2: 1 token user, 2 authority. */
        set_ulong(v, o->ca != NULL ? 2 : 1);
        break;
    case SRC_ZERO:
        set_ulong(v, 0);
        break;
    case SRC_EMPTY:
    case SRC_NONE:
        break;
    case SRC_SUBJECT:
    case SRC_ISSUER:
    case SRC_SERIAL:
    case SRC_CERT:
        if (is_cert || r->src == SRC_SUBJECT) {
            set_cert_field(v, o, r->src);
        }
        break;
    default:
        set_key_field(v, o->key, r->src);
        break;
    }
}

/*
 * [PKCS#11 3.0, C_GetAttributeValue] For each (type, pValue, ulValueLen):
 * 1. sensitive or unextractable: ulValueLen = CK_UNAVAILABLE_INFORMATION;
 * 2. not an attribute of the object: the same;
 * 3. pValue NULL_PTR: ulValueLen = the exact length;
 * 4. ulValueLen large enough: copy, ulValueLen = the exact length;
 * 5. otherwise ulValueLen = CK_UNAVAILABLE_INFORMATION.
 * Every attribute is processed; CKR_ATTRIBUTE_SENSITIVE / _TYPE_INVALID /
 * CKR_BUFFER_TOO_SMALL report that some case 1/2/5 happened.
 */
CK_RV attr_get(const struct attr_obj *o, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    CK_RV rv = CKR_OK;
    CK_ULONG i;

    for (i = 0; i < n; i++) {
        const struct attr_row *r = row_find(o, tmpl[i].type);
        struct val v;

        if (r == NULL || (r->flags & NEVER_REVEAL) != 0) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = r == NULL ? CKR_ATTRIBUTE_TYPE_INVALID : CKR_ATTRIBUTE_SENSITIVE;
            continue;
        }
        value_of(r, o, &v);
        if (tmpl[i].pValue == NULL) {
            tmpl[i].ulValueLen = v.len;
        } else if (tmpl[i].ulValueLen >= v.len) {
            if (v.len > 0) {
                memcpy(tmpl[i].pValue, v.ptr, v.len);
            }
            tmpl[i].ulValueLen = v.len;
        } else {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            /* The other two codes say more; keep them when both happen. */
            rv = rv == CKR_OK ? CKR_BUFFER_TOO_SMALL : rv;
        }
    }
    return rv;
}

static bool equals(const struct attr_obj *o, const CK_ATTRIBUTE *a)
{
    const struct attr_row *r = row_find(o, a->type);
    struct val v;

    if (r == NULL || (r->flags & NEVER_REVEAL) != 0) {
        return false;
    }
    value_of(r, o, &v);
    if (a->ulValueLen != v.len) {
        return false;
    }
    return v.len == 0 || (a->pValue != NULL && memcmp(a->pValue, v.ptr, v.len) == 0);
}

bool attr_match(const struct attr_obj *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    CK_ULONG i;

    for (i = 0; i < n; i++) {
        if (!equals(o, &tmpl[i])) {
            return false;
        }
    }
    return true;
}

CK_RV attr_set(const struct attr_obj *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    CK_ULONG i;

    for (i = 0; i < n; i++) {
        if (!row_exists(tmpl[i].type)) {
            return CKR_ATTRIBUTE_TYPE_INVALID;
        }
        if (!equals(o, &tmpl[i])) {
            return CKR_ATTRIBUTE_READ_ONLY;
        }
    }
    return CKR_OK;
}

const CK_ATTRIBUTE *attr_find(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE t)
{
    CK_ULONG i;

    for (i = 0; i < n; i++) {
        if (tmpl[i].type == t) {
            return &tmpl[i];
        }
    }
    return NULL;
}

CK_RV attr_find_bool(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE t, CK_BBOOL *ret)
{
    const CK_ATTRIBUTE *a = attr_find(tmpl, n, t);

    if (a == NULL) {
        return CKR_TEMPLATE_INCOMPLETE;
    }
    if (a->pValue == NULL || a->ulValueLen != sizeof(CK_BBOOL)) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    *ret = *(const CK_BBOOL *)a->pValue;
    return CKR_OK;
}

CK_RV attr_find_ulong(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE t, CK_ULONG *ret)
{
    const CK_ATTRIBUTE *a = attr_find(tmpl, n, t);

    if (a == NULL) {
        return CKR_TEMPLATE_INCOMPLETE;
    }
    if (a->pValue == NULL || a->ulValueLen != sizeof(CK_ULONG)) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    memcpy(ret, a->pValue, sizeof(*ret));
    return CKR_OK;
}
