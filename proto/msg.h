/*
 * Typed messages of protocol version 1 (proto/README.md "Messages").
 *
 * Each message type has its encoder and decoder in msg_<name>.c. Encoders
 * append the body to out (the frame header is the caller's: frame_begin /
 * frame_end or frame_write). Decoders fill a struct whose msg_str / msg_bytes
 * fields borrow from the input buffer: valid while its bytes are. A decoder
 * either fills the whole struct and returns 0, or returns an error
 * (AD_ERR_SHORT, AD_ERR_TOO_LARGE, AD_ERR_FORMAT, AD_ERR_TRAILING,
 * AD_ERR_INVALID) and leaves *ret unspecified.
 *
 * Reply bodies start with u32 status. Reply encoders write STATUS_OK first;
 * errors are sent with msg_error_encode. On the client side, read the status
 * with msg_status_peek, then call msg_error_decode (status != OK) or the
 * reply decoder (which requires STATUS_OK).
 */
#ifndef AGENTD_PROTO_MSG_H
#define AGENTD_PROTO_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "proto_limits.h"
#include "status.h"

enum msg_type {
    MSG_HELLO = 0x01,
    MSG_WHOAMI = 0x02,
    MSG_LIST_OBJECTS = 0x03,
    MSG_SIGN = 0x04,
    MSG_VERIFY = 0x05,
    MSG_DIGEST = 0x06,
    MSG_RANDOM = 0x07,
    MSG_GENERATE_KEY = 0x08,
    MSG_DESTROY_KEY = 0x09,
    MSG_ADMIN_STATUS = 0x20,
    MSG_ADMIN_WORKLOADS = 0x21,
    MSG_ADMIN_KEYS = 0x22,
    MSG_ADMIN_KEY_CREATE = 0x23,
    MSG_ADMIN_KEY_DELETE = 0x24,
    MSG_ADMIN_AUDIT_TAIL = 0x25,
    MSG_ADMIN_ENROLL = 0x26,
};
#define MSG_TABLE_LEN 0x27 /* msg_table[type] for type < MSG_TABLE_LEN */

struct msg_info {
    uint8_t type;       /* equals the row index; 0 in unused rows */
    const char *name;   /* "SIGN"; NULL in unused rows */
    bool is_admin;      /* answered only for root / the admin group */
    size_t request_max; /* largest valid request body */
    size_t reply_max;   /* largest valid reply body (capped at FRAME_BODY_MAX) */
};

/* Indexed by type; rows without a message have name == NULL. */
extern const struct msg_info msg_table[MSG_TABLE_LEN];

/* Row for a request type (reply bit ignored), or NULL when the type is unknown. */
const struct msg_info *msg_lookup(uint8_t type);

/* A borrowed string (not NUL-terminated) and a borrowed byte string. */
struct msg_str {
    const char *ptr;
    size_t len;
};
struct msg_bytes {
    const uint8_t *ptr;
    size_t len;
};

/* Wrap a NUL-terminated string (NULL gives the empty string). */
struct msg_str msg_str_c(const char *s);
/* Wrap len bytes. */
struct msg_bytes msg_bytes_of(const void *p, size_t len);
/* True when a equals the NUL-terminated s. */
bool msg_str_eq(struct msg_str a, const char *s);
/* malloc'ed NUL-terminated copy (the caller frees), NULL when out of memory. */
char *msg_str_dup(struct msg_str s);

/* ---- status and error replies ---- */

struct msg_error {
    uint32_t status;        /* never STATUS_OK */
    struct msg_str message; /* <= STATUS_MESSAGE_MAX bytes */
};

/* Read the leading u32 status without moving the cursor. */
AD_MUST_CHECK int msg_status_peek(const struct buf *in, uint32_t *ret_status);
/* u32 status (not OK) + string(256) message; a longer message is cut at 256 bytes on a
 * UTF-8 character boundary. NULL message sends "". */
AD_MUST_CHECK int msg_error_encode(struct buf *out, uint32_t status, const char *message);
AD_MUST_CHECK int msg_error_decode(struct buf *in, struct msg_error *ret);

/* Requests without fields (WHOAMI, LIST_OBJECTS, ADMIN_STATUS, ADMIN_WORKLOADS):
 * encode writes nothing, decode checks the body is empty. Also the reply of
 * DESTROY_KEY (status only). */
AD_MUST_CHECK int msg_empty_request_encode(struct buf *out);
AD_MUST_CHECK int msg_empty_request_decode(struct buf *in);
AD_MUST_CHECK int msg_empty_reply_encode(struct buf *out);
AD_MUST_CHECK int msg_empty_reply_decode(struct buf *in);

/* ---- 0x01 HELLO ---- */

