/*
 * policy_decide(): deny by default, every reason reachable, the token bucket
 * refills on a fake clock, and reload keeps buckets by entry name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "conf_mech.h"
#include "policy.h"

#define CKM_RSA_PKCS 0x1u
#define CKM_SHA256_RSA_PKCS 0x40u
#define CKM_ECDSA 0x1041u
#define CKM_ECDSA_SHA256 0x1044u
#define CKM_ECDSA_SHA384 0x1045u
#define CKM_SHA256 0x250u
#define SEC UINT64_C(1000000000)

static const char cfg_text[] =
    "workloads = (\n"
    "  { name = \"signer\"; spiffe_id = \"spiffe://t/s\"; selectors = { uid = 1; };\n"
    "    keys = ( { name = \"k\"; type = \"ec-p256\"; mechanisms = [ \"ECDSA_SHA256\" ]; } );\n"
    "    rate = { per_second = 2.0; burst = 3; }; max_data = 100; },\n"
    "  { name = \"gen\"; spiffe_id = \"spiffe://t/g\"; selectors = { uid = 2; };\n"
    "    keys = ( { name = \"fixed\"; type = \"rsa-2048\"; mechanisms = [ \"RSA_PKCS\" ]; } );\n"
    "    allow_generate = true; max_keys = 2; }\n"
    ");\n";

struct fixture {
    struct agentd_conf *c;
    struct policy *p;
};

static int setup(void **state)
{
    static struct fixture fx;
    char err[CONF_ERR_MAX];

    memset(&fx, 0, sizeof(fx));
    if (conf_load_string(cfg_text, "policy.conf", &fx.c, err, sizeof(err)) != 0) {
        print_error("%s\n", err);
        return -1;
    }
    if (policy_new(fx.c, &fx.p) != 0) {
        return -1;
    }
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    policy_free(fx->p);
    conf_free(fx->c);
    return 0;
}

static struct policy_decision decide(struct fixture *fx, const char *entry,
                                     const struct policy_request *rq, uint64_t now)
{
    struct policy_decision d;

    memset(&d, 0xa5, sizeof(d));
    assert_int_equal(
        policy_decide(fx->p, entry != NULL ? conf_find_entry(fx->c, entry) : NULL, rq, now, &d),
        AD_OK);
    return d;
}

static void expect(struct fixture *fx, const char *entry, const struct policy_request *rq,
                   uint64_t now, enum policy_verdict v, enum policy_reason why)
{
    struct policy_decision d = decide(fx, entry, rq, now);

    if (d.verdict != v || d.reason != why) {
        fail_msg("op %s on %s: got %s/%s, want %s/%s", policy_op_name(rq->op),
                 rq->key != NULL ? rq->key : "-", policy_verdict_name(d.verdict),
                 policy_reason_name(d.reason), policy_verdict_name(v), policy_reason_name(why));
    }
}

static struct policy_request req(enum policy_op op, const char *key, uint64_t mech, size_t len)
{
    struct policy_request rq;

    memset(&rq, 0, sizeof(rq));
    rq.op = op;
    rq.key = key;
    rq.mechanism = mech;
    rq.data_len = len;
    return rq;
}

static void test_deny_by_default(void **state)
{
    struct fixture *fx = *state;
    struct policy_request rq = req(POLICY_OP_LIST, NULL, 0, 0);
    struct policy_decision d;

    /* no entry: even LIST is denied */
    expect(fx, NULL, &rq, 0, POLICY_DENY, POLICY_REASON_NO_ENTRY);
    /* an op outside the enum */
    rq.op = POLICY_OP_COUNT_;
    expect(fx, "signer", &rq, 0, POLICY_DENY, POLICY_REASON_BAD_REQUEST);
    /* no policy state: deny */
    rq.op = POLICY_OP_LIST;
    assert_int_equal(policy_decide(NULL, conf_find_entry(fx->c, "signer"), &rq, 0, &d), AD_OK);
    assert_int_equal(d.verdict, POLICY_DENY);
    assert_int_equal(policy_decide(fx->p, NULL, NULL, 0, &d), AD_ERR_INVALID);
}

