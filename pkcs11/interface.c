/*
 * Function lists and interfaces (PKCS#11 3.0 §5.4). Two interfaces, both
 * named "PKCS 11": 3.0 (CK_FUNCTION_LIST_3_0, the default) and 2.40 (the list
 * C_GetFunctionList returns). The 2.40 list differs only in its version and
 * in C_GetInfo, which reports the list's version. None of the three exports
 * needs C_Initialize first, and none touches module state.
 */
#include "interface.h"

#include <string.h>

#define EXPORT __attribute__((visibility("default")))

/*
 * The 2.40 entries both lists share. C_GetInfo differs: it reports the
 * version of the list it was called through.
 */
// clang-format off
#define LIST_240_SHARED \
    .C_Initialize = C_Initialize, \
    .C_Finalize = C_Finalize, \
    .C_GetFunctionList = C_GetFunctionList, \
    .C_GetSlotList = C_GetSlotList, \
    .C_GetSlotInfo = C_GetSlotInfo, \
    .C_GetTokenInfo = C_GetTokenInfo, \
    .C_GetMechanismList = C_GetMechanismList, \
    .C_GetMechanismInfo = C_GetMechanismInfo, \
    .C_InitToken = C_InitToken, \
    .C_InitPIN = C_InitPIN, \
    .C_SetPIN = C_SetPIN, \
    .C_OpenSession = C_OpenSession, \
    .C_CloseSession = C_CloseSession, \
    .C_CloseAllSessions = C_CloseAllSessions, \
    .C_GetSessionInfo = C_GetSessionInfo, \
    .C_GetOperationState = C_GetOperationState, \
    .C_SetOperationState = C_SetOperationState, \
    .C_Login = C_Login, \
    .C_Logout = C_Logout, \
    .C_CreateObject = C_CreateObject, \
    .C_CopyObject = C_CopyObject, \
    .C_DestroyObject = C_DestroyObject, \
    .C_GetObjectSize = C_GetObjectSize, \
    .C_GetAttributeValue = C_GetAttributeValue, \
    .C_SetAttributeValue = C_SetAttributeValue, \
    .C_FindObjectsInit = C_FindObjectsInit, \
    .C_FindObjects = C_FindObjects, \
    .C_FindObjectsFinal = C_FindObjectsFinal, \
    .C_EncryptInit = C_EncryptInit, \
    .C_Encrypt = C_Encrypt, \
    .C_EncryptUpdate = C_EncryptUpdate, \
    .C_EncryptFinal = C_EncryptFinal, \
    .C_DecryptInit = C_DecryptInit, \
    .C_Decrypt = C_Decrypt, \
    .C_DecryptUpdate = C_DecryptUpdate, \
    .C_DecryptFinal = C_DecryptFinal, \
    .C_DigestInit = C_DigestInit, \
    .C_Digest = C_Digest, \
    .C_DigestUpdate = C_DigestUpdate, \
    .C_DigestKey = C_DigestKey, \
    .C_DigestFinal = C_DigestFinal, \
    .C_SignInit = C_SignInit, \
    .C_Sign = C_Sign, \
    .C_SignUpdate = C_SignUpdate, \
    .C_SignFinal = C_SignFinal, \
    .C_SignRecoverInit = C_SignRecoverInit, \
    .C_SignRecover = C_SignRecover, \
    .C_VerifyInit = C_VerifyInit, \
    .C_Verify = C_Verify, \
    .C_VerifyUpdate = C_VerifyUpdate, \
    .C_VerifyFinal = C_VerifyFinal, \
    .C_VerifyRecoverInit = C_VerifyRecoverInit, \
    .C_VerifyRecover = C_VerifyRecover, \
    .C_DigestEncryptUpdate = C_DigestEncryptUpdate, \
    .C_DecryptDigestUpdate = C_DecryptDigestUpdate, \
    .C_SignEncryptUpdate = C_SignEncryptUpdate, \
    .C_DecryptVerifyUpdate = C_DecryptVerifyUpdate, \
    .C_GenerateKey = C_GenerateKey, \
    .C_GenerateKeyPair = C_GenerateKeyPair, \
    .C_WrapKey = C_WrapKey, \
    .C_UnwrapKey = C_UnwrapKey, \
    .C_DeriveKey = C_DeriveKey, \
    .C_SeedRandom = C_SeedRandom, \
    .C_GenerateRandom = C_GenerateRandom, \
    .C_GetFunctionStatus = C_GetFunctionStatus, \
    .C_CancelFunction = C_CancelFunction, \
    .C_WaitForSlotEvent = C_WaitForSlotEvent
