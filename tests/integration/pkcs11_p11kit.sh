#!/usr/bin/env bash
# p11-kit registration: pkcs11/agentd.module (with the module path made
# absolute for the build tree) in a user's ~/.config/pkcs11/modules makes
# `p11-kit list-modules` show the module and its token, and p11-kit-proxy
# route to it. p11-kit ignores user configuration for root, so the p11-kit
# side runs as nobody (agentd's socket is 0666 in tests).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../harness/lib.sh"
source "$here/lib_agentd.sh"
source "$here/pkcs11_common.sh"

proxy=$(find /usr/lib -name p11-kit-proxy.so 2>/dev/null | head -n1)
[[ -n $proxy ]] || die "p11-kit-proxy.so not found"
command -v setpriv >/dev/null || die "setpriv (util-linux) not found"

pkcs11_start
home=$T/home
mkdir -p "$home/.config/pkcs11/modules" "$home/lib"
# A copy of the module nobody can read, wherever the build tree lives; under
# the sanitizers the clients' suppressions file too.
cp "$P11_MODULE" "$home/lib/"
module=$home/lib/$(basename "$P11_MODULE")
if [[ -n ${P11_ASAN_SUPP:-} ]]; then
    cp "$P11_ASAN_SUPP" "$home/lib/"
    P11_ASAN_SUPP=$home/lib/$(basename "$P11_ASAN_SUPP")
    p11_env_init
fi
sed "s|^module: .*|module: $module|" "$here/../../pkcs11/agentd.module" \
    >"$home/.config/pkcs11/modules/agentd.module"
grep -q "^critical: no$" "$home/.config/pkcs11/modules/agentd.module" || die "agentd.module"
chmod -R a+rX "$home"

as_nobody() {
    setpriv --reuid=65534 --regid=65534 --clear-groups "${P11_ENV[@]}" \
        env HOME="$home" AGENTD_SOCKET="$AGENTD_SOCKET" "$@"
}

out=$(as_nobody p11-kit list-modules 2>&1) || die "p11-kit list-modules: $out"
grep -A12 "^agentd: " <<<"$out" | grep -q "token: agentd" ||
    die "p11-kit list-modules does not show the agentd module and token: $out"

out=$(as_nobody pkcs11-tool --module "$proxy" --list-token-slots 2>&1) ||
    die "pkcs11-tool through p11-kit-proxy: $out"
grep -q "token label *: agentd" <<<"$out" || die "p11-kit-proxy does not route to agentd: $out"

pkcs11_stop
echo PASS
