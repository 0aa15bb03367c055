/*
 * conf_load(): the example loads, every validation error names file, line
 * and key, unknown keys and out-of-range values are refused, and a failed
 * load leaves the caller's pointer alone and allocates nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "conf_mech.h"
#include "tmpdir.h"

static char tmpdir[64];

/*
 * Allocation-failure hook (linked with --wrap=malloc,calloc,realloc,strdup):
 * when fail_at > 0, the fail_at-th allocation made by our code fails.
 * libconfig's own allocations are inside the shared library and not wrapped.
 */
static long alloc_count;
static long fail_at;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static bool alloc_fails(void)
{
    return fail_at > 0 && ++alloc_count == fail_at;
}

void *__wrap_malloc(size_t n)
{
    return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return alloc_fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return alloc_fails() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return alloc_fails() ? NULL : __real_strdup(s);
}

static int setup(void **state)
{
    (void)state;
    return tmpdir_make(tmpdir, sizeof(tmpdir), "test_conf");
}

static int teardown(void **state)
{
    (void)state;
    return tmpdir_remove(tmpdir);
}

/* Write text to a file in tmpdir; path into out. */
static void write_file(const char *name, const char *text, char *out, size_t outlen)
{
    FILE *f;

    snprintf(out, outlen, "%s/%s", tmpdir, name);
    f = fopen(out, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_example_loads(void **state)
{
    struct agentd_conf *c = NULL;
    const struct workload_entry *e;
    const struct conf_key *k;
    char err[CONF_ERR_MAX];
    int r;

    (void)state;
    r = conf_load(AGENTD_CONF_EXAMPLE, &c, err, sizeof(err));
    if (r != 0) {
        fail_msg("example did not load: %s", err);
    }
    assert_string_equal(c->tcti, "device:/dev/tpmrm0");
    assert_int_equal(c->srk_handle, 0);
    assert_int_equal(c->socket_mode, 0666);
    assert_int_equal(c->max_connections, 1024);
    assert_int_equal(c->max_connections_per_uid, 128);
    assert_int_equal(c->audit.rotate_bytes, 16777216);
    assert_int_equal(c->audit.keep, 8);
    assert_int_equal(c->audit.sync, CONF_AUDIT_SYNC_WRITE);
    assert_string_equal(c->token_label, "agentd");
    assert_int_equal(c->n_workloads, 2);
    assert_true(c->enroll.is_enabled);
    assert_string_equal(c->enroll.url, "https://ca.example.org:8443");
    assert_string_equal(c->enroll.ca_bundle, "/etc/agentd/ca-tls.pem");
    assert_string_equal(c->enroll.host_class, "default");
    assert_int_equal(c->enroll.ek_type, CONF_EK_RSA_2048);
    assert_true(c->enroll.renew);
    assert_int_equal(c->enroll.retry_min_s, 5);
    assert_int_equal(c->enroll.retry_max_s, 300);
    assert_int_equal(c->enroll.timeout_s, 30);
    e = conf_find_entry(c, "ci-signer");
    assert_non_null(e);
    assert_int_equal(e->tier, CONF_TIER_CRITICAL);
    assert_true(e->sel.has_uid && e->sel.uid == 1001);
    assert_true(e->sel.has_sha256);
    assert_string_equal(e->sel.unit, "ci.service");
    assert_true(e->has_rate);
    assert_true(e->rate_per_second > 199.9 && e->rate_per_second < 200.1);
    assert_int_equal(e->rate_burst, 400);
    k = conf_find_key(e, "signing");
    assert_non_null(k);
    assert_int_equal(k->key_type, CONF_CKK_EC);
    assert_int_equal(k->bits, 256);
    assert_int_equal(k->n_mechanisms, 2);
    assert_int_equal(k->mechanisms[0], 0x1041);
    assert_int_equal(k->mechanisms[1], 0x1044);
    e = conf_find_entry(c, "batch-jobs");
    assert_non_null(e);
    assert_false(e->has_rate);
    assert_true(e->allow_generate);
    assert_null(conf_find_entry(c, "nope"));
    conf_free(c);
}

static void test_defaults(void **state)
{
    struct agentd_conf *c = NULL;
    char err[CONF_ERR_MAX];
    char path[256];

    (void)state;
    write_file("min.conf", "agentd = { state_dir = \"/srv/ad\"; };\n", path, sizeof(path));
    assert_int_equal(conf_load(path, &c, err, sizeof(err)), AD_OK);
    assert_string_equal(c->audit.path, "/srv/ad/audit.log");
    assert_string_equal(c->socket, "/run/agentd/agentd.sock");
    assert_string_equal(c->admin_group, "agentd-admin");
    assert_int_equal(c->idle_timeout_ms, 300000);
    assert_int_equal(c->max_in_flight_per_connection, 32);
    assert_int_equal(c->tpm_worker_boost, 5);
    assert_int_equal(c->n_workloads, 0);
    assert_false(c->enroll.is_enabled); /* no group: no enrollment */
    assert_null(c->enroll.url);
    conf_free(c);

    /* an enroll group with only the required keys takes the defaults */
    write_file("enroll.conf",
               "agentd = { enroll = { url = \"https://127.0.0.1:8443\"; ca_bundle = \"/b.pem\"; "
               "ek_type = \"p384\"; }; };\n",
               path, sizeof(path));
    assert_int_equal(conf_load(path, &c, err, sizeof(err)), AD_OK);
    assert_true(c->enroll.is_enabled);
    assert_string_equal(c->enroll.host_class, "default");
    assert_int_equal(c->enroll.ek_type, CONF_EK_EC_P384);
    assert_true(c->enroll.renew);
    assert_int_equal(c->enroll.retry_min_s, 5);
    assert_int_equal(c->enroll.retry_max_s, 300);
    assert_int_equal(c->enroll.timeout_s, 30);
    conf_free(c);

    /* an empty file is a valid config that allows nothing */
    write_file("empty.conf", "", path, sizeof(path));
    assert_int_equal(conf_load(path, &c, err, sizeof(err)), AD_OK);
    assert_int_equal(c->n_workloads, 0);
    conf_free(c);
}

static void test_persistent_srk(void **state)
{
    struct agentd_conf *c = NULL;
    char err[CONF_ERR_MAX];

    (void)state;
    assert_int_equal(
        conf_load_string("agentd = { srk_handle = 0x81000001; };", "t", &c, err, sizeof(err)),
        AD_OK);
    assert_int_equal(c->srk_handle, 0x81000001u);
    conf_free(c);

    /* large byte counts need libconfig's L suffix; without it they wrap and are refused */
    assert_int_equal(conf_load_string("agentd = { audit = { rotate_bytes = 8589934592L; }; };", "t",
                                      &c, err, sizeof(err)),
                     AD_OK);
    assert_int_equal(c->audit.rotate_bytes, UINT64_C(8589934592));
    conf_free(c);
    c = NULL;
    assert_int_equal(conf_load_string("agentd = { audit = { rotate_bytes = 3000000000; }; };", "t",
                                      &c, err, sizeof(err)),
                     AD_ERR_CONFIG);
    assert_null(c);
}

#define ENTRY_OK                                                                                   \
    "{ name = \"a\"; spiffe_id = \"spiffe://t/a\"; selectors = { uid = 1; };\n"                    \
    "  keys = ( { name = \"k\"; type = \"ec-p256\"; mechanisms = [ \"ECDSA\" ]; } ); }"

struct bad_case {
    const char *what;
    const char *text;
    int line;
    const char *key; /* must appear in the message */
    const char *why; /* must appear in the message */
};

static const struct bad_case bad_cases[] = {
    {"unknown top-level key", "agentd = {};\nbogus = 1;\n", 2, "bogus", "unknown key"},
    {"unknown agentd key", "agentd = {\n  tcti = \"x\";\n  tcit = \"y\";\n};\n", 3, "agentd.tcit",
     "unknown key"},
    {"unknown audit key", "agentd = {\n  audit = {\n    rotate = 5;\n  };\n};\n", 3,
     "agentd.audit.rotate", "unknown key"},
    {"unknown entry key",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\";\n  selectors = { uid = 1; };\n"
     "  colour = \"blue\"; }\n);\n",
     4, "workloads[0].colour", "unknown key"},
    {"unknown selector",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\";\n  selectors = { uid = 1;\n"
     "    user = \"bob\"; }; }\n);\n",
     4, "workloads[0].selectors.user", "unknown key"},
    {"range: max_connections 0", "agentd = {\n  max_connections = 0;\n};\n", 2,
     "agentd.max_connections", "out of range"},
    {"range: idle timeout", "agentd = {\n\n  idle_timeout_ms = 100000000;\n};\n", 3,
     "agentd.idle_timeout_ms", "out of range"},
    {"range: tpm_worker_boost", "agentd = {\n  tpm_worker_boost = 21;\n};\n", 2,
     "agentd.tpm_worker_boost", "out of range"},
    {"range: negative (wrapped) integer", "agentd = {\n  audit = { keep = -1; };\n};\n", 2,
     "agentd.audit.keep", "out of range"},
    {"per uid above total",
     "agentd = {\n  max_connections = 10;\n  max_connections_per_uid = 11;\n};\n", 1,
     "agentd.max_connections_per_uid", "above max_connections"},
    {"socket mode", "agentd = {\n  socket_mode = \"0999\";\n};\n", 2, "agentd.socket_mode",
     "octal"},
    {"socket mode type", "agentd = {\n  socket_mode = 666;\n};\n", 2, "agentd.socket_mode",
     "expected a string"},
    {"sync mode", "agentd = {\n  audit = {\n    sync = \"sometimes\"; };\n};\n", 3,
     "agentd.audit.sync", "fsync"},
    {"relative path", "agentd = {\n  state_dir = \"var/lib\";\n};\n", 2, "agentd.state_dir",
     "absolute"},
    {"srk handle", "agentd = {\n  srk_handle = 0x80000001;\n};\n", 2, "agentd.srk_handle",
     "persistent"},
    {"token label too long",
     "agentd = { token = {\n label = \"0123456789012345678901234567890123\"; }; };\n", 2,
     "agentd.token.label", "length"},
    {"wrong type",
     "workloads = (\n" ENTRY_OK ",\n{ name = \"b\"; spiffe_id = \"spiffe://t/b\";\n"
     "  selectors = { uid = 2; }; max_keys = \"4\"; }\n);\n",
     5, "workloads[1].max_keys", "expected an integer"},
    {"duplicate entry name",
     "workloads = (\n" ENTRY_OK ",\n{ name = \"a\"; spiffe_id = \"spiffe://t/b\";\n"
     "  selectors = { uid = 2; }; }\n);\n",
     4, "workloads[1]", "duplicate entry name \"a\""},
    {"identical selectors",
     "workloads = (\n" ENTRY_OK ",\n{ name = \"b\"; spiffe_id = \"spiffe://t/b\";\n"
     "  selectors = { uid = 1; }; }\n);\n",
     4, "workloads[1]", "selectors identical"},
    {"no selectors",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\";\n  selectors = { }; }\n);\n", 3,
     "workloads[0].selectors", "at least one selector"},
    {"selectors missing", "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\"; }\n);\n", 2,
     "workloads[0].selectors", "missing"},
    {"spiffe id missing", "workloads = (\n{ name = \"a\";\n  selectors = { uid = 1; }; }\n);\n", 2,
     "workloads[0].spiffe_id", "missing"},
    {"bad spiffe id",
     "workloads = (\n{ name = \"a\";\n  spiffe_id = \"https://t/a\";\n selectors = { uid = 1; }; "
     "}\n);\n",
     3, "workloads[0].spiffe_id", "spiffe://"},
    {"bad sha256",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\";\n  selectors = {\n"
     "    sha256 = \"abcd\"; }; }\n);\n",
     4, "workloads[0].selectors.sha256", "length"},
    {"bad tier",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\";\n  tier = \"gold\";\n"
     "  selectors = { uid = 1; }; }\n);\n",
     3, "workloads[0].tier", "critical, standard or batch"},
    {"duplicate key name",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\"; selectors = { uid = 1; };\n"
     "  keys = ( { name = \"k\"; type = \"ec-p256\"; mechanisms = [ \"ECDSA\" ]; },\n"
     "           { name = \"k\"; type = \"ec-p384\"; mechanisms = [ \"ECDSA\" ]; } ); }\n);\n",
     4, "workloads[0].keys[1].name", "duplicate key name \"k\""},
    {"mechanism not valid for key type",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\"; selectors = { uid = 1; };\n"
     "  keys = ( { name = \"k\"; type = \"ec-p256\";\n"
     "             mechanisms = [ \"ECDSA\", \"SHA256_RSA_PKCS\" ]; } ); }\n);\n",
     4, "workloads[0].keys[0].mechanisms", "SHA256_RSA_PKCS is not valid for a ec-p256 key"},
    {"digest is not a key mechanism",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\"; selectors = { uid = 1; };\n"
     "  keys = ( { name = \"k\"; type = \"rsa-2048\";\n"
     "             mechanisms = [ \"SHA256\" ]; } ); }\n);\n",
     4, "workloads[0].keys[0].mechanisms", "not valid"},
    {"unknown mechanism",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\"; selectors = { uid = 1; };\n"
     "  keys = ( { name = \"k\"; type = \"ec-p256\";\n"
     "             mechanisms = [ \"CKM_ECDSA\" ]; } ); }\n);\n",
     4, "workloads[0].keys[0].mechanisms", "unknown mechanism \"CKM_ECDSA\""},
    {"unknown key type",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\"; selectors = { uid = 1; };\n"
     "  keys = ( { name = \"k\";\n    type = \"ec-p521\"; mechanisms = [ \"ECDSA\" ]; } ); }\n);\n",
     4, "workloads[0].keys[0].type", "unknown key type"},
    {"rsa-4096 (the TPM layer creates up to RSA-3072)",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\"; selectors = { uid = 1; };\n"
     "  keys = ( { name = \"k\";\n    type = \"rsa-4096\"; mechanisms = [ \"RSA_PKCS\" ]; } ); "
     "}\n);\n",
     4, "workloads[0].keys[0].type", "unknown key type"},
    {"critical without exe or sha256",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\"; tier = \"critical\";\n"
     "  selectors = { uid = 1; }; rate = { per_second = 1.0; burst = 1; }; }\n);\n",
     2, "workloads[0].tier", "sha256 or exe"},
    {"critical without rate",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\"; tier = \"critical\";\n"
     "  selectors = { exe = \"/bin/true\"; }; }\n);\n",
     2, "workloads[0].tier", "rate limit"},
    {"rate out of range",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\"; selectors = { uid = 1; };\n"
     "  rate = { per_second = 0.0; burst = 1; }; }\n);\n",
     3, "workloads[0].rate.per_second", "out of range"},
    {"rate burst missing",
     "workloads = (\n{ name = \"a\"; spiffe_id = \"spiffe://t/a\"; selectors = { uid = 1; };\n"
     "  rate = { per_second = 5.0; }; }\n);\n",
     3, "workloads[0].rate.burst", "missing"},
    {"enroll url missing", "agentd = { enroll = {\n  ca_bundle = \"/ca.pem\"; };\n};\n", 1,
     "agentd.enroll.url", "missing"},
    {"enroll url not https",
     "agentd = { enroll = {\n  url = \"http://ca:80\";\n  ca_bundle = \"/ca.pem\"; }; };\n", 2,
     "agentd.enroll.url", "https://"},
    {"enroll url trailing slash",
     "agentd = { enroll = {\n  url = \"https://ca/\";\n  ca_bundle = \"/ca.pem\"; }; };\n", 2,
     "agentd.enroll.url", "trailing slash"},
    {"enroll bundle relative",
     "agentd = { enroll = { url = \"https://ca\";\n  ca_bundle = \"ca.pem\"; }; };\n", 2,
     "agentd.enroll.ca_bundle", "absolute"},
    {"enroll ek type",
     "agentd = { enroll = { url = \"https://ca\"; ca_bundle = \"/ca.pem\";\n"
     "  ek_type = \"p521\"; }; };\n",
     2, "agentd.enroll.ek_type", "rsa2048, p256 or p384"},
    {"enroll unknown key",
     "agentd = { enroll = { url = \"https://ca\"; ca_bundle = \"/ca.pem\";\n\n"
     "  retry = 5; }; };\n",
     3, "agentd.enroll.retry", "unknown key"},
    {"enroll retry range",
     "agentd = { enroll = { url = \"https://ca\"; ca_bundle = \"/ca.pem\";\n"
     "  retry_min_s = 0; }; };\n",
     2, "agentd.enroll.retry_min_s", "out of range"},
    {"enroll retry bounds",
     "agentd = { enroll = { url = \"https://ca\"; ca_bundle = \"/ca.pem\";\n"
     "  retry_min_s = 60;\n  retry_max_s = 10; }; };\n",
     3, "agentd.enroll.retry_max_s", "below retry_min_s"},
    {"workloads not a list", "workloads = {\n};\n", 1, "workloads", "expected a list"},
    {"syntax error", "agentd = {\n  tcti = \"x\";\n  socket = ;\n};\n", 3, "syntax", ""},
};

static void test_bad_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *b = &bad_cases[i];
        struct agentd_conf *c = (struct agentd_conf *)(uintptr_t)0x1; /* sentinel */
        char err[CONF_ERR_MAX] = "";
        char path[256];
        char want[300];
        int r;

        write_file("bad.conf", b->text, path, sizeof(path));
        r = conf_load(path, &c, err, sizeof(err));
        if (r != AD_ERR_CONFIG) {
            fail_msg("case \"%s\": rc %d, err \"%s\"", b->what, r, err);
        }
        assert_ptr_equal(c, (struct agentd_conf *)(uintptr_t)0x1);
        snprintf(want, sizeof(want), "%s:%d: ", path, b->line);
        if (strncmp(err, want, strlen(want)) != 0 || strstr(err, b->key) == NULL ||
            strstr(err, b->why) == NULL) {
            fail_msg("case \"%s\": message \"%s\" lacks \"%s\", \"%s\" or \"%s\"", b->what, err,
                     want, b->key, b->why);
        }
    }
}

