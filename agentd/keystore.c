#include "keystore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "atomic_file.h"
#include "conf_mech.h"
#include "digest.h"
#include "log.h"
#include "tpm.h"

#define DIRNAME_MAX 80 /* "~" + 64 hex, or a safe name of at most 64 bytes (+ NUL) */
#define KS_KEYS_MAX 65536

struct ks_key {
    char dir[DIRNAME_MAX + 1];  /* entry directory name */
    char file[DIRNAME_MAX + 1]; /* key file base name */
    char entry[CONF_NAME_MAX + 1];
    char name[CONF_KEY_NAME_MAX + 1]; /* "" when read from disk under a hashed name */
    bool is_generated;
    uint64_t key_type;
    uint32_t bits;
    struct tpm_key *tk;
    struct keystore_pub pub;
    bool has_pub;
};

struct keystore {
    struct tpm *tpm;
    char *keys_dir;
    pthread_mutex_t lock; /* guards the table for keystore_query */
    struct ks_key **keys;
    size_t n_keys;
    size_t cap_keys;
};

void keystore_pub_clear(struct keystore_pub *p)
{
    if (p == NULL) {
        return;
    }
    free(p->spki);
    free(p->ec_params);
    free(p->ec_point);
    free(p->modulus);
    free(p->exponent);
    certinfo_clear(&p->cert);
    memset(p, 0, sizeof(*p));
}

static int dup_bytes(const uint8_t *src, size_t len, uint8_t **ret)
{
    uint8_t *p;

    if (len == 0) {
        *ret = NULL;
        return AD_OK;
    }
    if ((p = malloc(len)) == NULL) {
        return AD_ERR_NOMEM;
    }
    memcpy(p, src, len);
    *ret = p;
    return AD_OK;
}

int keystore_pub_copy(const struct keystore_pub *src, struct keystore_pub *dst)
{
    struct keystore_pub n = *src;
    int r;

    n.spki = n.ec_params = n.ec_point = n.modulus = n.exponent = NULL;
    memset(&n.cert, 0, sizeof(n.cert));
    if ((r = certinfo_copy(&src->cert, &n.cert)) != 0 ||
        (r = dup_bytes(src->spki, src->spki_len, &n.spki)) != 0 ||
        (r = dup_bytes(src->ec_params, src->ec_params_len, &n.ec_params)) != 0 ||
        (r = dup_bytes(src->ec_point, src->ec_point_len, &n.ec_point)) != 0 ||
        (r = dup_bytes(src->modulus, src->modulus_len, &n.modulus)) != 0 ||
        (r = dup_bytes(src->exponent, src->exponent_len, &n.exponent)) != 0) {
        keystore_pub_clear(&n);
        return r;
    }
    *dst = n;
    return AD_OK;
}

void keystore_pubs_free(struct keystore_pub *p, size_t n)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        keystore_pub_clear(&p[i]);
    }
    free(p);
}

/* Copy src into dst (size bytes), truncating; always NUL-terminated. */
static void str_copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size) {
        n = size - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The on-disk name of an entry or key name (see keystore.h). */
static void disk_name(const char *name, char out[DIRNAME_MAX + 1])
{
    size_t len = strlen(name);
    bool is_safe = len > 0 && len <= 64 && name[0] != '.';
    uint8_t h[SHA256_DIGEST_LENGTH];

    for (size_t i = 0; is_safe && i < len; i++) {
        char ch = name[i];

        is_safe = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    }
    if (is_safe) {
        memcpy(out, name, len + 1);
        return;
    }
    SHA256((const unsigned char *)name, len, h);
    out[0] = '~';
    for (size_t i = 0; i < sizeof(h); i++) {
        snprintf(out + 1 + 2 * i, 3, "%02x", h[i]);
    }
}

static int key_path(const struct keystore *ks, const char *dir, const char *file,
                    const char *suffix, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s/%s%s", ks->keys_dir, dir, file, suffix);

    return n < 0 || (size_t)n >= outlen ? AD_ERR_TOO_LARGE : AD_OK;
}

static int mkdir_0700(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        log_error("keystore: mkdir %s: %s", path, strerror(errno));
        return AD_ERR_SYSTEM;
    }
    return AD_OK;
}

