#include "msg.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

struct msg_reply {
    json_object *obj;
};

int msg_bin_copy(const uint8_t *p, size_t n, struct msg_bin *ret)
{
    if ((ret->data = malloc(n == 0 ? 1 : n)) == NULL) {
        return AD_ERR_NOMEM;
    }
    if (n > 0) {
        memcpy(ret->data, p, n);
    }
    ret->len = n;
    return AD_OK;
}

int msg_bin_from_tpm2b(const uint8_t *p, size_t n, struct msg_bin *ret)
{
    if (n < 2 || ((size_t)p[0] << 8 | p[1]) != n - 2) {
        return AD_ERR_FORMAT;
    }
    return msg_bin_copy(p + 2, n - 2, ret);
}

void msg_bin_clear(struct msg_bin *b)
{
    if (b == NULL) {
        return;
    }
    if (b->data != NULL) {
        OPENSSL_cleanse(b->data, b->len);
    }
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int msg_b64_decode(const char *in, size_t in_len, size_t max, struct msg_bin *ret)
{
    size_t pad = 0, out_len, i, o = 0;
    uint8_t *out;
    uint32_t acc = 0;

    if (in_len == 0 || in_len % 4 != 0) {
        return AD_ERR_FORMAT;
    }
    pad = in[in_len - 1] == '=' ? (in[in_len - 2] == '=' ? 2 : 1) : 0;
    out_len = in_len / 4 * 3 - pad;
    if (out_len > max) {
        return AD_ERR_TOO_LARGE;
    }
    if ((out = malloc(out_len == 0 ? 1 : out_len)) == NULL) {
        return AD_ERR_NOMEM;
    }
    for (i = 0; i < in_len - pad; i++) {
        int v = b64_val(in[i]);
        if (v < 0) {
            free(out);
            return AD_ERR_FORMAT;
        }
        acc = (acc << 6) | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (uint8_t)(acc >> 16);
            out[o++] = (uint8_t)(acc >> 8);
            out[o++] = (uint8_t)acc;
        }
    }
    /* Padding: the unused low bits must be zero (canonical encoding). */
    if ((pad == 1 && (acc & 0x3)) || (pad == 2 && (acc & 0xf))) {
        free(out);
        return AD_ERR_FORMAT;
    }
    if (pad == 1) {
        out[o++] = (uint8_t)(acc >> 10);
        out[o++] = (uint8_t)(acc >> 2);
    } else if (pad == 2) {
        out[o++] = (uint8_t)(acc >> 4);
    }
    ret->data = out;
    ret->len = o;
    return AD_OK;
}

/* Parse a capped body into a JSON object; no NUL, no trailing bytes, bounded depth. */
static int parse_object(const char *body, size_t len, json_object **ret)
{
    json_tokener *tok = NULL;
    json_object *obj = NULL;
    int r = AD_ERR_FORMAT;

    if (len > MSG_BODY_MAX) {
        return AD_ERR_TOO_LARGE;
    }
    if (len == 0 || memchr(body, '\0', len) != NULL) {
        return AD_ERR_FORMAT;
    }
    if ((tok = json_tokener_new_ex(MSG_DEPTH_MAX)) == NULL) {
        return AD_ERR_NOMEM;
    }
    obj = json_tokener_parse_ex(tok, body, (int)len);
    if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len || !json_object_is_type(obj, json_type_object)) {
        goto out;
    }
    *ret = obj;
    obj = NULL;
    r = AD_OK;
out:
    json_object_put(obj);
    json_tokener_free(tok);
    return r;
}

/* Only the listed keys may appear (a typo or an injected field is an error). */
static int keys_allowed(json_object *obj, const char *const *keys)
{
    size_t i;

    json_object_object_foreach(obj, k, v)
    {
        (void)v;
        for (i = 0; keys[i] != NULL && strcmp(keys[i], k) != 0; i++) {
        }
        if (keys[i] == NULL) {
            return AD_ERR_FORMAT;
        }
    }
    return AD_OK;
}

static int get_string(json_object *obj, const char *key, size_t max, const char **ret,
                      size_t *ret_len)
{
    json_object *v = NULL;
    size_t len;

    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string)) {
        return AD_ERR_FORMAT;
    }
    len = (size_t)json_object_get_string_len(v);
    if (len > max) {
        return AD_ERR_TOO_LARGE;
    }
    /* "\u0000" inside a string would cut it short for C code. */
    if (strlen(json_object_get_string(v)) != len) {
        return AD_ERR_FORMAT;
    }
    *ret = json_object_get_string(v);
    *ret_len = len;
    return AD_OK;
}

