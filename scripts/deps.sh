#!/usr/bin/env bash
# Install every Debian 12 package that agentd's build, tests, benchmarks and
# demo need. Idempotent: installs only what is missing. Runs as root, or
# through sudo for a user who has it.
set -euo pipefail

PKGS=(
    # build
    build-essential cmake pkg-config clang clang-format clang-tidy cppcheck
    libclang-rt-14-dev
    # libraries we link
    libtss2-dev libssl-dev libconfig-dev libp11-kit-dev libcmocka-dev libcap-ng-dev
    libjson-c-dev libevent-dev libcurl4-openssl-dev libsqlite3-dev
    # TPM simulator and tools for tests
    swtpm swtpm-tools tpm2-tools
    # real PKCS#11 clients and anchors
    p11-kit opensc gnutls-bin libengine-pkcs11-openssl softhsm2 libtpm2-pkcs11-1
    openssh-client openssl curl python3-pykcs11 python3-cryptography
    # harness utilities (strace: daemon_auditorder.sh watches the audit's syncs)
    iproute2 procps python3 strace
    # systemd-analyze checks the shipped unit (workload_unit.sh)
    systemd
)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

SUDO=
if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || {
        echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    }
    SUDO=sudo
fi
echo "deps.sh: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
