/*
 * Daemon logging to stderr with syslog-style "<N>" level prefixes, which
 * journald turns into priorities (it adds the time itself). Never pass
 * request data, key material or secrets: log what happened, not the bytes.
 */
#ifndef AGENTD_LOG_H
#define AGENTD_LOG_H

enum log_level {
    LOG_LEVEL_ERROR = 3,
    LOG_LEVEL_WARN = 4,
    LOG_LEVEL_INFO = 6,
    LOG_LEVEL_DEBUG = 7,
};

/* Messages above level are dropped. Default LOG_LEVEL_INFO. Thread-safe. */
void log_set_level(enum log_level level);

/* Parse "error", "warn", "info", "debug". Returns 0 or AD_ERR_INVALID. */
int log_parse_level(const char *name, enum log_level *ret_level);

/* One line to stderr; a trailing newline is added. Thread-safe (one write(2)). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
