#!/usr/bin/env bash
# bench/compare.sh: measures, in one run on this machine, the limits of the load generators
# against acmeva-responder and the same work done as validations through acmeva:
#   http-01      wrk -t1 -H 'Connection: close' on the http-01 port (the new-connection limit)
#   dns-01       dnsperf -c1 -T1 on the DNS port (the DNS limit)
#   tls-alpn-01  wrk -t1 over https with Connection: close on the TLS port (the handshake limit)
#   e2e-http-01  acmeva through Redis and one acmeva-worker, against the http-01 limit and
#                against acmeva-bench in process at the same concurrency (256)
#   e2e-dns-01   the same for dns-01
#   e2e-ops      the same, with the metrics endpoint and the audit log on, against off
#   mpic         multi-perspective corroboration (acmeva-coordinator, a primary and 5 remotes)
#                against one perspective, through the same Redis (bench/mpic-e2e.sh)
# The responder gets one core and the load generator (wrk, dnsperf or acmeva) the other,
# with taskset. Then a scale run (a tarpit holding as many http-01 validations in flight as
# the descriptor limit allows, each with a 5 s deadline; then as many held in the DNS stage,
# two lookup sockets each) and a check of the failure modes.
# Prints tables, writes bench/results/ (rates.dat, rates.png, runs.ndjson, summary.txt) and
# ends with one line per workload: ratio <workload> <acmeva per s> <limit per s> <ratio>; one
# line cpu <workload> <us per validation> (acmeva-bench in process, with the codec, at its best
# concurrency) for http-01, dns-01 and tls-alpn-01; for http-01 and dns-01 through Redis,
# ratio e2e-vs-inproc-<workload> <e2e per s> <in process per s> <ratio>; and for MPIC:
# ratio mpic-cpu <MPIC us> <single us> <ratio> (all processes' CPU per validation),
# ratio mpic-rate, and mpic added-latency p50 <ms> p99 <ms>.
#
# Environment: BUILD (build directory, default build/bench in the repository), OUT (default
# bench/results), DUR (seconds per measurement, default 3), CONCS (default "1 4 16 64 256"),
# SCALE_N (default 50000; both scale runs are capped by RLIMIT_NOFILE),
# SKIP_BUILD=1, OPS_ONLY=1 (only the e2e-ops stage; OUT then defaults to bench/results/ops),
# OPS_PAIRS (default 3), OPS_AUDIT_SYNC (on|off, default on), MPIC_ONLY=1 (only the MPIC stage;
# OUT then defaults to bench/results/mpic), MPIC_ROUNDS (default 3), E2E_ONLY=1 (only the
# e2e-http-01 and e2e-dns-01 stages and the in-process points they are divided by, in under a
# minute; OUT then defaults to bench/results/e2e), E2E_ROUNDS (default 1: rounds of each e2e
# stage with its in-process point, alternating; the ratio lines give the round of the median
# ratio).
# Loopback only; every wait is bounded; under 5 minutes on 2 cores.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${BUILD:-$ROOT/build/bench}
if [ "${OPS_ONLY:-0}" = 1 ]; then
    OUT=${OUT:-$HERE/results/ops}
elif [ "${MPIC_ONLY:-0}" = 1 ]; then
    OUT=${OUT:-$HERE/results/mpic}
elif [ "${E2E_ONLY:-0}" = 1 ]; then
    OUT=${OUT:-$HERE/results/e2e}
else
    OUT=${OUT:-$HERE/results}
fi
DUR=${DUR:-3}
CONCS=${CONCS:-"1 4 16 64 256"}
SCALE_N=${SCALE_N:-50000}
SCALE_DEADLINE_MS=5000
TOKEN=0123456789abcdef0123456789abcdef

log() { printf '%s\n' "$*" | tee -a "$OUT/summary.txt" >&2; }
fail() { log "compare.sh: $*"; exit 1; }