struct msg_hello_request {
    uint32_t version_min;
    uint32_t version_max;
    struct msg_str client_name; /* CLIENT_NAME_MAX */
};
struct msg_hello_reply {
    uint32_t version;
    struct msg_str token_label;    /* TOKEN_LABEL_MAX */
    struct msg_str manufacturer;   /* MANUFACTURER_MAX */
    struct msg_str serial;         /* SERIAL_MAX */
    struct msg_str daemon_version; /* DAEMON_VERSION_MAX */
};
/* Decoder: AD_ERR_INVALID when version_min > version_max or version_min is 0. */
AD_MUST_CHECK int msg_hello_request_encode(struct buf *out, const struct msg_hello_request *m);
AD_MUST_CHECK int msg_hello_request_decode(struct buf *in, struct msg_hello_request *ret);
AD_MUST_CHECK int msg_hello_reply_encode(struct buf *out, const struct msg_hello_reply *m);
AD_MUST_CHECK int msg_hello_reply_decode(struct buf *in, struct msg_hello_reply *ret);

/* ---- 0x02 WHOAMI (request: msg_empty_request_*) ---- */

struct msg_whoami_reply {
    uint32_t pid;
    uint32_t uid;
    uint32_t gid;
    struct msg_str exe;          /* EXE_MAX */
    struct msg_bytes exe_sha256; /* EXE_SHA256_LEN, or empty when unknown */
    struct msg_str cgroup;       /* CGROUP_MAX */
    struct msg_str entry;        /* ENTRY_MAX; empty: no entry matches */
    struct msg_str spiffe_id;    /* SPIFFE_ID_MAX */
    struct msg_str tier;         /* TIER_MAX */
};
AD_MUST_CHECK int msg_whoami_reply_encode(struct buf *out, const struct msg_whoami_reply *m);
AD_MUST_CHECK int msg_whoami_reply_decode(struct buf *in, struct msg_whoami_reply *ret);

/* ---- 0x03 LIST_OBJECTS (request: msg_empty_request_*) ---- */

struct msg_key_record {
    struct msg_str name; /* KEY_NAME_MAX */
    struct msg_bytes id; /* KEY_ID_MAX: CKA_ID */
    uint64_t key_type;   /* CKK_* */
    uint32_t bits;
    uint64_t mech_mask;               /* bit i: mech_at(i) allowed */
    struct msg_bytes spki;            /* SPKI_MAX */
    struct msg_bytes ec_params;       /* EC_PARAMS_MAX, empty for RSA */
    struct msg_bytes ec_point;        /* EC_POINT_MAX, empty for RSA */
    struct msg_bytes modulus;         /* MODULUS_MAX */
    struct msg_bytes public_exponent; /* PUBLIC_EXPONENT_MAX, empty for EC */
    struct msg_bytes cert;            /* CERT_MAX, empty when none */
    struct msg_bytes cert_subject;    /* CERT_NAME_MAX */
    struct msg_bytes cert_issuer;     /* CERT_NAME_MAX */
    struct msg_bytes cert_serial;     /* CERT_SERIAL_MAX */
};
struct msg_ca_record {
    struct msg_str label;     /* CA_LABEL_MAX */
    struct msg_bytes cert;    /* CERT_MAX */
    struct msg_bytes subject; /* CERT_NAME_MAX */
    struct msg_bytes issuer;  /* CERT_NAME_MAX */
    struct msg_bytes serial;  /* CERT_SERIAL_MAX */
};
/* About 19 KiB: allocate it rather than putting it on a small stack. */
struct msg_list_objects_reply {
    uint32_t n_keys; /* <= KEYS_MAX */
    struct msg_key_record keys[KEYS_MAX];
    uint32_t n_cas; /* <= CAS_MAX */
    struct msg_ca_record cas[CAS_MAX];
};
/* One key record on its own (also the GENERATE_KEY reply). */
AD_MUST_CHECK int msg_key_record_encode(struct buf *out, const struct msg_key_record *m);
AD_MUST_CHECK int msg_key_record_decode(struct buf *in, struct msg_key_record *ret);
AD_MUST_CHECK int msg_ca_record_encode(struct buf *out, const struct msg_ca_record *m);
AD_MUST_CHECK int msg_ca_record_decode(struct buf *in, struct msg_ca_record *ret);
/* Encoder/decoder: AD_ERR_TOO_LARGE when n_keys > KEYS_MAX or n_cas > CAS_MAX.
 * A worst-case reply is larger than FRAME_MAX; the frame writer then fails with
 * AD_ERR_TOO_LARGE (README "LIST_OBJECTS size"). */
AD_MUST_CHECK int msg_list_objects_reply_encode(struct buf *out,
                                                const struct msg_list_objects_reply *m);
AD_MUST_CHECK int msg_list_objects_reply_decode(struct buf *in, struct msg_list_objects_reply *ret);

