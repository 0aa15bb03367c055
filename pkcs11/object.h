/*
 * The object handle table. Objects are views of the daemon's key records
 * (private key, public key, certificate when issued; CKA_ID shared) and of the
 * trust bundle (CA certificates). Handles come from module_next_handle() and
 * stay stable across refreshes while the record exists. All functions take the
 * module mutex themselves; object_refresh() does its I/O without it.
 */
#ifndef AGENTD_PKCS11_OBJECT_H
#define AGENTD_PKCS11_OBJECT_H

#include <stdbool.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "client.h"

/* What an operation needs to know about a key, copied out of the table. */
struct object_key {
    char name[KEY_NAME_MAX + 1];
    CK_KEY_TYPE key_type;
    CK_ULONG bits;
    uint64_t mech_mask;
};

/* LIST_OBJECTS from the daemon and reconcile the table with it. */
CK_RV object_refresh(void);

/* Refresh once if the table was never loaded. */
CK_RV object_ensure_loaded(void);

/* Refresh unless the last LIST is younger than 100 ms (C_OpenSession, C_FindObjectsInit). */
CK_RV object_ensure_fresh(void);

/* Add one generated key record (taken over: *key is cleared) without a LIST.
 * Returns the public and private handles. */
CK_RV object_add_key(struct client_key *key, CK_OBJECT_HANDLE *ret_pub, CK_OBJECT_HANDLE *ret_priv);

/* Copy out the key behind handle h when it is of class cls, else CKR_OBJECT_HANDLE_INVALID
 * (CKR_KEY_HANDLE_INVALID when is_key_handle). */
CK_RV object_key_get(CK_OBJECT_HANDLE h, CK_OBJECT_CLASS cls, struct object_key *ret);

/* Union of every key's mech_mask. */
uint64_t object_mech_union(void);

/* C_GetAttributeValue / C_SetAttributeValue on handle h. */
CK_RV object_get_attrs(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n);
CK_RV object_set_attrs(CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *tmpl, CK_ULONG n);

/* Handles of every object matching tmpl; *ret is malloc'ed (the caller's). */
CK_RV object_find(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **ret, CK_ULONG *ret_n);

/* C_DestroyObject: DESTROY_KEY for a key's objects, then drop them from the table. */
CK_RV object_destroy(CK_OBJECT_HANDLE h);

/* Drop everything (C_Finalize; is_child: after fork, the mutex is not used). */
void object_clear(bool is_child);

#endif
