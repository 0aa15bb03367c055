/*
 * One slot (ID 0) holding one token, the daemon. Token identity (label,
 * manufacturer, serial) comes from agentd's answer to the HELLO sent at
 * C_Initialize (client_token_info).
 */
#ifndef AGENTD_PKCS11_SLOT_H
#define AGENTD_PKCS11_SLOT_H

#include <p11-kit/pkcs11.h>

#include "client.h"

#define SLOT_ID 0

CK_RV slot_list(CK_SLOT_ID_PTR out, CK_ULONG_PTR count);
CK_RV slot_info(CK_SLOT_ID id, CK_SLOT_INFO_PTR info);
CK_RV slot_token_info(CK_SLOT_ID id, CK_TOKEN_INFO_PTR info);

/* Blank-padded copy of s into a fixed PKCS#11 text field. */
void slot_pad(CK_UTF8CHAR *field, size_t size, const char *s);

#endif