static void test_sign_reasons(void **state)
{
    struct fixture *fx = *state;
    struct policy_request rq = req(POLICY_OP_SIGN, "k", CKM_ECDSA_SHA256, 100);

    expect(fx, "signer", &rq, 0, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    rq.mechanism = CKM_ECDSA; /* valid for the key type but not configured */
    expect(fx, "signer", &rq, 0, POLICY_DENY, POLICY_REASON_MECHANISM_NOT_ALLOWED);
    rq.mechanism = CKM_ECDSA_SHA256;
    rq.data_len = 101;
    expect(fx, "signer", &rq, 0, POLICY_DENY, POLICY_REASON_DATA_TOO_LONG);
    rq.data_len = 10;
    rq.key = "fixed"; /* another entry's key */
    expect(fx, "signer", &rq, 0, POLICY_DENY, POLICY_REASON_KEY_NOT_OWNED);
    rq.key = NULL;
    expect(fx, "signer", &rq, 0, POLICY_DENY, POLICY_REASON_BAD_REQUEST);
    rq = req(POLICY_OP_VERIFY, "k", CKM_ECDSA_SHA384, 10);
    expect(fx, "signer", &rq, 0, POLICY_DENY, POLICY_REASON_MECHANISM_NOT_ALLOWED);
}

static void test_generated_keys(void **state)
{
    struct fixture *fx = *state;
    struct policy_request rq = req(POLICY_OP_SIGN, "mine", CKM_ECDSA_SHA384, 10);

    rq.key_is_generated = true;
    rq.key_type = CONF_CKK_EC;
    expect(fx, "gen", &rq, 0, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    rq.mechanism = CKM_SHA256_RSA_PKCS; /* not for an EC key */
    expect(fx, "gen", &rq, 0, POLICY_DENY, POLICY_REASON_MECHANISM_NOT_ALLOWED);
    rq.mechanism = CKM_SHA256; /* a digest is not a signing mechanism */
    expect(fx, "gen", &rq, 0, POLICY_DENY, POLICY_REASON_MECHANISM_NOT_ALLOWED);

    rq = req(POLICY_OP_GENERATE, "new", 0, 0);
    rq.key_type = CONF_CKK_EC;
    rq.bits = 256;
    rq.n_generated_keys = 1;
    expect(fx, "gen", &rq, 0, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    rq.n_generated_keys = 2;
    expect(fx, "gen", &rq, 0, POLICY_DENY, POLICY_REASON_TOO_MANY_KEYS);
    rq.n_generated_keys = 0;
    rq.bits = 1024;
    rq.key_type = CONF_CKK_RSA;
    expect(fx, "gen", &rq, 0, POLICY_DENY, POLICY_REASON_KEY_TYPE_NOT_ALLOWED);
    rq.bits = 2048;
    rq.key = "fixed"; /* would shadow a configured key */
    expect(fx, "gen", &rq, 0, POLICY_DENY, POLICY_REASON_BAD_REQUEST);
    rq.key = NULL; /* daemon picks the name */
    expect(fx, "gen", &rq, 0, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    expect(fx, "signer", &rq, 0, POLICY_DENY, POLICY_REASON_GENERATE_NOT_ALLOWED);

    rq = req(POLICY_OP_DESTROY, "mine", 0, 0);
    rq.key_is_generated = true;
    expect(fx, "gen", &rq, 0, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    expect(fx, "signer", &rq, 0, POLICY_DENY, POLICY_REASON_GENERATE_NOT_ALLOWED);
    rq.key_is_generated = false;
    expect(fx, "gen", &rq, 0, POLICY_DENY, POLICY_REASON_KEY_NOT_OWNED);
    rq.key = "fixed";
    expect(fx, "gen", &rq, 0, POLICY_DENY, POLICY_REASON_DESTROY_NOT_ALLOWED);
}

static void test_digest_random_list(void **state)
{
    struct fixture *fx = *state;
    struct policy_request rq = req(POLICY_OP_DIGEST, NULL, CKM_SHA256, 50);

    expect(fx, "gen", &rq, 0, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    rq.mechanism = CKM_RSA_PKCS;
    expect(fx, "gen", &rq, 0, POLICY_DENY, POLICY_REASON_MECHANISM_NOT_ALLOWED);
    rq = req(POLICY_OP_RANDOM, NULL, 0, 32);
    expect(fx, "gen", &rq, 0, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    rq.data_len = 0;
    expect(fx, "gen", &rq, 0, POLICY_DENY, POLICY_REASON_BAD_REQUEST);
    rq.data_len = 65537; /* default max_data 65536 */
    expect(fx, "gen", &rq, 0, POLICY_DENY, POLICY_REASON_DATA_TOO_LONG);
    rq = req(POLICY_OP_LIST, NULL, 0, 0);
    expect(fx, "gen", &rq, 0, POLICY_ALLOW, POLICY_REASON_ALLOWED);
}

static void test_token_bucket(void **state)
{
    struct fixture *fx = *state;
    struct policy_request rq = req(POLICY_OP_SIGN, "k", CKM_ECDSA_SHA256, 1);
    struct policy_request list = req(POLICY_OP_LIST, NULL, 0, 0);
    uint64_t t0 = 1000 * SEC;

    /* burst 3, then empty */
    for (int i = 0; i < 3; i++) {
        expect(fx, "signer", &rq, t0, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    }
    expect(fx, "signer", &rq, t0, POLICY_DENY, POLICY_REASON_RATE_LIMITED);
    /* LIST takes no token */
    expect(fx, "signer", &list, t0, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    /* 2/s: 0.4 s gives 0.8 token (still empty), 0.5 s gives one */
    expect(fx, "signer", &rq, t0 + 4 * SEC / 10, POLICY_DENY, POLICY_REASON_RATE_LIMITED);
    expect(fx, "signer", &rq, t0 + 5 * SEC / 10, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    expect(fx, "signer", &rq, t0 + 5 * SEC / 10, POLICY_DENY, POLICY_REASON_RATE_LIMITED);
    /* a clock going backwards refills nothing */
    expect(fx, "signer", &rq, t0, POLICY_DENY, POLICY_REASON_RATE_LIMITED);
    /* a long pause refills only up to burst */
    for (int i = 0; i < 3; i++) {
        expect(fx, "signer", &rq, t0 + 3600 * SEC, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    }
    expect(fx, "signer", &rq, t0 + 3600 * SEC, POLICY_DENY, POLICY_REASON_RATE_LIMITED);
    /* a denied request (bad mechanism) does not reach the bucket */
    rq.mechanism = CKM_ECDSA;
    expect(fx, "signer", &rq, t0 + 3600 * SEC, POLICY_DENY, POLICY_REASON_MECHANISM_NOT_ALLOWED);
    /* the entry without a rate limit is never rate limited */
    rq = req(POLICY_OP_DIGEST, NULL, CKM_SHA256, 1);
    for (int i = 0; i < 1000; i++) {
        expect(fx, "gen", &rq, t0, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    }
}

static void test_reload_keeps_buckets(void **state)
{
    struct fixture *fx = *state;
    struct policy_request rq = req(POLICY_OP_SIGN, "k", CKM_ECDSA_SHA256, 1);
    struct agentd_conf *c2 = NULL;
    char err[CONF_ERR_MAX];
    uint64_t t = 5000 * SEC;

    for (int i = 0; i < 3; i++) {
        expect(fx, "signer", &rq, t, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    }
    expect(fx, "signer", &rq, t, POLICY_DENY, POLICY_REASON_RATE_LIMITED);

    /* same entry name, new position and a new entry before it: bucket stays empty */
    assert_int_equal(
        conf_load_string(
            "workloads = (\n"
            "  { name = \"new\"; spiffe_id = \"spiffe://t/n\"; selectors = { uid = 9; };\n"
            "    rate = { per_second = 1.0; burst = 1; }; },\n"
            "  { name = \"signer\"; spiffe_id = \"spiffe://t/s\"; selectors = { uid = 1; };\n"
            "    keys = ( { name = \"k\"; type = \"ec-p256\"; mechanisms = [ \"ECDSA_SHA256\" ]; "
            "} );\n"
            "    rate = { per_second = 2.0; burst = 3; }; max_data = 100; }\n"
            ");\n",
            "reload.conf", &c2, err, sizeof(err)),
        AD_OK);
    assert_int_equal(policy_reload(fx->p, c2), AD_OK);
    conf_free(fx->c);
    fx->c = c2;
    expect(fx, "signer", &rq, t, POLICY_DENY, POLICY_REASON_RATE_LIMITED);
    expect(fx, "signer", &rq, t + SEC / 2, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    /* the new entry starts full */
    rq = req(POLICY_OP_RANDOM, NULL, 0, 1);
    expect(fx, "new", &rq, t, POLICY_ALLOW, POLICY_REASON_ALLOWED);
    expect(fx, "new", &rq, t, POLICY_DENY, POLICY_REASON_RATE_LIMITED);
}

static void test_names_and_masks(void **state)
{
    struct fixture *fx = *state;
    const struct workload_entry *e = conf_find_entry(fx->c, "signer");
    uint64_t mask;

    assert_string_equal(policy_reason_name(POLICY_REASON_NO_ENTRY), "no_entry");
    assert_string_equal(policy_reason_name(POLICY_REASON_AMBIGUOUS_ENTRY), "ambiguous_entry");
    assert_string_equal(policy_reason_name(POLICY_REASON_RATE_LIMITED), "rate_limited");
    assert_string_equal(policy_reason_name(POLICY_REASON_COUNT_), "unknown");
    for (int r = 0; r < POLICY_REASON_COUNT_; r++) {
        assert_string_not_equal(policy_reason_name((enum policy_reason)r), "unknown");
    }
    assert_string_equal(policy_op_name(POLICY_OP_SIGN), "sign");
    assert_string_equal(policy_verdict_name(POLICY_HOLD), "hold");

    mask = policy_mech_mask(e, conf_find_key(e, "k"));
    assert_int_equal(__builtin_popcountll(mask), 1);
    assert_int_equal(policy_mech_mask(e, NULL), 0);
    assert_int_equal(__builtin_popcountll(policy_mech_mask_for_type(CONF_CKK_EC)), 4);
    assert_int_equal(__builtin_popcountll(policy_mech_mask_for_type(CONF_CKK_RSA)), 8);
    assert_int_equal(policy_mech_mask_for_type(CONF_CKK_EC) & mask, mask);
}

/* The mech_mask bit order is part of the wire protocol: pin it. */
static void test_mask_bit_order(void **state)
{
    static const char *const order[] = {
        "RSA_PKCS",
        "RSA_PKCS_PSS",
        "SHA256_RSA_PKCS",
        "SHA384_RSA_PKCS",
        "SHA512_RSA_PKCS",
        "SHA256_RSA_PKCS_PSS",
        "SHA384_RSA_PKCS_PSS",
        "SHA512_RSA_PKCS_PSS",
        "ECDSA",
        "ECDSA_SHA256",
        "ECDSA_SHA384",
        "ECDSA_SHA512",
        "SHA256",
        "SHA384",
        "SHA512",
    };
    struct conf_key k;

    (void)state;
    for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const struct conf_mech *m = conf_mech_at(i);

        assert_non_null(m);
        assert_string_equal(m->name, order[i]);
        memset(&k, 0, sizeof(k));
        k.mechanisms[0] = m->ckm;
        k.n_mechanisms = 1;
        assert_int_equal(policy_mech_mask(NULL, &k), UINT64_C(1) << i);
    }
    assert_null(conf_mech_at(sizeof(order) / sizeof(order[0])));
    assert_int_equal(policy_mech_mask_for_type(CONF_CKK_RSA), UINT64_C(0xff));
    assert_int_equal(policy_mech_mask_for_type(CONF_CKK_EC), UINT64_C(0xf00));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deny_by_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generated_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_random_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_and_masks, setup, teardown),
        cmocka_unit_test(test_mask_bit_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
