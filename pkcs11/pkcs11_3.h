/*
 * The PKCS#11 3.0 types that p11-kit 0.24's <p11-kit/pkcs11.h> (Debian 12)
 * predates: CK_INTERFACE, CK_FUNCTION_LIST_3_0 and the new entry points, laid
 * out as in the OASIS 3.0 headers (pkcs11t.h, pkcs11f.h). The names carry a
 * p11_ prefix so a newer p11-kit header that defines the spec names cannot
 * clash; the layout is what callers depend on, and it is the spec's.
 */
#ifndef AGENTD_PKCS11_PKCS11_3_H
#define AGENTD_PKCS11_PKCS11_3_H

#include <p11-kit/pkcs11.h>

#define P11_CKR_OPERATION_CANCEL_FAILED 0x00000202UL
#define P11_CKF_INTERFACE_FORK_SAFE 0x00000001UL
#define P11_CKF_FIND_OBJECTS 0x00000040UL /* C_SessionCancel flag (3.0) */

/* CK_INTERFACE: pFunctionList starts with a CK_VERSION naming its layout. */
struct p11_interface {
    CK_CHAR *pInterfaceName;
    CK_VOID_PTR pFunctionList;
    CK_FLAGS flags;
};

typedef CK_RV (*p11_C_GetInterfaceList)(struct p11_interface *list, CK_ULONG_PTR count);
typedef CK_RV (*p11_C_GetInterface)(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version,
                                    struct p11_interface **ret, CK_FLAGS flags);
typedef CK_RV (*p11_C_LoginUser)(CK_SESSION_HANDLE hs, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                                 CK_ULONG pin_len, CK_UTF8CHAR_PTR username, CK_ULONG username_len);
typedef CK_RV (*p11_C_SessionCancel)(CK_SESSION_HANDLE hs, CK_FLAGS flags);
typedef CK_RV (*p11_C_MessageInit)(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech,
                                   CK_OBJECT_HANDLE key);
