#include "sign.h"

#include <string.h>

#include "mech.h"

/*
 * The data of a single- or multi-part operation (sign, verify, digest).
 * Single-part starts over (a call repeated after a length query must not
 * take the data twice) and is refused once C_*Update was used; either way a
 * non-OK return ends the operation (the caller's *_end()).
 */
static CK_RV input_once(bool is_multi, uint8_t **buf, size_t *n, const CK_BYTE *data, CK_ULONG len)
{
    if (is_multi) {
        return CKR_OPERATION_ACTIVE;
    }
    *n = 0;
    return session_accumulate(buf, n, data, len, SIGN_INPUT_MAX);
}

static CK_RV input_update(bool *is_multi, uint8_t **buf, size_t *n, const CK_BYTE *data,
                          CK_ULONG len)
{
    *is_multi = true;
    return session_accumulate(buf, n, data, len, SIGN_INPUT_MAX);
}

/* C_SignUpdate and C_VerifyUpdate. */
static CK_RV sign_op_update(struct sign_op *op, const CK_BYTE *data, CK_ULONG len)
{
    CK_RV rv;

    if (!op->is_active) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if ((rv = input_update(&op->is_multi, &op->data, &op->len, data, len)) != CKR_OK) {
        session_sign_end(op);
    }
    return rv;
}

/* Shared by C_SignInit and C_VerifyInit: key of class cls, mechanism allowed for it. */
static CK_RV op_init(struct sign_op *op, const CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
                     CK_OBJECT_CLASS cls)
{
    const struct mech_desc *m = mech_find(mech->mechanism);
    struct object_key k;
    struct client_pss pss;
    CK_RV rv;

    if (op->is_active) {
        return CKR_OPERATION_ACTIVE;
    }
    if ((rv = object_key_get(key, cls, &k)) != CKR_OK) {
        return rv;
    }
    if (m == NULL || mech_mask_bit(m) < 0 || (m->flags & CKF_SIGN) == 0) {
        return CKR_MECHANISM_INVALID;
    }
    if (m->key_type != k.key_type) {
        return CKR_KEY_TYPE_INCONSISTENT;
    }
    /* Policy (the key's mech_mask) decides; the module only reports it. */
    if (!mech_is_allowed(m, k.mech_mask)) {
        return CKR_MECHANISM_INVALID;
    }
    if ((rv = mech_params(m, mech, &pss)) != CKR_OK) {
        return rv;
    }
    memset(op, 0, sizeof(*op));
    op->is_active = true;
    op->key = k;
    op->mech = m->type;
    op->pss = pss;
    return CKR_OK;
}

/*
 * PKCS#11 3.0 §5.2 and C_Sign: a length query (pSignature == NULL) and
 * CKR_BUFFER_TOO_SMALL leave the signing operation active; any other return
 * ends it. The signature length is known from the key, so neither costs a
 * signature.
 */
static CK_RV finish_sign(struct sign_op *op, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    CK_ULONG want = mech_sig_len(op->key.key_type, op->key.bits);
    uint8_t out[SIGNATURE_MAX];
    size_t n = 0;
    CK_RV rv;

    if (sig == NULL) {
        *sig_len = want;
        return CKR_OK;
    }
    if (*sig_len < want) {
        *sig_len = want;
        return CKR_BUFFER_TOO_SMALL;
    }
    rv = client_sign(op->key.name, op->mech, &op->pss, op->data, op->len, out, &n);
    if (rv == CKR_OK && n > *sig_len) {
        rv = CKR_DEVICE_ERROR; /* the daemon disagrees with the key's size */
    }
    if (rv == CKR_OK) {
        memcpy(sig, out, n);
        *sig_len = n;
    }
    session_sign_end(op);
    return rv;
}

CK_RV sign_init(struct session *s, const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
    return op_init(&s->sign, mech, key, CKO_PRIVATE_KEY);
}

CK_RV sign_once(struct session *s, const CK_BYTE *data, CK_ULONG len, CK_BYTE_PTR sig,
                CK_ULONG_PTR sig_len)
{
    struct sign_op *op = &s->sign;
    CK_RV rv;

    if (!op->is_active) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if ((rv = input_once(op->is_multi, &op->data, &op->len, data, len)) != CKR_OK) {
        session_sign_end(op);
        return rv;
    }
    return finish_sign(op, sig, sig_len);
}

