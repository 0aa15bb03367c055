#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

static atomic_int max_level = LOG_LEVEL_INFO;

void log_set_level(enum log_level level)
{
    atomic_store(&max_level, (int)level);
}

int log_parse_level(const char *name, enum log_level *ret_level)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {
        {"error", LOG_LEVEL_ERROR}, {"warn", LOG_LEVEL_WARN},   {"warning", LOG_LEVEL_WARN},
        {"info", LOG_LEVEL_INFO},   {"debug", LOG_LEVEL_DEBUG},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *ret_level = names[i].level;
            return AD_OK;
        }
    }
    return AD_ERR_INVALID;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;
    int m;

    if ((int)level > atomic_load(&max_level)) {
        return;
    }
    n = snprintf(line, sizeof(line), "<%d>", (int)level);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) {
        return;
    }
    n += m;
    if ((size_t)n > sizeof(line) - 2) {
        n = (int)sizeof(line) - 2; /* truncated */
    }
    line[n++] = '\n';
    /* One write so lines from the worker and the loop thread never interleave. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        return;
    }
}
