/*
 * One audit record as one JSON line (the layout is in audit.h).
 *
 * The daemon writes a record for every decision, on the path of the reply,
 * so the formatter keeps its json-c object, its value objects and its output
 * buffer from one record to the next and only sets the values: no
 * allocation per record once the strings have reached their longest, and
 * the line is byte for byte what a fresh object would print (same keys,
 * same order, same escaping, null for an absent value). Measured on this
 * project's 2-core VM, a 477-byte allow record: 2.3 us with a fresh object
 * per record, 1.0 us reused (bench/README.md).
 *
 * Thread-safety: none; one formatter per audit handle.
 */
#ifndef AGENTD_AUDIT_LINE_H
#define AGENTD_AUDIT_LINE_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "err.h"

struct audit_line;

AD_MUST_CHECK int audit_line_new(struct audit_line **ret);
void audit_line_free(struct audit_line *l); /* NULL is fine */

/*
 * Format rec as record seq chained to prev (32 bytes), stamped with the
 * current time. *ret_line points into l, valid until the next call, and ends
 * with '\n' (*ret_len counts it). Returns AD_ERR_NOMEM, or AD_ERR_TOO_LARGE
 * when the line would exceed AUDIT_LINE_MAX.
 */
AD_MUST_CHECK int audit_line_format(struct audit_line *l, uint64_t seq, const uint8_t prev[32],
                                    const struct audit_record *rec, const char **ret_line,
                                    size_t *ret_len);

#endif
