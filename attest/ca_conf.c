#include "ca_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

static int err(char *buf, size_t cap, const char *setting, const char *msg)
{
    snprintf(buf, cap, "%s: %s", setting, msg);
    return AD_ERR_CONFIG;
}

static int get_str(const config_t *cfg, const char *name, int is_required, char *dst, size_t cap,
                   char *ebuf, size_t ecap)
{
    const char *s = NULL;

    if (config_lookup_string(cfg, name, &s) != CONFIG_TRUE) {
        if (config_lookup(cfg, name) != NULL) {
            return err(ebuf, ecap, name, "must be a string");
        }
        return is_required ? err(ebuf, ecap, name, "is required") : AD_OK;
    }
    if (strlen(s) == 0 || strlen(s) >= cap) {
        return err(ebuf, ecap, name, "empty or too long");
    }
    memcpy(dst, s, strlen(s) + 1);
    return AD_OK;
}

static int get_bool(const config_t *cfg, const char *name, int *dst, char *ebuf, size_t ecap)
{
    int v = 0;

    if (config_lookup_bool(cfg, name, &v) != CONFIG_TRUE) {
        return config_lookup(cfg, name) != NULL ? err(ebuf, ecap, name, "must be true or false")
                                                : AD_OK;
    }
    *dst = v != 0;
    return AD_OK;
}

static int get_uint(const config_t *cfg, const char *name, unsigned lo, unsigned hi, unsigned *dst,
                    char *ebuf, size_t ecap)
{
    long long v = 0;

    if (config_lookup_int64(cfg, name, &v) != CONFIG_TRUE) {
        return config_lookup(cfg, name) != NULL ? err(ebuf, ecap, name, "must be an integer")
                                                : AD_OK;
    }
    if (v < (long long)lo || v > (long long)hi) {
        return err(ebuf, ecap, name, "out of range");
    }
    *dst = (unsigned)v;
    return AD_OK;
}