/*
 * Reload: a good config, then a bad one. The bad load fails, leaves the old
 * pointer untouched (the daemon keeps running on it) and leaks nothing (the
 * ASan build checks that).
 */
static void test_reload_semantics(void **state)
{
    struct agentd_conf *cur = NULL;
    struct agentd_conf *next = NULL;
    char err[CONF_ERR_MAX];
    char path[256];

    (void)state;
    write_file("reload.conf", "workloads = (\n" ENTRY_OK "\n);\n", path, sizeof(path));
    assert_int_equal(conf_load(path, &cur, err, sizeof(err)), AD_OK);
    assert_int_equal(cur->n_workloads, 1);

    /* the bad part is late in the file, after entries and keys were allocated */
    write_file(
        "reload.conf",
        "workloads = (\n" ENTRY_OK ",\n"
        "{ name = \"b\"; spiffe_id = \"spiffe://t/b\"; selectors = { uid = 2; };\n"
        "  keys = ( { name = \"k\"; type = \"ec-p256\"; mechanisms = [ \"RSA_PKCS\" ]; } ); }\n"
        ");\n",
        path, sizeof(path));
    assert_int_equal(conf_load(path, &next, err, sizeof(err)), AD_ERR_CONFIG);
    assert_null(next);
    assert_int_equal(cur->n_workloads, 1);
    assert_string_equal(cur->workloads[0].name, "a");

    write_file("reload.conf",
               "workloads = (\n" ENTRY_OK ",\n"
               "{ name = \"b\"; spiffe_id = \"spiffe://t/b\"; selectors = { uid = 2; }; }\n);\n",
               path, sizeof(path));
    assert_int_equal(conf_load(path, &next, err, sizeof(err)), AD_OK);
    conf_free(cur);
    cur = next;
    assert_int_equal(cur->n_workloads, 2);
    conf_free(cur);
    conf_free(NULL);
}

