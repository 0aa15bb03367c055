#include "status.h"

#include "err.h"

static const char *const names[STATUS_COUNT] = {
    [STATUS_OK] = "OK",
    [STATUS_INTERNAL] = "INTERNAL",
    [STATUS_BAD_REQUEST] = "BAD_REQUEST",
    [STATUS_DENIED] = "DENIED",
    [STATUS_NOT_FOUND] = "NOT_FOUND",
    [STATUS_MECHANISM_INVALID] = "MECHANISM_INVALID",
    [STATUS_DATA_LEN_RANGE] = "DATA_LEN_RANGE",
    [STATUS_KEY_TYPE] = "KEY_TYPE",
    [STATUS_TPM_ERROR] = "TPM_ERROR",
    [STATUS_RATE_LIMITED] = "RATE_LIMITED",
    [STATUS_UNSUPPORTED] = "UNSUPPORTED",
    [STATUS_NO_MEMORY] = "NO_MEMORY",
    [STATUS_EXISTS] = "EXISTS",
    [STATUS_BUSY] = "BUSY",
    [STATUS_VERSION] = "VERSION",
    [STATUS_MECHANISM_PARAM] = "MECHANISM_PARAM",
};

uint32_t status_from_err(int ad_err)
{
    switch (ad_err) {
    case AD_OK:
        return STATUS_OK;
    case AD_ERR_NOMEM:
        return STATUS_NO_MEMORY;
    case AD_ERR_SHORT:
    case AD_ERR_FORMAT:
    case AD_ERR_TOO_LARGE:
    case AD_ERR_TRAILING:
    case AD_ERR_INVALID:
        return STATUS_BAD_REQUEST;
    case AD_ERR_DENIED:
        return STATUS_DENIED;
    case AD_ERR_TPM:
    case AD_ERR_TPM_LOST:
        return STATUS_TPM_ERROR;
    case AD_ERR_TPM_RETRY:
        return STATUS_BUSY;
    case AD_ERR_NOT_FOUND:
        return STATUS_NOT_FOUND;
    case AD_ERR_UNSUPPORTED:
        return STATUS_UNSUPPORTED;
    case AD_ERR_EXISTS:
        return STATUS_EXISTS;
    case AD_ERR_RATE:
        return STATUS_RATE_LIMITED;
    default:
        /* INTERNAL, SYSTEM, CLOSED, CORRUPT, CONFIG and anything unknown: the
         * detail was logged by the daemon; the client only learns it failed. */
        return STATUS_INTERNAL;
    }
}

int status_to_err(uint32_t status)
{
    switch (status) {
    case STATUS_OK:
        return AD_OK;
    case STATUS_BAD_REQUEST:
    case STATUS_DATA_LEN_RANGE:
    case STATUS_MECHANISM_PARAM:
        return AD_ERR_INVALID;
    case STATUS_DENIED:
        return AD_ERR_DENIED;
    case STATUS_NOT_FOUND:
        return AD_ERR_NOT_FOUND;
    case STATUS_MECHANISM_INVALID:
    case STATUS_KEY_TYPE:
    case STATUS_UNSUPPORTED:
    case STATUS_VERSION:
        return AD_ERR_UNSUPPORTED;
    case STATUS_TPM_ERROR:
        return AD_ERR_TPM;
    case STATUS_RATE_LIMITED:
        return AD_ERR_RATE;
    case STATUS_NO_MEMORY:
        return AD_ERR_NOMEM;
    case STATUS_EXISTS:
        return AD_ERR_EXISTS;
    case STATUS_BUSY:
        return AD_ERR_TPM_RETRY;
    default:
        return AD_ERR_INTERNAL;
    }
}

const char *status_name(uint32_t status)
{
    if (status >= STATUS_COUNT) {
        return "UNKNOWN";
    }
    return names[status];
}
