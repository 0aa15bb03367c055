/*
 * Where a SIGN's time goes inside the daemon: timestamps at fixed points of
 * the request path, averaged and logged every SPANS_EVERY requests, with
 * how long jobs held the TPM and how long it sat idle between them. Compiled
 * in only with the cmake option AGENTD_SPANS=ON (a measuring build); in
 * every other build the calls are empty inlines and the struct is unused.
 * Loop thread, except SPAN_RUN/SPAN_SIGNED (worker thread, same job, handed
 * over through the worker queue's lock).
 */
#ifndef AGENTD_SPANS_H
#define AGENTD_SPANS_H

#include <stdint.h>

enum span_mark {
    SPAN_RECV,    /* frame decoded, handler entered */
    SPAN_DECIDED, /* identity re-checked, policy decided */
    SPAN_SUBMIT,  /* job queued for the worker */
    SPAN_RUN,     /* worker picked the job up */
    SPAN_SIGNED,  /* TPM answered */
    SPAN_AUDITED, /* audit record written */
    SPAN_DONE,    /* loop thread took the finished job */
    SPAN_SENT,    /* reply handed to the socket */
    SPAN_N
};

#define SPANS_EVERY 4096

struct spans {
    uint64_t t[SPAN_N]; /* CLOCK_MONOTONIC ns, 0 = not reached */
};

#ifdef AGENTD_SPANS
void spans_mark(struct spans *s, enum span_mark m);
/* Account one finished request; logs averages every SPANS_EVERY. */
void spans_finish(const struct spans *s);
#else
static inline void spans_mark(struct spans *s, enum span_mark m)
{
    (void)s, (void)m;
}
static inline void spans_finish(const struct spans *s)
{
    (void)s;
}
#endif

#endif
