# shellcheck shell=bash
# Start and stop agentd for integration tests. Source tests/harness/lib.sh
# first (harness_init; swtpm_start), then this file.
#
#   AGENTD_BIN                path of the agentd binary (tests pass it in)
#   agentd_write_conf [FILE]  write a config (default $T/agentd.conf) from the
#                             variables below; the workloads list body is read
#                             from stdin (a heredoc), e.g.
#                               agentd_write_conf <<EOW
#                               { name = "w1"; spiffe_id = "spiffe://t/w1";
#                                 selectors = { uid = $(id -u); };
#                                 keys = ( { name = "k1"; type = "ec-p256";
#                                            mechanisms = [ "ECDSA", "ECDSA_SHA256" ]; } ); }
#                               EOW
#                             Variables (with defaults): AGENTD_SOCK ($T/run/agentd.sock),
#                             AGENTD_STATE ($T/state), AGENTD_AUDIT ($T/state/audit.log),
#                             AGENTD_MAX_CONN (256), AGENTD_MAX_PER_UID (256),
#                             AGENTD_IDLE_MS (60000), AGENTD_MAX_INFLIGHT (16),
#                             AGENTD_SOCK_MODE (0666), AGENTD_ADMIN_GROUP (""),
#                             AGENTD_EXTRA (raw lines added inside the agentd group),
#                             AGENTD_AUDIT_EXTRA (raw lines inside its audit group).
#   agentd_start [ARGS...]    start agentd -c $AGENTD_CONF --foreground in the
#                             background (stderr to $T/agentd.log), wait for the
#                             socket; sets AGENTD_PID and tracks it
#   agentd_stop               SIGTERM, wait for exit; sets AGENTD_RC (exit status)
#   agentd_kill9              SIGKILL, wait
#   agentd_hup                SIGHUP
#   agentd_log                print the daemon's log (for failure messages)

agentd_write_conf() {
    local f=${1:-$T/agentd.conf} body
    body=$(cat)
    AGENTD_CONF=$f
    AGENTD_SOCK=${AGENTD_SOCK:-$T/run/agentd.sock}
    AGENTD_STATE=${AGENTD_STATE:-$T/state}
    AGENTD_AUDIT=${AGENTD_AUDIT:-$AGENTD_STATE/audit.log}
    export AGENTD_CONF AGENTD_SOCK AGENTD_STATE AGENTD_AUDIT
    mkdir -p "$AGENTD_STATE"
    cat >"$f" <<EOC
agentd = {
  tcti = "${SWTPM_TCTI:?swtpm_start first}";
  state_dir = "$AGENTD_STATE";
  socket = "$AGENTD_SOCK";
  socket_mode = "${AGENTD_SOCK_MODE:-0666}";
  admin_group = "${AGENTD_ADMIN_GROUP:-}";
  max_connections = ${AGENTD_MAX_CONN:-256};
  max_connections_per_uid = ${AGENTD_MAX_PER_UID:-256};
  idle_timeout_ms = ${AGENTD_IDLE_MS:-60000};
  max_in_flight_per_connection = ${AGENTD_MAX_INFLIGHT:-16};
  audit = {
    path = "$AGENTD_AUDIT";
    sync = "write";
${AGENTD_AUDIT_EXTRA:-}
  };
${AGENTD_EXTRA:-}
};
workloads = (
$body
);
EOC
}

agentd_log() {
    cat "$T/agentd.log" >&2 2>/dev/null || true
}

agentd_start() {
    local bin=${AGENTD_BIN:?AGENTD_BIN not set} before
    [[ -n ${AGENTD_CONF:-} ]] || die "agentd_write_conf first"
    touch "$T/agentd.log"
    # A socket file left by a killed daemon exists before the new one listens:
    # wait for this start's "listening" log line, not just for the file.
    before=$(grep -c "server: listening on" "$T/agentd.log" || true)
    "$bin" -c "$AGENTD_CONF" --foreground "$@" 2>>"$T/agentd.log" &
    AGENTD_PID=$!
    harness_track "$AGENTD_PID"
    for _ in $(seq 1 400); do
        if [[ -S $AGENTD_SOCK ]] &&
            (($(grep -c "server: listening on" "$T/agentd.log" || true) > before)); then
            return 0
        fi
        if ! kill -0 "$AGENTD_PID" 2>/dev/null; then
            agentd_log
            die "agentd exited during start-up"
        fi
        sleep 0.05
    done
    agentd_log
    die "agentd did not listen on $AGENTD_SOCK"
}

# Wait for AGENTD_PID to exit; sets AGENTD_RC.
agentd_wait() {
    local pid=$AGENTD_PID
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        agentd_log
        die "agentd (pid $pid) did not exit"
    fi
    AGENTD_RC=0
    wait "$pid" 2>/dev/null || AGENTD_RC=$?
}

agentd_stop() {
    kill -TERM "$AGENTD_PID" 2>/dev/null || true
    agentd_wait
}

agentd_kill9() {
    kill -KILL "$AGENTD_PID" 2>/dev/null || true
    agentd_wait
}

agentd_hup() {
    kill -HUP "$AGENTD_PID"
}
