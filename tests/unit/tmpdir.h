/*
 * A fresh private directory for each test that writes files (made in a
 * cmocka setup) and its removal, whole, in the teardown.
 */
#ifndef AGENTD_TESTS_TMPDIR_H
#define AGENTD_TESTS_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

/* dir (len bytes) becomes /tmp/<name>.XXXXXX, created 0700. 0 or -1. */
static inline int tmpdir_make(char *dir, size_t len, const char *name)
{
    int n = snprintf(dir, len, "/tmp/%s.XXXXXX", name);

    return n > 0 && (size_t)n < len && mkdtemp(dir) != NULL ? 0 : -1;
}

/* rm -rf dir (a tmpdir_make name: no quote in it). 0 or -1. */
static inline int tmpdir_remove(const char *dir)
{
    char cmd[160];
    int n = snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);

    return n > 0 && (size_t)n < sizeof(cmd) && system(cmd) == 0 ? 0 : -1;
}

#endif
