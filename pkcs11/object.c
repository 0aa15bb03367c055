#include "object.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attr.h"
#include "module.h"

struct object {
    CK_OBJECT_HANDLE handle;
    CK_OBJECT_CLASS cls;
    bool is_ca;
    size_t idx; /* into list->keys or list->cas */
};

/*
 * A list younger than this is not fetched again: a cold start (C_OpenSession
 * then C_FindObjectsInit) costs one LIST, and so does a burst of sessions.
 * Keys this process generates or destroys update the table at once.
 */
#define FRESH_NS (100 * 1000000LL)

/* Guarded by the module mutex. */
static struct {
    struct client_list *list;
    struct object *objs;
    size_t n;
    bool is_loaded;
    long long loaded_ns; /* CLOCK_MONOTONIC of the last LIST */
} tbl;

static long long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const char *obj_name(const struct client_list *l, const struct object *o)
{
    return o->is_ca ? l->cas[o->idx].label : l->keys[o->idx].name;
}

static struct object *obj_lookup(CK_OBJECT_HANDLE h)
{
    size_t i;

    for (i = 0; i < tbl.n; i++) {
        if (tbl.objs[i].handle == h) {
            return &tbl.objs[i];
        }
    }
    return NULL;
}

static void obj_view(const struct object *o, struct attr_obj *ret)
{
    ret->cls = o->cls;
    ret->key = o->is_ca ? NULL : &tbl.list->keys[o->idx];
    ret->ca = o->is_ca ? &tbl.list->cas[o->idx] : NULL;
}

/* The handle an object with this identity had before, or a new one. */
static CK_OBJECT_HANDLE keep_handle(CK_OBJECT_CLASS cls, bool is_ca, const char *name)
{
    size_t i;

    for (i = 0; tbl.list != NULL && i < tbl.n; i++) {
        const struct object *o = &tbl.objs[i];

        if (o->cls == cls && o->is_ca == is_ca && strcmp(obj_name(tbl.list, o), name) == 0) {
            return o->handle;
        }
    }
    return module_next_handle();
}

static void push(struct object *objs, size_t *n, CK_OBJECT_CLASS cls, bool is_ca, size_t idx,
                 const char *name)
{
    objs[*n] = (struct object){keep_handle(cls, is_ca, name), cls, is_ca, idx};
    (*n)++;
}

/* Build the object array for l, keeping handles of objects that still exist. */
static struct object *build(const struct client_list *l, size_t *ret_n)
{
    struct object *objs = calloc(3 * l->n_keys + l->n_cas + 1, sizeof(*objs));
    size_t i, n = 0;

    if (objs == NULL) {
        return NULL;
    }
    for (i = 0; i < l->n_keys; i++) {
        push(objs, &n, CKO_PRIVATE_KEY, false, i, l->keys[i].name);
        push(objs, &n, CKO_PUBLIC_KEY, false, i, l->keys[i].name);
        if (l->keys[i].cert.len > 0) {
            push(objs, &n, CKO_CERTIFICATE, false, i, l->keys[i].name);
        }
    }
    for (i = 0; i < l->n_cas; i++) {
        push(objs, &n, CKO_CERTIFICATE, true, i, l->cas[i].label);
    }
    *ret_n = n;
    return objs;
}

/* Swap in list l (taken over). Called with the module mutex held. */
static CK_RV install(struct client_list *l)
{
    struct client_list *old = tbl.list;
    struct object *objs;
    size_t n = 0;

    if ((objs = build(l, &n)) == NULL) {
        client_list_free(l);
        return CKR_HOST_MEMORY;
    }
    free(tbl.objs);
    tbl.objs = objs;
    tbl.n = n;
    tbl.list = l;
    tbl.is_loaded = true;
    tbl.loaded_ns = now_ns();
    client_list_free(old);
    return CKR_OK;
}

CK_RV object_refresh(void)
{
    struct client_list *l = NULL;
    CK_RV rv;

    if ((rv = client_list(&l)) != CKR_OK) {
        return rv;
    }
    module_lock();
    rv = install(l);
    module_unlock();
    return rv;
}

CK_RV object_ensure_loaded(void)
{
    bool is_loaded;

    module_lock();
    is_loaded = tbl.is_loaded;
    module_unlock();
    return is_loaded ? CKR_OK : object_refresh();
}

CK_RV object_ensure_fresh(void)
{
    bool is_fresh;

    module_lock();
    is_fresh = tbl.is_loaded && now_ns() - tbl.loaded_ns < FRESH_NS;
    module_unlock();
    return is_fresh ? CKR_OK : object_refresh();
}

static CK_RV append_key(struct client_key *key)
{
    struct client_list *l = tbl.list;
    struct client_key *keys;

    if (l == NULL && (l = tbl.list = calloc(1, sizeof(*l))) == NULL) {
        return CKR_HOST_MEMORY;
    }
    if ((keys = realloc(l->keys, (l->n_keys + 1) * sizeof(*keys))) == NULL) {
        return CKR_HOST_MEMORY;
    }
    l->keys = keys;
    keys[l->n_keys++] = *key;
    memset(key, 0, sizeof(*key));
    return CKR_OK;
}

