# shellcheck shell=bash
# Shared set-up for the workload_*.sh identity tests: sourced after
# harness/lib.sh and lib_agentd.sh. Needs AGENTD_BIN, ADCLIENT (adclient)
# and AGENTCTL (agentctl). Runs as root: other uids are taken with setpriv,
# without creating users.
: "${ADCLIENT:?ADCLIENT not set}"
: "${AGENTCTL:?AGENTCTL not set}"

# adclient exit codes (tests/integration/adclient.c), used by the tests.
# shellcheck disable=SC2034
RC_OK=0 RC_DENIED=3 RC_CLOSED=5

workload_need_root() {
    if [[ $(id -u) != 0 ]]; then
        echo "SKIP: needs root (setpriv to other uids, reading their /proc)"
        exit 77
    fi
}

# Copy adclient to $T/bin/NAME (world-readable, executable), optionally with
# one extra byte so that its SHA-256 differs. Prints the path.
workload_copy_client() {
    local name=$1 extra=${2:-}
    mkdir -p "$T/bin"
    chmod 0755 "$T/bin"
    cp "$ADCLIENT" "$T/bin/$name.tmp"
    if [[ -n $extra ]]; then
        printf '%s' "$extra" >>"$T/bin/$name.tmp"
    fi
    chmod 0755 "$T/bin/$name.tmp"
    mv -f "$T/bin/$name.tmp" "$T/bin/$name"
    echo "$T/bin/$name"
}

sha256_of() {
    sha256sum "$1" | cut -d' ' -f1
}

# Run a command as uid:gid N without supplementary groups.
as_uid() {
    local u=$1
    shift
    setpriv --reuid="$u" --regid="$u" --clear-groups "$@"
}

# expect_rc WANT LABEL CMD...: run CMD, fail unless its exit status is WANT.
expect_rc() {
    local want=$1 label=$2 rc=0
    shift 2
    "$@" >"$T/last.out" 2>"$T/last.err" || rc=$?
    if [[ $rc != "$want" ]]; then
        echo "--- stdout" >&2
        cat "$T/last.out" >&2
        echo "--- stderr" >&2
        cat "$T/last.err" >&2
        agentd_log
        die "$label: exit status $rc, expected $want"
    fi
    echo "ok: $label (exit $rc)"
}

# audit_count JQ_FILTER: number of audit records for which the filter is true.
audit_count() {
    jq -c "select($1)" "$AGENTD_AUDIT" | wc -l
}

# audit_expect JQ_FILTER LABEL: at least one audit record matches.
audit_expect() {
    local n
    n=$(audit_count "$1")
    if ((n < 1)); then
        echo "--- audit log" >&2
        cat "$AGENTD_AUDIT" >&2
        die "audit: no record for $2 ($1)"
    fi
    echo "ok: audit records $2 ($n)"
}

workload_audit_verify() {
    "$AGENTCTL" audit verify "$AGENTD_AUDIT" || {
        agentd_log
        die "audit chain does not verify"
    }
}

# A file of data to sign.
workload_data() {
    head -c 100 /dev/urandom >"$T/data.bin"
    chmod 0644 "$T/data.bin"
    mkdir -p "$T/out"
    chmod 0777 "$T/out"
}

# Stop agentd and require a clean exit (a sanitizer report makes it non-zero).
workload_stop() {
    agentd_stop
    [[ $AGENTD_RC == 0 ]] || {
        agentd_log
        die "agentd exit status $AGENTD_RC"
    }
}
