/*
 * Open-file budget. Each client connection holds three descriptors (its
 * socket, a pidfd and /proc/PID: workload.h); the daemon's own need a few
 * dozen (log, audit and its head, the TPM's per-command socket, epoll,
 * signalfd, eventfds, the hasher's file, enrollment's TLS). A common soft
 * RLIMIT_NOFILE is 1024, below what the default max_connections (1024)
 * needs, so at start and on reload the daemon raises its soft limit toward
 * that, as far as the hard limit goes (which needs no privilege), and warns
 * when it falls short. The server then admits no more connections than the
 * limit leaves room for beside the reserve (the TPM's per-command socket
 * must still open when clients hold all they may), and should descriptors
 * run out all the same, it stops watching its listening socket for a tick
 * rather than spin on a connection it cannot accept (server.c).
 */
#ifndef AGENTD_FDLIMIT_H
#define AGENTD_FDLIMIT_H

#include <stdint.h>

#define FDLIMIT_PER_CONN 3u
#define FDLIMIT_RESERVED 64u

/* Descriptors max_connections needs in all. */
uint64_t fdlimit_need(uint32_t max_connections);

/* Client connections a soft limit of `limit` descriptors leaves room for. */
uint32_t fdlimit_conns(uint64_t limit);

/*
 * Raise the soft RLIMIT_NOFILE to fdlimit_need(max_connections) when it is
 * lower (never lowers it); log a warning when the hard limit stops it short.
 * Returns the soft limit in force afterwards (UINT64_MAX: unlimited, or it
 * could not be read).
 */
uint64_t fdlimit_fit(uint32_t max_connections);

#endif
