/*
 * Wire status codes (proto/README.md "Replies"): the first u32 of every reply
 * body. Translation ad_err -> status happens here and only here; status ->
 * CK_RV happens in pkcs11/.
 */
#ifndef AGENTD_PROTO_STATUS_H
#define AGENTD_PROTO_STATUS_H

#include <stdint.h>

enum status_code {
    STATUS_OK = 0,
    STATUS_INTERNAL = 1,
    STATUS_BAD_REQUEST = 2,
    STATUS_DENIED = 3,
    STATUS_NOT_FOUND = 4,
    STATUS_MECHANISM_INVALID = 5,
    STATUS_DATA_LEN_RANGE = 6,
    STATUS_KEY_TYPE = 7,
    STATUS_TPM_ERROR = 8,
    STATUS_RATE_LIMITED = 9,
    STATUS_UNSUPPORTED = 10,
    STATUS_NO_MEMORY = 11,
    STATUS_EXISTS = 12,
    STATUS_BUSY = 13,
    STATUS_VERSION = 14,
    STATUS_MECHANISM_PARAM = 15,
};
#define STATUS_COUNT 16

/* Status for a negative enum ad_err (0 gives STATUS_OK). The parse errors
 * (SHORT, FORMAT, TOO_LARGE, TRAILING, INVALID) give BAD_REQUEST; anything unknown
 * gives INTERNAL. MECHANISM_*, DATA_LEN_RANGE, KEY_TYPE and VERSION have no ad_err:
 * the daemon sends them directly. */
uint32_t status_from_err(int ad_err);

/* The closest ad_err for a status received by a client (STATUS_OK gives 0). */
int status_to_err(uint32_t status);

/* "OK", "BAD_REQUEST", ...; "UNKNOWN" for values outside the table. Static text. */
const char *status_name(uint32_t status);

#endif
