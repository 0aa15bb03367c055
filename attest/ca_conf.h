/*
 * agentd-ca configuration (libconfig). Example: attest/agentd-ca.conf.example.
 * Lives in attest/ for now; it may move under conf/ once that area offers a
 * loader for other programs.
 */
#ifndef AGENTD_ATTEST_CA_CONF_H
#define AGENTD_ATTEST_CA_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg.h"
#include "quote.h"
#include "svid.h"

#define CA_CONF_CLASSES_MAX 32
#define CA_CONF_PATH_MAX 1024

struct ca_conf_class {
    char name[MSG_HOST_CLASS_MAX + 1];
    struct quote_policy pcrs; /* bank, mask and expected values */
};

struct ca_conf {
    char trust_domain[SVID_TRUST_DOMAIN_MAX + 1];
    char listen_addr[64];
    uint16_t listen_port;
    char database[CA_CONF_PATH_MAX];
    char ek_roots[CA_CONF_PATH_MAX];
    char ca_cert[CA_CONF_PATH_MAX];
    char ca_key[CA_CONF_PATH_MAX];        /* PEM file or "pkcs11:" URI */
    char pkcs11_module[CA_CONF_PATH_MAX]; /* for a pkcs11: ca_key */
    char tls_cert[CA_CONF_PATH_MAX];
    char tls_key[CA_CONF_PATH_MAX];
    char tls_client_ca[CA_CONF_PATH_MAX]; /* client certificates' anchors; default ca_cert */
    int tls_require_host_cert;            /* mTLS for enrolled hosts' requests; default 1 */
    unsigned host_lifetime;               /* seconds, default 86400 */
    unsigned workload_lifetime;           /* seconds, default 3600 */
    unsigned session_timeout;             /* seconds, default 120 */
    size_t n_classes;
    struct ca_conf_class classes[CA_CONF_CLASSES_MAX];
};

/*
 * Load and validate path into *ret. On AD_ERR_CONFIG, ret_err (cap bytes)
 * holds "file:line: message" or "setting: message".
 */
AD_MUST_CHECK int ca_conf_load(const char *path, struct ca_conf *ret, char *ret_err, size_t cap);

/* The class named name, or NULL. */
const struct ca_conf_class *ca_conf_class(const struct ca_conf *c, const char *name);

#endif
