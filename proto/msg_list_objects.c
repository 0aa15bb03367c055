/* 0x03 LIST_OBJECTS: the caller's keys and the CA certificates (request has no fields). */
#include "msg.h"
#include "msg_priv.h"

int msg_key_record_encode(struct buf *out, const struct msg_key_record *m)
{
    int r;

    if ((r = msg_put_str(out, m->name, KEY_NAME_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->id, KEY_ID_MAX)) != 0 ||
        (r = buf_put_u64(out, m->key_type)) != 0 || (r = buf_put_u32(out, m->bits)) != 0 ||
        (r = buf_put_u64(out, m->mech_mask)) != 0 ||
        (r = msg_put_bytes(out, m->spki, SPKI_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->ec_params, EC_PARAMS_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->ec_point, EC_POINT_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->modulus, MODULUS_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->public_exponent, PUBLIC_EXPONENT_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->cert, CERT_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->cert_subject, CERT_NAME_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->cert_issuer, CERT_NAME_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->cert_serial, CERT_SERIAL_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

/* No buf_expect_end: a record is a part of a message, not a message. */
int msg_key_record_decode(struct buf *in, struct msg_key_record *ret)
{
    struct msg_key_record m;
    int r;

    if ((r = msg_get_str(in, KEY_NAME_MAX, &m.name)) != 0 ||                     /* string name */
        (r = msg_get_bytes(in, KEY_ID_MAX, &m.id)) != 0 ||                       /* bytes id */
        (r = buf_get_u64(in, &m.key_type)) != 0 ||                               /* u64 key_type */
        (r = buf_get_u32(in, &m.bits)) != 0 ||                                   /* u32 bits */
        (r = buf_get_u64(in, &m.mech_mask)) != 0 ||                              /* u64 mech_mask */
        (r = msg_get_bytes(in, SPKI_MAX, &m.spki)) != 0 ||                       /* bytes spki */
        (r = msg_get_bytes(in, EC_PARAMS_MAX, &m.ec_params)) != 0 ||             /* ec_params */
        (r = msg_get_bytes(in, EC_POINT_MAX, &m.ec_point)) != 0 ||               /* ec_point */
        (r = msg_get_bytes(in, MODULUS_MAX, &m.modulus)) != 0 ||                 /* modulus */
        (r = msg_get_bytes(in, PUBLIC_EXPONENT_MAX, &m.public_exponent)) != 0 || /* exponent */
        (r = msg_get_bytes(in, CERT_MAX, &m.cert)) != 0 ||                       /* bytes cert */
        (r = msg_get_bytes(in, CERT_NAME_MAX, &m.cert_subject)) != 0 ||          /* cert_subject */
        (r = msg_get_bytes(in, CERT_NAME_MAX, &m.cert_issuer)) != 0 ||           /* cert_issuer */
        (r = msg_get_bytes(in, CERT_SERIAL_MAX, &m.cert_serial)) != 0) {         /* cert_serial */
        return r;
    }
    *ret = m;
    return AD_OK;
}

int msg_ca_record_encode(struct buf *out, const struct msg_ca_record *m)
{
    int r;

    if ((r = msg_put_str(out, m->label, CA_LABEL_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->cert, CERT_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->subject, CERT_NAME_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->issuer, CERT_NAME_MAX)) != 0 ||
        (r = msg_put_bytes(out, m->serial, CERT_SERIAL_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_ca_record_decode(struct buf *in, struct msg_ca_record *ret)
{
    struct msg_ca_record m;
    int r;

    if ((r = msg_get_str(in, CA_LABEL_MAX, &m.label)) != 0 ||       /* string label */
        (r = msg_get_bytes(in, CERT_MAX, &m.cert)) != 0 ||          /* bytes cert */
        (r = msg_get_bytes(in, CERT_NAME_MAX, &m.subject)) != 0 ||  /* bytes subject */
        (r = msg_get_bytes(in, CERT_NAME_MAX, &m.issuer)) != 0 ||   /* bytes issuer */
        (r = msg_get_bytes(in, CERT_SERIAL_MAX, &m.serial)) != 0) { /* bytes serial */
        return r;
    }
    *ret = m;
    return AD_OK;
}

int msg_list_objects_reply_encode(struct buf *out, const struct msg_list_objects_reply *m)
{
    int r;

    if (m->n_keys > KEYS_MAX || m->n_cas > CAS_MAX) {
        return AD_ERR_TOO_LARGE;
    }
    if ((r = msg_put_ok(out)) != 0 || (r = buf_put_u32(out, m->n_keys)) != 0) {
        return r;
    }
    for (uint32_t i = 0; i < m->n_keys; i++) {
        if ((r = msg_key_record_encode(out, &m->keys[i])) != 0) {
            return r;
        }
    }
    if ((r = buf_put_u32(out, m->n_cas)) != 0) {
        return r;
    }
    for (uint32_t i = 0; i < m->n_cas; i++) {
        if ((r = msg_ca_record_encode(out, &m->cas[i])) != 0) {
            return r;
        }
    }
    return AD_OK;
}

/* Decodes straight into *ret (too large to copy on the stack): on error *ret holds a
 * partial result the caller must not use, as msg.h says for every decoder. */
int msg_list_objects_reply_decode(struct buf *in, struct msg_list_objects_reply *ret)
{
    int r;

    if ((r = msg_get_ok(in)) != 0 ||                /* u32 status */
        (r = buf_get_u32(in, &ret->n_keys)) != 0) { /* u32 n_keys */
        return r;
    }
    if (ret->n_keys > KEYS_MAX) {
        return AD_ERR_TOO_LARGE;
    }
    for (uint32_t i = 0; i < ret->n_keys; i++) {
        if ((r = msg_key_record_decode(in, &ret->keys[i])) != 0) { /* key record */
            return r;
        }
    }
    if ((r = buf_get_u32(in, &ret->n_cas)) != 0) { /* u32 n_cas */
        return r;
    }
    if (ret->n_cas > CAS_MAX) {
        return AD_ERR_TOO_LARGE;
    }
    for (uint32_t i = 0; i < ret->n_cas; i++) {
        if ((r = msg_ca_record_decode(in, &ret->cas[i])) != 0) { /* ca record */
            return r;
        }
    }
    return buf_expect_end(in);
}
