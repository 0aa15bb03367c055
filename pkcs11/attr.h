/*
 * The attribute descriptor table: which CKA_* each object class carries, of
 * what kind, and where its value comes from (the daemon's ready-made record).
 * Template helpers check ulValueLen before dereferencing.
 */
#ifndef AGENTD_PKCS11_ATTR_H
#define AGENTD_PKCS11_ATTR_H

#include <stdbool.h>
#include <stddef.h>

#include <p11-kit/pkcs11.h>

#include "client.h"

/* What an object is made of; pointers are borrowed from the current list. */
struct attr_obj {
    CK_OBJECT_CLASS cls;          /* CKO_PRIVATE_KEY, CKO_PUBLIC_KEY or CKO_CERTIFICATE */
    const struct client_key *key; /* set for key objects and the key's own certificate */
    const struct client_ca *ca;   /* set for trust-bundle certificates */
};

/*
 * C_GetAttributeValue over the whole template, every spec rule (see attr.c).
 * Returns CKR_OK or the rule that applied.
 */
CK_RV attr_get(const struct attr_obj *o, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n);

/* True when every attribute of tmpl is present on o with exactly that value. */
bool attr_match(const struct attr_obj *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n);

/*
 * C_SetAttributeValue: objects are the daemon's and cannot be changed; setting
 * an attribute to the value it already has is accepted. Anything else:
 * CKR_ATTRIBUTE_READ_ONLY (so a key can never be weakened), unknown types
 * CKR_ATTRIBUTE_TYPE_INVALID.
 */
CK_RV attr_set(const struct attr_obj *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n);

/* Template readers: CKR_OK and the value, CKR_ATTRIBUTE_VALUE_INVALID on a bad length,
 * CKR_TEMPLATE_INCOMPLETE when absent. */
CK_RV attr_find_bool(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE t, CK_BBOOL *ret);
CK_RV attr_find_ulong(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE t, CK_ULONG *ret);
/* *ret points into tmpl. */
const CK_ATTRIBUTE *attr_find(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE t);

#endif
