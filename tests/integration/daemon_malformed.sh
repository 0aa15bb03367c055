#!/usr/bin/env bash
# Malformed frames each get an ERROR reply or a close, only that connection
# is closed, and the daemon keeps serving another client meanwhile.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"

harness_init
swtpm_start --no-ek
daemon_default_conf
agentd_start

dc sign ec ECDSA_SHA256 3 >/dev/null || die "baseline sign failed"

# A client that sends half a frame and stalls must not stall anyone else.
# It reports afterwards whether the daemon kept it open (the idle timeout
# here is 60 s), however long the cases below take on a slow machine.
dc stall 5 >"$T/stall.out" &
stall_pid=$!
sleep 0.3
t0=$(date +%s%N)
dc sign ec ECDSA_SHA256 20 >/dev/null || die "sign while another client stalls failed"
t1=$(date +%s%N)
(((t1 - t0) / 1000000 < 4000)) || die "signing waited for the stalled client"

# Each case: raw bytes (hex), what must happen. "error" = an ERROR reply
# (addressed to the frame's type and id) then a close; "close" = a close
# with or without an ERROR reply. An ERROR reply needs a header we can trust:
# only an unknown type with a valid length and version gets one.
# "close-eof": the client half-closes after sending (a truncated frame can
# only end that way, or by the idle timeout).
check() {
    local name=$1 hex=$2 want=$3 out mode=raw
    [[ $want == close-eof ]] && mode=raw-eof
    out=$(dc "$mode" "$hex") || die "$name: client failed: $out"
    case $want in
    error) [[ $out == "reply status="*" closed" ]] || die "$name: want ERROR reply and close, got: $out" ;;
    close | close-eof) [[ $out == *closed ]] || die "$name: want close, got: $out" ;;
    esac
    # Another client is served right after.
    dc sign ec ECDSA_SHA256 1 >/dev/null || die "$name: daemon stopped serving"
    echo "ok: $name -> $out"
}
# truncated header (4 of 10 bytes), then EOF
check truncated-header "00000006" close-eof
# length over FRAME_MAX (256 KiB): refused from the 4 length bytes alone
check over-frame-max "0004000101020000000100" close
# length below the header minimum
check length-too-small "0000000201 02" close-eof
# a length below the header minimum with a full header
check length-below-header "0000000201020000000b" close
# unknown type 0x7e, version 1
check unknown-type "00000006017e00000007" error
# unknown version 9, type WHOAMI: nothing after the version is trusted
check unknown-version "00000006090200000008" close
# garbage
check garbage "deadbeefcafebabe0123456789abcdeffedcba9876543210" close
# a reply type (0x82) sent as a request
check reply-type "00000006018200000009" error
# a well-framed WHOAMI with trailing body bytes: BAD_REQUEST, connection kept
out=$(dc raw "0000000801020000000aabcd") || die "trailing: $out"
[[ $out == "reply status=2 open" ]] || die "trailing body: want BAD_REQUEST and an open connection, got: $out"

wait "$stall_pid" || die "the stalled client failed"
[[ $(cat "$T/stall.out") == open ]] ||
    die "the stalled client was not left waiting: $(cat "$T/stall.out")"
kill -0 "$AGENTD_PID" || die "agentd died"
dc sign ec ECDSA_SHA256 5 >/dev/null || die "final sign failed"
agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
audit_verify_ok
echo PASS
