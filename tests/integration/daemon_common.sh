# shellcheck shell=bash
# Shared set-up for the daemon_*.sh tests: sourced after harness/lib.sh and
# lib_agentd.sh. Needs AGENTD_BIN and DAEMON_CLIENT (tests/integration/daemon_client).
: "${DAEMON_CLIENT:?DAEMON_CLIENT not set}"

# Run the test client against the daemon's socket.
dc() {
    "$DAEMON_CLIENT" "$AGENTD_SOCK" "$@"
}

# One entry for this test's uid with an EC and an RSA key.
daemon_default_conf() {
    agentd_write_conf <<EOW
{ name = "w1"; spiffe_id = "spiffe://test/w1";
  selectors = { uid = $(id -u); };
  keys = (
    { name = "ec"; type = "ec-p256"; mechanisms = [ "ECDSA", "ECDSA_SHA256", "ECDSA_SHA384" ]; },
    { name = "rsa"; type = "rsa-2048";
      mechanisms = [ "RSA_PKCS", "SHA256_RSA_PKCS", "SHA256_RSA_PKCS_PSS", "RSA_PKCS_PSS" ]; }
  );
  allow_generate = true; max_keys = 4; }
EOW
}

audit_verify_ok() {
    "$DAEMON_CLIENT" - audit-verify "$AGENTD_AUDIT" || {
        agentd_log
        die "audit chain does not verify"
    }
}

# One long-lived connection driven through a FIFO: session_open starts the
# client (SESSION_PID), session_say CMD sends one command and prints the
# reply's line, session_close ends it and returns the client's status.
session_open() {
    mkfifo "$T/session.cmd"
    "$DAEMON_CLIENT" "$AGENTD_SOCK" session <"$T/session.cmd" >"$T/session.out" 2>&1 &
    SESSION_PID=$!
    harness_track "$SESSION_PID"
    exec 7>"$T/session.cmd"
}

session_say() { # CMD
    local before
    before=$(wc -l <"$T/session.out")
    echo "$1" >&7
    for _ in $(seq 1 100); do
        (($(wc -l <"$T/session.out") > before)) && break
        sleep 0.05
    done
    tail -1 "$T/session.out"
}

session_close() {
    exec 7>&-
    wait "$SESSION_PID"
}
