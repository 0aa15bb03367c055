#!/usr/bin/env bash
# SIGHUP reloads the config without dropping an open connection: a new entry
# becomes usable, a removed one is refused; a bad config keeps the old one.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/daemon_common.sh"

harness_init
swtpm_start --no-ek
agentd_write_conf <<EOW
{ name = "old"; spiffe_id = "spiffe://test/old"; selectors = { uid = $(id -u); };
  keys = ( { name = "k-old"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); }
EOW
agentd_start

session_open

r=$(session_say "whoami")
[[ $r == *"entry=old"* ]] || die "whoami before reload: $r"
r=$(session_say "sign k-old ECDSA_SHA256")
[[ $r == "ok"* ]] || die "sign before reload: $r"

# New config: "old" removed, "new" (more specific: uid + exe) added.
agentd_write_conf <<EOW
{ name = "new"; spiffe_id = "spiffe://test/new";
  selectors = { uid = $(id -u); exe = "$(readlink -f "$DAEMON_CLIENT")"; };
  keys = ( { name = "k-new"; type = "ec-p256"; mechanisms = [ "ECDSA_SHA256" ]; } ); }
EOW
agentd_hup
for _ in $(seq 1 100); do
    grep -q "reload:" "$T/agentd.log" && break
    sleep 0.05
done
r=$(session_say "whoami")
[[ $r == *"entry=new"* ]] || die "whoami after reload: $r"
r=$(session_say "sign k-new ECDSA_SHA256")
[[ $r == "ok"* ]] || die "new entry not usable on the same connection: $r"
r=$(session_say "sign k-old ECDSA_SHA256")
[[ $r == "status="* ]] || die "removed entry's key still signs: $r"
echo "ok: reload applied on an open connection ($r)"

# A bad config keeps the old one.
cp "$AGENTD_CONF" "$T/good.conf"
echo "this is not libconfig {" >>"$AGENTD_CONF"
agentd_hup
for _ in $(seq 1 100); do
    grep -q "keeping the old config" "$T/agentd.log" && break
    sleep 0.05
done
grep -q "keeping the old config" "$T/agentd.log" || die "bad config not reported"
r=$(session_say "sign k-new ECDSA_SHA256")
[[ $r == "ok"* ]] || die "sign after a bad reload: $r"
echo "ok: bad config kept the old one"

session_close || die "session client failed: $(cat "$T/session.out")"
grep -q "closed" "$T/session.out" && die "connection was dropped: $(cat "$T/session.out")"
kill -0 "$AGENTD_PID" || die "agentd died"
agentd_stop
[[ $AGENTD_RC == 0 ]] || die "agentd exit status $AGENTD_RC"
audit_verify_ok
echo PASS
