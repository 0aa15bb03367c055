#!/usr/bin/env bash
# mTLS with the TPM key: a throwaway test CA signs a client certificate for
# the key's public key (CSR made through the engine, so the module signs it);
# openssl s_server -Verify 1 on a free loopback port requires that
# certificate; openssl s_client -engine pkcs11 completes the handshake, for
# the EC and the RSA key (TLS 1.3 RSA uses raw RSA-PSS). Then the same with
# curl --engine pkcs11 when this curl has engine support.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/pkcs11_common.sh"

pkcs11_start
conf=$(pkcs11_engine_conf)

# Test CA and server certificate (software keys: only the client is the TPM).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=agentd test CA" -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=127.0.0.1" -keyout "$T/srv.key" -out "$T/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/srv.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -days 1 -extfile "$T/srv.ext" -out "$T/srv.pem" 2>/dev/null

# s_server on a free loopback port (pkcs11_free_port); another process may take
# the port between the check and bind(), so a server that exits at once is
# retried on a new port.
start_server() {
    local try
    for try in 1 2 3 4 5; do
        SERVER_PORT=$(pkcs11_free_port) || die "no free port"
        # `command`: the server never loads the module, and the sanitizer
        # builds' openssl() wrapper, run in the background, would leave $!
        # naming a subshell whose kill leaves the server running.
        command openssl s_server -accept "127.0.0.1:$SERVER_PORT" -cert "$T/srv.pem" \
            -key "$T/srv.key" -CAfile "$T/ca.pem" -Verify 1 -verify_return_error -www \
            >"$T/server.log" 2>&1 &
        SERVER_PID=$!
        harness_track "$SERVER_PID"
        for _ in $(seq 1 400); do
            port_busy "$SERVER_PORT" && return 0
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill "$SERVER_PID" 2>/dev/null || true
        echo "s_server attempt $try failed: $(grep -m1 -i error "$T/server.log" || true)" >&2
    done
    cat "$T/server.log" >&2
    die "s_server did not listen"
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

for key in ec rsa; do
    uri="pkcs11:token=agentd;object=$key;type=private"
    OPENSSL_CONF=$conf openssl req -new -engine pkcs11 -keyform engine -key "$uri" \
        -subj "/CN=workload-$key" -out "$T/$key.csr" || die "CSR through the module ($key)"
    openssl req -verify -noout -in "$T/$key.csr" || die "CSR signature ($key)"
    openssl x509 -req -in "$T/$key.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
        -days 1 -out "$T/$key.pem" 2>/dev/null

    start_server
    out=$(printf 'GET / HTTP/1.0\r\n\r\n' | OPENSSL_CONF=$conf timeout 60 "${P11_ENV[@]}" openssl s_client \
        -connect "127.0.0.1:$SERVER_PORT" -engine pkcs11 -keyform engine -key "$uri" \
        -cert "$T/$key.pem" -CAfile "$T/ca.pem" -verify_return_error -ign_eof 2>&1) ||
        die "s_client handshake with $key failed: $out"
    grep -q "Verify return code: 0 (ok)" <<<"$out" || die "server cert not verified: $out"
    # -www echoes the session, including the client certificate it verified.
    grep -q "workload-$key" <<<"$out" || grep -q "Client certificate" <<<"$out" ||
        die "server did not see the client certificate ($key): $out"
    stop_server
    echo "mTLS with $key: ok"
done

# Debian 12's curl hangs at start-up with the ASan runtime preloaded, module
# or not, so the sanitizer build leaves the curl client to the release build.
if [[ -n ${P11_PRELOAD:-} ]]; then
    echo "sanitizer build: curl part left to the release build"
elif OPENSSL_CONF=$conf curl --engine list 2>/dev/null | grep -qw pkcs11; then
    start_server
    out=$(OPENSSL_CONF=$conf curl -sS --engine pkcs11 --key-type ENG \
        --key "pkcs11:token=agentd;object=ec;type=private" --cert "$T/ec.pem" \
        --cacert "$T/ca.pem" "https://127.0.0.1:$SERVER_PORT/" 2>&1) || die "curl mTLS: $out"
    grep -q "workload-ec\|Client certificate\|Ciphers supported" <<<"$out" ||
        die "curl got no s_server page: $out"
    stop_server
    echo "curl mTLS: ok"
else
    echo "curl here has no pkcs11 engine: curl part skipped"
fi

pkcs11_stop
echo PASS