# ---- tools --------------------------------------------------------------------------------
need_pkgs=()
command -v wrk >/dev/null || need_pkgs+=(wrk)
command -v dnsperf >/dev/null || need_pkgs+=(dnsperf)
command -v gnuplot >/dev/null || need_pkgs+=(gnuplot-nox)
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v taskset >/dev/null || need_pkgs+=(util-linux)
command -v redis-cli >/dev/null || need_pkgs+=(redis-tools)
command -v python3 >/dev/null || need_pkgs+=(python3)
command -v cmake >/dev/null || need_pkgs+=(cmake)
if ((${#need_pkgs[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "compare.sh: installing ${need_pkgs[*]}" >&2
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q "${need_pkgs[@]}" >&2 ||
            { echo "compare.sh: apt-get install failed" >&2; exit 1; }
    else
        echo "compare.sh: missing ${need_pkgs[*]}: install them (apt-get install ...)" >&2
        exit 1
    fi
fi

mkdir -p "$OUT"
: >"$OUT/summary.txt"
: >"$OUT/runs.ndjson"
TMP=$(mktemp -d /tmp/acmeva-compare.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build --------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$TMP/cmake.log" 2>&1 ||
            { cat "$TMP/cmake.log" >&2; fail "cmake failed"; }
    fi
    timeout 900 make -C "$BUILD" -j2 acmeva-responder acmeva-bench acmeva-worker acmeva-coordinator \
        >"$TMP/make.log" 2>&1 || { tail -30 "$TMP/make.log" >&2; fail "build failed"; }
fi
RESPONDER=$BUILD/bench/acmeva-responder
BENCH=$BUILD/bench/acmeva-bench
WORKER=$BUILD/acmeva-worker
for b in "$RESPONDER" "$BENCH"; do [ -x "$b" ] || fail "$b is missing"; done

# ---- cores --------------------------------------------------------------------------------
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then
    CPU_SRV=0
    CPU_GEN=1
else
    CPU_SRV=0
    CPU_GEN=0
    log "warning: one core only: responder and load generator share it"
fi
ON_SRV=(taskset -c "$CPU_SRV")
ON_GEN=(taskset -c "$CPU_GEN")

# Without IPv6 loopback the responders listen on 127.0.0.1 only and answer no AAAA.
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    V6=1
    V6_ARGS=()
else
    V6=0
    V6_ARGS=(--no-ipv6 --no-aaaa)
fi
# A port free on 127.0.0.1 (and ::1), UDP and TCP, below the ephemeral range; at most 200 tries.
# pick_port VAR sets VAR to such a port; ports handed out before are not handed out again.
PICKED=""
pick_port() {
    local p
    p=$(V6=$V6 PICKED=$PICKED python3 - <<'EOF'
import os, random, socket
addrs = [(socket.AF_INET, "127.0.0.1")]
if os.environ.get("V6") == "1":
    addrs.append((socket.AF_INET6, "::1"))
picked = set(os.environ.get("PICKED", "").split())
for _ in range(200):
    p = random.randint(20000, 32000)
    if str(p) in picked:
        continue
    try:
        for fam, addr in addrs:
            for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(fam, typ); s.bind((addr, p)); s.close()
        print(p)
        break
    except OSError:
        continue
else:
    raise SystemExit(1)
EOF
    ) || return 1
    PICKED="$PICKED $p"
    printf -v "$1" '%s' "$p"
}

# start_responder NAME ARGS...: starts a responder on the server core, waits for its ready
# line (at most 5 s) and sets RESP_PID.
start_responder() {
    local name=$1
    shift
    "${ON_SRV[@]}" "$RESPONDER" "$@" "${V6_ARGS[@]}" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    RESP_PID=$!
    PIDS+=("$RESP_PID")
    for _ in $(seq 50); do
        grep -q ready "$TMP/$name.out" 2>/dev/null && return 0
        kill -0 "$RESP_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$TMP/$name.err" >&2
    fail "responder $name did not start"
}

jget() { # jget FILE KEY.PATH: a number from acmeva-bench's JSON report (0 if absent)
    python3 -c 'import json,sys
d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
for k in sys.argv[2].split("."): d=d.get(k,{}) if isinstance(d,dict) else {}
print(d if isinstance(d,(int,float)) else 0)' "$1" "$2" 2>/dev/null || echo 0
}
fmax() { awk -v a="$1" -v b="$2" 'BEGIN{print (a+0 > b+0) ? a : b}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (b+0 > 0) printf "%.3f", a/b; else print "0"}'; }
fmt() { awk -v a="$1" 'BEGIN{printf "%.0f", a}'; }
fmt1() { awk -v a="$1" 'BEGIN{printf "%.1f", a}'; }

# ---- the machine --------------------------------------------------------------------------
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm), $NCPU cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "nofile: soft $(ulimit -Sn) hard $(ulimit -Hn)"
    echo "wrk: $(wrk -v 2>&1 | head -1)"
    echo "dnsperf: $(dnsperf -h 2>&1 | grep -m1 -i version || echo unknown)"
    echo "pinning: responder on cpu $CPU_SRV, load generator on cpu $CPU_GEN"
    echo "engine: $(git -C "$ROOT" log -1 --format='%h %s' -- worker proto 2>/dev/null || echo unknown)"
    echo "IPv6 loopback: $([ "$V6" = 1 ] && echo yes || echo no)"
    echo "seconds per point: $DUR, concurrencies: $CONCS"
} | tee "$OUT/env.txt" | tee -a "$OUT/summary.txt" >&2

# ---- the main responder -------------------------------------------------------------------
pick_port HTTP_PORT || fail "no free port"
pick_port TLS_PORT || fail "no free port"
pick_port DNS_PORT || fail "no free port"
start_responder main --http-port "$HTTP_PORT" --tls-port "$TLS_PORT" --dns-port "$DNS_PORT" \
    --tarpit-port 0
MAIN_PID=$RESP_PID
ENGINE=(--allow-private-addresses --resolver "127.0.0.1:$DNS_PORT" --http-port "$HTTP_PORT"
    --tls-port "$TLS_PORT")

python3 -c "
for i in range(20000):
    print('_acme-challenge.%016x%016x.bench.test TXT' % (0xd45, i))" >"$TMP/queries.txt"

# bench LABEL ARGS...: one acmeva-bench run on the generator core; JSON to $TMP/LABEL.json.
bench() {
    local label=$1
    shift
    timeout $((DUR * 3 + 30)) "${ON_GEN[@]}" "$BENCH" "${ENGINE[@]}" --json --label "$label" "$@" \
        >"$TMP/$label.json" 2>"$TMP/$label.err"
    local rc=$?
    cat "$TMP/$label.json" >>"$OUT/runs.ndjson"
    if [ $rc -ne 0 ]; then
        log "  $label: acmeva-bench exit $rc ($(head -c 300 "$TMP/$label.err" | tr '\n' ' '))"
    fi
}

wrk_rate() { # wrk_rate URL CONC: requests per second
    timeout $((DUR + 30)) "${ON_GEN[@]}" wrk -t1 -c "$2" -d "${DUR}s" -H 'Connection: close' \
        "$1" >"$TMP/wrk.out" 2>&1
    cat "$TMP/wrk.out" >>"$OUT/tools.log"
    awk '/^Requests\/sec:/ {print $2}' "$TMP/wrk.out" | grep . || echo 0
}

dnsperf_rate() { # dnsperf_rate CONC: queries per second
    timeout $((DUR + 30)) "${ON_GEN[@]}" dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$TMP/queries.txt" \
        -c 1 -T 1 -l "$DUR" -q "$1" -t 2 >"$TMP/dnsperf.out" 2>&1
    cat "$TMP/dnsperf.out" >>"$OUT/tools.log"
    awk '/Queries per second:/ {print $4}' "$TMP/dnsperf.out" | grep . || echo 0
}

# ---- end to end with and without operations ----------------------------------------------------
# The e2e-http-01 run (Redis, acmeva-bench and a one-thread acmeva-worker on the generator
# core, 256 in flight), alternately without and with --metrics-listen and --audit-log (a file,
# fdatasync per batch unless OPS_AUDIT_SYNC=off), OPS_PAIRS times each; the best rate of each side is
# compared, as every acmeva figure here is its best. Sets OPS_OFF, OPS_ON.
OPS_PAIRS=${OPS_PAIRS:-3}
OPS_AUDIT_SYNC=${OPS_AUDIT_SYNC:-on}
# start_redis: a redis-server without persistence on the generator core; sets REDIS_PORT and
# REDIS_PID.
start_redis() {
    pick_port REDIS_PORT || fail "no free port"
    "${ON_GEN[@]}" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" \
        --appendonly no --protected-mode yes >"$TMP/redis-$REDIS_PORT.log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    for _ in $(seq 50); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
}
ops_stage() {
    OPS_OFF=0
    OPS_ON=0
    [ -x "$WORKER" ] || { log "e2e-ops: skipped, $WORKER was not built"; return; }
    local i mport
    start_redis
    local port=$REDIS_PORT pid=$REDIS_PID
    local common=(--mode e2e --redis "redis://127.0.0.1:$port" --redis-pid "$pid" --workers 1
        --worker-threads 1 --worker-bin "$WORKER" --mix http-01 -c 256
        --duration $((DUR + 2)) --warmup 500)
    for i in $(seq "$OPS_PAIRS"); do
        bench "e2e-ops-off-$i" "${common[@]}"
        OPS_OFF=$(fmax "$OPS_OFF" "$(jget "$TMP/e2e-ops-off-$i.json" rate_per_s)")
        pick_port mport || fail "no free port"
        rm -f "$TMP/audit.log"
        bench "e2e-ops-on-$i" "${common[@]}" --worker-arg --metrics-listen \
            --worker-arg "127.0.0.1:$mport" --worker-arg --audit-log --worker-arg "$TMP/audit.log" \
            --worker-arg --audit-sync --worker-arg "$OPS_AUDIT_SYNC"
        OPS_ON=$(fmax "$OPS_ON" "$(jget "$TMP/e2e-ops-on-$i.json" rate_per_s)")
        log "e2e-ops pair $i: off $(fmt "$(jget "$TMP/e2e-ops-off-$i.json" rate_per_s)")/s, on \
$(fmt "$(jget "$TMP/e2e-ops-on-$i.json" rate_per_s)")/s ($(wc -l <"$TMP/audit.log" 2>/dev/null || echo 0) audit lines)"
    done
    kill "$pid" 2>/dev/null
    log "e2e-ops: best without $(fmt "$OPS_OFF")/s, with metrics and audit log (sync $OPS_AUDIT_SYNC) $(fmt "$OPS_ON")/s"
}
if [ "${OPS_ONLY:-0}" = 1 ]; then
    log ""
    ops_stage
    log "ratio e2e-ops $(fmt "$OPS_ON") $(fmt "$OPS_OFF") $(ratio "$OPS_ON" "$OPS_OFF")"
    exit 0
fi

# ---- MPIC against one perspective ---------------------------------------------------------------
# bench/mpic-e2e.sh: single perspective and --mpic 5 alternating, MPIC_ROUNDS rounds, at 64 in
# flight (rate, all processes' CPU) and at 1 (latency), every process on both cores. Its last
# lines are this stage's: ratio mpic-cpu, ratio mpic-rate, mpic added-latency. Sets MPIC_LINES.
MPIC_ROUNDS=${MPIC_ROUNDS:-3}
mpic_stage() {
    MPIC_LINES=""
    if [ ! -x "$BUILD/acmeva-coordinator" ] || [ ! -x "$WORKER" ]; then
        log "mpic: skipped, acmeva-coordinator or acmeva-worker was not built"
        return
    fi
    BUILD=$BUILD ROUNDS=$MPIC_ROUNDS DUR=$((DUR + 2)) timeout 900 bash "$HERE/mpic-e2e.sh" \
        >"$TMP/mpic.out" 2>"$TMP/mpic.err" || log "mpic: mpic-e2e.sh failed: $(tail -3 "$TMP/mpic.err")"
    cat "$TMP/mpic.out" >>"$OUT/summary.txt"
    cat "$TMP/mpic.out" >&2
    MPIC_LINES=$(grep -E '^(ratio mpic-|mpic added-latency)' "$TMP/mpic.out")
}
if [ "${MPIC_ONLY:-0}" = 1 ]; then
    log ""
    mpic_stage
    exit 0
fi

# ---- end to end: Redis and one acmeva-worker (one thread), all on the generator core ---------
# e2e_stage: for http-01 and dns-01, E2E_ROUNDS rounds of acmeva-bench in process at 256 in
# flight (the point of the concurrency sweep in the first round when 256 is among CONCS, else a
# run of its own), then the same workload through Redis and one single-threaded acmeva-worker,
# redis-server, acmeva-bench and the worker all on the generator core (the responder keeps
# the other). Each ratio is of one round, so the two rates met the same load of the machine.
# Sets E2E_RATE, E2E_INPROC and E2E_RATIO (the round of the median ratio) per workload.
E2E_ROUNDS=${E2E_ROUNDS:-1}
E2E_C=256
declare -A E2E_RATE E2E_INPROC E2E_RATIO
e2e_stage() {
    local w r label rates
    for w in http-01 dns-01; do
        E2E_RATE[$w]=0
        E2E_INPROC[$w]=0
        E2E_RATIO[$w]=0
    done
    if [ ! -x "$WORKER" ]; then
        log "e2e: skipped, $WORKER was not built"
        return
    fi
    start_redis
    local port=$REDIS_PORT pid=$REDIS_PID
    for w in http-01 dns-01; do
        rates=""
        for r in $(seq "$E2E_ROUNDS"); do
            label="$w-c$E2E_C"
            if [ "$r" -gt 1 ] || [ ! -s "$TMP/$label.json" ]; then
                label="inproc-$w-c$E2E_C-$r"
                bench "$label" --mix "$w" -c "$E2E_C" --duration "$DUR" --warmup 200
            fi
            local in e2e f="$TMP/e2e-$w-$r.json"
            in=$(jget "$TMP/$label.json" rate_per_s)
            bench "e2e-$w-$r" --mode e2e --redis "redis://127.0.0.1:$port" --redis-pid "$pid" \
                --workers 1 --worker-threads 1 --worker-bin "$WORKER" --mix "$w" -c "$E2E_C" \
                --duration $((DUR + 2)) --warmup 500
            e2e=$(jget "$f" rate_per_s)
            log "e2e-$w round $r: $(fmt "$e2e")/s through Redis, $(fmt "$in")/s in process \
($(ratio "$e2e" "$in")); CPU per validation: worker $(fmt1 "$(jget "$f" cpu.workers_us_per_validation)") \
us, redis-server $(fmt1 "$(jget "$f" cpu.redis_us_per_validation)") us, acmeva-bench \
$(fmt1 "$(jget "$f" cpu.self_us_per_validation)") us (in process: $(fmt1 \
"$(jget "$TMP/$label.json" cpu.self_us_per_validation)") us)"
            rates="$rates$(ratio "$e2e" "$in") $e2e $in"$'\n'
        done
        # The round of the median ratio (the lower middle one of an even count).
        set -- $(printf '%s' "$rates" | sort -n | awk -v n="$E2E_ROUNDS" 'NR == int((n + 1) / 2)')
        E2E_RATIO[$w]=${1:-0}
        E2E_RATE[$w]=${2:-0}
        E2E_INPROC[$w]=${3:-0}
    done
    kill "$pid" 2>/dev/null
}
e2e_ratio_lines() {
    local w
    for w in http-01 dns-01; do
        log "ratio e2e-vs-inproc-$w $(fmt "${E2E_RATE[$w]}") $(fmt "${E2E_INPROC[$w]}") \
$(ratio "${E2E_RATE[$w]}" "${E2E_INPROC[$w]}")"
    done
}
if [ "${E2E_ONLY:-0}" = 1 ]; then
    log ""
    e2e_stage
    log ""
    e2e_ratio_lines
    exit 0
fi

: >"$OUT/tools.log"
: >"$OUT/rates.dat"
echo "# concurrency wrk_http acmeva_http01 dnsperf acmeva_dns01 wrk_https acmeva_tlsalpn01" \
    >>"$OUT/rates.dat"
declare -A BEST_TOOL BEST_ACMEVA BEST_C CPU_US CPU_ENGINE_US NOCODEC_RATE NOCODEC_US
for w in http-01 dns-01 tls-alpn-01; do
    BEST_TOOL[$w]=0
    BEST_ACMEVA[$w]=0
done
# The acmeva figures of CPU time per validation are those of the concurrency with the best rate.
log ""
log "concurrency   wrk-http  acmeva-http-01   dnsperf  acmeva-dns-01  wrk-https  acmeva-tls-alpn-01"
# tls-alpn-01 reuses 256 tokens so that the responder serves each certificate from its cache:
# per connection it then does what it does for wrk (one handshake with a cached certificate).
bench tls-warmup --mix tls-alpn-01 -n 256 -c 16 --tokens 256 --seed 7
for c in $CONCS; do
    wh=$(wrk_rate "http://127.0.0.1:$HTTP_PORT/.well-known/acme-challenge/$TOKEN" "$c")
    bench "http-01-c$c" --mix http-01 -c "$c" --duration "$DUR" --warmup 200
    ah=$(jget "$TMP/http-01-c$c.json" rate_per_s)
    dq=$(dnsperf_rate "$c")
    bench "dns-01-c$c" --mix dns-01 -c "$c" --duration "$DUR" --warmup 200
    ad=$(jget "$TMP/dns-01-c$c.json" rate_per_s)
    ws=$(wrk_rate "https://127.0.0.1:$TLS_PORT/.well-known/acme-challenge/$TOKEN" "$c")
    bench "tls-alpn-01-c$c" --mix tls-alpn-01 -c "$c" --duration "$DUR" --tokens 256 --seed 7
    at=$(jget "$TMP/tls-alpn-01-c$c.json" rate_per_s)
    echo "$c $wh $ah $dq $ad $ws $at" >>"$OUT/rates.dat"
    log "$(printf '%11s %10.0f %15.0f %9.0f %14.0f %10.0f %19.0f' "$c" "$wh" "$ah" "$dq" "$ad" "$ws" "$at")"
    for pair in "http-01 $wh $ah" "dns-01 $dq $ad" "tls-alpn-01 $ws $at"; do
        set -- $pair
        BEST_TOOL[$1]=$(fmax "${BEST_TOOL[$1]}" "$2")
        if awk -v a="$3" -v b="${BEST_ACMEVA[$1]}" 'BEGIN{exit !(a+0 > b+0)}'; then
            BEST_ACMEVA[$1]=$3
            BEST_C[$1]=$c
            CPU_US[$1]=$(jget "$TMP/$1-c$c.json" cpu.self_us_per_validation)
            CPU_ENGINE_US[$1]=$(jget "$TMP/$1-c$c.json" cpu.engine_us_per_validation)
        fi
    done
done

# ---- the engine alone: jobs handed over parsed, no result JSON, at each best concurrency --------
log ""
for w in http-01 dns-01 tls-alpn-01; do
    extra=()
    [ "$w" = tls-alpn-01 ] && extra=(--tokens 256 --seed 7)
    bench "$w-nocodec" --no-codec --mix "$w" -c "${BEST_C[$w]:-64}" --duration "$DUR" \
        --warmup 200 "${extra[@]}"
    NOCODEC_RATE[$w]=$(jget "$TMP/$w-nocodec.json" rate_per_s)
    NOCODEC_US[$w]=$(jget "$TMP/$w-nocodec.json" cpu.self_us_per_validation)
    log "engine alone, $w, concurrency ${BEST_C[$w]:-64}: $(fmt "${NOCODEC_RATE[$w]}")/s \
($(ratio "${NOCODEC_RATE[$w]}" "${BEST_TOOL[$w]}") of the limit), $(fmt1 "${NOCODEC_US[$w]}") us CPU each"
done

# ---- end to end: Redis and one acmeva-worker, against in process (e2e_stage above) ----------
log ""
e2e_stage
log ""
ops_stage
log ""
mpic_stage

# ---- scale: a tarpit holding http-01 validations in flight until their deadline -------------
# Each in-flight validation holds a socket; RLIMIT_NOFILE's hard limit caps how many.
# A second responder answers A with 127.0.0.1..127.0.0.8 (no AAAA) so that the client's
# ephemeral ports are spread over eight destinations: with one, the kernel's port search
# (__inet_hash_connect) makes every connect cost O(ports in use).
log ""
HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=1048576
ulimit -Sn "$HARD" 2>/dev/null
SCALE=$SCALE_N
if [ $((HARD - 600)) -lt "$SCALE" ]; then
    SCALE=$((HARD - 600))
    log "scale: RLIMIT_NOFILE hard limit $HARD caps the tarpit run at $SCALE in flight (asked $SCALE_N)"
fi
pick_port SDNS || fail "no free port"
pick_port STARPIT || fail "no free port"
start_responder scale --http-port 0 --tls-port 0 --dns-port "$SDNS" --tarpit-port "$STARPIT" \
    --no-aaaa --a-spread 8
# Started at 5,000 per second, all are in flight together before the first deadline.
for n in $((SCALE / 4)) "$SCALE"; do
    timeout 90 "${ON_GEN[@]}" "$BENCH" --allow-private-addresses --resolver "127.0.0.1:$SDNS" \
        --http-port "$STARPIT" --json --label "tarpit-$n" --mix http-01 -n "$n" -c "$n" \
        --ramp 5000 --deadline-ms "$SCALE_DEADLINE_MS" --expect invalid --nofile "$HARD" \
        >"$TMP/tarpit-$n.json" 2>"$TMP/tarpit-$n.err"
    cat "$TMP/tarpit-$n.json" >>"$OUT/runs.ndjson"
    f="$TMP/tarpit-$n.json"
    log "tarpit $n: $(jget "$f" memory.max_inflight) in flight at once, $(fmt \
"$(jget "$f" memory.rss_per_inflight_bytes)") bytes RSS each; $(jget "$f" completed) ended, \
$(jget "$f" problems.connection.count) with the tarpit's timeout; latest \
$(fmt1 "$(jget "$f" over_deadline_max_ms)") ms past its deadline; $(fmt \
"$(jget "$f" cpu.self_us_per_validation)") us CPU each"
    RSS_PER=$(jget "$f" memory.rss_per_inflight_bytes)
done

# Held in the DNS stage: names under the label "tarpit" get no DNS answer, so each validation
# waits on its A and AAAA lookups until they time out (three tries), before the deadline. Each
# lookup holds a UDP socket of its own (a fresh one per try: worker/resolver.h), so
# RLIMIT_NOFILE caps this run too, at two descriptors a validation.
DNS_SCALE=$SCALE_N
if [ $(((HARD - 600) / 2)) -lt "$DNS_SCALE" ]; then
    DNS_SCALE=$(((HARD - 600) / 2))
    log "scale: RLIMIT_NOFILE hard limit $HARD caps the DNS-stage run at $DNS_SCALE in flight"
fi
f="$TMP/dns-tarpit-$DNS_SCALE.json"
timeout 90 "${ON_GEN[@]}" "$BENCH" --allow-private-addresses --resolver "127.0.0.1:$SDNS" \
    --http-port "$STARPIT" --sub tarpit --json --label "dns-tarpit-$DNS_SCALE" --mix http-01 \
    -n "$DNS_SCALE" -c "$DNS_SCALE" --ramp 25000 --deadline-ms "$SCALE_DEADLINE_MS" \
    --expect invalid --nofile "$HARD" >"$f" 2>"$TMP/dns-tarpit.err"
cat "$f" >>"$OUT/runs.ndjson"
log "dns tarpit $DNS_SCALE: $(jget "$f" memory.max_inflight) in flight at once, $(fmt \
"$(jget "$f" memory.rss_per_inflight_bytes)") bytes RSS each; $(jget "$f" completed) ended, \
$(jget "$f" problems.dns.count) with a DNS timeout; latest $(fmt1 "$(jget "$f" over_deadline_max_ms)") \
ms from its deadline; $(fmt "$(jget "$f" cpu.self_us_per_validation)") us CPU each"

# ---- failure modes: delay, wrong answers, refused connections -----------------------------------
log ""
pick_port MHTTP || fail "no free port"
pick_port MTLS || fail "no free port"
pick_port MDNS || fail "no free port"
start_responder modes --http-port "$MHTTP" --tls-port "$MTLS" --dns-port "$MDNS" \
    --delay-ms 50 --wrong-share 0.1
pick_port CLOSED || fail "no free port" # nothing listens there: refused
timeout 60 "${ON_GEN[@]}" "$BENCH" --allow-private-addresses --resolver "127.0.0.1:$MDNS" \
    --http-port "$MHTTP" --tls-port "$MTLS" --json --label modes-delay-wrong \
    --mix http-01,dns-01,tls-alpn-01,dns-account-01,caa --with-caa -n 1000 -c 100 \
    --wrong-share 0.1 >"$TMP/modes.json" 2>"$TMP/modes.err"
cat "$TMP/modes.json" >>"$OUT/runs.ndjson"
log "modes (50 ms delay, 10% wrong answers, every type, CAA on each): $(jget "$TMP/modes.json" \
valid) valid, $(jget "$TMP/modes.json" invalid) invalid, $(jget "$TMP/modes.json" unexpected) \
unexpected; p50 $(fmt1 "$(jget "$TMP/modes.json" latency_ms.p50)") ms"
timeout 60 "${ON_GEN[@]}" "$BENCH" --allow-private-addresses --resolver "127.0.0.1:$DNS_PORT" \
    --http-port "$CLOSED" --json --label refused -n 1000 -c 100 --expect invalid \
    >"$TMP/refused.json" 2>"$TMP/refused.err"
cat "$TMP/refused.json" >>"$OUT/runs.ndjson"
log "refused: $(jget "$TMP/refused.json" problems.connection.count) of $(jget "$TMP/refused.json" \
completed) failed with a connection problem, $(fmt "$(jget "$TMP/refused.json" rate_per_s)")/s"

# ---- plot ------------------------------------------------------------------------------------
gnuplot -e "datafile='$OUT/rates.dat'; outfile='$OUT/rates.png'; subtitle='$(uname -m), \
$NCPU cores, $(date -u +%Y-%m-%d), $DUR s per point'" "$HERE/plot.gp" 2>>"$OUT/summary.txt" ||
    log "gnuplot failed"

# ---- figures against the targets, then the ratios ----------------------------------------------
log ""
# CPU time per validation, all of this process (kernel included): with the codec (the job
# parsed from JSON, the result written as JSON), the engine's share of that run (the codec's
# timed share taken out), and a run of the engine alone (--no-codec).
log "$(printf '%-14s %16s %14s %14s %10s' workload 'us with codec' 'engine share' 'engine alone' target)"
for w in http-01 dns-01 tls-alpn-01; do
    case $w in http-01) t='<= 70' ;; dns-01) t='<= 12' ;; *) t='<= 350' ;; esac
    log "$(printf '%-14s %16.1f %14.1f %14.1f %10s' "$w" "${CPU_US[$w]:-0}" "${CPU_ENGINE_US[$w]:-0}" "${NOCODEC_US[$w]:-0}" "$t")"
done
log "$(printf '%-14s %16.0f %14s %14s %10s' 'rss/in-flight' "${RSS_PER:-0}" bytes '' '<= 3072')"
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
log ""
for w in http-01 dns-01 tls-alpn-01; do
    log "ratio $w $(fmt "${BEST_ACMEVA[$w]}") $(fmt "${BEST_TOOL[$w]}") $(ratio "${BEST_ACMEVA[$w]}" "${BEST_TOOL[$w]}")"
done
for w in http-01 dns-01 tls-alpn-01; do
    log "cpu $w $(fmt1 "${CPU_US[$w]:-0}")"
done
log "ratio e2e-http-01 $(fmt "${E2E_RATE[http-01]}") $(fmt "${BEST_TOOL[http-01]}") $(ratio "${E2E_RATE[http-01]}" "${BEST_TOOL[http-01]}")"
e2e_ratio_lines
log "ratio e2e-ops $(fmt "$OPS_ON") $(fmt "$OPS_OFF") $(ratio "$OPS_ON" "$OPS_OFF")"
if [ -n "${MPIC_LINES:-}" ]; then
    log "$MPIC_LINES"
fi
