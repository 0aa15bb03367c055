/*
 * Enrollment messages (JSON API v1), shared by agentd-ca and agentd's
 * enrollment client. Bodies are parsed with json-c after a size check; every
 * field is type- and length-checked, binary fields are strict base64, and
 * unknown fields are refused. A decoder fills a struct completely or fails
 * (AD_ERR_FORMAT / AD_ERR_TOO_LARGE) and leaves nothing allocated.
 *
 *   POST /v1/enroll/start     {ek_cert, ek_pub, ak_pub, host_class}
 *                          -> {session, credential_blob, encrypted_secret}
 *   POST /v1/enroll/activate  {session, secret}
 *                          -> {nonce, pcr_bank, pcrs}
 *   POST /v1/enroll/quote     {session, attest, signature}
 *                          -> {nonce}
 *   POST /v1/enroll/certify   {session, key_pub, attest, signature}
 *                          -> {spiffe_id, certificate, bundle}
 *   POST /v1/svid/challenge   {host_id}
 *                          -> {session, nonce}
 *   POST /v1/svid             {session, path, key_pub, attest, signature}
 *                          -> {spiffe_id, certificate, bundle}
 *   GET  /v1/bundle        -> the trust bundle (PEM)
 *   errors                 -> {error, reason}   (HTTP 400/403/404/413/500)
 */
#ifndef AGENTD_ATTEST_MSG_H
#define AGENTD_ATTEST_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MSG_BODY_MAX (64 * 1024)
#define MSG_DEPTH_MAX 4
#define MSG_SESSION_LEN 32 /* hex of 16 random bytes */
#define MSG_HOST_CLASS_MAX 63
#define MSG_TPM2B_MAX 2048 /* any marshalled TPM structure we accept */
#define MSG_EK_CERT_MAX 8192
#define MSG_SECRET_MAX 64
#define MSG_NONCE_LEN 32

/* One binary field: bytes owned by the message. */
struct msg_bin {
    uint8_t *data;
    size_t len;
};

struct msg_start {
    struct msg_bin ek_cert; /* DER */
    struct msg_bin ek_pub;  /* TPM2B_PUBLIC */
    struct msg_bin ak_pub;  /* TPM2B_PUBLIC */
    char host_class[MSG_HOST_CLASS_MAX + 1];
};

struct msg_activate {
    char session[MSG_SESSION_LEN + 1];
    struct msg_bin secret; /* wiped on clear */
};

struct msg_quote {
    char session[MSG_SESSION_LEN + 1];
    struct msg_bin attest;    /* TPMS_ATTEST */
    struct msg_bin signature; /* TPMT_SIGNATURE */
};

struct msg_certify {
    char session[MSG_SESSION_LEN + 1];
    struct msg_bin key_pub; /* TPM2B_PUBLIC */
    struct msg_bin attest;
    struct msg_bin signature;
};

#define MSG_PATH_MAX 255 /* workload path after the trust domain, without the leading '/' */

struct msg_svid_challenge {
    char host_id[65]; /* 64 lowercase hex */
};

/* A workload certificate request: a certify by the host's AK, and the path. */
struct msg_svid {
    struct msg_certify certify;
    char path[MSG_PATH_MAX + 1];
};

/* Decoders: body need not be NUL-terminated. On failure *ret is zeroed. */
AD_MUST_CHECK int msg_start_decode(const char *body, size_t len, struct msg_start *ret);
AD_MUST_CHECK int msg_activate_decode(const char *body, size_t len, struct msg_activate *ret);
AD_MUST_CHECK int msg_quote_decode(const char *body, size_t len, struct msg_quote *ret);
AD_MUST_CHECK int msg_certify_decode(const char *body, size_t len, struct msg_certify *ret);
AD_MUST_CHECK int msg_svid_challenge_decode(const char *body, size_t len,
                                            struct msg_svid_challenge *ret);
AD_MUST_CHECK int msg_svid_decode(const char *body, size_t len, struct msg_svid *ret);

/* Free the fields (secrets wiped); the struct itself is the caller's. NULL-tolerant. */
void msg_start_clear(struct msg_start *m);
void msg_activate_clear(struct msg_activate *m);
void msg_quote_clear(struct msg_quote *m);
void msg_certify_clear(struct msg_certify *m);

/*
 * Build a JSON object body from pairs of (key, kind, value...), ended by
 * MSG_END: kind 's' takes a const char *, 'b' a const uint8_t * and size_t
 * (base64), 'u' an unsigned (number), 'a' a const unsigned * and size_t
 * (array of numbers). *ret is malloc'd, NUL-terminated, owned by the caller.
 */
AD_MUST_CHECK int msg_encode(char **ret, ...);
/* The terminator of msg_encode's list: a typed null pointer, never a bare NULL/0. */
#define MSG_END ((const char *)NULL)

/*
 * Read a response: parse body (capped like requests) and pick fields by
 * name. msg_reply_str copies a string of at most max bytes (malloc'd);
 * msg_reply_bin decodes a base64 field of at most max bytes.
 */
struct msg_reply;
AD_MUST_CHECK int msg_reply_parse(const char *body, size_t len, struct msg_reply **ret);
void msg_reply_free(struct msg_reply *r);
AD_MUST_CHECK int msg_reply_str(const struct msg_reply *r, const char *key, size_t max, char **ret);
AD_MUST_CHECK int msg_reply_bin(const struct msg_reply *r, const char *key, size_t max,
                                struct msg_bin *ret);
/* An array of small unsigned numbers (at most max entries, each < limit). */
AD_MUST_CHECK int msg_reply_uints(const struct msg_reply *r, const char *key, size_t max,
                                  unsigned limit, unsigned *ret, size_t *ret_cnt);

/* Strict base64 (RFC 4648 §4, padded, no whitespace). *ret malloc'd. */
AD_MUST_CHECK int msg_b64_decode(const char *in, size_t in_len, size_t max, struct msg_bin *ret);
void msg_bin_clear(struct msg_bin *b);

/* A malloc'd copy of n bytes (n may be 0) into *ret. AD_ERR_NOMEM. */
AD_MUST_CHECK int msg_bin_copy(const uint8_t *p, size_t n, struct msg_bin *ret);

/*
 * The contents of a TPM2B (2-byte big-endian size, then that many bytes),
 * e.g. the TPMS_ATTEST the CA takes out of the TPM2B_ATTEST that Quote and
 * Certify return. AD_ERR_FORMAT when the size does not match n.
 */
AD_MUST_CHECK int msg_bin_from_tpm2b(const uint8_t *p, size_t n, struct msg_bin *ret);

#endif
