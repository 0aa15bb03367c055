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
/*
 * The TPM's side: how long each job held it (run -> signed) and how long it
 * sat idle before the next job took it (signed -> next run) when that wait
 * was under 1 ms (a client thinking longer is not the daemon's gap). Jobs
 * finish in the order they ran, so the previous finished job is the one
 * that ran before.
 */
#define GAP_MAX_NS 1000000u
static uint64_t prev_signed;
static uint64_t tpm_sum, tpm_cnt, gap_sum, gap_cnt;

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
    if (s->t[SPAN_RUN] != 0 && s->t[SPAN_SIGNED] >= s->t[SPAN_RUN]) {
        tpm_sum += s->t[SPAN_SIGNED] - s->t[SPAN_RUN];
        tpm_cnt++;
        if (prev_signed != 0 && s->t[SPAN_RUN] >= prev_signed &&
            s->t[SPAN_RUN] - prev_signed < GAP_MAX_NS) {
            gap_sum += s->t[SPAN_RUN] - prev_signed;
            gap_cnt++;
        }
        prev_signed = s->t[SPAN_SIGNED];
    }
    if (++n_finished % SPANS_EVERY != 0) {
        return;
    }
    for (int m = 1; m < SPAN_N && off < sizeof(line); m++) {
        off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=+%.1f", names[m],
                                cnt[m] ? (double)sum[m] / (double)cnt[m] / 1000.0 : 0.0);
    }
    log_info("spans (us after recv, mean of %d):%s", SPANS_EVERY, line);
    log_info("spans: TPM held %.1f us per job, idle %.1f us before the next (%llu of %d gaps "
             "under 1 ms)",
             tpm_cnt ? (double)tpm_sum / (double)tpm_cnt / 1000.0 : 0.0,
             gap_cnt ? (double)gap_sum / (double)gap_cnt / 1000.0 : 0.0,
             (unsigned long long)gap_cnt, SPANS_EVERY);
    memset(sum, 0, sizeof(sum));
    memset(cnt, 0, sizeof(cnt));
    tpm_sum = tpm_cnt = gap_sum = gap_cnt = 0;
}
#else
typedef int spans_unused; /* ISO C wants a non-empty file */
#endif
