#include "spans.h"

#ifdef AGENTD_SPANS
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static const char *const names[SPAN_N] = {"recv",   "decided", "submit", "run",
                                          "signed", "audited", "done",   "sent"};
static uint64_t sum[SPAN_N];
static uint64_t cnt[SPAN_N];
static uint64_t n_finished;

void spans_mark(struct spans *s, enum span_mark m)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->t[m] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Each mark is charged the time since SPAN_RECV, so overlapping steps still add up. */
void spans_finish(const struct spans *s)
{
    char line[512];
    size_t off = 0;

    for (int m = 1; m < SPAN_N; m++) {
        if (s->t[m] != 0 && s->t[SPAN_RECV] != 0 && s->t[m] >= s->t[SPAN_RECV]) {
            sum[m] += s->t[m] - s->t[SPAN_RECV];
            cnt[m]++;
        }
    }
    if (++n_finished % SPANS_EVERY != 0) {
        return;
    }
    for (int m = 1; m < SPAN_N && off < sizeof(line); m++) {
        off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=+%.1f", names[m],
                                cnt[m] ? (double)sum[m] / (double)cnt[m] / 1000.0 : 0.0);
    }
    log_info("spans (us after recv, mean of %d):%s", SPANS_EVERY, line);
    memset(sum, 0, sizeof(sum));
    memset(cnt, 0, sizeof(cnt));
}
#else
typedef int spans_unused; /* ISO C wants a non-empty file */
#endif
