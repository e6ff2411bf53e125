#!/bin/sh
# Install every Debian 12 package openclaw needs to build, test and demo.
# Idempotent: packages already present are left alone. Needs root.
#
#   --bench  also install the peers `make bench` measures against: SSSD
#            (sssd-common: the daemon; sssd-proxy: the provider of the
#            benchmark's domain; ldb-tools: ldbadd, which preloads its cache
#            database; libnss-sss: the NSS client with its memory cache).
#            Their maintainer scripts
#            would configure this host for SSSD; see bench_peers below for
#            what is undone. The benchmark runs sssd only inside a private
#            mount namespace with its own config.
set -eu

bench=no
for arg in "$@"; do
    case $arg in
    --bench) bench=yes ;;
    *)
        echo "install-deps: unknown option $arg (known: --bench)" >&2
        exit 2
        ;;
    esac
done

# systemd: tests/integration/ctl-audit-journal.sh starts its own
# systemd-journald in a private namespace and reads it with journalctl (a
# fresh container image has neither; installing the package starts no
# service where systemd is not init). tzdata: that test's non-UTC time zone.
# azure-cli (2.45) and python3-azure (azure.identity 1.13): the real Azure
# clients tests/integration/helper-mi-clients.sh runs, unmodified, against
# the managed-identity endpoint at IMDS's own address (az login --identity,
# ManagedIdentityCredential, DefaultAzureCredential); test-only, about
# 19 MB to download and 670 MB installed with their dependencies
# (python3-azure is the whole SDK), none of which openclaw itself uses.
PKGS="
build-essential autoconf automake libtool pkg-config make gcc clang
libclang-rt-14-dev llvm
libpam0g-dev libcurl4-openssl-dev libcjson-dev libsecret-1-dev
libtss2-dev libtss2-tcti-swtpm0 libssl-dev libcmocka-dev libcrypt-dev
swtpm swtpm-tools tpm2-tools
libpam-wrapper libnss-wrapper libuid-wrapper libsocket-wrapper
pamtester valgrind
openssh-server openssh-client sudo util-linux iproute2 curl ca-certificates
python3 python3-pytest python3-jwt python3-cryptography
openssl clang-format
dbus gnome-keyring libsecret-tools
debhelper lintian fakeroot dpkg-dev
systemd tzdata
azure-cli python3-azure
"

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: run as root (it calls apt-get install)" >&2
    exit 2
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
else
    echo "install-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

# The Azure SDK for the managed-identity endpoint test and the demo
# (tests/node): the exact versions of package-lock.json, from the npm
# registry, run by Debian 12's own nodejs (18.20) and npm (9.2), which are
# installed from the archive only where there is no node or no npm: a newer
# Node.js installed otherwise (with its own npm) is left as it is and used.
# The lockfile holds only packages that declare Node 18.20 in their engines
# (docs/testing.md, "Node.js and the Azure SDK").
top=$(cd "$(dirname "$0")/.." && pwd)

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# SSSD for bench/nss. Installing it changes the host in ways a benchmark
# peer must not:
#   * libnss-sss's postinst appends "sss" to passwd, group, shadow,
#     netgroup, services and automount in /etc/nsswitch.conf (and adds an
#     "automount:" line) -- restored byte for byte from a copy taken before;
#   * libpam-sss and libpam-pwquality (dependencies of sssd-common) run
#     pam-auth-update, which adds pam_sss and pam_pwquality to
#     /etc/pam.d/common-* -- both profiles are removed again with
#     pam-auth-update --remove;
#   * sssd-common enables sssd.service and its responder sockets under
#     systemd -- disabled and stopped again.
# Each step is undone only for packages this run installed, never for an
# SSSD the admin had set up already. sssd-common also creates the system
# user "sssd" (left in place; removing the package does not remove it).
bench_peers() {
    new=""
    for p in sssd-common sssd-proxy ldb-tools libnss-sss; do
        installed "$p" || new="$new $p"
    done
    if [ -z "$new" ]; then
        echo "install-deps: benchmark peers present (sssd-common sssd-proxy ldb-tools libnss-sss)"
        return 0
    fi
    pam_new=""
    for p in libpam-sss:sss libpam-pwquality:pwquality; do
        installed "${p%%:*}" || pam_new="$pam_new ${p#*:}"
    done
    nss_copy=$(mktemp /tmp/install-deps-nsswitch.XXXXXX)
    cp -p /etc/nsswitch.conf "$nss_copy"
    echo "install-deps: installing benchmark peers:$new"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    if ! apt-get install -y -q --no-install-recommends $new; then
        echo "install-deps: apt-get install failed; check /etc/nsswitch.conf against $nss_copy" >&2
        return 1
    fi
    if ! cmp -s "$nss_copy" /etc/nsswitch.conf; then
        cat "$nss_copy" >/etc/nsswitch.conf
        echo "install-deps: restored /etc/nsswitch.conf (libnss-sss had added sss)"
    fi
    rm -f "$nss_copy"
    if [ -n "$pam_new" ] && command -v pam-auth-update >/dev/null 2>&1; then
        # shellcheck disable=SC2086
        pam-auth-update --package --remove $pam_new
        echo "install-deps: removed the PAM profiles:$pam_new (pam-auth-update)"
    fi
    case $new in
    *sssd-common*)
        # systemctl disable works without a running systemd too (it edits
        # the unit links and the SysV links); --now only under systemd.
        units="sssd.service sssd-autofs.socket sssd-nss.socket sssd-pam.socket
            sssd-pam-priv.socket sssd-ssh.socket sssd-sudo.socket"
        if command -v systemctl >/dev/null 2>&1; then
            now=""
            [ -d /run/systemd/system ] && now="--now"
            # shellcheck disable=SC2086
            systemctl disable $now $units >/dev/null 2>&1 || true
            echo "install-deps: disabled sssd.service and its sockets (systemctl disable $now)"
        elif command -v update-rc.d >/dev/null 2>&1 && [ -x /etc/init.d/sssd ]; then
            update-rc.d sssd disable >/dev/null 2>&1 || true
            echo "install-deps: disabled the sssd init script (update-rc.d)"
        fi
        ;;
    esac
}

if [ "$bench" = yes ]; then
    bench_peers
fi
lock="$top/tests/node/package-lock.json"
stamp="$top/tests/node/node_modules/.package-lock.json"
node_pkgs=""
command -v node >/dev/null 2>&1 || node_pkgs="nodejs"
command -v npm >/dev/null 2>&1 || node_pkgs="$node_pkgs npm"
if [ -n "$node_pkgs" ]; then
    echo "install-deps: no node or no npm: installing Debian's$(printf ' %s' $node_pkgs)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $node_pkgs
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install-deps: node or npm still missing after apt-get install nodejs npm" >&2
    exit 1
fi
echo "install-deps: node $(node --version), npm $(npm --version)"
if [ -f "$stamp" ] && [ "$stamp" -nt "$lock" ]; then
    echo "install-deps: tests/node modules present"
else
    echo "install-deps: npm ci in tests/node"
    (cd "$top/tests/node" && npm ci --no-audit --no-fund)
fi
