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
    exit 0
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
