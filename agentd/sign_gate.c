#include "sign_gate.h"

bool sign_gate_inline(const struct sign_gate *g, enum sign_gate_kind kind, uint64_t conn,
                      uint64_t now_ns)
{
    uint64_t est;

    if ((unsigned)kind >= SIGN_GATE_KINDS) {
        return false;
    }
    est = g->est_ns[kind];
    if (est == 0 || est > SIGN_GATE_LONG_NS) {
        return false;
    }
    if (est <= SIGN_GATE_SHORT_NS || g->last_conn == 0 || g->last_conn == conn) {
        return true;
    }
    /* Another connection signed last: inline only if the TPM has idled since. */
    return now_ns >= g->last_end_ns && now_ns - g->last_end_ns >= est;
}

void sign_gate_done(struct sign_gate *g, enum sign_gate_kind kind, uint64_t conn, uint64_t took_ns,
                    uint64_t now_ns)
{
    uint64_t *est;

    if ((unsigned)kind >= SIGN_GATE_KINDS) {
        return;
    }
    est = &g->est_ns[kind];
    if (took_ns == 0) {
        took_ns = 1; /* measured, however short: 0 means never */
    }
    /* Up at once, down slowly: one slow signature keeps later ones off the loop for a while. */
    if (took_ns >= *est) {
        *est = took_ns;
    } else {
        *est -= (*est - took_ns) / 16;
    }
    g->last_conn = conn;
    g->last_end_ns = now_ns;
}
