/* agentd-ca configuration: the shipped example loads; bad settings name themselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ca_conf.h"

static const char base[] =
    "trust_domain = \"t.example\"; database = \"/x/db\"; ek_roots = \"/x/r\";"
    " ca_cert = \"/x/c\"; ca_key = \"/x/k\"; tls_cert = \"/x/t\"; tls_key = \"/x/tk\";\n";
static const char cls[] = "host_classes = ( { name = \"default\"; pcrs = ( { index = 16; value ="
                          " \"" /* 64 hex */
                          "00000000000000000000000000000000000000000000000000000000000000ff"
                          "\"; } ); } );\n";

static int load_text(const char *text, struct ca_conf *c, char *err, size_t cap)
{
    char path[] = "/tmp/attest-conf.XXXXXX";
    int fd = mkstemp(path), r;
    FILE *f = fdopen(fd, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    r = ca_conf_load(path, c, err, cap);
    unlink(path);
    return r;
}

static void test_example(void **state)
{
    struct ca_conf c;
    char err[256];

    (void)state;
    assert_int_equal(ca_conf_load(ATTEST_CONF_EXAMPLE, &c, err, sizeof(err)), AD_OK);
    assert_string_equal(c.trust_domain, "example.org");
    assert_int_equal(c.listen_port, 8443);
    assert_int_equal(c.n_classes, 1);
    assert_int_equal(c.classes[0].pcrs.mask, (1u << 0) | (1u << 16));
    assert_int_equal(c.workload_lifetime, 3600);
    assert_int_equal(c.tls_require_host_cert, 1);
}

static void test_minimal_defaults(void **state)
{
    char text[1024];
    struct ca_conf c;
    char err[256];

    (void)state;
    snprintf(text, sizeof(text), "%s%s", base, cls);
    assert_int_equal(load_text(text, &c, err, sizeof(err)), AD_OK);
    assert_string_equal(c.listen_addr, "127.0.0.1");
    assert_int_equal(c.host_lifetime, 86400);
    assert_int_equal(c.session_timeout, 120);
    assert_int_equal(c.classes[0].pcrs.values[16][31], 0xff);
    assert_non_null(ca_conf_class(&c, "default"));
    assert_null(ca_conf_class(&c, "other"));
    /* mTLS is on unless turned off; client certificates chain to the CA's own. */
    assert_int_equal(c.tls_require_host_cert, 1);
    assert_string_equal(c.tls_client_ca, "/x/c");
    snprintf(text, sizeof(text),
             "%s%stls_require_host_cert = false; tls_client_ca = \"/x/roots.pem\";\n", base, cls);
    assert_int_equal(load_text(text, &c, err, sizeof(err)), AD_OK);
    assert_int_equal(c.tls_require_host_cert, 0);
    assert_string_equal(c.tls_client_ca, "/x/roots.pem");
}

static void expect_error(const char *extra, int with_class, const char *needle)
{
    char text[2048];
    struct ca_conf c;
    char err[256] = "";

    snprintf(text, sizeof(text), "%s%s%s", base, with_class ? cls : "", extra);
    assert_int_equal(load_text(text, &c, err, sizeof(err)), AD_ERR_CONFIG);
    if (strstr(err, needle) == NULL) {
        fail_msg("error '%s' lacks '%s'", err, needle);
    }
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("", 0, "host_classes");
    expect_error("listen = \"127.0.0.1\";", 1, "listen");
    expect_error("listen = \"127.0.0.1:70000\";", 1, "listen");
    expect_error("workload_cert_lifetime = 5;", 1, "workload_cert_lifetime");
    expect_error("session_timeout = \"x\";", 1, "session_timeout");
    expect_error(
        "host_classes = ( { name = \"a\"; pcrs = ( { index = 24; value = \"00\"; } ); } );", 0,
        "index");
    expect_error("host_classes = ( { name = \"a\"; pcrs = ( { index = 1; value = \"zz\"; } ); } );",
                 0, "value");
    expect_error("this is not libconfig", 1, ":");
    expect_error("tls_require_host_cert = 1;", 1, "tls_require_host_cert");
    expect_error("tls_client_ca = \"\";", 1, "tls_client_ca");
}

static void test_missing_required(void **state)
{
    struct ca_conf c;
    char err[256];

    (void)state;
    assert_int_equal(load_text(cls, &c, err, sizeof(err)), AD_ERR_CONFIG);
    assert_non_null(strstr(err, "trust_domain"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_missing_required),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