static int get_bin(json_object *obj, const char *key, size_t max, struct msg_bin *ret)
{
    const char *s = NULL;
    size_t len = 0;
    int r;

    /* Base64 length bound first, so an oversized field is refused before decoding. */
    if ((r = get_string(obj, key, (max + 2) / 3 * 4, &s, &len)) != AD_OK) {
        return r;
    }
    return msg_b64_decode(s, len, max, ret);
}

static int session_ok(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int get_session(json_object *obj, char ret[MSG_SESSION_LEN + 1])
{
    const char *s = NULL;
    size_t len = 0, i;
    int r;

    if ((r = get_string(obj, "session", MSG_SESSION_LEN, &s, &len)) != AD_OK) {
        return r;
    }
    for (i = 0; i < len; i++) {
        if (!session_ok(s[i])) {
            return AD_ERR_FORMAT;
        }
    }
    if (len != MSG_SESSION_LEN) {
        return AD_ERR_FORMAT;
    }
    memcpy(ret, s, len + 1);
    return AD_OK;
}

static int get_class(json_object *obj, char ret[MSG_HOST_CLASS_MAX + 1])
{
    const char *s = NULL;
    size_t len = 0, i;
    int r;

    if ((r = get_string(obj, "host_class", MSG_HOST_CLASS_MAX, &s, &len)) != AD_OK) {
        return r;
    }
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return AD_ERR_FORMAT;
        }
    }
    if (len == 0) {
        return AD_ERR_FORMAT;
    }
    memcpy(ret, s, len + 1);
    return AD_OK;
}

void msg_start_clear(struct msg_start *m)
{
    if (m == NULL) {
        return;
    }
    msg_bin_clear(&m->ek_cert);
    msg_bin_clear(&m->ek_pub);
    msg_bin_clear(&m->ak_pub);
    memset(m, 0, sizeof(*m));
}

void msg_activate_clear(struct msg_activate *m)
{
    if (m == NULL) {
        return;
    }
    msg_bin_clear(&m->secret);
    memset(m, 0, sizeof(*m));
}

void msg_quote_clear(struct msg_quote *m)
{
    if (m == NULL) {
        return;
    }
    msg_bin_clear(&m->attest);
    msg_bin_clear(&m->signature);
    memset(m, 0, sizeof(*m));
}

void msg_certify_clear(struct msg_certify *m)
{
    if (m == NULL) {
        return;
    }
    msg_bin_clear(&m->key_pub);
    msg_bin_clear(&m->attest);
    msg_bin_clear(&m->signature);
    memset(m, 0, sizeof(*m));
}

int msg_start_decode(const char *body, size_t len, struct msg_start *ret)
{
    static const char *const keys[] = {"ek_cert", "ek_pub", "ak_pub", "host_class", NULL};
    json_object *o = NULL;
    struct msg_start m = {0};
    int r;

    memset(ret, 0, sizeof(*ret));
    if ((r = parse_object(body, len, &o)) != AD_OK) {
        return r;
    }
    if ((r = keys_allowed(o, keys)) != AD_OK ||                              /* no other fields */
        (r = get_bin(o, "ek_cert", MSG_EK_CERT_MAX, &m.ek_cert)) != AD_OK || /* DER */
        (r = get_bin(o, "ek_pub", MSG_TPM2B_MAX, &m.ek_pub)) != AD_OK ||     /* TPM2B_PUBLIC */
        (r = get_bin(o, "ak_pub", MSG_TPM2B_MAX, &m.ak_pub)) != AD_OK ||     /* TPM2B_PUBLIC */
        (r = get_class(o, m.host_class)) != AD_OK) {                         /* [a-z0-9_-]+ */
        msg_start_clear(&m);
    } else {
        *ret = m;
    }
    json_object_put(o);
    return r;
}

