#!/bin/sh
# Install every Debian 12 package openclaw needs to build, test and demo.
# Idempotent: packages already present are left alone. Needs root.
set -eu

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

# The Azure SDK for the managed-identity endpoint test (tests/node): the
# exact versions of package-lock.json, from the npm registry. Needs Node.js
# 20 and npm (not Debian 12's nodejs 18).
top=$(cd "$(dirname "$0")/.." && pwd)
lock="$top/tests/node/package-lock.json"
stamp="$top/tests/node/node_modules/.package-lock.json"
if ! command -v npm >/dev/null 2>&1; then
    echo "install-deps: npm not found: install Node.js 20 and npm for tests/node" >&2
    exit 1
elif [ -f "$stamp" ] && [ "$stamp" -nt "$lock" ]; then
    echo "install-deps: tests/node modules present"
else
    echo "install-deps: npm ci in tests/node"
    (cd "$top/tests/node" && npm ci --no-audit --no-fund)
fi
