/*
 * Wire glue for the dispatch files: every byte the daemon reads or writes goes
 * through proto/ (frame.h, msg.h); these functions only adapt proto's structs
 * to the handlers (NUL-terminated copies of names, replies queued on the
 * connection). Internal to the daemon's dispatch.
 */
#ifndef AGENTD_DISPATCH_WIRE_H
#define AGENTD_DISPATCH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin.h"
#include "certinfo.h"
#include "conf.h"
#include "dispatch.h"
#include "keystore.h"
#include "msg.h"
#include "workload.h"

#define GLUE_VERSION PROTO_VERSION
#define GLUE_ADMIN_TEXT_MAX ADMIN_TEXT_MAX

enum {
    MT_HELLO = MSG_HELLO,
    MT_WHOAMI = MSG_WHOAMI,
    MT_LIST_OBJECTS = MSG_LIST_OBJECTS,
    MT_SIGN = MSG_SIGN,
    MT_VERIFY = MSG_VERIFY,
    MT_DIGEST = MSG_DIGEST,
    MT_RANDOM = MSG_RANDOM,
    MT_GENERATE_KEY = MSG_GENERATE_KEY,
    MT_DESTROY_KEY = MSG_DESTROY_KEY,
    MT_ADMIN_STATUS = MSG_ADMIN_STATUS,
    MT_ADMIN_WORKLOADS = MSG_ADMIN_WORKLOADS,
    MT_ADMIN_KEYS = MSG_ADMIN_KEYS,
    MT_ADMIN_KEY_CREATE = MSG_ADMIN_KEY_CREATE,
    MT_ADMIN_KEY_DELETE = MSG_ADMIN_KEY_DELETE,
    MT_ADMIN_AUDIT_TAIL = MSG_ADMIN_AUDIT_TAIL,
    MT_ADMIN_ENROLL = MSG_ADMIN_ENROLL,
};

struct glue_pss {
    uint64_t hash_mech;
    uint64_t mgf;
    uint64_t salt_len;
};

struct glue_sign {
    char key[KEY_NAME_MAX + 1];
    uint64_t mechanism;
    struct glue_pss pss;
    const uint8_t *data;
    size_t data_len;
    const uint8_t *sig;
    size_t sig_len;
};

struct glue_digest {
    uint64_t mechanism;
    const uint8_t *data;
    size_t data_len;
};

struct glue_generate {
    char name[KEY_NAME_MAX + 1];
    uint64_t key_type;
    uint32_t bits;
};

struct glue_key {
    char key[KEY_NAME_MAX + 1];
};

struct glue_admin {
    char entry[ENTRY_MAX + 1];
    char key[KEY_NAME_MAX + 1];
    uint64_t key_type;
    uint32_t bits;
    uint32_t count;
    uint32_t flags; /* ADMIN_ENROLL */
};

int glue_send_error(struct conn *c, uint8_t type, uint32_t id, uint32_t status, const char *msg);
int glue_send_protocol_error(struct conn *c, const struct frame_info *h, int err);
int glue_send_bytes(struct conn *c, uint8_t type, uint32_t id, const uint8_t *p, size_t n);
int glue_send_u8(struct conn *c, uint8_t type, uint32_t id, uint8_t v);
int glue_send_empty(struct conn *c, uint8_t type, uint32_t id);
int glue_send_text(struct conn *c, uint8_t type, uint32_t id, const char *text);
int glue_send_hello(struct conn *c, uint8_t type, uint32_t id, const char *label,
                    const char *version);
int glue_send_whoami(struct conn *c, uint8_t type, uint32_t id, const struct caller_facts *f,
                     const struct workload_entry *e);
int glue_send_keyrec(struct conn *c, uint8_t type, uint32_t id, const struct keystore_pub *p,
                     uint64_t mask);
/* LIST_OBJECTS: the keys (with their certificates) and the trust bundle's certificates. */
int glue_send_list(struct conn *c, uint8_t type, uint32_t id, const struct workload_entry *e,
                   const struct keystore_pub *p, size_t n,
                   uint64_t (*mask)(const struct workload_entry *, const struct keystore_pub *),
                   const struct certinfo *cas, size_t n_cas);
AD_MUST_CHECK int glue_sign_decode(const uint8_t *body, size_t n, bool is_verify,
                                   struct glue_sign *m);
AD_MUST_CHECK int glue_digest_decode(const uint8_t *body, size_t n, struct glue_digest *m);
AD_MUST_CHECK int glue_random_decode(const uint8_t *body, size_t n, uint32_t *ret);
AD_MUST_CHECK int glue_empty_decode(const uint8_t *body, size_t n);
AD_MUST_CHECK int glue_generate_decode(const uint8_t *body, size_t n, struct glue_generate *m);
AD_MUST_CHECK int glue_key_decode(const uint8_t *body, size_t n, struct glue_key *m);
AD_MUST_CHECK int glue_hello_decode(const uint8_t *body, size_t n, uint32_t *vmin, uint32_t *vmax);
AD_MUST_CHECK int glue_admin_decode(uint8_t type, const uint8_t *body, size_t n,
                                    struct glue_admin *m);
const char *glue_admin_op_name(uint8_t type);

#endif