int msg_activate_decode(const char *body, size_t len, struct msg_activate *ret)
{
    static const char *const keys[] = {"session", "secret", NULL};
    json_object *o = NULL;
    struct msg_activate m = {0};
    int r;

    memset(ret, 0, sizeof(*ret));
    if ((r = parse_object(body, len, &o)) != AD_OK) {
        return r;
    }
    if ((r = keys_allowed(o, keys)) != AD_OK ||                           /* no other fields */
        (r = get_session(o, m.session)) != AD_OK ||                       /* 32 hex */
        (r = get_bin(o, "secret", MSG_SECRET_MAX, &m.secret)) != AD_OK) { /* activated secret */
        msg_activate_clear(&m);
    } else {
        *ret = m;
    }
    json_object_put(o);
    return r;
}

int msg_quote_decode(const char *body, size_t len, struct msg_quote *ret)
{
    static const char *const keys[] = {"session", "attest", "signature", NULL};
    json_object *o = NULL;
    struct msg_quote m = {0};
    int r;

    memset(ret, 0, sizeof(*ret));
    if ((r = parse_object(body, len, &o)) != AD_OK) {
        return r;
    }
    if ((r = keys_allowed(o, keys)) != AD_OK ||                                /* no other fields */
        (r = get_session(o, m.session)) != AD_OK ||                            /* 32 hex */
        (r = get_bin(o, "attest", MSG_TPM2B_MAX, &m.attest)) != AD_OK ||       /* TPMS_ATTEST */
        (r = get_bin(o, "signature", MSG_TPM2B_MAX, &m.signature)) != AD_OK) { /* TPMT_SIGNATURE */
        msg_quote_clear(&m);
    } else {
        *ret = m;
    }
    json_object_put(o);
    return r;
}

/* The fields of a certify, shared by the host step and workload requests. */
static int certify_fields(json_object *o, struct msg_certify *m)
{
    int r;

    if ((r = get_session(o, m->session)) != AD_OK ||                            /* 32 hex */
        (r = get_bin(o, "key_pub", MSG_TPM2B_MAX, &m->key_pub)) != AD_OK ||     /* TPM2B_PUBLIC */
        (r = get_bin(o, "attest", MSG_TPM2B_MAX, &m->attest)) != AD_OK ||       /* TPMS_ATTEST */
        (r = get_bin(o, "signature", MSG_TPM2B_MAX, &m->signature)) != AD_OK) { /* TPMT_SIGNATURE */
        msg_certify_clear(m);
    }
    return r;
}

int msg_certify_decode(const char *body, size_t len, struct msg_certify *ret)
{
    static const char *const keys[] = {"session", "key_pub", "attest", "signature", NULL};
    json_object *o = NULL;
    struct msg_certify m = {0};
    int r;

    memset(ret, 0, sizeof(*ret));
    if ((r = parse_object(body, len, &o)) != AD_OK) {
        return r;
    }
    if ((r = keys_allowed(o, keys)) == AD_OK && (r = certify_fields(o, &m)) == AD_OK) {
        *ret = m;
    }
    json_object_put(o);
    return r;
}

static int is_lower_hex(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (!session_ok(s[i])) {
            return 0;
        }
    }
    return 1;
}

int msg_svid_challenge_decode(const char *body, size_t len, struct msg_svid_challenge *ret)
{
    static const char *const keys[] = {"host_id", NULL};
    json_object *o = NULL;
    const char *s = NULL;
    size_t n = 0;
    int r;

    memset(ret, 0, sizeof(*ret));
    if ((r = parse_object(body, len, &o)) != AD_OK) {
        return r;
    }
    if ((r = keys_allowed(o, keys)) == AD_OK &&                /* no other fields */
        (r = get_string(o, "host_id", 64, &s, &n)) == AD_OK) { /* 64 hex */
        if (n == 64 && is_lower_hex(s, n)) {
            memcpy(ret->host_id, s, n + 1);
        } else {
            r = AD_ERR_FORMAT;
        }
    }
    json_object_put(o);
    return r;
}

int msg_svid_decode(const char *body, size_t len, struct msg_svid *ret)
{
    static const char *const keys[] = {"session", "path", "key_pub", "attest", "signature", NULL};
    json_object *o = NULL;
    struct msg_svid m;
    const char *s = NULL;
    size_t n = 0;
    int r;

    memset(ret, 0, sizeof(*ret));
    memset(&m, 0, sizeof(m));
    if ((r = parse_object(body, len, &o)) != AD_OK) {
        return r;
    }
    /* The path's syntax is checked with the whole SPIFFE ID by svid_id_check. */
    if ((r = keys_allowed(o, keys)) == AD_OK &&                       /* no other fields */
        (r = get_string(o, "path", MSG_PATH_MAX, &s, &n)) == AD_OK && /* workload path */
        (r = certify_fields(o, &m.certify)) == AD_OK) {               /* certify by the AK */
        memcpy(m.path, s, n + 1);
        *ret = m;
    }
    json_object_put(o);
    return r;
}

