#!/usr/bin/env bash
# Installs what acmeva needs to build and test on Debian 12, with apt-get, and only what is
# missing (idempotent). Usage: deploy/install-deps.sh [--build-only]
#   --build-only  the build dependencies only (no redis-server, pebble, clang, python3,
#                 prometheus: its promtool checks the metrics and the alert rules)
set -euo pipefail

build_pkgs=(cmake make gcc pkg-config libuv1-dev libc-ares-dev libhiredis-dev libjansson-dev
            android-libboringssl-dev libhttp-parser-dev)
test_pkgs=(redis-server pebble python3 python3-cryptography clang libclang-rt-14-dev openssl
           prometheus)

pkgs=("${build_pkgs[@]}")
[ "${1:-}" = "--build-only" ] || pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done
# python3 may come from elsewhere than Debian (pyenv); any python3 on PATH will do.
if command -v python3 >/dev/null 2>&1; then
    missing=("${missing[@]/python3}")
fi
read -r -a missing <<<"${missing[*]}"

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: everything is installed"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "install-deps: not root and no sudo: install ${missing[*]} by hand" >&2
        exit 1
    fi
else
    SUDO=
fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
