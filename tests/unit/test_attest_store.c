/*
 * The SQLite store: schema creation and migration (from versions 1 and 3,
 * and a newer schema refused), hosts, sessions, events, and the file mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"

static char dir[] = "/tmp/attest-store.XXXXXX";
static char db[600];

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(db, sizeof(db), "%s/ca.db", dir);
    return 0;
}

static void rm_db(void)
{
    char p[700];

    unlink(db);
    snprintf(p, sizeof(p), "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", db);
    unlink(p);
}

static int teardown(void **state)
{
    (void)state;
    rm_db();
    rmdir(dir);
    return 0;
}

static int count_host(const struct store_host *h, void *arg)
{
    (void)h;
    (*(int *)arg)++;
    return AD_OK;
}

static int count_event(int64_t at, const char *what, const char *reason, void *arg)
{
    (void)at;
    (void)what;
    assert_non_null(reason);
    (*(int *)arg)++;
    return AD_OK;
}

static void test_hosts_sessions_events(void **state)
{
    struct store *s = NULL;
    struct store_host h = {0}, g;
    struct store_session ss = {0}, sg;
    struct stat st;
    int n = 0;

    (void)state;
    rm_db();
    assert_int_equal(store_open(db, &s), AD_OK);
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(store_host_get(s, "nope", &g), AD_ERR_NOT_FOUND);
    snprintf(h.id, sizeof(h.id), "%s", "abc");
    snprintf(h.status, sizeof(h.status), "%s", STORE_ENROLLED);
    snprintf(h.host_class, sizeof(h.host_class), "%s", "default");
    h.has_clock = 1;
    h.clock = 0xffffffffffull + 5; /* beyond 32 bits */
    h.reset_count = 7;
    h.ak_pub[0] = 9;
    h.ak_pub_len = 1;
    memset(h.clock_signer, 0xc5, sizeof(h.clock_signer));
    h.clock_signer_len = sizeof(h.clock_signer); /* the largest name */
    assert_int_equal(store_host_put(s, &h), AD_OK);
    assert_int_equal(store_host_get(s, "abc", &g), AD_OK);
    assert_int_equal(g.clock, h.clock);
    assert_int_equal(g.reset_count, 7);
    assert_int_equal(g.ak_pub_len, 1);
    assert_int_equal(g.clock_signer_len, sizeof(h.clock_signer));
    assert_memory_equal(g.clock_signer, h.clock_signer, sizeof(h.clock_signer));
    assert_string_equal(g.status, STORE_ENROLLED);
    assert_int_equal(store_host_list(s, count_host, &n), AD_OK);
    assert_int_equal(n, 1);
    snprintf(ss.id, sizeof(ss.id), "%s", "0123456789abcdef0123456789abcdef");
    snprintf(ss.host_id, sizeof(ss.host_id), "%s", "abc");
    ss.step = 2;
    ss.nonce[31] = 0x5a;
    ss.ak_pub_len = 3;
    ss.has_clock = 1;
    ss.reset_count = 0xfffffffeu; /* obfuscated counters use all 32 bits */
    ss.clock_signer[0] = 0x00;
    ss.clock_signer[1] = 0x0b;
    ss.clock_signer_len = 34;
    assert_int_equal(store_session_put(s, &ss), AD_OK);
    assert_int_equal(store_session_get(s, ss.id, &sg), AD_OK);
    assert_int_equal(sg.step, 2);
    assert_int_equal(sg.nonce[31], 0x5a);
    assert_int_equal(sg.ak_pub_len, 3);
    assert_int_equal(sg.reset_count, 0xfffffffeu);
    assert_int_equal(sg.clock_signer_len, 34);
    assert_int_equal(sg.clock_signer[1], 0x0b);
    {
        size_t live = 0;
        assert_int_equal(store_session_gc(s, 0, &live), AD_OK); /* ss.expires = 0: kept */
        assert_int_equal(live, 1);
        assert_int_equal(store_session_gc(s, 1, &live), AD_OK); /* now expired */
        assert_int_equal(live, 0);
        assert_int_equal(store_session_put(s, &ss), AD_OK);
    }
    assert_int_equal(store_session_delete(s, ss.id), AD_OK);
    assert_int_equal(store_session_get(s, ss.id, &sg), AD_ERR_NOT_FOUND);
    assert_int_equal(store_event_add(s, "abc", "refused", "why"), AD_OK);
    assert_int_equal(store_event_add(s, "other", "refused", "why"), AD_OK);
    n = 0;
    assert_int_equal(store_event_list(s, "abc", count_event, &n), AD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(store_host_delete(s, "abc"), AD_OK);
    assert_int_equal(store_host_delete(s, "abc"), AD_ERR_NOT_FOUND);
    store_close(s);
}

