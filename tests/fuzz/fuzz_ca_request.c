/*
 * agentd-ca request parsing: the first byte picks the message type (mod 7:
 * start, activate, quote, certify, reply, svid, svid challenge), the rest
 * is the HTTP body handed to its decoder. Also runs the reply reader the
 * client uses. Any decoded message must be fully populated and cleared
 * without leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data + 1;
    struct msg_start ms;
    struct msg_activate ma;
    struct msg_quote mq;
    struct msg_certify mc;
    struct msg_svid sv;
    struct msg_svid_challenge sc;
    struct msg_reply *rep = NULL;
    struct msg_bin bin = {0};
    unsigned pcrs[24];
    size_t n = 0;
    char *s = NULL;

    if (size < 1) {
        return 0;
    }
    size--;
    switch (data[0] % 7) {
    case 0:
        if (msg_start_decode(body, size, &ms) == AD_OK) {
            /* A decoded message has every binary field present. */
            if (ms.ek_cert.data == NULL || ms.ek_pub.data == NULL || ms.ak_pub.data == NULL ||
                ms.host_class[0] == '\0') {
                __builtin_trap();
            }
            msg_start_clear(&ms);
        }
        break;
    case 1:
        if (msg_activate_decode(body, size, &ma) == AD_OK) {
            if (strlen(ma.session) != MSG_SESSION_LEN || ma.secret.len > MSG_SECRET_MAX) {
                __builtin_trap();
            }
            msg_activate_clear(&ma);
        }
        break;
    case 2:
        if (msg_quote_decode(body, size, &mq) == AD_OK) {
            msg_quote_clear(&mq);
        }
        break;
    case 3:
        if (msg_certify_decode(body, size, &mc) == AD_OK) {
            msg_certify_clear(&mc);
        }
        break;
    case 5:
        if (msg_svid_decode(body, size, &sv) == AD_OK) {
            if (strlen(sv.path) > MSG_PATH_MAX || sv.certify.key_pub.data == NULL) {
                __builtin_trap();
            }
            msg_certify_clear(&sv.certify);
        }
        break;
    case 6:
        if (msg_svid_challenge_decode(body, size, &sc) == AD_OK && strlen(sc.host_id) != 64) {
            __builtin_trap();
        }
        break;
    default:
        if (msg_reply_parse(body, size, &rep) == AD_OK) {
            if (msg_reply_str(rep, "session", MSG_SESSION_LEN, &s) == AD_OK) {
                free(s);
            }
            if (msg_reply_bin(rep, "nonce", MSG_NONCE_LEN, &bin) == AD_OK) {
                msg_bin_clear(&bin);
            }
            (void)!msg_reply_uints(rep, "pcrs", 24, 24, pcrs, &n);
            msg_reply_free(rep);
        }
        break;
    }
    return 0;
}
