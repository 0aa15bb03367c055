/*
 * SQLite store: WAL journal, a busy timeout so several agentd-ca processes
 * (or the admin command) can share the file, and a schema versioned with
 * PRAGMA user_version and migrated step by step at open.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "store.h"

struct store_sqlite {
    struct store base; /* first: a struct store * is a struct store_sqlite * */
    sqlite3 *db;
};

/* migrations[i] takes the schema from version i to i + 1. */
static const char *const migrations[] = {
    /* Each step in parentheses: one string per migration, however many lines. */
    ("CREATE TABLE hosts(id TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT NOT NULL,"
     " host_class TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
     " has_clock INTEGER NOT NULL, clock INTEGER NOT NULL, reset_count INTEGER NOT NULL,"
     " restart_count INTEGER NOT NULL, cert_not_after INTEGER NOT NULL);"
     "CREATE TABLE sessions(id TEXT PRIMARY KEY, host_id TEXT NOT NULL, host_class TEXT NOT NULL,"
     " step INTEGER NOT NULL, expires INTEGER NOT NULL, secret_hash BLOB NOT NULL,"
     " nonce BLOB NOT NULL, ak_pub BLOB NOT NULL, has_clock INTEGER NOT NULL,"
     " clock INTEGER NOT NULL, reset_count INTEGER NOT NULL, restart_count INTEGER NOT NULL);"
     "CREATE TABLE events(seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,"
     " host_id TEXT NOT NULL, what TEXT NOT NULL, reason TEXT NOT NULL);"),
    ("CREATE INDEX events_host ON events(host_id);"
     "CREATE INDEX sessions_expires ON sessions(expires);"),
    ("ALTER TABLE hosts ADD COLUMN ak_pub BLOB NOT NULL DEFAULT x'';"),
    /* The AK (qualifiedSigner) of the stored quote clock. A clock stored
     * before has none: the host's next quote is not ordered against it
     * (quote_check_clock) and stores its own. */
    ("ALTER TABLE hosts ADD COLUMN clock_signer BLOB NOT NULL DEFAULT x'';"
     "ALTER TABLE sessions ADD COLUMN clock_signer BLOB NOT NULL DEFAULT x'';"),
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static sqlite3 *db_of(struct store *s)
{
    return ((struct store_sqlite *)s)->db;
}

static int user_version(sqlite3 *db, int *ret)
{
    sqlite3_stmt *st = NULL;
    int r = AD_ERR_SYSTEM;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *ret = sqlite3_column_int(st, 0);
        r = AD_OK;
    }
    sqlite3_finalize(st);
    return r;
}

/* Each step runs in one transaction with its user_version bump: all or nothing. */
static int migrate(sqlite3 *db)
{
    char sql[64];
    int v = 0, r;

    if ((r = user_version(db, &v)) != AD_OK) {
        return r;
    }
    if (v > SCHEMA_VERSION) {
        return AD_ERR_CORRUPT;
    }
    for (; v < SCHEMA_VERSION; v++) {
        snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", v + 1);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            return AD_ERR_SYSTEM;
        }
        if (sqlite3_exec(db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return AD_ERR_SYSTEM;
        }
    }
    return AD_OK;
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? (const char *)src : "");
}

static int blob_into(sqlite3_stmt *st, int col, uint8_t *dst, size_t cap, size_t *ret_len)
{
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    const void *p = sqlite3_column_blob(st, col);

    if (n > cap || (n > 0 && p == NULL)) {
        return AD_ERR_CORRUPT;
    }
    if (n > 0) {
        memcpy(dst, p, n);
    }
    *ret_len = n;
    return AD_OK;
}