static struct ks_key *find_disk(const struct keystore *ks, const char *dir, const char *file)
{
    for (size_t i = 0; i < ks->n_keys; i++) {
        if (strcmp(ks->keys[i]->dir, dir) == 0 && strcmp(ks->keys[i]->file, file) == 0) {
            return ks->keys[i];
        }
    }
    return NULL;
}

static struct ks_key *find_key(const struct keystore *ks, const char *entry, const char *name)
{
    char dir[DIRNAME_MAX + 1];
    char file[DIRNAME_MAX + 1];

    disk_name(entry, dir);
    disk_name(name, file);
    return find_disk(ks, dir, file);
}

static void key_free(struct keystore *ks, struct ks_key *k)
{
    if (k == NULL) {
        return;
    }
    tpm_key_free(ks->tpm, k->tk);
    keystore_pub_clear(&k->pub);
    free(k);
}

/* Add k to the table (worker thread, under the lock). */
static int table_add(struct keystore *ks, struct ks_key *k)
{
    int r = AD_OK;

    pthread_mutex_lock(&ks->lock);
    if (ks->n_keys == ks->cap_keys) {
        size_t cap = ks->cap_keys ? ks->cap_keys * 2 : 16;
        struct ks_key **n;

        if (cap > KS_KEYS_MAX || (n = realloc(ks->keys, cap * sizeof(*n))) == NULL) {
            r = AD_ERR_NOMEM;
            goto out;
        }
        ks->keys = n;
        ks->cap_keys = cap;
    }
    ks->keys[ks->n_keys++] = k;
out:
    pthread_mutex_unlock(&ks->lock);
    return r;
}

static void table_remove(struct keystore *ks, struct ks_key *k)
{
    pthread_mutex_lock(&ks->lock);
    for (size_t i = 0; i < ks->n_keys; i++) {
        if (ks->keys[i] == k) {
            ks->keys[i] = ks->keys[--ks->n_keys];
            break;
        }
    }
    pthread_mutex_unlock(&ks->lock);
}

/* CKK_* and size of a tpm layer key type. */
static void type_of(enum tpm_key_type t, uint64_t *ret_key_type, uint32_t *ret_bits)
{
    switch (t) {
    case TPM_KEY_EC_P256:
        *ret_key_type = CONF_CKK_EC;
        *ret_bits = 256;
        return;
    case TPM_KEY_EC_P384:
        *ret_key_type = CONF_CKK_EC;
        *ret_bits = 384;
        return;
    case TPM_KEY_RSA_2048:
        *ret_key_type = CONF_CKK_RSA;
        *ret_bits = 2048;
        return;
    case TPM_KEY_RSA_3072:
        *ret_key_type = CONF_CKK_RSA;
        *ret_bits = 3072;
        return;
    }
    *ret_key_type = UINT64_MAX;
    *ret_bits = 0;
}

static int tpm_type_of(uint64_t key_type, uint32_t bits, enum tpm_key_type *ret)
{
    if (key_type == CONF_CKK_EC && bits == 256) {
        *ret = TPM_KEY_EC_P256;
    } else if (key_type == CONF_CKK_EC && bits == 384) {
        *ret = TPM_KEY_EC_P384;
    } else if (key_type == CONF_CKK_RSA && bits == 2048) {
        *ret = TPM_KEY_RSA_2048;
    } else if (key_type == CONF_CKK_RSA && bits == 3072) {
        *ret = TPM_KEY_RSA_3072;
    } else {
        return AD_ERR_UNSUPPORTED;
    }
    return AD_OK;
}

