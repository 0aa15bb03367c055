/*
 * EK certificates: the chain to a TPM vendor root, and the binding of the
 * certificate to the EK public area the host sent.
 */
#ifndef AGENTD_ATTEST_EKCERT_H
#define AGENTD_ATTEST_EKCERT_H

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "err.h"

/* An EK certificate larger than this is refused before parsing. */
#define EKCERT_MAX 8192
/* Files read from a roots directory, and certificates per file. */
#define EKCERT_DIR_FILES_MAX 1024

struct ekcert_roots;

/*
 * Load every PEM or DER certificate in dir (files ending .pem, .crt, .cer,
 * .der). Self-signed ones become trust anchors, the others intermediates that
 * may complete a chain. AD_ERR_NOT_FOUND if dir holds no trust anchor,
 * AD_ERR_SYSTEM if it cannot be read. Free with ekcert_roots_free.
 */
AD_MUST_CHECK int ekcert_roots_load(const char *dir, struct ekcert_roots **ret);
void ekcert_roots_free(struct ekcert_roots *roots);

/*
 * Check the DER EK certificate: it parses, chains to a loaded vendor root
 * (dates checked), and its public key is ek's. ek must also look like an EK
 * (restricted decrypt key, fixedTPM, fixedParent, adminWithPolicy).
 * AD_ERR_DENIED with a static reason in *ret_reason on any failed check.
 */
AD_MUST_CHECK int ekcert_verify(const struct ekcert_roots *roots, const uint8_t *der, size_t len,
                                const TPMT_PUBLIC *ek, const char **ret_reason);

/*
 * The host's stable id: lowercase hex SHA-256 of the EK's DER
 * SubjectPublicKeyInfo (65 bytes with the NUL).
 */
AD_MUST_CHECK int ekcert_host_id(const TPMT_PUBLIC *ek, char ret_hex[65]);

#endif
