#include "fdlimit.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"

uint64_t fdlimit_need(uint32_t max_connections)
{
    return (uint64_t)max_connections * FDLIMIT_PER_CONN + FDLIMIT_RESERVED;
}

uint32_t fdlimit_conns(uint64_t limit)
{
    uint64_t n = limit > FDLIMIT_RESERVED ? (limit - FDLIMIT_RESERVED) / FDLIMIT_PER_CONN : 0;

    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static uint64_t as_u64(rlim_t v)
{
    return v == RLIM_INFINITY ? UINT64_MAX : (uint64_t)v;
}

uint64_t fdlimit_fit(uint32_t max_connections)
{
    uint64_t need = fdlimit_need(max_connections);
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        /* Unknown: admit up to max_connections, and let EMFILE pause accepting. */
        log_warn("descriptors: getrlimit: %s", strerror(errno));
        return UINT64_MAX;
    }
    if (as_u64(rl.rlim_cur) < need) {
        struct rlimit want = rl;

        want.rlim_cur = as_u64(rl.rlim_max) >= need ? (rlim_t)need : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
            log_info("descriptors: soft limit raised from %llu to %llu for max_connections %u",
                     (unsigned long long)rl.rlim_cur, (unsigned long long)want.rlim_cur,
                     max_connections);
            rl = want;
        } else {
            log_warn("descriptors: setrlimit: %s", strerror(errno));
        }
    }
    if (as_u64(rl.rlim_cur) < need) {
        log_warn("descriptors: max_connections %u needs %llu open files but the limit is %llu: "
                 "%u connections are admitted; raise LimitNOFILE or lower max_connections",
                 max_connections, (unsigned long long)need, (unsigned long long)rl.rlim_cur,
                 fdlimit_conns(as_u64(rl.rlim_cur)));
    }
    return as_u64(rl.rlim_cur);
}
