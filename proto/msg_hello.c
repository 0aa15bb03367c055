/* 0x01 HELLO: version negotiation and the daemon's token strings. */
#include "msg.h"
#include "msg_priv.h"

int msg_hello_request_encode(struct buf *out, const struct msg_hello_request *m)
{
    int r;

    if ((r = buf_put_u32(out, m->version_min)) != 0 ||
        (r = buf_put_u32(out, m->version_max)) != 0 ||
        (r = msg_put_str(out, m->client_name, CLIENT_NAME_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_hello_request_decode(struct buf *in, struct msg_hello_request *ret)
{
    struct msg_hello_request m;
    int r;

    if ((r = buf_get_u32(in, &m.version_min)) != 0 ||                  /* u32 version_min */
        (r = buf_get_u32(in, &m.version_max)) != 0 ||                  /* u32 version_max */
        (r = msg_get_str(in, CLIENT_NAME_MAX, &m.client_name)) != 0 || /* string(64) client_name */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    if (m.version_min == 0 || m.version_min > m.version_max) {
        return AD_ERR_INVALID;
    }
    *ret = m;
    return AD_OK;
}

int msg_hello_reply_encode(struct buf *out, const struct msg_hello_reply *m)
{
    int r;

    if ((r = msg_put_ok(out)) != 0 || (r = buf_put_u32(out, m->version)) != 0 ||
        (r = msg_put_str(out, m->token_label, TOKEN_LABEL_MAX)) != 0 ||
        (r = msg_put_str(out, m->manufacturer, MANUFACTURER_MAX)) != 0 ||
        (r = msg_put_str(out, m->serial, SERIAL_MAX)) != 0 ||
        (r = msg_put_str(out, m->daemon_version, DAEMON_VERSION_MAX)) != 0) {
        return r;
    }
    return AD_OK;
}

int msg_hello_reply_decode(struct buf *in, struct msg_hello_reply *ret)
{
    struct msg_hello_reply m;
    int r;

    if ((r = msg_get_ok(in)) != 0 ||                                         /* u32 status */
        (r = buf_get_u32(in, &m.version)) != 0 ||                            /* u32 version */
        (r = msg_get_str(in, TOKEN_LABEL_MAX, &m.token_label)) != 0 ||       /* token_label */
        (r = msg_get_str(in, MANUFACTURER_MAX, &m.manufacturer)) != 0 ||     /* manufacturer */
        (r = msg_get_str(in, SERIAL_MAX, &m.serial)) != 0 ||                 /* serial */
        (r = msg_get_str(in, DAEMON_VERSION_MAX, &m.daemon_version)) != 0 || /* daemon_version */
        (r = buf_expect_end(in)) != 0) {
        return r;
    }
    *ret = m;
    return AD_OK;
}