// clang-format on

static CK_FUNCTION_LIST list_240 = {
    .version = {2, 40},
    .C_GetInfo = module_get_info_240,
    LIST_240_SHARED,
};

static struct p11_function_list_3_0 list_30 = {
    .version = {3, 0},
    .C_GetInfo = C_GetInfo,
    LIST_240_SHARED,
    .C_GetInterfaceList = C_GetInterfaceList,
    .C_GetInterface = C_GetInterface,
    .C_LoginUser = C_LoginUser,
    .C_SessionCancel = C_SessionCancel,
    .C_MessageEncryptInit = C_MessageEncryptInit,
    .C_EncryptMessage = C_EncryptMessage,
    .C_EncryptMessageBegin = C_EncryptMessageBegin,
    .C_EncryptMessageNext = C_EncryptMessageNext,
    .C_MessageEncryptFinal = C_MessageEncryptFinal,
    .C_MessageDecryptInit = C_MessageDecryptInit,
    .C_DecryptMessage = C_DecryptMessage,
    .C_DecryptMessageBegin = C_DecryptMessageBegin,
    .C_DecryptMessageNext = C_DecryptMessageNext,
    .C_MessageDecryptFinal = C_MessageDecryptFinal,
    .C_MessageSignInit = C_MessageSignInit,
    .C_SignMessage = C_SignMessage,
    .C_SignMessageBegin = C_SignMessageBegin,
    .C_SignMessageNext = C_SignMessageNext,
    .C_MessageSignFinal = C_MessageSignFinal,
    .C_MessageVerifyInit = C_MessageVerifyInit,
    .C_VerifyMessage = C_VerifyMessage,
    .C_VerifyMessageBegin = C_VerifyMessageBegin,
    .C_VerifyMessageNext = C_VerifyMessageNext,
    .C_MessageVerifyFinal = C_MessageVerifyFinal,
};

static CK_CHAR interface_name[] = "PKCS 11";

/* The default first: C_GetInterface(NULL, NULL, ...) takes the first match. */
static struct p11_interface interfaces[] = {
    {interface_name, &list_30, 0},
    {interface_name, &list_240, 0},
};

#define N_INTERFACES (sizeof(interfaces) / sizeof(interfaces[0]))

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret)
{
    if (ret == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    *ret = &list_240;
    return CKR_OK;
}

EXPORT CK_RV C_GetInterfaceList(struct p11_interface *list, CK_ULONG_PTR n)
{
    CK_ULONG want = N_INTERFACES;

    if (n == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    if (list == NULL) {
        *n = want; /* size query */
        return CKR_OK;
    }
    if (*n < want) {
        *n = want;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(list, interfaces, sizeof(interfaces));
    *n = want;
    return CKR_OK;
}

/* The function list of an interface starts with the CK_VERSION of its layout. */
static const CK_VERSION *version_of(const struct p11_interface *i)
{
    return (const CK_VERSION *)i->pFunctionList;
}

/*
 * NULL name: the default interface; NULL version: the named interface's
 * default (the newest). The interface must offer every flag asked for. No
 * match is CKR_ARGUMENTS_BAD (3.0 §5.4, C_GetInterface).
 */
EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version,
                            struct p11_interface **ret, CK_FLAGS flags)
{
    size_t i;

    if (ret == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    for (i = 0; i < N_INTERFACES; i++) {
        const struct p11_interface *it = &interfaces[i];

        if (name != NULL && strcmp((const char *)name, (const char *)it->pInterfaceName) != 0) {
            continue;
        }
        if (version != NULL &&
            (version->major != version_of(it)->major || version->minor != version_of(it)->minor)) {
            continue;
        }
        if ((flags & ~it->flags) != 0) {
            continue;
        }
        *ret = &interfaces[i];
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}