/* A database left at schema version 1 (no hosts.ak_pub) is migrated, data kept. */
static void test_migrate_from_v1(void **state)
{
    sqlite3 *q = NULL;
    struct store *s = NULL;
    struct store_host g;

    (void)state;
    rm_db();
    assert_int_equal(sqlite3_open(db, &q), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(q,
                     "CREATE TABLE hosts(id TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT NOT"
                     " NULL, host_class TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER"
                     " NOT NULL, has_clock INTEGER NOT NULL, clock INTEGER NOT NULL, reset_count"
                     " INTEGER NOT NULL, restart_count INTEGER NOT NULL, cert_not_after INTEGER"
                     " NOT NULL);"
                     "CREATE TABLE sessions(id TEXT PRIMARY KEY, host_id TEXT NOT NULL, host_class"
                     " TEXT NOT NULL, step INTEGER NOT NULL, expires INTEGER NOT NULL, secret_hash"
                     " BLOB NOT NULL, nonce BLOB NOT NULL, ak_pub BLOB NOT NULL, has_clock INTEGER"
                     " NOT NULL, clock INTEGER NOT NULL, reset_count INTEGER NOT NULL,"
                     " restart_count INTEGER NOT NULL);"
                     "CREATE TABLE events(seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT"
                     " NULL, host_id TEXT NOT NULL, what TEXT NOT NULL, reason TEXT NOT NULL);"
                     "INSERT INTO hosts VALUES('old','refused','because','default',1,2,0,0,0,0,0);"
                     "PRAGMA user_version=1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(q);
    assert_int_equal(store_open(db, &s), AD_OK);
    assert_int_equal(store_host_get(s, "old", &g), AD_OK);
    assert_string_equal(g.reason, "because");
    assert_int_equal(g.ak_pub_len, 0);
    store_close(s);
}

/*
 * A database at schema version 3 (a quote clock without its signer) is
 * migrated: the clock and AK are kept, the signer is unknown (empty), and a
 * session row gains the column too.
 */
static void test_migrate_from_v3(void **state)
{
    sqlite3 *q = NULL;
    struct store *s = NULL;
    struct store_host g;
    struct store_session ss = {0}, sg;

    (void)state;
    rm_db();
    assert_int_equal(store_open(db, &s), AD_OK); /* the current schema, then back to 3 */
    store_close(s);
    s = NULL;
    assert_int_equal(sqlite3_open(db, &q), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(q,
                     "DROP TABLE hosts; DROP TABLE sessions;"
                     "CREATE TABLE hosts(id TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT NOT"
                     " NULL, host_class TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER"
                     " NOT NULL, has_clock INTEGER NOT NULL, clock INTEGER NOT NULL, reset_count"
                     " INTEGER NOT NULL, restart_count INTEGER NOT NULL, cert_not_after INTEGER"
                     " NOT NULL, ak_pub BLOB NOT NULL DEFAULT x'');"
                     "CREATE TABLE sessions(id TEXT PRIMARY KEY, host_id TEXT NOT NULL, host_class"
                     " TEXT NOT NULL, step INTEGER NOT NULL, expires INTEGER NOT NULL, secret_hash"
                     " BLOB NOT NULL, nonce BLOB NOT NULL, ak_pub BLOB NOT NULL, has_clock INTEGER"
                     " NOT NULL, clock INTEGER NOT NULL, reset_count INTEGER NOT NULL,"
                     " restart_count INTEGER NOT NULL);"
                     "CREATE INDEX sessions_expires ON sessions(expires);"
                     "INSERT INTO hosts VALUES('h3','enrolled','','default',1,2,1,5000,"
                     "4000000000,7,99,x'0102');"
                     "PRAGMA user_version=3;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(q);
    assert_int_equal(store_open(db, &s), AD_OK);
    assert_int_equal(store_host_get(s, "h3", &g), AD_OK);
    assert_string_equal(g.status, STORE_ENROLLED);
    assert_int_equal(g.has_clock, 1);
    assert_int_equal(g.clock, 5000);
    assert_int_equal(g.reset_count, 4000000000u);
    assert_int_equal(g.restart_count, 7);
    assert_int_equal(g.ak_pub_len, 2);
    assert_int_equal(g.clock_signer_len, 0);
    snprintf(ss.id, sizeof(ss.id), "%s", "fedcba9876543210fedcba9876543210");
    ss.clock_signer_len = 1;
    assert_int_equal(store_session_put(s, &ss), AD_OK);
    assert_int_equal(store_session_get(s, ss.id, &sg), AD_OK);
    assert_int_equal(sg.clock_signer_len, 1);
    g.clock_signer_len = 2;
    assert_int_equal(store_host_put(s, &g), AD_OK);
    assert_int_equal(store_host_get(s, "h3", &g), AD_OK);
    assert_int_equal(g.clock_signer_len, 2);
    store_close(s);
}

static void test_newer_schema_refused(void **state)
{
    sqlite3 *q = NULL;
    struct store *s = NULL;

    (void)state;
    rm_db();
    assert_int_equal(sqlite3_open(db, &q), SQLITE_OK);
    assert_int_equal(sqlite3_exec(q, "PRAGMA user_version=99;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(q);
    assert_int_equal(store_open(db, &s), AD_ERR_CORRUPT);
    assert_null(s);
    assert_int_equal(store_open("postgresql://db/ca", &s), AD_ERR_UNSUPPORTED);
    assert_int_equal(store_open("/nonexistent/dir/ca.db", &s), AD_ERR_SYSTEM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts_sessions_events),
        cmocka_unit_test(test_migrate_from_v1),
        cmocka_unit_test(test_migrate_from_v3),
        cmocka_unit_test(test_newer_schema_refused),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
