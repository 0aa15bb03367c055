# shellcheck shell=bash
# Shared by the enroll_*.sh tests: a swtpm with its test vendor CA, an
# agentd-ca on a free loopback port with SQLite, and the simulated host.
#   . enroll_common.sh HARNESS_DIR BUILD_DIR
# sets CA_URL, CA_CONF, CA_BUNDLE (TLS trust for the client), EK_CERT and
# provides ca_start, hostsim, ca_admin.
# shellcheck source=../harness/lib.sh
. "$1/lib.sh"
BUILD=$2
AGENTD_CA=$BUILD/attest/agentd-ca
HOSTSIM=$BUILD/tests/test_attest_hostsim

# CA key and certificate (the trust bundle), and a TLS certificate for 127.0.0.1.
ca_keys() {
    local d=$T/ca
    mkdir -p "$d/ekroots"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=agentd test CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || die "CA key"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$d/tls.key" -out "$d/tls.csr" 2>/dev/null || die "TLS key"
    openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -days 30 \
        -extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') \
        -out "$d/tls.pem" 2>/dev/null || die "TLS cert"
    chmod 0600 "$d/ca.key" "$d/tls.key"
    CA_BUNDLE=$d/ca.pem
}

# Config with a "default" class whose policy is the TPM's current PCRs 0 and 16.
ca_config() {
    local d=$T/ca v0 v16
    v0=$(tpm2_pcrread -T "$SWTPM_TCTI" sha256:0 | sed -n 's/^ *0 *: 0x//p')
    v16=$(tpm2_pcrread -T "$SWTPM_TCTI" sha256:16 | sed -n 's/^ *16 *: 0x//p')
    [[ ${#v0} == 64 && ${#v16} == 64 ]] || die "cannot read PCRs ($v0 / $v16)"
    CA_PORT=$(free_port)
    CA_URL=https://127.0.0.1:$CA_PORT
    CA_CONF=$d/agentd-ca.conf
    cat >"$CA_CONF" <<EOC
trust_domain = "test.example";
listen = "127.0.0.1:$CA_PORT";
database = "sqlite:$d/ca.db";
ek_roots = "$d/ekroots";
ca_cert = "$d/ca.pem";
ca_key = "$d/ca.key";
tls_cert = "$d/tls.pem";
tls_key = "$d/tls.key";
host_cert_lifetime = 3600;
session_timeout = 60;
host_classes = (
  { name = "default"; pcrs = ( { index = 0; value = "$v0"; }, { index = 16; value = "$v16"; } ); }
);
EOC
}

# Start agentd-ca; a port taken between free_port and bind gets another try.
ca_start() {
    local attempt
    [[ -n ${CA_BUNDLE:-} ]] || ca_keys
    for attempt in 1 2 3 4 5; do
        ca_config
        # A test may define ca_config_extra to edit $CA_CONF after each rewrite.
        if [[ $(type -t ca_config_extra) == function ]]; then
            ca_config_extra
        fi
        "$AGENTD_CA" -c "$CA_CONF" serve >"$T/ca/stdout" 2>"$T/ca/stderr" &
        CA_PID=$!
        harness_track "$CA_PID"
        for _ in $(seq 1 100); do
            grep -q "listening on" "$T/ca/stdout" 2>/dev/null && return 0
            kill -0 "$CA_PID" 2>/dev/null || break
            sleep 0.05
        done
        grep -q "cannot listen" "$T/ca/stderr" || break
    done
    cat "$T/ca/stderr" >&2
    die "agentd-ca did not start"
}

# hostsim [extra args]: enroll the swtpm's host; output in $T/host.out/.err.
hostsim() {
    "$HOSTSIM" --tcti "$SWTPM_TCTI" --ek-cert "$EK_CERT" --url "$CA_URL" --cacert "$CA_BUNDLE" \
        "$@" >"$T/host.out" 2>"$T/host.err"
}

ca_admin() {
    "$AGENTD_CA" -c "$CA_CONF" admin "$@"
}

enroll_setup() {
    harness_init
    swtpm_start
    EK_CERT=$T/ek.der
    tpm2_nvread -T "$SWTPM_TCTI" 0x01c00002 -o "$EK_CERT" 2>/dev/null || die "read EK cert"
    ca_keys
    cp "$SWTPM_EK_CA" "$SWTPM_EK_ISSUER" "$T/ca/ekroots/"
}