/* Fill k->pub from the key's blob (pure: no TPM command). */
static int key_load_pub(struct ks_key *k, const struct keyblob *kb)
{
    struct tpm_pubinfo info;
    int r;

    memset(&info, 0, sizeof(info));
    if ((r = tpm_key_info(kb, &info)) != 0) {
        return r;
    }
    keystore_pub_clear(&k->pub);
    str_copy(k->pub.name, sizeof(k->pub.name), k->name);
    k->pub.is_generated = k->is_generated;
    type_of(info.type, &k->pub.key_type, &k->pub.bits);
    if ((r = dup_bytes(info.spki, info.spki_len, &k->pub.spki)) != 0 ||
        (r = dup_bytes(info.ec_params, info.ec_params_len, &k->pub.ec_params)) != 0 ||
        (r = dup_bytes(info.ec_point, info.ec_point_len, &k->pub.ec_point)) != 0 ||
        (r = dup_bytes(info.rsa_n, info.rsa_n_len, &k->pub.modulus)) != 0 ||
        (r = dup_bytes(info.rsa_e, info.rsa_e_len, &k->pub.exponent)) != 0 ||
        (r = digest_spki_key_id(info.spki, info.spki_len, k->pub.id)) != 0) {
        keystore_pub_clear(&k->pub);
        goto out;
    }
    k->pub.spki_len = info.spki_len;
    k->pub.ec_params_len = info.ec_params_len;
    k->pub.ec_point_len = info.ec_point_len;
    k->pub.modulus_len = info.rsa_n_len;
    k->pub.exponent_len = info.rsa_e_len;
    k->key_type = k->pub.key_type;
    k->bits = k->pub.bits;
    k->has_pub = true;
out:
    tpm_pubinfo_clear(&info);
    return r;
}

/* Read <key>.crt back (start-up): kept only when it certifies this key. */
static void key_load_cert(const struct keystore *ks, struct ks_key *k)
{
    struct certinfo ci;
    struct stat st;
    char path[4200];
    char *pem = NULL;
    size_t len = 0;
    int r;

    memset(&ci, 0, sizeof(ci));
    if (key_path(ks, k->dir, k->file, ".crt", path, sizeof(path)) != 0 ||
        (r = atomic_file_read(path, 4 * CERTINFO_DER_MAX, &pem, &len)) == AD_ERR_NOT_FOUND) {
        return;
    }
    if (r != AD_OK || (r = certinfo_from_pem(pem, &ci)) != AD_OK) {
        log_warn("keystore: %s: ignored: %s", path, ad_strerror(r));
    } else if (!certinfo_has_spki(&ci, k->pub.spki, k->pub.spki_len)) {
        log_warn("keystore: %s: ignored: not a certificate for this key", path);
        certinfo_clear(&ci);
    } else {
        certinfo_clear(&k->pub.cert);
        k->pub.cert = ci;
        k->pub.cert_issued_at = stat(path, &st) == 0 ? (int64_t)st.st_mtime : (int64_t)time(NULL);
    }
    free(pem);
}

