#!/usr/bin/env bash
# Installs what acmeva needs to build and test on Debian 12, with apt-get, and only what is
# missing (idempotent). Usage: deploy/install-deps.sh [--build-only]
#   --build-only  the build dependencies only (no redis-server, pebble, clang, python3,
#                 prometheus (its promtool checks the metrics and the alert rules), and none
#                 of the DNSSEC test parts: unbound, nsd, ldnsutils)
set -euo pipefail

build_pkgs=(cmake make gcc pkg-config libuv1-dev libc-ares-dev libhiredis-dev libjansson-dev
            android-libboringssl-dev libhttp-parser-dev)
# unbound, nsd and ldnsutils: the DNSSEC tests sign zones (ldns-signzone), serve them (nsd) and
# validate them (unbound) on loopback; unbound-checkconf checks deploy/unbound/unbound.conf
# against the root trust anchor of dns-root-data (a Recommends of unbound). python3-seccomp:
# the systemd units' syscall filter is applied to the daemons with libseccomp, as systemd would.
# python3-yaml: the Kubernetes manifests are parsed and checked offline.
# openssl and python3-cryptography: the TLS tests make certificates and check signatures.
test_pkgs=(redis-server pebble python3 python3-cryptography clang libclang-rt-14-dev openssl
           prometheus unbound dns-root-data nsd ldnsutils python3-seccomp python3-yaml)

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
# The tests start their own servers on free loopback ports. On a machine run by systemd the
# unbound and nsd packages also start system-wide services on port 53 (which clash): stop and
# disable those this script has just installed, and leave alone any that were there before.
if [ -d /run/systemd/system ]; then
    for p in "${missing[@]}"; do
        case $p in
        unbound | nsd) $SUDO systemctl disable --now "$p.service" >/dev/null 2>&1 || true ;;
        esac
    done
fi
echo "install-deps: done"
