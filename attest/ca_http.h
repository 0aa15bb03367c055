/*
 * agentd-ca's HTTPS front: libevent's evhttp over OpenSSL bufferevents,
 * TLS 1.3 only. Bodies over MSG_BODY_MAX are refused by evhttp (413) before
 * they reach the protocol code.
 */
#ifndef AGENTD_ATTEST_CA_HTTP_H
#define AGENTD_ATTEST_CA_HTTP_H

#include "ca.h"
#include "err.h"

/*
 * Serve ca on conf's listen address until SIGINT or SIGTERM. Prints
 * "agentd-ca: listening on https://HOST:PORT" once bound. AD_ERR_CONFIG
 * if the TLS certificate or key cannot be used, AD_ERR_SYSTEM if the
 * address cannot be bound.
 */
AD_MUST_CHECK int ca_http_serve(struct ca *ca, const struct ca_conf *conf);

#endif
