#!/usr/bin/env bash
# The one test command: installs what is missing, builds (normal and ASan+UBSan, plus the
# libFuzzer targets with clang), starts pebble-challtestsrv and redis-server on free loopback
# ports, runs every test with ctest in both builds and each fuzz target for a short bounded
# time, and stops what it started (by pid), whatever happens.
#
# Options (environment):
#   ACMEVA_FUZZ_SECONDS   seconds per fuzz target (default 10; 0 skips the fuzz runs)
#   ACMEVA_BUILDS         which builds to test: "asan normal" (default), or one of them
#   ACMEVA_CTEST_ARGS     extra ctest arguments (e.g. "-R http01")
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${ACMEVA_FUZZ_SECONDS:-10}
builds=${ACMEVA_BUILDS:-"asan normal"}
rundir="$top/.run/tests"
mkdir -p "$rundir"

deploy/install-deps.sh

pids=()
cleanup() {
    # A service that already exited makes kill and wait fail: that must not stop the cleanup.
    set +e
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build() { # build DIR [cmake args...]
    local dir=$1
    shift
    cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.cmake.log" 2>&1 ||
        { cat "$dir.cmake.log"; return 1; }
    cmake --build "$dir" -j "$jobs"
}

mkdir -p "$top/build"
for b in $builds; do
    case $b in
    normal) build "$top/build/normal" ;;
    asan) build "$top/build/asan" -DACMEVA_SANITIZE=ON ;;
    *) echo "run.sh: unknown build '$b'" >&2; exit 2 ;;
    esac
done
if [ "$fuzz_seconds" -gt 0 ]; then
    CC=clang build "$top/build/fuzz" -DACMEVA_FUZZ=ON
fi

# Free loopback ports, each free on 127.0.0.1 and ::1 at the moment of asking.
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
ports = []
for _ in range(1000):
    if len(ports) == int(sys.argv[1]):
        break
    s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s4.bind(("127.0.0.1", 0))
    port = s4.getsockname()[1]
    ok = True
    for fam, host, typ in ((socket.AF_INET6, "::1", socket.SOCK_STREAM),
                           (socket.AF_INET, "127.0.0.1", socket.SOCK_DGRAM),
                           (socket.AF_INET6, "::1", socket.SOCK_DGRAM)):
        try:
            t = socket.socket(fam, typ)
            t.bind((host, port))
            t.close()
        except OSError:
            ok = False
    s4.close()
    if ok and port not in ports:
        ports.append(port)
if len(ports) < int(sys.argv[1]):
    sys.exit("run.sh: no free port on both 127.0.0.1 and ::1 (is IPv6 loopback disabled?)")
print(" ".join(map(str, ports)))
PY
}

wait_tcp() { # wait_tcp PORT: up to 10 s for a listener on 127.0.0.1:PORT
    python3 - "$1" <<'PY'
import socket, sys, time
deadline = time.time() + 10
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

ports=$(free_ports 6) || exit 1
read -r p_http p_https p_alpn p_dns p_mgmt p_redis <<<"$ports"
pebble-challtestsrv \
    -http01 "127.0.0.1:$p_http,[::1]:$p_http" -https01 "127.0.0.1:$p_https,[::1]:$p_https" \
    -tlsalpn01 "127.0.0.1:$p_alpn,[::1]:$p_alpn" -dns01 "127.0.0.1:$p_dns,[::1]:$p_dns" \
    -management "127.0.0.1:$p_mgmt" -defaultIPv4 127.0.0.1 -defaultIPv6 ::1 \
    >"$rundir/challtestsrv.log" 2>&1 &
pids+=($!)
redis-server --port "$p_redis" --bind 127.0.0.1 --save "" --appendonly no \
    >"$rundir/redis.log" 2>&1 &
pids+=($!)
wait_tcp "$p_mgmt" || { cat "$rundir/challtestsrv.log"; echo "challtestsrv did not start" >&2; exit 1; }
wait_tcp "$p_redis" || { cat "$rundir/redis.log"; echo "redis-server did not start" >&2; exit 1; }

export ACMEVA_TEST_CTS_MGMT="http://127.0.0.1:$p_mgmt"
export ACMEVA_TEST_CTS_DNS="127.0.0.1:$p_dns"
export ACMEVA_TEST_CTS_HTTP_PORT=$p_http
export ACMEVA_TEST_CTS_HTTPS_PORT=$p_https
export ACMEVA_TEST_CTS_TLSALPN_PORT=$p_alpn
export ACMEVA_TEST_REDIS_URL="redis://127.0.0.1:$p_redis"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for b in $builds; do
    echo "== ctest: $b build"
    # shellcheck disable=SC2086
    (cd "$top/build/$b" && ctest --output-on-failure -j "$jobs" ${ACMEVA_CTEST_ARGS:-}) || status=1
done

if [ "$fuzz_seconds" -gt 0 ]; then
    echo "== fuzz: ${fuzz_seconds}s per target"
    for f in "$top"/build/fuzz/tests/fuzz_*; do
        [ -x "$f" ] || continue
        name=$(basename "$f")
        short=${name#fuzz_}
        work="$rundir/fuzz-$short"
        rm -rf "$work"
        mkdir -p "$work"
        seeds="$top/tests/fuzz/corpus/$short"
        if "$f" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$work/" "$work" "$seeds" >"$work/log" 2>&1; then
            echo "fuzz $short: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/log" | grep -o '[0-9]*$' || echo '?') runs)"
        else
            echo "fuzz $short: FAILED (log and crash input in $work)"
            tail -40 "$work/log"
            status=1
        fi
    done
fi
exit $status