typedef CK_RV (*p11_C_CryptMessage)(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                                    CK_BYTE_PTR aad, CK_ULONG aad_len, CK_BYTE_PTR in,
                                    CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
typedef CK_RV (*p11_C_CryptMessageBegin)(CK_SESSION_HANDLE hs, CK_VOID_PTR param,
                                         CK_ULONG param_len, CK_BYTE_PTR aad, CK_ULONG aad_len);
typedef CK_RV (*p11_C_CryptMessageNext)(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                                        CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                                        CK_ULONG_PTR out_len, CK_FLAGS flags);
typedef CK_RV (*p11_C_MessageFinal)(CK_SESSION_HANDLE hs);
typedef CK_RV (*p11_C_SignMessage)(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                                   CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
                                   CK_ULONG_PTR sig_len);
typedef CK_RV (*p11_C_MessageBegin)(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len);
typedef CK_RV (*p11_C_VerifyMessage)(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                                     CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
                                     CK_ULONG sig_len);

/* CK_FUNCTION_LIST_3_0: the 2.40 list, then the 3.0 additions in spec order. */
struct p11_function_list_3_0 {
    CK_VERSION version;
    CK_C_Initialize C_Initialize;
    CK_C_Finalize C_Finalize;
    CK_C_GetInfo C_GetInfo;
    CK_C_GetFunctionList C_GetFunctionList;
    CK_C_GetSlotList C_GetSlotList;
    CK_C_GetSlotInfo C_GetSlotInfo;
    CK_C_GetTokenInfo C_GetTokenInfo;
    CK_C_GetMechanismList C_GetMechanismList;
    CK_C_GetMechanismInfo C_GetMechanismInfo;
    CK_C_InitToken C_InitToken;
    CK_C_InitPIN C_InitPIN;
    CK_C_SetPIN C_SetPIN;
    CK_C_OpenSession C_OpenSession;
    CK_C_CloseSession C_CloseSession;
    CK_C_CloseAllSessions C_CloseAllSessions;
    CK_C_GetSessionInfo C_GetSessionInfo;
    CK_C_GetOperationState C_GetOperationState;
    CK_C_SetOperationState C_SetOperationState;
    CK_C_Login C_Login;
    CK_C_Logout C_Logout;
    CK_C_CreateObject C_CreateObject;
    CK_C_CopyObject C_CopyObject;
    CK_C_DestroyObject C_DestroyObject;
    CK_C_GetObjectSize C_GetObjectSize;
    CK_C_GetAttributeValue C_GetAttributeValue;
    CK_C_SetAttributeValue C_SetAttributeValue;
    CK_C_FindObjectsInit C_FindObjectsInit;
    CK_C_FindObjects C_FindObjects;
    CK_C_FindObjectsFinal C_FindObjectsFinal;
    CK_C_EncryptInit C_EncryptInit;
    CK_C_Encrypt C_Encrypt;
    CK_C_EncryptUpdate C_EncryptUpdate;
    CK_C_EncryptFinal C_EncryptFinal;
    CK_C_DecryptInit C_DecryptInit;
    CK_C_Decrypt C_Decrypt;
    CK_C_DecryptUpdate C_DecryptUpdate;
    CK_C_DecryptFinal C_DecryptFinal;
    CK_C_DigestInit C_DigestInit;
    CK_C_Digest C_Digest;
    CK_C_DigestUpdate C_DigestUpdate;
    CK_C_DigestKey C_DigestKey;
    CK_C_DigestFinal C_DigestFinal;
    CK_C_SignInit C_SignInit;
    CK_C_Sign C_Sign;
    CK_C_SignUpdate C_SignUpdate;
    CK_C_SignFinal C_SignFinal;
    CK_C_SignRecoverInit C_SignRecoverInit;
    CK_C_SignRecover C_SignRecover;
    CK_C_VerifyInit C_VerifyInit;
    CK_C_Verify C_Verify;
    CK_C_VerifyUpdate C_VerifyUpdate;
    CK_C_VerifyFinal C_VerifyFinal;
    CK_C_VerifyRecoverInit C_VerifyRecoverInit;
    CK_C_VerifyRecover C_VerifyRecover;
    CK_C_DigestEncryptUpdate C_DigestEncryptUpdate;
    CK_C_DecryptDigestUpdate C_DecryptDigestUpdate;
    CK_C_SignEncryptUpdate C_SignEncryptUpdate;
    CK_C_DecryptVerifyUpdate C_DecryptVerifyUpdate;
    CK_C_GenerateKey C_GenerateKey;
    CK_C_GenerateKeyPair C_GenerateKeyPair;
    CK_C_WrapKey C_WrapKey;
    CK_C_UnwrapKey C_UnwrapKey;
    CK_C_DeriveKey C_DeriveKey;
    CK_C_SeedRandom C_SeedRandom;
    CK_C_GenerateRandom C_GenerateRandom;
    CK_C_GetFunctionStatus C_GetFunctionStatus;
    CK_C_CancelFunction C_CancelFunction;
    CK_C_WaitForSlotEvent C_WaitForSlotEvent;
    p11_C_GetInterfaceList C_GetInterfaceList;
    p11_C_GetInterface C_GetInterface;
    p11_C_LoginUser C_LoginUser;
    p11_C_SessionCancel C_SessionCancel;
    p11_C_MessageInit C_MessageEncryptInit;
    p11_C_CryptMessage C_EncryptMessage;
    p11_C_CryptMessageBegin C_EncryptMessageBegin;
    p11_C_CryptMessageNext C_EncryptMessageNext;
    p11_C_MessageFinal C_MessageEncryptFinal;
    p11_C_MessageInit C_MessageDecryptInit;
    p11_C_CryptMessage C_DecryptMessage;
    p11_C_CryptMessageBegin C_DecryptMessageBegin;
    p11_C_CryptMessageNext C_DecryptMessageNext;
    p11_C_MessageFinal C_MessageDecryptFinal;
    p11_C_MessageInit C_MessageSignInit;
    p11_C_SignMessage C_SignMessage;
    p11_C_MessageBegin C_SignMessageBegin;
    p11_C_SignMessage C_SignMessageNext;
    p11_C_MessageFinal C_MessageSignFinal;
    p11_C_MessageInit C_MessageVerifyInit;
    p11_C_VerifyMessage C_VerifyMessage;
    p11_C_MessageBegin C_VerifyMessageBegin;
    p11_C_VerifyMessage C_VerifyMessageNext;
    p11_C_MessageFinal C_MessageVerifyFinal;
};

#endif
