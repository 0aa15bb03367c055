/*
 * The module's function lists and PKCS#11 3.0 interfaces ("PKCS 11" 3.0, the
 * default, and "PKCS 11" 2.40), and the 3.0 entry points the lists point at
 * that p11-kit 0.24's header does not declare.
 */
#ifndef AGENTD_PKCS11_INTERFACE_H
#define AGENTD_PKCS11_INTERFACE_H

#include <p11-kit/pkcs11.h>

#include "pkcs11_3.h"

/* The exports beside C_GetFunctionList (p11-kit 0.24 does not declare them). */
CK_RV C_GetInterfaceList(struct p11_interface *list, CK_ULONG_PTR n);
CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, struct p11_interface **ret,
                     CK_FLAGS flags);

/* C_GetInfo as reached through the 2.40 list: cryptokiVersion 2.40. */
CK_RV module_get_info_240(CK_INFO_PTR info);

/* module.c: login and session cancel (3.0 §5.6). */
CK_RV C_LoginUser(CK_SESSION_HANDLE hs, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                  CK_UTF8CHAR_PTR username, CK_ULONG username_len);
CK_RV C_SessionCancel(CK_SESSION_HANDLE hs, CK_FLAGS flags);

/* unsupported.c: the message-based functions of 3.0 (not offered). */
CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV C_EncryptMessage(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR aad,
                       CK_ULONG aad_len, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len);
CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                            CK_BYTE_PTR aad, CK_ULONG aad_len);
CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                           CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                           CK_FLAGS flags);
CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE hs);
CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV C_DecryptMessage(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR aad,
                       CK_ULONG aad_len, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len);
CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                            CK_BYTE_PTR aad, CK_ULONG aad_len);
CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                           CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                           CK_FLAGS flags);
CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE hs);
CK_RV C_MessageSignInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV C_SignMessage(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR data,
                    CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len);
CK_RV C_SignMessageBegin(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len);
CK_RV C_SignMessageNext(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                        CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len);
CK_RV C_MessageSignFinal(CK_SESSION_HANDLE hs);
CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE hs, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV C_VerifyMessage(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR data,
                      CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG sig_len);
CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len);
CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE hs, CK_VOID_PTR param, CK_ULONG param_len,
                          CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG sig_len);
CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE hs);

#endif