static void test_missing_file(void **state)
{
    struct agentd_conf *c = NULL;
    char err[CONF_ERR_MAX];

    (void)state;
    assert_int_equal(conf_load("/nonexistent/agentd.conf", &c, err, sizeof(err)), AD_ERR_SYSTEM);
    assert_null(c);
    assert_non_null(strstr(err, "/nonexistent/agentd.conf"));
    assert_int_equal(conf_load_string("x = ;", "inline", &c, err, sizeof(err)), AD_ERR_CONFIG);
    assert_non_null(strstr(err, "inline:1: syntax"));
}

/* An error inside an @include'd file names that file and its line. */
static void test_include_names_file(void **state)
{
    struct agentd_conf *c = NULL;
    char err[CONF_ERR_MAX];
    char inc[256];
    char main_text[400];
    char path[256];
    char want[300];

    (void)state;
    write_file("inc.conf", "max_connections = 10;\nbogus_key = 1;\n", inc, sizeof(inc));
    snprintf(main_text, sizeof(main_text),
             "agentd = {\n  tcti = \"tabrmd\";\n@include \"%s\"\n};\n", inc);
    write_file("main.conf", main_text, path, sizeof(path));
    assert_int_equal(conf_load(path, &c, err, sizeof(err)), AD_ERR_CONFIG);
    snprintf(want, sizeof(want), "%s:2: agentd.bogus_key: unknown key", inc);
    assert_string_equal(err, want);
}

/*
 * Fail each allocation of a full load in turn: every one gives AD_ERR_NOMEM,
 * leaves *ret alone, and (in the ASan build) leaks nothing.
 */
static void test_alloc_failures(void **state)
{
    long i;

    (void)state;
    for (i = 1; i < 10000; i++) {
        struct agentd_conf *c = NULL;
        char err[CONF_ERR_MAX];
        int r;

        alloc_count = 0;
        fail_at = i;
        r = conf_load(AGENTD_CONF_EXAMPLE, &c, err, sizeof(err));
        fail_at = 0;
        if (r == AD_OK) {
            conf_free(c);
            break;
        }
        if (r != AD_ERR_NOMEM) {
            fail_msg("allocation %ld: rc %d (%s)", i, r, err);
        }
        assert_null(c);
    }
    assert_true(i > 20); /* the walk really went through the allocations */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_loads),    cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_persistent_srk),   cmocka_unit_test(test_bad_cases),
        cmocka_unit_test(test_reload_semantics), cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_alloc_failures),   cmocka_unit_test(test_include_names_file),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
