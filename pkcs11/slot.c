#include "slot.h"

#include <string.h>

#include "module.h"
#include "session.h"

void slot_pad(CK_UTF8CHAR *field, size_t size, const char *s)
{
    size_t n = strlen(s);

    memset(field, ' ', size);
    memcpy(field, s, n < size ? n : size);
}

CK_RV slot_list(CK_SLOT_ID_PTR out, CK_ULONG_PTR count)
{
    if (out != NULL && *count < 1) {
        *count = 1;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (out != NULL) {
        out[0] = SLOT_ID;
    }
    *count = 1;
    return CKR_OK;
}

CK_RV slot_info(CK_SLOT_ID id, CK_SLOT_INFO_PTR info)
{
    struct client_info token;
    CK_RV rv;

    if (id != SLOT_ID) {
        return CKR_SLOT_ID_INVALID;
    }
    if ((rv = client_token_info(&token)) != CKR_OK) {
        return rv;
    }
    memset(info, 0, sizeof(*info));
    slot_pad(info->slotDescription, sizeof(info->slotDescription), "agentd TPM 2.0 workload keys");
    slot_pad(info->manufacturerID, sizeof(info->manufacturerID), token.manufacturer);
    info->flags = CKF_TOKEN_PRESENT;
    info->hardwareVersion.major = 0;
    info->firmwareVersion.major = 0;
    info->firmwareVersion.minor = 1;
    return CKR_OK;
}

CK_RV slot_token_info(CK_SLOT_ID id, CK_TOKEN_INFO_PTR info)
{
    struct client_info token;
    CK_ULONG all, rw;
    CK_RV rv;

    if (id != SLOT_ID) {
        return CKR_SLOT_ID_INVALID;
    }
    if ((rv = client_token_info(&token)) != CKR_OK) {
        return rv;
    }
    session_count(&all, &rw);
    memset(info, 0, sizeof(*info));
    slot_pad(info->label, sizeof(info->label), token.token_label);
    slot_pad(info->manufacturerID, sizeof(info->manufacturerID), token.manufacturer);
    slot_pad(info->model, sizeof(info->model), "agentd");
    slot_pad(info->serialNumber, sizeof(info->serialNumber), token.serial);
    /* No CKF_LOGIN_REQUIRED: identity comes from attestation; C_Login still works. */
    info->flags = CKF_TOKEN_INITIALIZED | CKF_RNG | CKF_USER_PIN_INITIALIZED;
    info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulSessionCount = all;
    info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulRwSessionCount = rw;
    info->ulMaxPinLen = 255;
    info->ulMinPinLen = 0;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->hardwareVersion.major = 2; /* TPM 2.0 */
    info->firmwareVersion.minor = 1;
    slot_pad(info->utcTime, sizeof(info->utcTime), "");
    return CKR_OK;
}