static void row_host(sqlite3_stmt *st, struct store_host *h)
{
    memset(h, 0, sizeof(*h));
    copy_text(h->id, sizeof(h->id), sqlite3_column_text(st, 0));
    copy_text(h->status, sizeof(h->status), sqlite3_column_text(st, 1));
    copy_text(h->reason, sizeof(h->reason), sqlite3_column_text(st, 2));
    copy_text(h->host_class, sizeof(h->host_class), sqlite3_column_text(st, 3));
    h->created = sqlite3_column_int64(st, 4);
    h->updated = sqlite3_column_int64(st, 5);
    h->has_clock = sqlite3_column_int(st, 6);
    h->clock = (uint64_t)sqlite3_column_int64(st, 7);
    h->reset_count = (uint32_t)sqlite3_column_int64(st, 8);
    h->restart_count = (uint32_t)sqlite3_column_int64(st, 9);
    h->cert_not_after = sqlite3_column_int64(st, 10);
    if (blob_into(st, 11, h->ak_pub, sizeof(h->ak_pub), &h->ak_pub_len) != AD_OK) {
        h->ak_pub_len = 0; /* unusable: workload requests for this host are refused */
    }
    if (blob_into(st, 12, h->clock_signer, sizeof(h->clock_signer), &h->clock_signer_len) !=
        AD_OK) {
        h->clock_signer_len = 0; /* unknown, as before schema 4: freshness is the CA nonce */
    }
}

#define HOST_COLS                                                                                  \
    "id, status, reason, host_class, created, updated, has_clock, clock, reset_count,"             \
    " restart_count, cert_not_after, ak_pub, clock_signer"

