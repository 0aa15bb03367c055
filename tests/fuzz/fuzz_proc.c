/*
 * Fuzz the /proc parsers workload.c identifies callers with: the first byte
 * picks /proc/PID/cgroup (workload_parse_cgroup, then the unit name),
 * /proc/PID/stat (start time) or /proc/PID/status (effective uid); the rest
 * is the file's text. A process controls parts of these files (its comm,
 * its cgroup path under a delegated subtree), so they are untrusted input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *cg = NULL;
    char *unit = NULL;
    char *text;
    uint64_t start;
    uid_t uid;

    if (size < 1 || size > 1 << 16) {
        return 0;
    }
    /* The stat and status readers hand the parsers NUL-terminated text. */
    if ((text = malloc(size)) == NULL) {
        return 0;
    }
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0:
        /* Not NUL-terminated on purpose: the length is what bounds it. */
        if (workload_parse_cgroup((const char *)data + 1, size - 1, &cg, &unit) == 0 &&
            (cg == NULL || cg[0] != '/')) {
            abort(); /* a parsed v2 path is absolute */
        }
        free(cg);
        free(unit);
        break;
    case 1:
        (void)!workload_parse_start_time(text, &start);
        break;
    default:
        (void)!workload_parse_euid(text, &uid);
        break;
    }
    free(text);
    return 0;
}
