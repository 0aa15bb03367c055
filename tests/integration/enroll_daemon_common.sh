# shellcheck shell=bash
# Shared by enroll_daemon.sh and enroll_renew.sh: swtpm + agentd-ca (from
# enroll_common.sh) + agentd with an agentd.enroll group, real clients.
#   . enroll_daemon_common.sh HARNESS_DIR BUILD_DIR
# Needs P11_MODULE in the environment (enroll.cmake sets it, and P11_PRELOAD
# in sanitizer builds). Provides ca_stop, ca_restart (same port and state),
# ctl, p11, daemon_setup, key_cert_der, listed_serial.
# shellcheck source=enroll_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/enroll_common.sh" "$1" "$2"
AGENTD_BIN=$BUILD/agentd/agentd
AGENTCTL=$BUILD/agentd/agentctl
# shellcheck source=lib_agentd.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_agentd.sh"
# shellcheck source=pkcs11_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/pkcs11_common.sh"
command -v pkcs11-tool >/dev/null || { echo "SKIP: pkcs11-tool not installed"; exit 77; }

ctl() { "$AGENTCTL" -s "$AGENTD_SOCK" "$@"; }
p11() { pkcs11-tool --module "$P11_MODULE" "$@"; }

# Stop agentd-ca by the PID this test started; wait for it to be gone.
ca_stop() {
    kill -TERM "$CA_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$CA_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$CA_PID" 2>/dev/null && die "agentd-ca (pid $CA_PID) did not stop"
    wait "$CA_PID" 2>/dev/null || true
}

# agentd-ca's port below the ephemeral range: the swtpm TCTI's client
# connections take ephemeral ports, and one of them holding the CA's port
# would keep a restarted CA from binding it. CA_EXTRA: lines added to its config.
ca_config_extra() {
    local p
    p=$(pkcs11_free_port) || die "no free port"
    sed -i "s|^listen = .*|listen = \"127.0.0.1:$p\";|" "$CA_CONF"
    CA_PORT=$p
    CA_URL=https://127.0.0.1:$p
    [[ -z ${CA_EXTRA:-} ]] || echo "$CA_EXTRA" >>"$CA_CONF"
}

# Start agentd-ca again with the same config (port, database): agentd's URL
# stays valid. Should the port be taken meanwhile, move the CA to another
# one and point agentd at it (SIGHUP), so the test still sees a restart.
ca_restart() {
    local before old
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        if ((attempt > 4)); then
            old=$CA_URL
            ca_config_extra
            sed -i "s|$old|$CA_URL|" "$AGENTD_CONF"
            before=$(grep -c "reload:" "$T/agentd.log" || true)
            agentd_hup
            for _ in $(seq 1 100); do
                (($(grep -c "reload:" "$T/agentd.log" || true) > before)) && break
                sleep 0.05
            done
            echo "note: agentd-ca moved from $old to $CA_URL (port taken)"
        fi
        before=$(grep -c "listening on" "$T/ca/stdout" 2>/dev/null || true)
        "$AGENTD_CA" -c "$CA_CONF" serve >>"$T/ca/stdout" 2>>"$T/ca/stderr" &
        CA_PID=$!
        harness_track "$CA_PID"
        for _ in $(seq 1 100); do
            (($(grep -c "listening on" "$T/ca/stdout" || true) > before)) && return 0
            kill -0 "$CA_PID" 2>/dev/null || break
            sleep 0.05
        done
        sleep 0.5 # the port may still be held for a moment
    done
    cat "$T/ca/stderr" >&2
    die "agentd-ca did not start again on $CA_URL"
}

# swtpm with its vendor CA, agentd-ca, and agentd with one workload entry
# ("w1", key "k1", spiffe://test.example/workload/w1) for this uid.
# ENROLL_EXTRA: raw lines added inside the enroll group.
daemon_setup() {
    enroll_setup
    ca_start
    AGENTD_EXTRA="  enroll = { url = \"$CA_URL\"; ca_bundle = \"$CA_BUNDLE\";
    retry_min_s = ${RETRY_MIN:-1}; retry_max_s = ${RETRY_MAX:-4}; timeout_s = 5;
    ${ENROLL_EXTRA:-} };"
    agentd_write_conf <<EOW
{ name = "w1"; spiffe_id = "spiffe://test.example/workload/w1";
  selectors = { uid = $(id -u); };
  keys = ( { name = "k1"; type = "ec-p256"; mechanisms = [ "ECDSA", "ECDSA_SHA256" ]; } ); }
EOW
    agentd_start
    export AGENTD_SOCKET=$AGENTD_SOCK
}

# CKA_ID (hex) of the certificate object listed with label $1 (empty: none).
cert_id_of() {
    # awk reads to the end: an early exit could SIGPIPE pkcs11-tool (pipefail).
    p11 --list-objects --type cert 2>/dev/null |
        awk -v l="$1" '/^Certificate Object/ {hit=0} $1=="label:" && $2==l {hit=1}
                       hit && $1=="ID:" && !done {print $2; done=1}'
}

# CKA_ID of the private key labelled $1 (pkcs11_id_of, whose awk may stop early).
key_id_of() {
    p11 --list-objects --type privkey 2>/dev/null |
        awk -v l="$1" '/^Private Key Object/ {hit=0} $1=="label:" && $2==l {hit=1}
                       hit && $1=="ID:" && !done {print $2; done=1}'
}

# Read the certificate with CKA_ID $1 through the module into $2 (PEM).
key_cert_pem() {
    p11 --read-object --type cert --id "$1" -o "$T/cert.der" >"$T/readcert.log" 2>&1 ||
        { cat "$T/readcert.log" >&2; die "cannot read certificate $1 through the module"; }
    openssl x509 -inform DER -in "$T/cert.der" -out "$2" || die "certificate $1 is not X.509"
}

# Serial of the workload key's certificate as the module shows it (empty: none listed).
listed_serial() {
    local id
    id=$(key_id_of k1)
    [[ -n $id ]] || return 0
    p11 --read-object --type cert --id "$id" -o "$T/serial.der" >/dev/null 2>&1 || return 0
    openssl x509 -inform DER -in "$T/serial.der" -noout -serial | sed 's/^serial=//'
}
