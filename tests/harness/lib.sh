# shellcheck shell=bash
# Test harness: each test gets its own swtpm (and later agentd, agentd-ca) on
# free loopback ports in a private temporary directory, stopped by the PID it
# started, never by name. Source this file, then call harness_init.
#
#   harness_init            make $T (temp dir) and install the cleanup trap
#                           (harness_exit: stops what harness_track knows, then
#                           fails a test that left any other process naming $T)
#   swtpm_start [--no-ek]   start a TPM 2.0 simulator; sets SWTPM_PID, SWTPM_PORT,
#                           SWTPM_TCTI (swtpm:host=127.0.0.1,port=N), SWTPM_EK_CA
#                           (test vendor root PEM), SWTPM_EK_ISSUER (its issuer)
#                           (the mssim TCTI cannot drive swtpm 0.7: its control
#                           port does not speak the simulator platform protocol)
#   swtpm_restart           stop and start the same simulator state (a TPM reboot)
#   harness_track PID       stop PID at exit too
#   free_port               print a loopback TCP port nobody listens on
#   flip_byte FILE OFFSET   invert every bit of one byte in place (a sure change)
#   die MSG                 print and exit 1
set -o pipefail

HARNESS_PIDS=()

die() {
    echo "FAIL: $*" >&2
    exit 1
}

# PIDs of processes (not this shell) whose command line names $T: started by
# this test, since nobody else knows its private directory. Builtins only.
harness_leftovers() {
    local f pid arg
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        while IFS= read -r -d '' arg; do
            if [[ $arg == *"$T"* ]]; then
                echo "$pid"
                break
            fi
        done <"$f" 2>/dev/null
    done
}

