/*
 * The thin C_* entry points of the object, key and cryptographic function
 * groups (PKCS#11 §5.7-5.15). Each checks the module is initialized in this
 * fork generation, checks pointer arguments, acquires the session, calls the
 * area function and releases (STYLE.md, "How the PKCS#11 module should be
 * built"). Lifecycle, slot and session entry points are in module.c.
 */
#include <p11-kit/pkcs11.h>

#include "client.h"
#include "keygen.h"
#include "module.h"
#include "object.h"
#include "session.h"
#include "sign.h"

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                          CK_ULONG n)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (tmpl == NULL && n > 0) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = object_get_attrs(obj, tmpl, n);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                          CK_ULONG n)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (tmpl == NULL && n > 0) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = object_set_attrs(obj, tmpl, n);
        session_release(s);
    }
    module_leave();
    return rv;
}

static CK_RV find_init(struct session *s, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    CK_RV rv;

    if (s->find.is_active) {
        return CKR_OPERATION_ACTIVE;
    }
    if ((rv = object_ensure_fresh()) != CKR_OK) {
        return rv;
    }
    if ((rv = object_find(tmpl, n, &s->find.found, &s->find.n)) == CKR_OK) {
        s->find.is_active = true;
        s->find.pos = 0;
    }
    return rv;
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hs, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (tmpl == NULL && n > 0) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = find_init(s, tmpl, n);
        session_release(s);
    }
    module_leave();
    return rv;
}

static CK_RV find_next(struct session *s, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                       CK_ULONG_PTR ret_n)
{
    CK_ULONG i = 0;

    if (!s->find.is_active) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    for (; i < max && s->find.pos < s->find.n; i++) {
        out[i] = s->find.found[s->find.pos++];
    }
    *ret_n = i;
    return CKR_OK;
}

CK_RV C_FindObjects(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                    CK_ULONG_PTR ret_n)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if ((out == NULL && max > 0) || ret_n == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = find_next(s, out, max, ret_n);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hs)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = s->find.is_active ? CKR_OK : CKR_OPERATION_NOT_INITIALIZED;
        session_find_end(&s->find);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE obj)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = (s->flags & CKF_RW_SESSION) == 0 ? CKR_SESSION_READ_ONLY : object_destroy(obj);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub,
                        CK_ULONG n_pub, CK_ATTRIBUTE_PTR priv, CK_ULONG n_priv,
                        CK_OBJECT_HANDLE_PTR ret_pub, CK_OBJECT_HANDLE_PTR ret_priv)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (mech == NULL || ret_pub == NULL || ret_priv == NULL || (pub == NULL && n_pub > 0) ||
        (priv == NULL && n_priv > 0)) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = (s->flags & CKF_RW_SESSION) == 0
                 ? CKR_SESSION_READ_ONLY
                 : keygen_pair(mech, pub, n_pub, priv, n_priv, ret_pub, ret_priv);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE hs, CK_BYTE_PTR seed, CK_ULONG len)
{
    struct session *s = NULL;
    CK_RV rv;

    (void)seed, (void)len;
    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        session_release(s);
        rv = CKR_RANDOM_SEED_NOT_SUPPORTED;
    }
    module_leave();
    return rv;
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE hs, CK_BYTE_PTR out, CK_ULONG len)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (out == NULL && len > 0) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = client_random(out, len);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_SignInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (mech == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = sign_init(s, mech, key);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_Sign(CK_SESSION_HANDLE hs, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
             CK_ULONG_PTR sig_len)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if ((data == NULL && len > 0) || sig_len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = sign_once(s, data, len, sig, sig_len);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE hs, CK_BYTE_PTR part, CK_ULONG len)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (part == NULL && len > 0) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = sign_update(s, part, len);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_SignFinal(CK_SESSION_HANDLE hs, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (sig_len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = sign_final(s, sig, sig_len);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (mech == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = sign_verify_init(s, mech, key);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_Verify(CK_SESSION_HANDLE hs, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
               CK_ULONG sig_len)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if ((data == NULL && len > 0) || sig == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = sign_verify_once(s, data, len, sig, sig_len);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hs, CK_BYTE_PTR part, CK_ULONG len)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (part == NULL && len > 0) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = sign_verify_update(s, part, len);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE hs, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (sig == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = sign_verify_final(s, sig, sig_len);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_DigestInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (mech == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = sign_digest_init(s, mech);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_Digest(CK_SESSION_HANDLE hs, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
               CK_ULONG_PTR out_len)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if ((data == NULL && len > 0) || out_len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = sign_digest_once(s, data, len, out, out_len);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE hs, CK_BYTE_PTR part, CK_ULONG len)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (part == NULL && len > 0) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = sign_digest_update(s, part, len);
        session_release(s);
    }
    module_leave();
    return rv;
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE hs, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    struct session *s = NULL;
    CK_RV rv;

    if ((rv = module_enter()) != CKR_OK) {
        return rv;
    }
    if (out_len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else if ((rv = session_acquire(hs, &s)) == CKR_OK) {
        rv = sign_digest_final(s, out, out_len);
        session_release(s);
    }
    module_leave();
    return rv;
}
