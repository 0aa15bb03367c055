#include "store.h"

#include <string.h>

int store_open(const char *uri, struct store **ret)
{
    static const char pfx[] = "sqlite:";

    if (strncmp(uri, pfx, sizeof(pfx) - 1) == 0) {
        return store_sqlite_open(uri + sizeof(pfx) - 1, ret);
    }
    if (strstr(uri, "://") != NULL) {
        return AD_ERR_UNSUPPORTED; /* postgresql:// and friends: not yet */
    }
    return store_sqlite_open(uri, ret);
}

void store_close(struct store *s)
{
    if (s != NULL) {
        s->ops->close(s);
    }
}

int store_host_get(struct store *s, const char *id, struct store_host *ret)
{
    return s->ops->host_get(s, id, ret);
}

int store_host_put(struct store *s, const struct store_host *h)
{
    return s->ops->host_put(s, h);
}

int store_host_delete(struct store *s, const char *id)
{
    return s->ops->host_delete(s, id);
}

int store_host_list(struct store *s, int (*fn)(const struct store_host *h, void *arg), void *arg)
{
    return s->ops->host_list(s, fn, arg);
}

int store_session_put(struct store *s, const struct store_session *ss)
{
    return s->ops->session_put(s, ss);
}

int store_session_get(struct store *s, const char *id, struct store_session *ret)
{
    return s->ops->session_get(s, id, ret);
}

int store_session_delete(struct store *s, const char *id)
{
    return s->ops->session_delete(s, id);
}

int store_session_gc(struct store *s, int64_t now, size_t *ret_live)
{
    return s->ops->session_gc(s, now, ret_live);
}

int store_event_add(struct store *s, const char *host_id, const char *what, const char *reason)
{
    return s->ops->event_add(s, host_id, what, reason);
}

int store_event_list(struct store *s, const char *host_id,
                     int (*fn)(int64_t at, const char *what, const char *reason, void *arg),
                     void *arg)
{
    return s->ops->event_list(s, host_id, fn, arg);
}