static int host_get(struct store *s, const char *id, struct store_host *ret)
{
    sqlite3_stmt *st = NULL;
    int r = AD_ERR_SYSTEM, rc;

    if (sqlite3_prepare_v2(db_of(s), "SELECT " HOST_COLS " FROM hosts WHERE id=?", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK) {
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_host(st, ret);
        r = AD_OK;
    } else if (rc == SQLITE_DONE) {
        r = AD_ERR_NOT_FOUND;
    }
out:
    sqlite3_finalize(st);
    return r;
}

static int host_put(struct store *s, const struct store_host *h)
{
    sqlite3_stmt *st = NULL;
    int r = AD_ERR_SYSTEM;

    if (sqlite3_prepare_v2(db_of(s),
                           "INSERT OR REPLACE INTO hosts(" HOST_COLS
                           ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        goto out;
    }
    if (sqlite3_bind_text(st, 1, h->id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, h->status, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, h->reason, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 4, h->host_class, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, h->created) != SQLITE_OK ||
        sqlite3_bind_int64(st, 6, h->updated) != SQLITE_OK ||
        sqlite3_bind_int(st, 7, h->has_clock) != SQLITE_OK ||
        sqlite3_bind_int64(st, 8, (sqlite3_int64)h->clock) != SQLITE_OK ||
        sqlite3_bind_int64(st, 9, h->reset_count) != SQLITE_OK ||
        sqlite3_bind_int64(st, 10, h->restart_count) != SQLITE_OK ||
        sqlite3_bind_int64(st, 11, h->cert_not_after) != SQLITE_OK ||
        sqlite3_bind_blob(st, 12, h->ak_pub, (int)h->ak_pub_len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 13, h->clock_signer, (int)h->clock_signer_len, SQLITE_STATIC) !=
            SQLITE_OK) {
        goto out;
    }
    r = sqlite3_step(st) == SQLITE_DONE ? AD_OK : AD_ERR_SYSTEM;
out:
    sqlite3_finalize(st);
    return r;
}

static int exec_id(struct store *s, const char *sql, const char *id)
{
    sqlite3_stmt *st = NULL;
    int r = AD_ERR_SYSTEM;

    if (sqlite3_prepare_v2(db_of(s), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_DONE) {
        r = sqlite3_changes(db_of(s)) > 0 ? AD_OK : AD_ERR_NOT_FOUND;
    }
    sqlite3_finalize(st);
    return r;
}

static int host_delete(struct store *s, const char *id)
{
    return exec_id(s, "DELETE FROM hosts WHERE id=?", id);
}

static int host_list(struct store *s, int (*fn)(const struct store_host *h, void *arg), void *arg)
{
    sqlite3_stmt *st = NULL;
    struct store_host h;
    int r = AD_ERR_SYSTEM, rc;

    if (sqlite3_prepare_v2(db_of(s), "SELECT " HOST_COLS " FROM hosts ORDER BY updated, id", -1,
                           &st, NULL) != SQLITE_OK) {
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_host(st, &h);
        if ((r = fn(&h, arg)) != AD_OK) {
            goto out;
        }
    }
    r = rc == SQLITE_DONE ? AD_OK : AD_ERR_SYSTEM;
out:
    sqlite3_finalize(st);
    return r;
}

static int session_put(struct store *s, const struct store_session *ss)
{
    sqlite3_stmt *st = NULL;
    int r = AD_ERR_SYSTEM;

    if (sqlite3_prepare_v2(
            db_of(s),
            "INSERT OR REPLACE INTO sessions(id, host_id, host_class, step, expires,"
            " secret_hash, nonce, ak_pub, has_clock, clock, reset_count, restart_count,"
            " clock_signer) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
            -1, &st, NULL) != SQLITE_OK) {
        goto out;
    }
    if (sqlite3_bind_text(st, 1, ss->id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, ss->host_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, ss->host_class, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(st, 4, ss->step) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, ss->expires) != SQLITE_OK ||
        sqlite3_bind_blob(st, 6, ss->secret_hash, 32, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 7, ss->nonce, MSG_NONCE_LEN, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 8, ss->ak_pub, (int)ss->ak_pub_len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(st, 9, ss->has_clock) != SQLITE_OK ||
        sqlite3_bind_int64(st, 10, (sqlite3_int64)ss->clock) != SQLITE_OK ||
        sqlite3_bind_int64(st, 11, ss->reset_count) != SQLITE_OK ||
        sqlite3_bind_int64(st, 12, ss->restart_count) != SQLITE_OK ||
        sqlite3_bind_blob(st, 13, ss->clock_signer, (int)ss->clock_signer_len, SQLITE_STATIC) !=
            SQLITE_OK) {
        goto out;
    }
    r = sqlite3_step(st) == SQLITE_DONE ? AD_OK : AD_ERR_SYSTEM;
out:
    sqlite3_finalize(st);
    return r;
}

static int session_get(struct store *s, const char *id, struct store_session *ret)
{
    sqlite3_stmt *st = NULL;
    struct store_session ss;
    size_t n1 = 0, n2 = 0;
    int r = AD_ERR_SYSTEM, rc;

    memset(&ss, 0, sizeof(ss));
    if (sqlite3_prepare_v2(db_of(s),
                           "SELECT id, host_id, host_class, step, expires, secret_hash, nonce,"
                           " ak_pub, has_clock, clock, reset_count, restart_count, clock_signer"
                           " FROM sessions WHERE id=?",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK) {
        goto out;
    }
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        r = rc == SQLITE_DONE ? AD_ERR_NOT_FOUND : AD_ERR_SYSTEM;
        goto out;
    }
    copy_text(ss.id, sizeof(ss.id), sqlite3_column_text(st, 0));
    copy_text(ss.host_id, sizeof(ss.host_id), sqlite3_column_text(st, 1));
    copy_text(ss.host_class, sizeof(ss.host_class), sqlite3_column_text(st, 2));
    ss.step = sqlite3_column_int(st, 3);
    ss.expires = sqlite3_column_int64(st, 4);
    ss.has_clock = sqlite3_column_int(st, 8);
    ss.clock = (uint64_t)sqlite3_column_int64(st, 9);
    ss.reset_count = (uint32_t)sqlite3_column_int64(st, 10);
    ss.restart_count = (uint32_t)sqlite3_column_int64(st, 11);
    if ((r = blob_into(st, 5, ss.secret_hash, 32, &n1)) != AD_OK ||
        (r = blob_into(st, 6, ss.nonce, MSG_NONCE_LEN, &n2)) != AD_OK ||
        (r = blob_into(st, 7, ss.ak_pub, sizeof(ss.ak_pub), &ss.ak_pub_len)) != AD_OK ||
        (r = blob_into(st, 12, ss.clock_signer, sizeof(ss.clock_signer), &ss.clock_signer_len)) !=
            AD_OK) {
        goto out;
    }
    r = n1 == 32 && n2 == MSG_NONCE_LEN ? AD_OK : AD_ERR_CORRUPT;
    if (r == AD_OK) {
        *ret = ss;
    }
out:
    OPENSSL_cleanse(&ss, sizeof(ss));
    sqlite3_finalize(st);
    return r;
}

static int session_delete(struct store *s, const char *id)
{
    return exec_id(s, "DELETE FROM sessions WHERE id=?", id);
}

static int session_gc(struct store *s, int64_t now, size_t *ret_live)
{
    sqlite3_stmt *st = NULL;
    int r = AD_ERR_SYSTEM;

    if (sqlite3_prepare_v2(db_of(s), "DELETE FROM sessions WHERE expires < ?", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_int64(st, 1, now) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db_of(s), "SELECT count(*) FROM sessions", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *ret_live = (size_t)sqlite3_column_int64(st, 0);
        r = AD_OK;
    }
out:
    sqlite3_finalize(st);
    return r;
}

static int event_add(struct store *s, const char *host_id, const char *what, const char *reason)
{
    sqlite3_stmt *st = NULL;
    int r = AD_ERR_SYSTEM;

    if (sqlite3_prepare_v2(db_of(s),
                           "INSERT INTO events(at, host_id, what, reason) VALUES(?,?,?,?)", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL)) == SQLITE_OK &&
        sqlite3_bind_text(st, 2, host_id != NULL ? host_id : "", -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_text(st, 3, what, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_DONE) {
        r = AD_OK;
    }
    sqlite3_finalize(st);
    return r;
}

static int event_list(struct store *s, const char *host_id,
                      int (*fn)(int64_t at, const char *what, const char *reason, void *arg),
                      void *arg)
{
    sqlite3_stmt *st = NULL;
    int r = AD_ERR_SYSTEM, rc;

    if (sqlite3_prepare_v2(db_of(s),
                           "SELECT at, what, reason FROM events WHERE host_id=? ORDER BY seq", -1,
                           &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC) != SQLITE_OK) {
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *w = sqlite3_column_text(st, 1), *why = sqlite3_column_text(st, 2);
        if ((r = fn(sqlite3_column_int64(st, 0), w != NULL ? (const char *)w : "",
                    why != NULL ? (const char *)why : "", arg)) != AD_OK) {
            goto out;
        }
    }
    r = rc == SQLITE_DONE ? AD_OK : AD_ERR_SYSTEM;
out:
    sqlite3_finalize(st);
    return r;
}

static void sqlite_close(struct store *s)
{
    struct store_sqlite *q = (struct store_sqlite *)s;

    sqlite3_close(q->db);
    free(q);
}

static const struct store_ops sqlite_ops = {
    .host_get = host_get,
    .host_put = host_put,
    .host_delete = host_delete,
    .host_list = host_list,
    .session_put = session_put,
    .session_get = session_get,
    .session_delete = session_delete,
    .session_gc = session_gc,
    .event_add = event_add,
    .event_list = event_list,
    .close = sqlite_close,
};

int store_sqlite_open(const char *path, struct store **ret)
{
    struct store_sqlite *q = calloc(1, sizeof(*q));
    int fd, r = AD_ERR_SYSTEM;

    if (q == NULL) {
        return AD_ERR_NOMEM;
    }
    q->base.ops = &sqlite_ops;
    /* Create the file 0600 ourselves: it holds session state. */
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
        goto out;
    }
    close(fd);
    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        goto out;
    }
    sqlite3_busy_timeout(q->db, 5000);
    if (sqlite3_exec(q->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     NULL) != SQLITE_OK) {
        goto out;
    }
    if ((r = migrate(q->db)) != AD_OK) {
        goto out;
    }
    *ret = &q->base;
    q = NULL;
out:
    if (q != NULL) {
        sqlite3_close(q->db);
        free(q);
    }
    return r;
}