/* ---- 0x04 SIGN, 0x05 VERIFY ---- */

/* u64 hash_mech, u64 mgf, u64 salt_len: all zero when the mechanism takes none.
 * Checked against the mechanism by mech_check_pss, not by the decoder. */
struct msg_pss {
    uint64_t hash_mech;
    uint64_t mgf;
    uint64_t salt_len;
};
struct msg_sign_request {
    struct msg_str key; /* KEY_NAME_MAX */
    uint64_t mechanism; /* CKM_*; checked against mech.h by the daemon */
    struct msg_pss pss;
    struct msg_bytes data; /* SIGN_INPUT_MAX */
};
struct msg_sign_reply {
    struct msg_bytes signature; /* SIGNATURE_MAX */
};
AD_MUST_CHECK int msg_sign_request_encode(struct buf *out, const struct msg_sign_request *m);
AD_MUST_CHECK int msg_sign_request_decode(struct buf *in, struct msg_sign_request *ret);
AD_MUST_CHECK int msg_sign_reply_encode(struct buf *out, const struct msg_sign_reply *m);
AD_MUST_CHECK int msg_sign_reply_decode(struct buf *in, struct msg_sign_reply *ret);

struct msg_verify_request {
    struct msg_str key;
    uint64_t mechanism;
    struct msg_pss pss;
    struct msg_bytes data;      /* SIGN_INPUT_MAX */
    struct msg_bytes signature; /* SIGNATURE_MAX */
};
struct msg_verify_reply {
    bool is_valid; /* u8 1 or 0; other values are AD_ERR_FORMAT */
};
AD_MUST_CHECK int msg_verify_request_encode(struct buf *out, const struct msg_verify_request *m);
AD_MUST_CHECK int msg_verify_request_decode(struct buf *in, struct msg_verify_request *ret);
AD_MUST_CHECK int msg_verify_reply_encode(struct buf *out, const struct msg_verify_reply *m);
AD_MUST_CHECK int msg_verify_reply_decode(struct buf *in, struct msg_verify_reply *ret);

/* ---- 0x06 DIGEST ---- */

struct msg_digest_request {
    uint64_t mechanism;    /* CKM_SHA256/384/512 */
    struct msg_bytes data; /* SIGN_INPUT_MAX */
};
struct msg_digest_reply {
    struct msg_bytes digest; /* DIGEST_MAX */
};
AD_MUST_CHECK int msg_digest_request_encode(struct buf *out, const struct msg_digest_request *m);
AD_MUST_CHECK int msg_digest_request_decode(struct buf *in, struct msg_digest_request *ret);
AD_MUST_CHECK int msg_digest_reply_encode(struct buf *out, const struct msg_digest_reply *m);
AD_MUST_CHECK int msg_digest_reply_decode(struct buf *in, struct msg_digest_reply *ret);

/* ---- 0x07 RANDOM ---- */

struct msg_random_request {
    uint32_t length; /* 1..RANDOM_MAX, else AD_ERR_INVALID */
};
struct msg_random_reply {
    struct msg_bytes random; /* RANDOM_MAX */
};
AD_MUST_CHECK int msg_random_request_encode(struct buf *out, const struct msg_random_request *m);
AD_MUST_CHECK int msg_random_request_decode(struct buf *in, struct msg_random_request *ret);
AD_MUST_CHECK int msg_random_reply_encode(struct buf *out, const struct msg_random_reply *m);
AD_MUST_CHECK int msg_random_reply_decode(struct buf *in, struct msg_random_reply *ret);

/* ---- 0x08 GENERATE_KEY, 0x09 DESTROY_KEY ---- */

struct msg_generate_key_request {
    struct msg_str name; /* KEY_NAME_MAX; empty: the daemon picks */
    uint64_t key_type;   /* CKK_*; (key_type, bits) checked by mech_key_type_find */
    uint32_t bits;
};
struct msg_generate_key_reply {
    struct msg_key_record key;
};
AD_MUST_CHECK int msg_generate_key_request_encode(struct buf *out,
                                                  const struct msg_generate_key_request *m);
AD_MUST_CHECK int msg_generate_key_request_decode(struct buf *in,
                                                  struct msg_generate_key_request *ret);
AD_MUST_CHECK int msg_generate_key_reply_encode(struct buf *out,
                                                const struct msg_generate_key_reply *m);
AD_MUST_CHECK int msg_generate_key_reply_decode(struct buf *in, struct msg_generate_key_reply *ret);

/* Reply: msg_empty_reply_*. */
struct msg_destroy_key_request {
    struct msg_str key; /* KEY_NAME_MAX */
};
AD_MUST_CHECK int msg_destroy_key_request_encode(struct buf *out,
                                                 const struct msg_destroy_key_request *m);
