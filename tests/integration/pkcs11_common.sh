# shellcheck shell=bash
# Shared set-up for the pkcs11_*.sh tests: source after harness/lib.sh and
# lib_agentd.sh. Needs P11_MODULE (the built libagentd-pkcs11.so) and
# AGENTD_BIN. pkcs11_start gives swtpm + agentd with two keys for this uid:
#   "ec"  ec-p256,  "rsa" rsa-2048
# and exports AGENTD_SOCKET so the module finds the daemon.
: "${P11_MODULE:?P11_MODULE not set}"

# Sanitizer builds set P11_PRELOAD: every client that loads the module gets
# the ASan/UBSan runtime preloaded, with leak checks off (the leaks would be
# the clients' own) and the suppressions in asan_clients.supp. P11_ENV is the
# same prefix for commands run through timeout(1).
# p11_env_init rebuilds it after a test moves P11_ASAN_SUPP.
p11_env_init() {
    P11_ENV=()
    if [[ -n ${P11_PRELOAD:-} ]]; then
        P11_ENV=(env "LD_PRELOAD=$P11_PRELOAD"
            "ASAN_OPTIONS=detect_leaks=0:suppressions=$P11_ASAN_SUPP")
    fi
}
p11_env_init
if [[ -n ${P11_PRELOAD:-} ]]; then
    p11_sanitized() {
        LD_PRELOAD=$P11_PRELOAD ASAN_OPTIONS="detect_leaks=0:suppressions=$P11_ASAN_SUPP" "$@"
    }
    pkcs11-tool() { p11_sanitized command pkcs11-tool "$@"; }
    p11tool() { p11_sanitized command p11tool "$@"; }
    p11-kit() { p11_sanitized command p11-kit "$@"; }
    openssl() { p11_sanitized command openssl "$@"; }
    ssh-keygen() { p11_sanitized command ssh-keygen "$@"; }
    ssh() { p11_sanitized command ssh "$@"; }
    trust() { p11_sanitized command trust "$@"; }
fi

P11_ID_EC=
P11_ID_RSA=

pkcs11_conf() {
    agentd_write_conf <<EOW
{ name = "p11"; spiffe_id = "spiffe://test/p11";
  selectors = { uid = $(id -u); };
  keys = (
    { name = "ec"; type = "ec-p256";
      mechanisms = [ "ECDSA", "ECDSA_SHA256", "ECDSA_SHA384", "ECDSA_SHA512" ]; },
    { name = "rsa"; type = "rsa-2048";
      mechanisms = [ "RSA_PKCS", "RSA_PKCS_PSS", "SHA256_RSA_PKCS", "SHA384_RSA_PKCS",
                     "SHA512_RSA_PKCS", "SHA256_RSA_PKCS_PSS", "SHA384_RSA_PKCS_PSS",
                     "SHA512_RSA_PKCS_PSS" ]; }
  );
  allow_generate = true; max_keys = 8; }
EOW
}

# CKA_ID (hex) of the private key labelled $1, from pkcs11-tool's listing.
pkcs11_id_of() {
    pkcs11-tool --module "$P11_MODULE" --list-objects --type privkey 2>/dev/null |
        awk -v l="$1" '/^Private Key Object/ {hit=0} $1=="label:" && $2==l {hit=1}
                       hit && $1=="ID:" {print $2; exit}'
}

# P11_TEST_SOCKET (development only): use an agentd already listening there
# instead of starting swtpm + agentd.
pkcs11_start() {
    harness_init
    if [[ -n ${P11_TEST_SOCKET:-} ]]; then
        export AGENTD_SOCKET=$P11_TEST_SOCKET
    else
        swtpm_start --no-ek
        pkcs11_conf
        agentd_start
        export AGENTD_SOCKET=$AGENTD_SOCK
    fi
    P11_ID_EC=$(pkcs11_id_of ec || true)
    P11_ID_RSA=$(pkcs11_id_of rsa || true)
    [[ -n $P11_ID_EC && -n $P11_ID_RSA ]] || {
        pkcs11-tool --module "$P11_MODULE" --list-objects >&2 || true
        agentd_log
        die "module does not show the ec and rsa keys"
    }
}

# Export the public key of label $1 as PEM to $2 (through the module).
pkcs11_pubkey_pem() {
    local id
    id=$(pkcs11_id_of "$1")
    pkcs11-tool --module "$P11_MODULE" --read-object --type pubkey --id "$id" \
        -o "$T/$1.pub.der" >"$T/readpub.log" 2>&1 || { cat "$T/readpub.log" >&2; die "cannot read public key $1"; }
    openssl pkey -pubin -inform DER -in "$T/$1.pub.der" -out "$2" || die "bad SPKI for $1"
}

# An openssl.cnf that loads libengine-pkcs11 with our module; prints its path.
pkcs11_engine_conf() {
    local engine
    engine=$(find /usr/lib -path '*engines-3/pkcs11.so' 2>/dev/null | head -n1)
    [[ -n $engine ]] || die "libengine-pkcs11-openssl not installed"
    cat >"$T/openssl-p11.cnf" <<EOC
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $engine
MODULE_PATH = $P11_MODULE
init = 0
EOC
    echo "$T/openssl-p11.cnf"
}

# Stop agentd and require a clean exit (no-op with P11_TEST_SOCKET).
pkcs11_stop() {
    [[ -z ${P11_TEST_SOCKET:-} ]] || return 0
    agentd_stop
    [[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
}

# A loopback TCP port for a test server: below the ephemeral range (the swtpm
# TCTI's one-connection-per-command leaves many TIME_WAIT sockets there, and a
# server without SO_REUSEADDR cannot bind over them) and unused in any state.
pkcs11_free_port() {
    local low p
    low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    for _ in $(seq 1 200); do
        p=$((10000 + RANDOM % (low - 10000)))
        if [[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}
