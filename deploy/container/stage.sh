#!/usr/bin/env bash
# The build stage of deploy/container/Containerfile, as a script, so that the same commands
# run in the image build and in tests/deploy/test_container.py (on Debian 12, like the image).
#
#   stage.sh build SRC BUILD [BORINGSSL_ROOT]
#       configure and build acmeva, acmeva-worker and acmeva-coordinator (Release, no tests)
#       from SRC in BUILD. With BORINGSSL_ROOT (an upstream BoringSSL install prefix: include/,
#       lib/), link against it (-DBORINGSSL_ROOT); else Debian's android-libboringssl-dev.
#       Also builds acmeva-healthcheck (deploy/container/healthcheck.c, static).
#   stage.sh configure SRC BUILD [BORINGSSL_ROOT]
#       the configure step of build only.
#   stage.sh collect BUILD ROOTFS
#       the runtime image's whole file tree in ROOTFS: the binaries in /usr/local/bin, every
#       library ldd finds for them (the dynamic loader included) at the same path, the CA
#       bundle (for rediss:// without --redis-ca), and passwd/group entries for the user the
#       image runs as (acmeva, 10001). Nothing else: no shell, no package manager.
set -euo pipefail

BINARIES=(acmeva acmeva-worker acmeva-coordinator)
RUN_UID=10001

configure() {
    local src=$1 build=$2 bssl=${3:-}
    local args=(-DCMAKE_BUILD_TYPE=Release -DACMEVA_TESTS=OFF)
    [ -n "$bssl" ] && args+=("-DBORINGSSL_ROOT=$bssl")
    # Upstream libssl is C++ inside and, since 2024, needs the C++ runtime when it is linked
    # statically (as an upstream build installs it); the binaries stay C.
    if [ -n "$bssl" ] && [ -e "$bssl/lib/libssl.a" ]; then
        args+=("-DCMAKE_C_STANDARD_LIBRARIES=-lstdc++")
    fi
    cmake -S "$src" -B "$build" "${args[@]}"
}

build() {
    local src=$1 build=$2
    configure "$@"
    cmake --build "$build" -j "$(nproc)" --target "${BINARIES[@]}"
    # The HEALTHCHECK program: static, so it needs nothing from the image but itself.
    cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -static \
        -o "$build/acmeva-healthcheck" "$src/deploy/container/healthcheck.c"
}

collect() {
    local build=$1 root=$2 bin lib
    mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp"
    chmod 1777 "$root/tmp"
    for bin in "${BINARIES[@]}" acmeva-healthcheck; do
        install -m 0755 "$build/$bin" "$root/usr/local/bin/$bin"
    done
    # Every shared object the dynamic binaries load, resolved the way the loader will resolve
    # it in the image (the same paths; BoringSSL's through the binaries' rpath).
    for bin in "${BINARIES[@]}"; do
        ldd "$build/$bin" | awk '/=> \// {print $3} /^\t\// {print $1}'
    done | sort -u | while read -r lib; do
        cp -L --parents "$lib" "$root/"
    done
    cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    printf 'root:x:0:0:root:/root:/sbin/nologin\n' >"$root/etc/passwd"
    printf 'acmeva:x:%d:%d:acmeva:/nonexistent:/sbin/nologin\n' "$RUN_UID" "$RUN_UID" \
        >>"$root/etc/passwd"
    printf 'root:x:0:\nacmeva:x:%d:\n' "$RUN_UID" >"$root/etc/group"
    # glibc's defaults, written down: names from /etc/hosts, then DNS (the Redis host name).
    printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

case ${1:-} in
build) shift; build "$@" ;;
configure) shift; configure "$@" ;;
collect) shift; collect "$@" ;;
*)
    echo "usage: stage.sh build|configure SRC BUILD [BORINGSSL_ROOT] | collect BUILD ROOTFS" >&2
    exit 2
    ;;
esac
