/*
 * Internals shared by audit.c (writer) and audit_verify.c (verify, tail).
 * Not for other modules: the public API is audit.h.
 */
#ifndef AGENTD_AUDIT_VERIFY_H
#define AGENTD_AUDIT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_head_file.h"
#include "err.h"

/* SHA-256 of len bytes at p into out. */
AD_MUST_CHECK int audit_sha256(const void *p, size_t len, uint8_t out[32]);

/* 2*n lowercase hex digits and a NUL into out. */
void audit_hex(const uint8_t *in, size_t n, char *out);

/* Parse exactly 64 hex digits. Returns AD_OK or AD_ERR_FORMAT. */
AD_MUST_CHECK int audit_unhex32(const char *s, size_t len, uint8_t out[32]);

/*
 * Parse one record line (no '\n'): a JSON object with integer "seq" >= 1 and
 * a 64-hex "prev". Returns AD_OK or AD_ERR_FORMAT.
 */
AD_MUST_CHECK int audit_parse_line(const char *line, size_t len, uint64_t *ret_seq,
                                   uint8_t ret_prev[32]);

/* "<path>.<i>" (i > 0) or "<path>.head" (suffix) into out; AD_ERR_TOO_LARGE if it does not fit. */
AD_MUST_CHECK int audit_rotated_name(const char *path, unsigned i, char *out, size_t outlen);
AD_MUST_CHECK int audit_head_name(const char *path, char *out, size_t outlen);

/* Number of the oldest rotated file present (path.1 .. path.N), 0 when none. */
unsigned audit_oldest_rotated(const char *path);

#endif