# A process the test started but did not track (harness_track) would outlive
# it: give self-ending ones 2 s, then report them, stop them by PID and fail.
harness_check_leftovers() {
    local pids=() pid
    for _ in $(seq 1 40); do
        mapfile -t pids < <(harness_leftovers)
        ((${#pids[@]} == 0)) && return 0
        sleep 0.05
    done
    for pid in "${pids[@]}"; do
        echo "FAIL: left running by the test: $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
        kill -9 "$pid" 2>/dev/null || true
    done
    return 1
}

# Stop what the test tracked, then look for what it did not; remove $T.
# Returns 1 when something was left running (it is stopped too).
harness_cleanup() {
    local pid rc=0
    for pid in "${HARNESS_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${HARNESS_PIDS[@]}"; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [[ -n ${T:-} && -d $T ]] && ! harness_check_leftovers; then
        rc=1
    fi
    if [[ -n ${T:-} && -d $T && ${HARNESS_KEEP:-0} != 1 ]]; then
        rm -rf "$T"
    fi
    return "$rc"
}

# The EXIT trap: a test that passed but left a process running fails.
harness_exit() {
    local rc=$?
    if ! harness_cleanup && ((rc == 0)); then
        rc=1
    fi
    exit "$rc"
}

harness_init() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/agentd-test.XXXXXX")
    chmod 0755 "$T" # tests may run helpers as other uids
    trap harness_exit EXIT
    trap 'exit 130' INT TERM
}

harness_track() {
    HARNESS_PIDS+=("$1")
}

# Overwriting a byte with a fixed character leaves the file as it was when
# the byte already held that character (1 time in 256 for random data): a
# "tampered data must not verify" check then fails for nothing. Invert it.
flip_byte() { # FILE OFFSET
    local v
    v=$(od -An -tu1 -j "$2" -N1 "$1" 2>/dev/null | tr -d ' ')
    [[ -n $v ]] || die "flip_byte: $1 has no byte at offset $2"
    # shellcheck disable=SC2059 # the format is the octal escape itself
    printf "\\$(printf '%03o' $((v ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

port_busy() {
    [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
}

# Any TCP socket on the port, TIME-WAIT included: the swtpm TCTI leaves one per
# command, and a server without SO_REUSEADDR cannot bind over them.
port_used() {
    [[ -n $(ss -Htan "sport = :$1" 2>/dev/null) ]]
}

# Two consecutive free ports (swtpm needs PORT and PORT+1), picked at random in
# the ephemeral range so parallel tests rarely collide; swtpm itself refuses a
# port that became busy, and swtpm_start retries.
# Ports come from below the kernel's ephemeral range: an outgoing connection
# (every swtpm TCTI command makes one, and leaves it in TIME-WAIT) never
# takes them, so a server can bind its port again (swtpm_restart_same_port).
free_port_pair() {
    local p low
    low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    ((low > 12000)) || low=32768
    for _ in $(seq 1 200); do
        p=$((10000 + RANDOM % (low - 10002)))
        if ! port_used "$p" && ! port_used $((p + 1)); then
            echo "$p"
            return 0
        fi
    done
    return 1
}

free_port() {
    free_port_pair
}

# Manufacture a TPM state once per test: EK key pairs plus an RSA-2048 EK
# certificate (NV 0x01c00002) and ECC P-384 EK certificate (NV 0x01c00016)
# signed by a private "vendor" CA in $T/swtpm/ca.
swtpm_manufacture() {
    local st=$T/swtpm ek=${1:-1}
    mkdir -p "$st/tpm" "$st/ca" "$st/ekcerts"
    cat >"$st/ca/swtpm-localca.conf" <<EOC
statedir = $st/ca
signingkey = $st/ca/signkey.pem
issuercert = $st/ca/issuercert.pem
certserial = $st/ca/certserial
EOC
    cat >"$st/ca/swtpm_setup.conf" <<EOC
create_certs_tool = /usr/bin/swtpm_localca
create_certs_tool_config = $st/ca/swtpm-localca.conf
create_certs_tool_options = /etc/swtpm-localca.options
active_pcr_banks = sha256
EOC
    local args=(--tpm2 --tpmstate "$st/tpm" --config "$st/ca/swtpm_setup.conf"
        --pcr-banks sha256 --overwrite --logfile "$st/swtpm_setup.log")
    if [[ $ek == 1 ]]; then
        args+=(--create-ek-cert --create-platform-cert --write-ek-cert-files "$st/ekcerts")
    else
        args+=(--createek)
    fi
    swtpm_setup "${args[@]}" >/dev/null 2>&1 || {
        cat "$st/swtpm_setup.log" >&2
        die "swtpm_setup failed"
    }
}

# Run swtpm as a daemon on PORT (control on PORT+1) over $T/swtpm's state.
swtpm_daemon() { # PORT
    local st=$T/swtpm
    rm -f "$st/swtpm.pid"
    swtpm socket --tpm2 \
        --server type=tcp,port="$1",bindaddr=127.0.0.1 \
        --ctrl type=tcp,port=$(($1 + 1)),bindaddr=127.0.0.1 \
        --tpmstate dir="$st/tpm" \
        --flags not-need-init,startup-clear \
        --log file="$st/swtpm.log",level=1 \
        --pid file="$st/swtpm.pid" \
        --daemon 2>>"$st/swtpm.err"
}

# Track the swtpm just started on PORT, export SWTPM_*, wait until it answers.
swtpm_adopt() { # PORT
    local st=$T/swtpm
    for _ in $(seq 1 100); do
        [[ -s $st/swtpm.pid ]] && break
        sleep 0.02
    done
    SWTPM_PID=$(cat "$st/swtpm.pid")
    harness_track "$SWTPM_PID"
    SWTPM_PORT=$1
    SWTPM_TCTI="swtpm:host=127.0.0.1,port=$1"
    export SWTPM_PID SWTPM_PORT SWTPM_TCTI
    for _ in $(seq 1 100); do
        tpm2_getcap -T "$SWTPM_TCTI" properties-fixed >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    die "swtpm on port $1 did not answer (see $st/swtpm.log)"
}

swtpm_launch() {
    local port
    for _ in $(seq 1 10); do
        port=$(free_port_pair) || die "no free port pair"
        if swtpm_daemon "$port"; then
            swtpm_adopt "$port"
            return 0
        fi
    done
    die "could not start swtpm (see $T/swtpm/swtpm.err)"
}

swtpm_start() {
    local ek=1
    [[ ${1:-} == --no-ek ]] && ek=0
    [[ -n ${T:-} ]] || harness_init
    swtpm_manufacture "$ek"
    SWTPM_EK_CA=$T/swtpm/ca/swtpm-localca-rootca-cert.pem
    SWTPM_EK_ISSUER=$T/swtpm/ca/issuercert.pem
    export SWTPM_EK_CA SWTPM_EK_ISSUER
    swtpm_launch
}

swtpm_stop() {
    [[ -n ${SWTPM_PID:-} ]] || return 0
    kill "$SWTPM_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$SWTPM_PID" 2>/dev/null || break
        sleep 0.02
    done
    kill -9 "$SWTPM_PID" 2>/dev/null || true
    SWTPM_PID=
}

# A TPM reboot: the state survives, transient objects and sessions do not.
# The port changes (the old one may linger in TIME_WAIT); callers re-read
# SWTPM_TCTI, or use swtpm_restart_same_port.
swtpm_restart() {
    swtpm_stop
    swtpm_launch
}

# Restart on the same port, as a TPM that reboots under a running daemon.
swtpm_restart_same_port() {
    local port=$SWTPM_PORT attempt
    swtpm_stop
    for _ in $(seq 1 100); do
        port_busy "$port" || port_busy $((port + 1)) || break
        sleep 0.05
    done
    # The old server's sockets may hold the port a moment longer: retry briefly.
    for attempt in $(seq 1 20); do
        swtpm_daemon "$port" && break
        ((attempt < 20)) ||
            die "swtpm restart on port $port failed: $(tail -n 2 "$T/swtpm/swtpm.err")"
        sleep 0.25
    done
    swtpm_adopt "$port"
}
