/*
 * Whether the loop thread signs a request itself (inline) or hands it to
 * the TPM worker. Inline saves the two thread wake-ups of a hand-off (the
 * loop waking the worker, the worker waking the loop), which at one client
 * on a simulated TPM is a few percent of a signature; but the loop is
 * blocked for as long as the TPM takes, and while it is, no other client's
 * request is read and no decision made, so the TPM idles between jobs that
 * the worker would have run back to back. So, by how long the TPM has
 * recently taken for this kind of key (the slowest recent signature,
 * remembered as an estimate that rises at once to a slower one and decays
 * by 1/16 per faster one; an unmeasured kind goes to the worker first):
 *
 *  - up to SIGN_GATE_SHORT_NS (1 ms: ECDSA on swtpm, ~0.3-0.6 ms): inline.
 *    A request arriving meanwhile waits no longer than it would for the TPM.
 *  - up to SIGN_GATE_LONG_NS (5 ms: RSA-2048 on swtpm, ~1-2.5 ms): inline
 *    only when nobody else is signing: the previous signature was for this
 *    same connection, or the TPM has been idle since for at least one
 *    estimated signature. Two clients taking turns use the worker (measured:
 *    RSA inline at two threads lost ~10 % of the TPM's throughput).
 *  - longer (a hardware TPM: tens of milliseconds for either): the worker,
 *    where the hand-off is well under 1 % and the loop never blocks.
 *
 * Inline, the loop also waits through a TPM recovery should the TPM restart
 * right then (README: known limits). The caller checks the rest (a SIGN,
 * nothing else ready in this wake-up, the worker idle). Loop thread only.
 */
#ifndef AGENTD_SIGN_GATE_H
#define AGENTD_SIGN_GATE_H

#include <stdbool.h>
#include <stdint.h>

#define SIGN_GATE_SHORT_NS 1000000u /* inline whenever the caller's other checks pass */
#define SIGN_GATE_LONG_NS 5000000u  /* inline only with no other signer; never beyond */

enum sign_gate_kind {
    SIGN_GATE_EC,
    SIGN_GATE_RSA,
    SIGN_GATE_KINDS,
};

struct sign_gate {
    uint64_t est_ns[SIGN_GATE_KINDS]; /* 0: never measured */
    uint64_t last_conn;               /* connection of the last signature (0: none) */
    uint64_t last_end_ns;             /* when it was done */
};

/* True: sign this request (connection id conn, at now_ns) on the loop thread. */
bool sign_gate_inline(const struct sign_gate *g, enum sign_gate_kind kind, uint64_t conn,
                      uint64_t now_ns);

/* A signature of kind for conn took took_ns and the TPM answered at now_ns. */
void sign_gate_done(struct sign_gate *g, enum sign_gate_kind kind, uint64_t conn, uint64_t took_ns,
                    uint64_t now_ns);

#endif