static CK_OBJECT_HANDLE handle_of(CK_OBJECT_CLASS cls, const char *name)
{
    size_t i;

    for (i = 0; i < tbl.n; i++) {
        if (tbl.objs[i].cls == cls && !tbl.objs[i].is_ca &&
            strcmp(obj_name(tbl.list, &tbl.objs[i]), name) == 0) {
            return tbl.objs[i].handle;
        }
    }
    return CK_INVALID_HANDLE;
}

CK_RV object_add_key(struct client_key *key, CK_OBJECT_HANDLE *ret_pub, CK_OBJECT_HANDLE *ret_priv)
{
    char name[KEY_NAME_MAX + 1];
    struct object *objs;
    size_t n = 0;
    CK_RV rv;

    memcpy(name, key->name, sizeof(name));
    module_lock();
    if ((rv = append_key(key)) != CKR_OK) {
        goto out;
    }
    if ((objs = build(tbl.list, &n)) == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    free(tbl.objs);
    tbl.objs = objs;
    tbl.n = n;
    *ret_pub = handle_of(CKO_PUBLIC_KEY, name);
    *ret_priv = handle_of(CKO_PRIVATE_KEY, name);
out:
    module_unlock();
    return rv;
}

CK_RV object_key_get(CK_OBJECT_HANDLE h, CK_OBJECT_CLASS cls, struct object_key *ret)
{
    const struct object *o;
    const struct client_key *k;
    CK_RV rv = CKR_KEY_HANDLE_INVALID;

    module_lock();
    o = obj_lookup(h);
    if (o == NULL) {
        goto out;
    }
    if (o->is_ca || o->cls != cls) {
        rv = CKR_KEY_TYPE_INCONSISTENT;
        goto out;
    }
    k = &tbl.list->keys[o->idx];
    memcpy(ret->name, k->name, sizeof(ret->name));
    ret->key_type = k->key_type;
    ret->bits = k->bits;
    ret->mech_mask = k->mech_mask;
    rv = CKR_OK;
out:
    module_unlock();
    return rv;
}

uint64_t object_mech_union(void)
{
    uint64_t mask = 0;
    size_t i;

    module_lock();
    for (i = 0; tbl.list != NULL && i < tbl.list->n_keys; i++) {
        mask |= tbl.list->keys[i].mech_mask;
    }
    module_unlock();
    return mask;
}

CK_RV object_get_attrs(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    const struct object *o;
    struct attr_obj view;
    CK_RV rv = CKR_OBJECT_HANDLE_INVALID;

    module_lock();
    if ((o = obj_lookup(h)) != NULL) {
        obj_view(o, &view);
        rv = attr_get(&view, tmpl, n);
    }
    module_unlock();
    return rv;
}

CK_RV object_set_attrs(CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    const struct object *o;
    struct attr_obj view;
    CK_RV rv = CKR_OBJECT_HANDLE_INVALID;

    module_lock();
    if ((o = obj_lookup(h)) != NULL) {
        obj_view(o, &view);
        rv = attr_set(&view, tmpl, n);
    }
    module_unlock();
    return rv;
}

CK_RV object_find(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **ret, CK_ULONG *ret_n)
{
    CK_OBJECT_HANDLE *found = NULL;
    struct attr_obj view;
    CK_ULONG cnt = 0;
    size_t i;
    CK_RV rv = CKR_OK;

    module_lock();
    if ((found = calloc(tbl.n + 1, sizeof(*found))) == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (i = 0; i < tbl.n; i++) {
        obj_view(&tbl.objs[i], &view);
        if (attr_match(&view, tmpl, n)) {
            found[cnt++] = tbl.objs[i].handle;
        }
    }
    *ret = found;
    *ret_n = cnt;
out:
    module_unlock();
    return rv;
}

/* Remove the objects of key name from the table (module mutex held). */
static void drop_key(const char *name)
{
    size_t i, n = 0;

    for (i = 0; i < tbl.n; i++) {
        if (!tbl.objs[i].is_ca && strcmp(obj_name(tbl.list, &tbl.objs[i]), name) == 0) {
            continue;
        }
        tbl.objs[n++] = tbl.objs[i];
    }
    tbl.n = n;
}

CK_RV object_destroy(CK_OBJECT_HANDLE h)
{
    char name[KEY_NAME_MAX + 1];
    const struct object *o;
    CK_RV rv = CKR_OK;

    module_lock();
    o = obj_lookup(h);
    if (o == NULL) {
        rv = CKR_OBJECT_HANDLE_INVALID;
    } else if (o->is_ca || o->cls == CKO_CERTIFICATE) {
        rv = CKR_ACTION_PROHIBITED; /* CKA_DESTROYABLE is false */
    } else {
        memcpy(name, tbl.list->keys[o->idx].name, sizeof(name));
    }
    module_unlock();
    if (rv != CKR_OK) {
        return rv;
    }
    if ((rv = client_destroy(name)) == CKR_KEY_HANDLE_INVALID) {
        rv = CKR_OBJECT_HANDLE_INVALID;
    }
    if (rv == CKR_OK) {
        module_lock();
        drop_key(name);
        module_unlock();
    }
    return rv;
}

void object_clear(bool is_child)
{
    if (!is_child) {
        module_lock();
    }
    client_list_free(tbl.list);
    free(tbl.objs);
    memset(&tbl, 0, sizeof(tbl));
    if (!is_child) {
        module_unlock();
    }
}