/* Register an existing key file (worker thread or start-up). */
static int key_register(struct keystore *ks, const char *dir, const char *file, const char *entry,
                        const char *name, bool is_generated, struct ks_key **ret)
{
    char path[4096];
    struct keyblob *blob = NULL;
    struct ks_key *k = NULL;
    int r;

    if ((r = key_path(ks, dir, file, ".tss2", path, sizeof(path))) != 0) {
        return r;
    }
    if ((k = calloc(1, sizeof(*k))) == NULL) {
        return AD_ERR_NOMEM;
    }
    str_copy(k->dir, sizeof(k->dir), dir);
    str_copy(k->file, sizeof(k->file), file);
    str_copy(k->entry, sizeof(k->entry), entry != NULL ? entry : "");
    str_copy(k->name, sizeof(k->name), name != NULL ? name : "");
    k->is_generated = is_generated;
    if ((r = keyblob_read_file(path, &blob)) != 0) {
        log_error("keystore: %s: %s", path, ad_strerror(r));
        goto out;
    }
    if ((r = tpm_key_new(ks->tpm, blob, &k->tk)) != 0) {
        log_error("keystore: %s: %s", path, ad_strerror(r));
        goto out;
    }
    if ((r = key_load_pub(k, blob)) != 0) {
        log_error("keystore: %s: public info: %s", path, ad_strerror(r));
        goto out;
    }
    key_load_cert(ks, k);
    if ((r = table_add(ks, k)) != 0) {
        goto out;
    }
    if (ret != NULL) {
        *ret = k;
    }
    k = NULL;
out:
    keyblob_free(blob);
    key_free(ks, k);
    return r;
}

/* Write a small marker file atomically (temp, fsync, rename, fsync dir). */
static int write_marker(const char *dirpath, const char *path, const char *text)
{
    char tmp[4200];
    int fd = -1;
    int dfd = -1;
    size_t len = strlen(text);
    int r = AD_ERR_SYSTEM;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        return AD_ERR_TOO_LARGE;
    }
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0 ||
        write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        log_error("keystore: %s: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        log_error("keystore: rename %s: %s", path, strerror(errno));
        goto out;
    }
    if ((dfd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(dfd);
    }
    r = AD_OK;
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    return r;
}

/*
 * Marker of a generated key: its names, so a hashed on-disk name can be
 * mapped back: "entry\nkey\n".
 */
static int read_marker(const char *path, char *entry, size_t elen, char *name, size_t nlen)
{
    char buf[CONF_NAME_MAX + CONF_KEY_NAME_MAX + 4];
    char *nl;
    ssize_t n;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        return AD_ERR_NOT_FOUND;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return AD_ERR_FORMAT;
    }
    buf[n] = '\0';
    if ((nl = strchr(buf, '\n')) == NULL) {
        return AD_ERR_FORMAT;
    }
    *nl = '\0';
    str_copy(entry, elen, buf);
    str_copy(name, nlen, nl + 1);
    if ((nl = strchr(name, '\n')) != NULL) {
        *nl = '\0';
    }
    return AD_OK;
}

/* Register every key file under keys/<dir>/ (start-up). */
static void scan_dir(struct keystore *ks, const char *dir)
{
    char path[4096];
    char marker[4200];
    struct dirent *de;
    DIR *dp;

    if (snprintf(path, sizeof(path), "%s/%s", ks->keys_dir, dir) >= (int)sizeof(path) ||
        (dp = opendir(path)) == NULL) {
        return;
    }
    while ((de = readdir(dp)) != NULL) {
        char file[DIRNAME_MAX + 1];
        char entry[CONF_NAME_MAX + 1] = "";
        char name[CONF_KEY_NAME_MAX + 1] = "";
        size_t len = strlen(de->d_name);
        bool is_generated;

        if (len <= 5 || len - 5 > DIRNAME_MAX || strcmp(de->d_name + len - 5, ".tss2") != 0) {
            continue;
        }
        memcpy(file, de->d_name, len - 5);
        file[len - 5] = '\0';
        if (key_path(ks, dir, file, ".gen", marker, sizeof(marker)) != 0) {
            continue;
        }
        is_generated = read_marker(marker, entry, sizeof(entry), name, sizeof(name)) == 0;
        if (!is_generated) {
            /* A configured key: its names are filled in at first lookup. */
            str_copy(name, sizeof(name), file[0] == '~' ? "" : file);
        }
        if (key_register(ks, dir, file, entry, name, is_generated, NULL) != 0) {
            log_warn("keystore: skipping %s/%s", path, de->d_name);
        }
    }
    closedir(dp);
}

