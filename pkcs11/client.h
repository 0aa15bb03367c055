/*
 * The module's connection to agentd: a small pool of Unix-socket connections,
 * one call in flight on each (see README.md for why not one multiplexed
 * socket). Every function here returns a CK_RV: wire status -> CK_RV happens in
 * client_rv_from_status() and nowhere else. None of them takes the module mutex
 * across socket I/O.
 */
#ifndef AGENTD_PKCS11_CLIENT_H
#define AGENTD_PKCS11_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "limits.h" /* proto/limits.h: the wire's field maximums */

/* A byte string owned by the record that holds it. */
struct blob {
    uint8_t *ptr;
    size_t len;
};

/* One key record from LIST_OBJECTS or GENERATE_KEY; every attribute ready made. */
struct client_key {
    char name[KEY_NAME_MAX + 1];
    struct blob id;
    uint64_t key_type;
    uint32_t bits;
    uint64_t mech_mask;
    struct blob spki;
    struct blob ec_params;
    struct blob ec_point;
    struct blob modulus;
    struct blob exponent;
    struct blob cert;
    struct blob cert_subject;
    struct blob cert_issuer;
    struct blob cert_serial;
};

/* One trust-bundle certificate. */
struct client_ca {
    char label[KEY_NAME_MAX + 1];
    struct blob cert;
    struct blob subject;
    struct blob issuer;
    struct blob serial;
};

struct client_list {
    struct client_key *keys;
    size_t n_keys;
    struct client_ca *cas;
    size_t n_cas;
};

/* From HELLO; strings are NUL-terminated. */
struct client_info {
    char token_label[33];
    char manufacturer[33];
    char serial[17];
    char daemon_version[65];
};

/* RSA-PSS parameters as they travel (all zero for other mechanisms). */
struct client_pss {
    uint64_t hash;
    uint64_t mgf;
    uint64_t salt_len;
};

/*
 * Connect to agentd and send HELLO; the connection stays in the pool. The
 * answer is not waited for: it is read before the reply to the next request
 * on that connection (one round trip at start-up instead of two) or by
 * client_token_info(). An agentd that cannot be reached fails here; one that
 * refuses the HELLO fails the call that reads its answer.
 */
CK_RV client_open(void);

/* The token's info from agentd's HELLO answer, waiting for it if not read yet. */
CK_RV client_token_info(struct client_info *ret);

/*
 * Drop every connection. is_child: we are a forked child holding the parent's
 * sockets: close our copies only, never shutdown() them. Otherwise busy
 * connections are shut down so threads blocked in a call return.
 */
void client_close(bool is_child);

/* LIST_OBJECTS. *ret is the caller's; free with client_list_free(). */
CK_RV client_list(struct client_list **ret);
void client_list_free(struct client_list *list);
void client_key_clear(struct client_key *key);

/* SIGN: sig must hold SIGNATURE_MAX bytes; *ret_sig_len is set on success. */
CK_RV client_sign(const char *key, uint64_t mech, const struct client_pss *pss, const uint8_t *data,
                  size_t len, uint8_t *sig, size_t *ret_sig_len);

/* VERIFY: *ret_is_valid set on success. */
CK_RV client_verify(const char *key, uint64_t mech, const struct client_pss *pss,
                    const uint8_t *data, size_t len, const uint8_t *sig, size_t sig_len,
                    bool *ret_is_valid);

/* DIGEST: out must hold 64 bytes. */
CK_RV client_digest(uint64_t mech, const uint8_t *data, size_t len, uint8_t *out, size_t *ret_len);

/* RANDOM: any length; split into RANDOM_MAX requests. */
CK_RV client_random(uint8_t *out, size_t len);

/* GENERATE_KEY: *ret_key filled (caller clears it with client_key_clear()). */
CK_RV client_generate(const char *name, uint64_t key_type, uint32_t bits,
                      struct client_key *ret_key);

/* DESTROY_KEY. */
CK_RV client_destroy(const char *key);

/* The one wire status -> CK_RV translation (proto/README.md's table). */
CK_RV client_rv_from_status(uint32_t status);

#endif