/* "127.0.0.1:8443" or "[::1]:8443" */
static int parse_listen(const char *s, struct ca_conf *c, char *ebuf, size_t ecap)
{
    const char *colon = strrchr(s, ':');
    char *end = NULL;
    unsigned long port;
    size_t hlen;

    if (colon == NULL || colon == s) {
        return err(ebuf, ecap, "listen", "expected HOST:PORT");
    }
    port = strtoul(colon + 1, &end, 10);
    hlen = (size_t)(colon - s);
    if (*end != '\0' || port == 0 || port > 65535 || hlen >= sizeof(c->listen_addr)) {
        return err(ebuf, ecap, "listen", "bad port or host");
    }
    if (s[0] == '[' && hlen >= 2 && s[hlen - 1] == ']') {
        s++;
        hlen -= 2;
    }
    memcpy(c->listen_addr, s, hlen);
    c->listen_addr[hlen] = '\0';
    c->listen_port = (uint16_t)port;
    return AD_OK;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

static int parse_hex(const char *s, uint8_t *dst, size_t want)
{
    size_t i;

    if (strlen(s) != 2 * want) {
        return -1;
    }
    for (i = 0; i < want; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        dst[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* pcrs = ( { index = 16; value = "<hex>"; }, ... ) in a class. */
static int load_pcrs(config_setting_t *cls, struct ca_conf_class *k, char *ebuf, size_t ecap)
{
    config_setting_t *list = config_setting_lookup(cls, "pcrs");
    int i, n, idx;
    const char *v;

    k->pcrs.bank = TPM2_ALG_SHA256;
    if (list == NULL || !config_setting_is_list(list) || (n = config_setting_length(list)) == 0 ||
        n > QUOTE_PCR_COUNT) {
        return err(ebuf, ecap, k->name, "pcrs: a list of 1..24 { index, value } entries");
    }
    for (i = 0; i < n; i++) {
        config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        if (config_setting_lookup_int(e, "index", &idx) != CONFIG_TRUE || idx < 0 ||
            idx >= QUOTE_PCR_COUNT || (k->pcrs.mask >> idx) & 1u) {
            return err(ebuf, ecap, k->name, "pcrs: index must be 0..23, once each");
        }
        if (config_setting_lookup_string(e, "value", &v) != CONFIG_TRUE ||
            parse_hex(v, k->pcrs.values[idx], 32) != 0) {
            return err(ebuf, ecap, k->name, "pcrs: value must be 64 hex digits (sha256)");
        }
        k->pcrs.mask |= 1u << idx;
    }
    return AD_OK;
}

static int load_classes(const config_t *cfg, struct ca_conf *c, char *ebuf, size_t ecap)
{
    config_setting_t *list = config_lookup(cfg, "host_classes");
    const char *name;
    int i, n, r;

    if (list == NULL || !config_setting_is_list(list) || (n = config_setting_length(list)) == 0 ||
        n > CA_CONF_CLASSES_MAX) {
        return err(ebuf, ecap, "host_classes", "a list of 1..32 classes is required");
    }
    for (i = 0; i < n; i++) {
        config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        struct ca_conf_class *k = &c->classes[c->n_classes];
        if (config_setting_lookup_string(e, "name", &name) != CONFIG_TRUE || strlen(name) == 0 ||
            strlen(name) > MSG_HOST_CLASS_MAX || ca_conf_class(c, name) != NULL) {
            return err(ebuf, ecap, "host_classes", "each class needs a unique short name");
        }
        memcpy(k->name, name, strlen(name) + 1);
        if ((r = load_pcrs(e, k, ebuf, ecap)) != AD_OK) {
            return r;
        }
        c->n_classes++;
    }
    return AD_OK;
}

static int load(const config_t *cfg, struct ca_conf *c, char *ebuf, size_t ecap)
{
    char listen[96] = "127.0.0.1:8443";
    int r;

    if ((r = get_str(cfg, "trust_domain", 1, c->trust_domain, sizeof(c->trust_domain), ebuf,
                     ecap)) != AD_OK ||
        (r = get_str(cfg, "listen", 0, listen, sizeof(listen), ebuf, ecap)) != AD_OK ||
        (r = get_str(cfg, "database", 1, c->database, sizeof(c->database), ebuf, ecap)) != AD_OK ||
        (r = get_str(cfg, "ek_roots", 1, c->ek_roots, sizeof(c->ek_roots), ebuf, ecap)) != AD_OK ||
        (r = get_str(cfg, "ca_cert", 1, c->ca_cert, sizeof(c->ca_cert), ebuf, ecap)) != AD_OK ||
        (r = get_str(cfg, "ca_key", 1, c->ca_key, sizeof(c->ca_key), ebuf, ecap)) != AD_OK ||
        (r = get_str(cfg, "pkcs11_module", 0, c->pkcs11_module, sizeof(c->pkcs11_module), ebuf,
                     ecap)) != AD_OK ||
        (r = get_str(cfg, "tls_cert", 1, c->tls_cert, sizeof(c->tls_cert), ebuf, ecap)) != AD_OK ||
        (r = get_str(cfg, "tls_key", 1, c->tls_key, sizeof(c->tls_key), ebuf, ecap)) != AD_OK ||
        (r = get_str(cfg, "tls_client_ca", 0, c->tls_client_ca, sizeof(c->tls_client_ca), ebuf,
                     ecap)) != AD_OK ||
        (r = get_bool(cfg, "tls_require_host_cert", &c->tls_require_host_cert, ebuf, ecap)) !=
            AD_OK ||
        (r = get_uint(cfg, "host_cert_lifetime", 60, SVID_LIFETIME_MAX, &c->host_lifetime, ebuf,
                      ecap)) != AD_OK ||
        (r = get_uint(cfg, "workload_cert_lifetime", 60, SVID_LIFETIME_MAX, &c->workload_lifetime,
                      ebuf, ecap)) != AD_OK ||
        (r = get_uint(cfg, "session_timeout", 5, 3600, &c->session_timeout, ebuf, ecap)) != AD_OK ||
        (r = parse_listen(listen, c, ebuf, ecap)) != AD_OK ||
        (r = load_classes(cfg, c, ebuf, ecap)) != AD_OK) {
        return r;
    }
    if (strspn(c->trust_domain, "abcdefghijklmnopqrstuvwxyz0123456789.-_") !=
        strlen(c->trust_domain)) {
        return err(ebuf, ecap, "trust_domain", "lowercase letters, digits, '.', '-', '_' only");
    }
    if (c->tls_client_ca[0] == '\0') {
        memcpy(c->tls_client_ca, c->ca_cert, sizeof(c->tls_client_ca));
    }
    if (strncmp(c->ca_key, "pkcs11:", 7) == 0 && c->pkcs11_module[0] == '\0') {
        return err(ebuf, ecap, "pkcs11_module", "required when ca_key is a pkcs11: URI");
    }
    return AD_OK;
}

int ca_conf_load(const char *path, struct ca_conf *ret, char *ret_err, size_t cap)
{
    struct ca_conf *c = calloc(1, sizeof(*c));
    config_t cfg;
    int r;

    if (c == NULL) {
        return AD_ERR_NOMEM;
    }
    c->host_lifetime = 86400;
    c->workload_lifetime = 3600;
    c->session_timeout = 120;
    c->tls_require_host_cert = 1;
    config_init(&cfg);
    if (config_read_file(&cfg, path) != CONFIG_TRUE) {
        snprintf(ret_err, cap, "%s:%d: %s",
                 config_error_file(&cfg) ? config_error_file(&cfg) : path, config_error_line(&cfg),
                 config_error_text(&cfg));
        r = AD_ERR_CONFIG;
    } else if ((r = load(&cfg, c, ret_err, cap)) == AD_OK) {
        *ret = *c;
    }
    config_destroy(&cfg);
    free(c);
    return r;
}

const struct ca_conf_class *ca_conf_class(const struct ca_conf *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->n_classes; i++) {
        if (strcmp(c->classes[i].name, name) == 0) {
            return &c->classes[i];
        }
    }
    return NULL;
}