int keystore_open(struct tpm *tpm, const struct agentd_conf *c, struct keystore **ret)
{
    struct keystore *ks = NULL;
    struct dirent *de;
    DIR *dp = NULL;
    int r;

    if ((ks = calloc(1, sizeof(*ks))) == NULL) {
        tpm_close(tpm);
        return AD_ERR_NOMEM;
    }
    ks->tpm = tpm;
    pthread_mutex_init(&ks->lock, NULL);
    if (asprintf(&ks->keys_dir, "%s/keys", c->state_dir) < 0) {
        ks->keys_dir = NULL;
        r = AD_ERR_NOMEM;
        goto out;
    }
    if ((r = mkdir_0700(c->state_dir)) != 0 || (r = mkdir_0700(ks->keys_dir)) != 0) {
        goto out;
    }
    if ((dp = opendir(ks->keys_dir)) == NULL) {
        log_error("keystore: %s: %s", ks->keys_dir, strerror(errno));
        r = AD_ERR_SYSTEM;
        goto out;
    }
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] != '.' && strlen(de->d_name) <= DIRNAME_MAX) {
            scan_dir(ks, de->d_name);
        }
    }
    log_info("keystore: %zu keys registered", ks->n_keys);
    *ret = ks;
    ks = NULL;
    r = AD_OK;
out:
    if (dp != NULL) {
        closedir(dp);
    }
    keystore_free(ks);
    return r;
}

void keystore_free(struct keystore *ks)
{
    if (ks == NULL) {
        return;
    }
    for (size_t i = 0; i < ks->n_keys; i++) {
        key_free(ks, ks->keys[i]);
    }
    free(ks->keys);
    free(ks->keys_dir);
    tpm_close(ks->tpm);
    pthread_mutex_destroy(&ks->lock);
    free(ks);
}

void keystore_query(struct keystore *ks, const struct workload_entry *e, const char *key,
                    struct keystore_meta *ret)
{
    const struct conf_key *ck = key != NULL ? conf_find_key(e, key) : NULL;
    char dir[DIRNAME_MAX + 1];
    char file[DIRNAME_MAX + 1];

    memset(ret, 0, sizeof(*ret));
    disk_name(e->name, dir);
    if (key != NULL) {
        disk_name(key, file);
    }
    if (ck != NULL) {
        ret->exists = true;
        ret->key_type = ck->key_type;
        ret->bits = ck->bits;
    }
    pthread_mutex_lock(&ks->lock);
    for (size_t i = 0; i < ks->n_keys; i++) {
        const struct ks_key *k = ks->keys[i];

        if (!k->is_generated || strcmp(k->dir, dir) != 0) {
            continue;
        }
        ret->n_generated++;
        if (ck == NULL && key != NULL && strcmp(k->file, file) == 0) {
            ret->exists = true;
            ret->is_generated = true;
            ret->key_type = k->key_type;
            ret->bits = k->bits;
        }
    }
    pthread_mutex_unlock(&ks->lock);
}

/* The key for (e, name), creating a configured key on first use (worker thread). */
static int key_get(struct keystore *ks, const struct workload_entry *e, const char *name,
                   struct ks_key **ret)
{
    const struct conf_key *ck = conf_find_key(e, name);
    struct ks_key *k = find_key(ks, e->name, name);
    int r;

    if (k != NULL) {
        if (ck == NULL && !k->is_generated) {
            return AD_ERR_NOT_FOUND; /* left over from an old config */
        }
        if (ck != NULL && (k->is_generated || k->key_type != ck->key_type || k->bits != ck->bits)) {
            log_warn("keystore: %s/%s on disk does not match its config", e->name, name);
            return AD_ERR_NOT_FOUND;
        }
        if (k->name[0] == '\0') {
            str_copy(k->name, sizeof(k->name), name);
            str_copy(k->pub.name, sizeof(k->pub.name), name);
        }
        *ret = k;
        return AD_OK;
    }
    if (ck == NULL) {
        return AD_ERR_NOT_FOUND;
    }
    if ((r = keystore_create(ks, e, name, ck->key_type, ck->bits, true, NULL)) != 0) {
        return r;
    }
    if ((k = find_key(ks, e->name, name)) == NULL) {
        return AD_ERR_INTERNAL;
    }
    *ret = k;
    return AD_OK;
}

