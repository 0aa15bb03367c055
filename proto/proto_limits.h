/*
 * Every size limit of the wire protocol (proto/README.md), in one place.
 * Include it as "limits.h" (the name the project uses) or as "proto_limits.h".
 */
#ifndef AGENTD_PROTO_PROTO_LIMITS_H
#define AGENTD_PROTO_PROTO_LIMITS_H

#define PROTO_VERSION 1

/* Frame: u32 length | u8 version | u8 type | u32 request_id | body. */
#define FRAME_MAX (256 * 1024) /* whole frame, length field included */
#define FRAME_HEADER_LEN 10
#define FRAME_BODY_MAX (FRAME_MAX - FRAME_HEADER_LEN)

/* Counts. */
#define KEYS_MAX 64         /* key records in one LIST_OBJECTS reply */
#define CAS_MAX 16          /* ca records in one LIST_OBJECTS reply */
#define AUDIT_TAIL_MAX 1000 /* ADMIN_AUDIT_TAIL count */

/* Strings (bytes, no NUL). */
#define STATUS_MESSAGE_MAX 256 /* error reply message */
#define CLIENT_NAME_MAX 64
#define TOKEN_LABEL_MAX 32
#define MANUFACTURER_MAX 32
#define SERIAL_MAX 16
#define DAEMON_VERSION_MAX 64
#define KEY_NAME_MAX 64
#define CA_LABEL_MAX 64
#define ENTRY_MAX 128 /* workload entry name */
#define EXE_MAX 4096
#define CGROUP_MAX 4096
#define SPIFFE_ID_MAX 2048
#define TIER_MAX 16
#define ADMIN_TEXT_MAX 200000 /* JSON text of every admin reply */

/* Byte strings. */
#define EXE_SHA256_LEN 32
#define SIGN_INPUT_MAX 65536 /* SIGN/VERIFY/DIGEST data */
#define SIGNATURE_MAX 1024
#define DIGEST_MAX 64
#define RANDOM_MAX 4096
#define KEY_ID_MAX 64 /* CKA_ID */
#define SPKI_MAX 2048
#define EC_PARAMS_MAX 64
#define EC_POINT_MAX 256
#define MODULUS_MAX 512
#define PUBLIC_EXPONENT_MAX 16
#define CERT_MAX 8192
#define CERT_NAME_MAX 1024 /* DER subject or issuer */
#define CERT_SERIAL_MAX 64

#endif