AD_MUST_CHECK int msg_destroy_key_request_decode(struct buf *in,
                                                 struct msg_destroy_key_request *ret);

/* ---- 0x20..0x26 admin (requests of STATUS and WORKLOADS: msg_empty_request_*) ---- */

/* The reply of every admin message. */
struct msg_admin_reply {
    struct msg_str json; /* ADMIN_TEXT_MAX */
};
AD_MUST_CHECK int msg_admin_reply_encode(struct buf *out, const struct msg_admin_reply *m);
AD_MUST_CHECK int msg_admin_reply_decode(struct buf *in, struct msg_admin_reply *ret);

struct msg_admin_keys_request {
    struct msg_str entry; /* ENTRY_MAX; empty: all */
};
struct msg_admin_key_create_request {
    struct msg_str entry; /* ENTRY_MAX */
    struct msg_str name;  /* KEY_NAME_MAX */
    uint64_t key_type;
    uint32_t bits;
};
struct msg_admin_key_delete_request {
    struct msg_str entry; /* ENTRY_MAX */
    struct msg_str name;  /* KEY_NAME_MAX */
};
struct msg_admin_audit_tail_request {
    uint32_t count; /* 1..AUDIT_TAIL_MAX, else AD_ERR_INVALID */
};
/* ADMIN_ENROLL flags; any other bit is AD_ERR_INVALID. */
#define MSG_ENROLL_CERTS_ONLY 0x1u /* keep the host enrollment, (re)issue workload certificates */
#define MSG_ENROLL_FLAGS_ALL MSG_ENROLL_CERTS_ONLY
struct msg_admin_enroll_request {
    uint32_t flags;
};
AD_MUST_CHECK int msg_admin_keys_request_encode(struct buf *out,
                                                const struct msg_admin_keys_request *m);
AD_MUST_CHECK int msg_admin_keys_request_decode(struct buf *in, struct msg_admin_keys_request *ret);
AD_MUST_CHECK int msg_admin_key_create_request_encode(struct buf *out,
                                                      const struct msg_admin_key_create_request *m);
AD_MUST_CHECK int msg_admin_key_create_request_decode(struct buf *in,
                                                      struct msg_admin_key_create_request *ret);
AD_MUST_CHECK int msg_admin_key_delete_request_encode(struct buf *out,
                                                      const struct msg_admin_key_delete_request *m);
AD_MUST_CHECK int msg_admin_key_delete_request_decode(struct buf *in,
                                                      struct msg_admin_key_delete_request *ret);
AD_MUST_CHECK int msg_admin_audit_tail_request_encode(struct buf *out,
                                                      const struct msg_admin_audit_tail_request *m);
AD_MUST_CHECK int msg_admin_audit_tail_request_decode(struct buf *in,
                                                      struct msg_admin_audit_tail_request *ret);

AD_MUST_CHECK int msg_admin_enroll_request_encode(struct buf *out,
                                                  const struct msg_admin_enroll_request *m);
AD_MUST_CHECK int msg_admin_enroll_request_decode(struct buf *in,
                                                  struct msg_admin_enroll_request *ret);

/* ---- generic dispatch (daemon dispatch, fuzzers) ---- */

union msg_request {
    struct msg_hello_request hello;
    struct msg_sign_request sign;
    struct msg_verify_request verify;
    struct msg_digest_request digest;
    struct msg_random_request random;
    struct msg_generate_key_request generate_key;
    struct msg_destroy_key_request destroy_key;
    struct msg_admin_keys_request admin_keys;
    struct msg_admin_key_create_request admin_key_create;
    struct msg_admin_key_delete_request admin_key_delete;
    struct msg_admin_audit_tail_request admin_audit_tail;
    struct msg_admin_enroll_request admin_enroll;
};

/* Decode the request body of type into the matching member of *ret (nothing for the
 * field-less ones). AD_ERR_UNSUPPORTED for an unknown type. */
AD_MUST_CHECK int msg_request_decode(uint8_t type, struct buf *in, union msg_request *ret);

union msg_reply {
    struct msg_hello_reply hello;
    struct msg_whoami_reply whoami;
    struct msg_list_objects_reply list_objects; /* makes the union about 19 KiB */
    struct msg_sign_reply sign;
    struct msg_verify_reply verify;
    struct msg_digest_reply digest;
    struct msg_random_reply random;
    struct msg_generate_key_reply generate_key;
    struct msg_admin_reply admin; /* every admin type */
};

/* Decode an OK reply body of type (reply bit ignored) into the matching member of *ret
 * (nothing for DESTROY_KEY). AD_ERR_UNSUPPORTED for an unknown type. */
AD_MUST_CHECK int msg_reply_decode(uint8_t type, struct buf *in, union msg_reply *ret);

#endif