int keystore_create(struct keystore *ks, const struct workload_entry *e, const char *name,
                    uint64_t key_type, uint32_t bits, bool is_configured, struct keystore_pub *ret)
{
    char picked[CONF_KEY_NAME_MAX + 1];
    char dir[DIRNAME_MAX + 1];
    char file[DIRNAME_MAX + 1];
    char dirpath[4096];
    char path[4200];
    char marker[4200];
    char text[CONF_NAME_MAX + CONF_KEY_NAME_MAX + 4];
    struct keyblob *blob = NULL;
    struct ks_key *k = NULL;
    enum tpm_key_type tt;
    int r;

    if (name == NULL || name[0] == '\0') {
        for (unsigned i = 1;; i++) {
            snprintf(picked, sizeof(picked), "key-%u", i);
            if (conf_find_key(e, picked) == NULL && find_key(ks, e->name, picked) == NULL) {
                break;
            }
        }
        name = picked;
    }
    if (strlen(name) > CONF_KEY_NAME_MAX) {
        return AD_ERR_INVALID;
    }
    if (find_key(ks, e->name, name) != NULL || (!is_configured && conf_find_key(e, name) != NULL)) {
        return AD_ERR_EXISTS;
    }
    disk_name(e->name, dir);
    disk_name(name, file);
    if (snprintf(dirpath, sizeof(dirpath), "%s/%s", ks->keys_dir, dir) >= (int)sizeof(dirpath) ||
        (r = key_path(ks, dir, file, ".tss2", path, sizeof(path))) != 0 ||
        (r = key_path(ks, dir, file, ".gen", marker, sizeof(marker))) != 0) {
        return AD_ERR_TOO_LARGE;
    }
    if ((r = mkdir_0700(dirpath)) != 0) {
        return r;
    }
    log_info("keystore: creating %s key %s/%s (%s %u)", is_configured ? "configured" : "generated",
             e->name, name, key_type == CONF_CKK_EC ? "EC" : "RSA", bits);
    if ((r = tpm_type_of(key_type, bits, &tt)) != 0) {
        log_warn("keystore: %s/%s: key type not offered by this TPM layer", e->name, name);
        return r;
    }
    if ((r = tpm_create_key(ks->tpm, tt, &blob)) != 0) {
        log_error("keystore: creating %s/%s: %s", e->name, name, ad_strerror(r));
        goto out;
    }
    if (!is_configured) {
        snprintf(text, sizeof(text), "%s\n%s\n", e->name, name);
        if ((r = write_marker(dirpath, marker, text)) != 0) {
            goto out;
        }
    }
    if ((r = keyblob_write_file(path, blob)) != 0) {
        log_error("keystore: writing %s: %s", path, ad_strerror(r));
        unlink(marker);
        goto out;
    }
    if ((r = key_register(ks, dir, file, e->name, name, !is_configured, &k)) != 0) {
        goto out;
    }
    if (ret != NULL && (r = keystore_pub_copy(&k->pub, ret)) != 0) {
        goto out;
    }
    r = AD_OK;
out:
    keyblob_free(blob);
    return r;
}

