#include "err.h"

const char *ad_strerror(int err)
{
    switch (err) {
    case AD_OK:
        return "success";
    case AD_ERR_INTERNAL:
        return "internal error";
    case AD_ERR_NOMEM:
        return "out of memory";
    case AD_ERR_SHORT:
        return "message truncated";
    case AD_ERR_FORMAT:
        return "malformed message";
    case AD_ERR_TOO_LARGE:
        return "over the size limit";
    case AD_ERR_TRAILING:
        return "unexpected trailing data";
    case AD_ERR_DENIED:
        return "denied by policy";
    case AD_ERR_TPM:
        return "TPM command failed";
    case AD_ERR_SYSTEM:
        return "system call failed";
    case AD_ERR_NOT_FOUND:
        return "not found";
    case AD_ERR_UNSUPPORTED:
        return "not supported";
    case AD_ERR_CLOSED:
        return "connection closed";
    case AD_ERR_INVALID:
        return "invalid argument";
    case AD_ERR_EXISTS:
        return "already exists";
    case AD_ERR_RATE:
        return "rate limit exceeded";
    case AD_ERR_TPM_RETRY:
        return "TPM busy (retries exhausted)";
    case AD_ERR_TPM_LOST:
        return "TPM connection lost";
    case AD_ERR_CORRUPT:
        return "stored data is corrupt";
    case AD_ERR_CONFIG:
        return "invalid configuration";
    }
    return "unknown error";
}
