/*
 * Entry points the module does not offer: the key never leaves the TPM and
 * the daemon owns every object, so there is nothing to encrypt, wrap, derive,
 * create or copy; the 3.0 message-based functions have no mechanism here
 * (a token without them answers CKR_FUNCTION_NOT_SUPPORTED).
 * Each answers CKR_CRYPTOKI_NOT_INITIALIZED before
 * initialization and CKR_FUNCTION_NOT_SUPPORTED after; none asserts.
 */
#include <p11-kit/pkcs11.h>

#include "interface.h"
#include "module.h"

static CK_RV unsupported(void)
{
    CK_RV rv = module_enter();

    if (rv != CKR_OK) {
        return rv;
    }
    module_leave();
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label)
{
    (void)slot, (void)pin, (void)pin_len, (void)label;
    return unsupported();
}

CK_RV C_InitPIN(CK_SESSION_HANDLE hs, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    (void)hs, (void)pin, (void)pin_len;
    return unsupported();
}

CK_RV C_SetPIN(CK_SESSION_HANDLE hs, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
               CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
    (void)hs, (void)old_pin, (void)old_len, (void)new_pin, (void)new_len;
    return unsupported();
}

CK_RV C_GetOperationState(CK_SESSION_HANDLE hs, CK_BYTE_PTR state, CK_ULONG_PTR state_len)
{
    (void)hs, (void)state, (void)state_len;
    return unsupported();
}

CK_RV C_SetOperationState(CK_SESSION_HANDLE hs, CK_BYTE_PTR state, CK_ULONG state_len,
                          CK_OBJECT_HANDLE enc_key, CK_OBJECT_HANDLE auth_key)
{
    (void)hs, (void)state, (void)state_len, (void)enc_key, (void)auth_key;
    return unsupported();
}

CK_RV C_CreateObject(CK_SESSION_HANDLE hs, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                     CK_OBJECT_HANDLE_PTR ret)
{
    (void)hs, (void)tmpl, (void)n, (void)ret;
    return unsupported();
}

CK_RV C_CopyObject(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                   CK_OBJECT_HANDLE_PTR ret)
{
    (void)hs, (void)obj, (void)tmpl, (void)n, (void)ret;
    return unsupported();
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE obj, CK_ULONG_PTR size)
{
    (void)hs, (void)obj, (void)size;
    return unsupported();
}

CK_RV C_EncryptInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    (void)hs, (void)mech, (void)key;
    return unsupported();
}

