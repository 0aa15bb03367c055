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