int keystore_destroy(struct keystore *ks, const struct workload_entry *e, const char *key,
                     bool is_admin)
{
    struct ks_key *k = find_key(ks, e->name, key);
    char path[4200];
    char marker[4200];
    char cert[4200];

    if (k == NULL || (!k->is_generated && conf_find_key(e, key) == NULL && !is_admin)) {
        return AD_ERR_NOT_FOUND;
    }
    if (!k->is_generated && !is_admin) {
        return AD_ERR_DENIED;
    }
    if (key_path(ks, k->dir, k->file, ".tss2", path, sizeof(path)) != 0 ||
        key_path(ks, k->dir, k->file, ".gen", marker, sizeof(marker)) != 0 ||
        key_path(ks, k->dir, k->file, ".crt", cert, sizeof(cert)) != 0) {
        return AD_ERR_INTERNAL;
    }
    /* Key file first: a crash in between leaves a marker without a key, which is ignored. */
    if (unlink(path) != 0 && errno != ENOENT) {
        log_error("keystore: unlink %s: %s", path, strerror(errno));
        return AD_ERR_SYSTEM;
    }
    unlink(marker);
    unlink(cert);
    table_remove(ks, k);
    log_info("keystore: destroyed %s/%s", e->name, key);
    key_free(ks, k);
    return AD_OK;
}

/* A sign refused before the TPM: mw still runs, once (keystore_sign's promise). */
static int sign_refused(const struct tpm_meanwhile *mw, int r)
{
    if (mw != NULL) {
        mw->fn(mw->arg);
    }
    return r;
}

int keystore_sign(struct keystore *ks, const struct workload_entry *e, const char *key,
                  enum keystore_scheme scheme, int hash_alg, const uint8_t *digest,
                  size_t digest_len, const struct tpm_meanwhile *mw, uint8_t *sig,
                  size_t *ret_sig_len)
{
    struct ks_key *k = NULL;
    enum tpm_hash th;
    int r;

    if ((r = key_get(ks, e, key, &k)) != 0) {
        return sign_refused(mw, r);
    }
    if ((scheme == KEYSTORE_ECDSA) != (k->key_type == CONF_CKK_EC)) {
        return sign_refused(mw, AD_ERR_UNSUPPORTED);
    }
    switch (hash_alg) {
    case DIGEST_SHA1:
        th = TPM_HASH_SHA1;
        break;
    case DIGEST_SHA256:
        th = TPM_HASH_SHA256;
        break;
    case DIGEST_SHA384:
        th = TPM_HASH_SHA384;
        break;
    case DIGEST_SHA512:
        th = TPM_HASH_SHA512;
        break;
    default:
        return sign_refused(mw, AD_ERR_UNSUPPORTED);
    }
    *ret_sig_len = KEYSTORE_SIG_MAX;
    return tpm_sign_meanwhile(ks->tpm, k->tk,
                              scheme == KEYSTORE_ECDSA    ? TPM_SIG_ECDSA
                              : scheme == KEYSTORE_RSASSA ? TPM_SIG_RSASSA
                                                          : TPM_SIG_RSAPSS,
                              th, digest, digest_len, mw, sig, ret_sig_len);
}

int keystore_get_pub(struct keystore *ks, const struct workload_entry *e, const char *key,
                     struct keystore_pub *ret)
{
    struct ks_key *k = NULL;
    int r;

    if ((r = key_get(ks, e, key, &k)) != 0) {
        return r;
    }
    return keystore_pub_copy(&k->pub, ret);
}

/* An expired certificate is never listed (the key still is). */
static void drop_expired(struct keystore_pub *p, int64_t now)
{
    if (p->cert.der != NULL && p->cert.not_after <= now) {
        certinfo_clear(&p->cert);
    }
}

int keystore_list(struct keystore *ks, const struct workload_entry *e, bool may_create,
                  struct keystore_pub **ret, size_t *ret_n)
{
    struct keystore_pub *out = NULL;
    char dir[DIRNAME_MAX + 1];
    size_t n = 0;
    size_t cap = e->n_keys;
    int r;