CK_RV C_Encrypt(CK_SESSION_HANDLE hs, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                CK_ULONG_PTR out_len)
{
    (void)hs, (void)in, (void)in_len, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hs, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                      CK_ULONG_PTR out_len)
{
    (void)hs, (void)in, (void)in_len, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_EncryptFinal(CK_SESSION_HANDLE hs, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    (void)hs, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_DecryptInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    (void)hs, (void)mech, (void)key;
    return unsupported();
}

CK_RV C_Decrypt(CK_SESSION_HANDLE hs, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                CK_ULONG_PTR out_len)
{
    (void)hs, (void)in, (void)in_len, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hs, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                      CK_ULONG_PTR out_len)
{
    (void)hs, (void)in, (void)in_len, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_DecryptFinal(CK_SESSION_HANDLE hs, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    (void)hs, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_DigestKey(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE key)
{
    (void)hs, (void)key;
    return unsupported();
}

CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    (void)hs, (void)mech, (void)key;
    return unsupported();
}

CK_RV C_SignRecover(CK_SESSION_HANDLE hs, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                    CK_ULONG_PTR out_len)
{
    (void)hs, (void)in, (void)in_len, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    (void)hs, (void)mech, (void)key;
    return unsupported();
}

CK_RV C_VerifyRecover(CK_SESSION_HANDLE hs, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                      CK_ULONG_PTR out_len)
{
    (void)hs, (void)in, (void)in_len, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE hs, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                            CK_ULONG_PTR out_len)
{
    (void)hs, (void)in, (void)in_len, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE hs, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                            CK_ULONG_PTR out_len)
{
    (void)hs, (void)in, (void)in_len, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE hs, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                          CK_ULONG_PTR out_len)
{
    (void)hs, (void)in, (void)in_len, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE hs, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                            CK_ULONG_PTR out_len)
{
    (void)hs, (void)in, (void)in_len, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_GenerateKey(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                    CK_OBJECT_HANDLE_PTR ret)
{
    (void)hs, (void)mech, (void)tmpl, (void)n, (void)ret;
    return unsupported();
}

CK_RV C_WrapKey(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE wrapping,
                CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    (void)hs, (void)mech, (void)wrapping, (void)key, (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_UnwrapKey(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE unwrapping,
                  CK_BYTE_PTR in, CK_ULONG in_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                  CK_OBJECT_HANDLE_PTR ret)
{
    (void)hs, (void)mech, (void)unwrapping, (void)in, (void)in_len, (void)tmpl, (void)n, (void)ret;
    return unsupported();
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base,
                  CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_HANDLE_PTR ret)
{
    (void)hs, (void)mech, (void)base, (void)tmpl, (void)n, (void)ret;
    return unsupported();
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
    (void)flags, (void)slot, (void)reserved;
    return unsupported();
}

/* PKCS#11 §5.17: legacy parallel functions answer CKR_FUNCTION_NOT_PARALLEL. */
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hs)
{
    CK_RV rv = unsupported();

    (void)hs;
    return rv == CKR_FUNCTION_NOT_SUPPORTED ? CKR_FUNCTION_NOT_PARALLEL : rv;
}

CK_RV C_CancelFunction(CK_SESSION_HANDLE hs)
{
    CK_RV rv = unsupported();

    (void)hs;
    return rv == CKR_FUNCTION_NOT_SUPPORTED ? CKR_FUNCTION_NOT_PARALLEL : rv;
}

CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    (void)hs, (void)mech, (void)key;
    return unsupported();
}

CK_RV C_EncryptMessage(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR aad,
                       CK_ULONG aad_len, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len)
{
    (void)hs, (void)param, (void)param_len, (void)aad, (void)aad_len, (void)in, (void)in_len,
        (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                            CK_BYTE_PTR aad, CK_ULONG aad_len)
{
    (void)hs, (void)param, (void)param_len, (void)aad, (void)aad_len;
    return unsupported();
}

CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                           CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                           CK_FLAGS flags)
{
    (void)hs, (void)param, (void)param_len, (void)in, (void)in_len, (void)out, (void)out_len,
        (void)flags;
    return unsupported();
}

CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE hs)
{
    (void)hs;
    return unsupported();
}

CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    (void)hs, (void)mech, (void)key;
    return unsupported();
}

CK_RV C_DecryptMessage(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR aad,
                       CK_ULONG aad_len, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len)
{
    (void)hs, (void)param, (void)param_len, (void)aad, (void)aad_len, (void)in, (void)in_len,
        (void)out, (void)out_len;
    return unsupported();
}

CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                            CK_BYTE_PTR aad, CK_ULONG aad_len)
{
    (void)hs, (void)param, (void)param_len, (void)aad, (void)aad_len;
    return unsupported();
}

CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                           CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                           CK_FLAGS flags)
{
    (void)hs, (void)param, (void)param_len, (void)in, (void)in_len, (void)out, (void)out_len,
        (void)flags;
    return unsupported();
}

CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE hs)
{
    (void)hs;
    return unsupported();
}

CK_RV C_MessageSignInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    (void)hs, (void)mech, (void)key;
    return unsupported();
}

CK_RV C_SignMessage(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR data,
                    CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    (void)hs, (void)param, (void)param_len, (void)data, (void)data_len, (void)sig, (void)sig_len;
    return unsupported();
}

CK_RV C_SignMessageBegin(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len)
{
    (void)hs, (void)param, (void)param_len;
    return unsupported();
}

CK_RV C_SignMessageNext(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                        CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    (void)hs, (void)param, (void)param_len, (void)data, (void)data_len, (void)sig, (void)sig_len;
    return unsupported();
}

CK_RV C_MessageSignFinal(CK_SESSION_HANDLE hs)
{
    (void)hs;
    return unsupported();
}

CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    (void)hs, (void)mech, (void)key;
    return unsupported();
}

CK_RV C_VerifyMessage(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR data,
                      CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    (void)hs, (void)param, (void)param_len, (void)data, (void)data_len, (void)sig, (void)sig_len;
    return unsupported();
}

CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len)
{
    (void)hs, (void)param, (void)param_len;
    return unsupported();
}

CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                          CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    (void)hs, (void)param, (void)param_len, (void)data, (void)data_len, (void)sig, (void)sig_len;
    return unsupported();
}

CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE hs)
{
    (void)hs;
    return unsupported();
}
