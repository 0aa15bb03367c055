#include "ca_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "msg.h"
#include "peercert.h"

struct server {
    struct ca *ca;
    SSL_CTX *tls;
};

static struct bufferevent *bev_new(struct event_base *base, void *arg)
{
    struct server *srv = arg;
    SSL *ssl = SSL_new(srv->tls);

    if (ssl == NULL) {
        return NULL;
    }
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static void send_body(struct evhttp_request *req, int status, const char *type, const char *body)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);

    evhttp_add_header(hdr, "Content-Type", type);
    evhttp_add_header(hdr, "Cache-Control", "no-store");
    if (body != NULL) {
        evbuffer_add(out, body, strlen(body));
    }
    evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", NULL);
}

static void peer_name(struct evhttp_request *req, char *buf, size_t cap)
{
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    const char *addr = NULL;
    ev_uint16_t port = 0;

    if (c != NULL) {
        evhttp_connection_get_peer(c, (char **)&addr, &port);
    }
    snprintf(buf, cap, "%s:%u", addr != NULL ? addr : "?", (unsigned)port);
}

/*
 * Replies go out as several TLS records; with Nagle on, the last one waits
 * for the client's delayed ACK (about 40 ms per request on loopback).
 */
static void no_delay(struct evhttp_request *req)
{
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    struct bufferevent *bev = c != NULL ? evhttp_connection_get_bufferevent(c) : NULL;
    evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
    int one = 1;

    if (fd >= 0) {
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

/*
 * The connection's client certificate and its verification result (TLS 1.3:
 * the handshake is over before the request is read, so both are final).
 */
static void client_cert(struct evhttp_request *req, struct peercert *ret)
{
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    struct bufferevent *bev = c != NULL ? evhttp_connection_get_bufferevent(c) : NULL;
    SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;

    if (ssl == NULL) {
        peercert_from_x509(NULL, X509_V_OK, ret);
        return;
    }
    peercert_from_x509(SSL_get0_peer_certificate(ssl), SSL_get_verify_result(ssl), ret);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct server *srv = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct ca_reply rep = {0};
    struct peercert client;
    size_t len = evbuffer_get_length(in);
    char peer[96];
    char *body = NULL;

    peer_name(req, peer, sizeof(peer));
    no_delay(req);
    if (path == NULL) {
        evhttp_send_error(req, 400, NULL);
        return;
    }
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET && strcmp(path, "/v1/bundle") == 0) {
        send_body(req, 200, "application/x-pem-file", ca_bundle_pem(srv->ca));
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_send_error(req, 405, NULL);
        return;
    }
    /* evhttp already refused bodies over the cap; ca_handle checks again. */
    if (len <= MSG_BODY_MAX && (body = malloc(len + 1)) == NULL) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (body != NULL) {
        evbuffer_remove(in, body, len);
    }
    client_cert(req, &client);
    ca_handle(srv->ca, path, body != NULL ? body : "", len, peer, &client, &rep);
    send_body(req, rep.status, "application/json", rep.body != NULL ? rep.body : "{}");
    free(rep.body);
    free(body);
}

/*
 * Accept any client certificate at the handshake and decide per request
 * (ca.c): enrollment needs none, and a refusal as a JSON answer that the CA
 * records says more than a failed handshake. SSL_get_verify_result keeps
 * the chain's verdict; possession of the key is still proven by the TLS 1.3
 * CertificateVerify, which OpenSSL checks whatever this returns.
 */
static int verify_later(int is_ok, X509_STORE_CTX *x)
{
    (void)is_ok;
    (void)x;
    return 1;
}

/*
 * Ask every client for a certificate (SSL_VERIFY_PEER without
 * FAIL_IF_NO_PEER_CERT: a new host has none) issued by tls_client_ca (the
 * CA's certificate unless set; a file of several for a root rotation).
 * PARTIAL_CHAIN: an issuing CA that is not self-signed is an anchor too.
 */
static int tls_client_auth(SSL_CTX *ctx, const struct ca_conf *conf)
{
    static const unsigned char sid_ctx[] = "agentd-ca";
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(conf->tls_client_ca);

    if (names == NULL || SSL_CTX_load_verify_locations(ctx, conf->tls_client_ca, NULL) != 1 ||
        X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_PARTIAL_CHAIN) != 1 ||
        /* resumed sessions keep the peer certificate; OpenSSL requires a context id */
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        return 0;
    }
    SSL_CTX_set_client_CA_list(ctx, names); /* takes names */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_later);
    return 1;
}

static SSL_CTX *tls_new(const struct ca_conf *conf)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, conf->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, conf->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1 || !tls_client_auth(ctx, conf)) {
        SSL_CTX_free(ctx);
        ERR_print_errors_fp(stderr);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    return ctx;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopexit(arg, NULL);
}

static int run(struct event_base *base, struct evhttp *http, const struct ca_conf *conf)
{
    struct event *sterm = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *sint = evsignal_new(base, SIGINT, on_signal, base);
    int r = AD_ERR_SYSTEM;

    if (sterm == NULL || sint == NULL || evsignal_add(sterm, NULL) != 0 ||
        evsignal_add(sint, NULL) != 0) {
        goto out;
    }
    if (evhttp_bind_socket(http, conf->listen_addr, conf->listen_port) != 0) {
        fprintf(stderr, "agentd-ca: cannot listen on %s:%u\n", conf->listen_addr,
                (unsigned)conf->listen_port);
        goto out;
    }
    printf("agentd-ca: listening on https://%s:%u\n", conf->listen_addr,
           (unsigned)conf->listen_port);
    fflush(stdout);
    r = event_base_dispatch(base) == 0 ? AD_OK : AD_ERR_SYSTEM;
out:
    if (sterm != NULL) {
        event_free(sterm);
    }
    if (sint != NULL) {
        event_free(sint);
    }
    return r;
}

int ca_http_serve(struct ca *ca, const struct ca_conf *conf)
{
    struct server srv = {ca, NULL};
    struct event_base *base = NULL;
    struct evhttp *http = NULL;
    int r = AD_ERR_CONFIG;

    signal(SIGPIPE, SIG_IGN);
    if ((srv.tls = tls_new(conf)) == NULL) {
        fprintf(stderr, "agentd-ca: tls_cert/tls_key/tls_client_ca unusable\n");
        goto out;
    }
    r = AD_ERR_NOMEM;
    if ((base = event_base_new()) == NULL || (http = evhttp_new(base)) == NULL) {
        goto out;
    }
    evhttp_set_bevcb(http, bev_new, &srv);
    evhttp_set_gencb(http, on_request, &srv);
    evhttp_set_max_body_size(http, MSG_BODY_MAX);
    /* Read and drop an oversized body before answering 413, so the client gets
     * the answer instead of a reset connection. */
    evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_max_headers_size(http, 16 * 1024);
    evhttp_set_timeout(http, 30);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    r = run(base, http, conf);
out:
    if (http != NULL) {
        evhttp_free(http);
    }
    if (base != NULL) {
        event_base_free(base);
    }
    SSL_CTX_free(srv.tls);
    return r;
}
