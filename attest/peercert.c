#include "peercert.h"

#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

/* The one URI SAN of cert into ret->id; anything else makes it invalid. */
static void single_uri(X509 *cert, struct peercert *ret)
{
    GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    const GENERAL_NAME *gn = NULL;
    const unsigned char *data;
    int len;

    if (san == NULL || sk_GENERAL_NAME_num(san) != 1 ||
        (gn = sk_GENERAL_NAME_value(san, 0))->type != GEN_URI) {
        ret->state = PEERCERT_INVALID;
        snprintf(ret->why, sizeof(ret->why), "client certificate has not exactly one URI SAN");
        goto out;
    }
    data = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
    len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
    /* An embedded NUL would let "spiffe://td/host/X\0..." compare equal as a C string. */
    if (len <= 0 || (size_t)len > SVID_ID_MAX || memchr(data, '\0', (size_t)len) != NULL) {
        ret->state = PEERCERT_INVALID;
        snprintf(ret->why, sizeof(ret->why), "client certificate URI SAN is empty or malformed");
        goto out;
    }
    memcpy(ret->id, data, (size_t)len);
    ret->id[len] = '\0';
    ret->state = PEERCERT_VALID;
out:
    GENERAL_NAMES_free(san);
}

void peercert_from_x509(X509 *cert, long verify_result, struct peercert *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (cert == NULL) {
        ret->state = PEERCERT_NONE;
        return;
    }
    if (verify_result != X509_V_OK) {
        ret->state = PEERCERT_INVALID;
        snprintf(ret->why, sizeof(ret->why), "client certificate does not verify: %s",
                 X509_verify_cert_error_string(verify_result));
        return;
    }
    single_uri(cert, ret);
}

enum peercert_verdict peercert_check_host(const struct peercert *p, const char *trust_domain,
                                          const char *host_id, char *why, size_t cap)
{
    char want[SVID_ID_MAX + 1];
    int n;

    switch (p->state) {
    case PEERCERT_VALID:
        break;
    case PEERCERT_INVALID:
        snprintf(why, cap, "%s", p->why);
        return PEERCERT_UNAUTHENTICATED;
    case PEERCERT_NONE:
    default:
        snprintf(why, cap, "a client certificate for the host is required");
        return PEERCERT_UNAUTHENTICATED;
    }
    n = snprintf(want, sizeof(want), "spiffe://%s/host/%s", trust_domain, host_id);
    /* Not a secret: the comparison needs no constant time. */
    if (n < 0 || (size_t)n >= sizeof(want) || strcmp(p->id, want) != 0) {
        snprintf(why, cap, "client certificate is for %.100s, not for host %.64s", p->id, host_id);
        return PEERCERT_OTHER_HOST;
    }
    return PEERCERT_IS_HOST;
}