CK_RV sign_update(struct session *s, const CK_BYTE *data, CK_ULONG len)
{
    return sign_op_update(&s->sign, data, len);
}

CK_RV sign_final(struct session *s, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    if (!s->sign.is_active) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    return finish_sign(&s->sign, sig, sig_len);
}

CK_RV sign_verify_init(struct session *s, const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
    return op_init(&s->verify, mech, key, CKO_PUBLIC_KEY);
}

static CK_RV finish_verify(struct sign_op *op, const CK_BYTE *sig, CK_ULONG sig_len)
{
    bool is_valid = false;
    CK_RV rv;

    if (sig_len != mech_sig_len(op->key.key_type, op->key.bits)) {
        rv = CKR_SIGNATURE_LEN_RANGE;
    } else {
        rv = client_verify(op->key.name, op->mech, &op->pss, op->data, op->len, sig, sig_len,
                           &is_valid);
    }
    if (rv == CKR_OK && !is_valid) {
        rv = CKR_SIGNATURE_INVALID;
    }
    session_sign_end(op);
    return rv;
}

CK_RV sign_verify_once(struct session *s, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                       CK_ULONG sig_len)
{
    struct sign_op *op = &s->verify;
    CK_RV rv;

    if (!op->is_active) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if ((rv = input_once(op->is_multi, &op->data, &op->len, data, len)) != CKR_OK) {
        session_sign_end(op);
        return rv;
    }
    return finish_verify(op, sig, sig_len);
}

CK_RV sign_verify_update(struct session *s, const CK_BYTE *data, CK_ULONG len)
{
    return sign_op_update(&s->verify, data, len);
}

CK_RV sign_verify_final(struct session *s, const CK_BYTE *sig, CK_ULONG sig_len)
{
    if (!s->verify.is_active) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    return finish_verify(&s->verify, sig, sig_len);
}

CK_RV sign_digest_init(struct session *s, const CK_MECHANISM *mech)
{
    const struct mech_desc *m = mech_find(mech->mechanism);

    if (s->digest.is_active) {
        return CKR_OPERATION_ACTIVE;
    }
    if (m == NULL || m->flags != CKF_DIGEST) {
        return CKR_MECHANISM_INVALID;
    }
    if (mech->ulParameterLen != 0) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    memset(&s->digest, 0, sizeof(s->digest));
    s->digest.is_active = true;
    s->digest.mech = m->type;
    s->digest.out_len = m->hash_len;
    return CKR_OK;
}

/* Same length-query rule as finish_sign(). */
static CK_RV finish_digest(struct digest_op *op, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    uint8_t buf[64];
    size_t n = 0;
    CK_RV rv;

    if (out == NULL) {
        *out_len = op->out_len;
        return CKR_OK;
    }
    if (*out_len < op->out_len) {
        *out_len = op->out_len;
        return CKR_BUFFER_TOO_SMALL;
    }
    rv = client_digest(op->mech, op->data, op->len, buf, &n);
    if (rv == CKR_OK && n != op->out_len) {
        rv = CKR_DEVICE_ERROR;
    }
    if (rv == CKR_OK) {
        memcpy(out, buf, n);
        *out_len = n;
    }
    session_digest_end(op);
    return rv;
}

CK_RV sign_digest_once(struct session *s, const CK_BYTE *data, CK_ULONG len, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len)
{
    struct digest_op *op = &s->digest;
    CK_RV rv;

    if (!op->is_active) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if ((rv = input_once(op->is_multi, &op->data, &op->len, data, len)) != CKR_OK) {
        session_digest_end(op);
        return rv;
    }
    return finish_digest(op, out, out_len);
}

CK_RV sign_digest_update(struct session *s, const CK_BYTE *data, CK_ULONG len)
{
    struct digest_op *op = &s->digest;
    CK_RV rv;

    if (!op->is_active) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if ((rv = input_update(&op->is_multi, &op->data, &op->len, data, len)) != CKR_OK) {
        session_digest_end(op);
    }
    return rv;
}

CK_RV sign_digest_final(struct session *s, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    if (!s->digest.is_active) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    return finish_digest(&s->digest, out, out_len);
}