    disk_name(e->name, dir);
    for (size_t i = 0; i < ks->n_keys; i++) {
        cap += ks->keys[i]->is_generated && strcmp(ks->keys[i]->dir, dir) == 0;
    }
    if (cap > 0 && (out = calloc(cap, sizeof(*out))) == NULL) {
        return AD_ERR_NOMEM;
    }
    for (size_t i = 0; i < e->n_keys; i++) {
        struct ks_key *k = NULL;

        if (!may_create && find_key(ks, e->name, e->keys[i].name) == NULL) {
            r = AD_ERR_NOT_FOUND; /* creating it needs the TPM */
            goto out;
        }
        if ((r = key_get(ks, e, e->keys[i].name, &k)) != 0) {
            log_warn("keystore: %s/%s unavailable: %s", e->name, e->keys[i].name, ad_strerror(r));
            continue;
        }
        if ((r = keystore_pub_copy(&k->pub, &out[n])) != 0) {
            goto out;
        }
        drop_expired(&out[n], (int64_t)time(NULL));
        n++;
    }
    for (size_t i = 0; i < ks->n_keys && n < cap; i++) {
        struct ks_key *k = ks->keys[i];

        if (!k->is_generated || strcmp(k->dir, dir) != 0 || conf_find_key(e, k->name) != NULL) {
            continue;
        }
        if ((r = keystore_pub_copy(&k->pub, &out[n])) != 0) {
            goto out;
        }
        drop_expired(&out[n], (int64_t)time(NULL));
        n++;
    }
    *ret = out;
    *ret_n = n;
    out = NULL;
    r = AD_OK;
out:
    keystore_pubs_free(out, n);
    return r;
}

int keystore_random(struct keystore *ks, uint8_t *out, size_t n)
{
    return tpm_get_random(ks->tpm, out, n);
}

struct tpm *keystore_tpm(struct keystore *ks)
{
    return ks->tpm;
}

int keystore_certify(struct keystore *ks, const struct workload_entry *e, const char *key,
                     struct tpm_key *ak, const uint8_t *nonce, size_t nonce_len,
                     struct tpm_bytes *ret_key_pub, struct tpm_bytes *ret_attest,
                     struct tpm_bytes *ret_sig)
{
    const struct keyblob *kb;
    struct ks_key *k = NULL;
    uint8_t *pub = NULL;
    int r;

    if ((r = key_get(ks, e, key, &k)) != 0) {
        return r;
    }
    kb = tpm_key_blob(k->tk);
    if ((r = dup_bytes(kb->pub, kb->pub_len, &pub)) != 0) {
        return r;
    }
    if ((r = tpm_certify(ks->tpm, ak, k->tk, nonce, nonce_len, ret_attest, ret_sig)) != 0) {
        free(pub);
        return r;
    }
    ret_key_pub->data = pub;
    ret_key_pub->len = kb->pub_len;
    return AD_OK;
}

int keystore_set_cert(struct keystore *ks, const struct workload_entry *e, const char *key,
                      const char *pem)
{
    struct certinfo ci;
    struct ks_key *k = NULL;
    char path[4200];
    int r;

    memset(&ci, 0, sizeof(ci));
    if ((r = key_get(ks, e, key, &k)) != 0) {
        return r;
    }
    if ((r = certinfo_from_pem(pem, &ci)) != 0) {
        return r;
    }
    if (!certinfo_has_spki(&ci, k->pub.spki, k->pub.spki_len)) {
        log_warn("keystore: %s/%s: certificate is for another key; not installed", e->name, key);
        r = AD_ERR_INVALID;
        goto out;
    }
    if ((r = key_path(ks, k->dir, k->file, ".crt", path, sizeof(path))) != 0 ||
        (r = atomic_file_write(path, pem, strlen(pem), 0600)) != 0) {
        goto out;
    }
    certinfo_clear(&k->pub.cert);
    k->pub.cert = ci;
    k->pub.cert_issued_at = (int64_t)time(NULL);
    memset(&ci, 0, sizeof(ci));
out:
    certinfo_clear(&ci);
    return r;
}