static json_object *b64_string(const uint8_t *data, size_t len)
{
    size_t out_len = 4 * ((len + 2) / 3) + 1;
    char *out = malloc(out_len);
    json_object *s = NULL;

    if (out == NULL) {
        return NULL;
    }
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    s = json_object_new_string(out);
    free(out);
    return s;
}

static json_object *uint_array(const unsigned *v, size_t n)
{
    json_object *a = json_object_new_array();
    size_t i;

    for (i = 0; a != NULL && i < n; i++) {
        if (json_object_array_add(a, json_object_new_int64((int64_t)v[i])) != 0) {
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

static json_object *next_value(char kind, va_list *ap)
{
    const uint8_t *p;
    const unsigned *u;
    size_t n;

    switch (kind) {
    case 's':
        return json_object_new_string(va_arg(*ap, const char *));
    case 'b':
        p = va_arg(*ap, const uint8_t *);
        n = va_arg(*ap, size_t);
        return b64_string(p, n);
    case 'u':
        return json_object_new_int64((int64_t)va_arg(*ap, unsigned));
    case 'a':
        u = va_arg(*ap, const unsigned *);
        n = va_arg(*ap, size_t);
        return uint_array(u, n);
    default:
        return NULL;
    }
}

int msg_encode(char **ret, ...)
{
    json_object *o = json_object_new_object();
    const char *key, *s;
    va_list ap;
    int r = AD_ERR_NOMEM;

    va_start(ap, ret);
    while (o != NULL && (key = va_arg(ap, const char *)) != NULL) {
        char kind = (char)va_arg(ap, int);
        json_object *v = next_value(kind, &ap);
        if (v == NULL || json_object_object_add(o, key, v) != 0) {
            json_object_put(v);
            goto out;
        }
    }
    if (o != NULL && (s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) != NULL &&
        (*ret = strdup(s)) != NULL) {
        r = AD_OK;
    }
out:
    va_end(ap);
    json_object_put(o);
    return r;
}

int msg_reply_parse(const char *body, size_t len, struct msg_reply **ret)
{
    struct msg_reply *rep = calloc(1, sizeof(*rep));
    int r;

    if (rep == NULL) {
        return AD_ERR_NOMEM;
    }
    if ((r = parse_object(body, len, &rep->obj)) != AD_OK) {
        free(rep);
        return r;
    }
    *ret = rep;
    return AD_OK;
}

void msg_reply_free(struct msg_reply *r)
{
    if (r == NULL) {
        return;
    }
    json_object_put(r->obj);
    free(r);
}

int msg_reply_str(const struct msg_reply *r, const char *key, size_t max, char **ret)
{
    const char *s = NULL;
    size_t len = 0;
    int e;

    if ((e = get_string(r->obj, key, max, &s, &len)) != AD_OK) {
        return e;
    }
    if ((*ret = strndup(s, len)) == NULL) {
        return AD_ERR_NOMEM;
    }
    return AD_OK;
}

int msg_reply_bin(const struct msg_reply *r, const char *key, size_t max, struct msg_bin *ret)
{
    return get_bin(r->obj, key, max, ret);
}

int msg_reply_uints(const struct msg_reply *r, const char *key, size_t max, unsigned limit,
                    unsigned *ret, size_t *ret_cnt)
{
    json_object *a = NULL, *v;
    size_t n, i;
    int64_t x;

    if (!json_object_object_get_ex(r->obj, key, &a) || !json_object_is_type(a, json_type_array)) {
        return AD_ERR_FORMAT;
    }
    if ((n = json_object_array_length(a)) > max) {
        return AD_ERR_TOO_LARGE;
    }
    for (i = 0; i < n; i++) {
        v = json_object_array_get_idx(a, i);
        if (!json_object_is_type(v, json_type_int) || (x = json_object_get_int64(v)) < 0 ||
            x >= (int64_t)limit) {
            return AD_ERR_FORMAT;
        }
        ret[i] = (unsigned)x;
    }
    *ret_cnt = n;
    return AD_OK;
}
