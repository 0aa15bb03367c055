/*
 * Fuzz the audit files' parsers: the first byte picks a record line
 * (audit_parse_line: verification and audit_open read every line back) or a
 * head file (audit_head_parse, either layout); the rest is the file's bytes.
 * Both files sit on disk where whoever can write them can tamper, and
 * verification exists to read tampered files, so they are untrusted input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "audit_head_file.h"
#include "audit_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct audit_head h;
    uint8_t prev[32];
    uint64_t seq = 0;

    if (size < 1 || size > HEAD_FILE_LEN + 2) {
        return 0;
    }
    if (data[0] & 1) {
        if (audit_parse_line((const char *)data + 1, size - 1, &seq, prev) == AD_OK && seq < 1) {
            abort(); /* records count from 1 */
        }
    } else {
        (void)!audit_head_parse((const char *)data + 1, size - 1, &h);
    }
    return 0;
}
