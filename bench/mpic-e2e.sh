#!/usr/bin/env bash
# What multi-perspective corroboration costs against one perspective, on this machine in one
# run (bench/README.md "MPIC: what corroboration costs").
#
# One redis-server and one acmeva-responder on loopback; acmeva-bench enqueues dns-01 jobs
# either on one perspective (one single-threaded acmeva-worker) or, with --mpic N, on
# acmeva:v1:mpic (acmeva-coordinator, a primary and N remote perspectives, each one
# single-threaded acmeva-worker). The two modes alternate for ROUNDS rounds, so that a machine
# whose load drifts affects both alike: at CONC in flight for the rate and the CPU time of every
# process, then at 1 in flight for the latency. Prints each run, the medians, and
#   ratio mpic-cpu <MPIC us> <single us> <ratio>    all processes' CPU per validation
#   ratio mpic-rate <MPIC per s> <single per s> <ratio>
#   mpic added-latency p50 <ms> p99 <ms>            MPIC minus single, at 1 in flight
# The goal (issue 11): MPIC at most 6 x 1.15 = 6.9 times the CPU of one validation, and under
# 2 ms of added latency at the median.
#
# Environment: BUILD (default build/normal), ROUNDS (5), DUR (seconds per run, 5), CONC (64),
# REMOTES (5), MIX (dns-01), PIN: "none" (default: every process on every core), or "split"
# (responder on cpu 0, everything else on cpu 1, as compare.sh pins its e2e runs).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build/normal}
ROUNDS=${ROUNDS:-5}
DUR=${DUR:-5}
CONC=${CONC:-64}
REMOTES=${REMOTES:-5}
MIX=${MIX:-dns-01}
PIN=${PIN:-none}
BENCH=$BUILD/bench/acmeva-bench
RESPONDER=$BUILD/bench/acmeva-responder
WORKER=$BUILD/acmeva-worker
for b in "$BENCH" "$RESPONDER" "$WORKER" "$BUILD/acmeva-coordinator"; do
    [ -x "$b" ] || { echo "mpic-e2e: $b is not built" >&2; exit 2; }
done
ON_SRV=()
ON_GEN=()
if [ "$PIN" = split ] && [ "$(nproc)" -ge 2 ]; then
    ON_SRV=(taskset -c 0)
    ON_GEN=(taskset -c 1)
fi

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] && echo "mpic-e2e: kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=bench/e2e-lib.sh
. "$ROOT/bench/e2e-lib.sh"
read -r HTTP_PORT DNS_PORT REDIS_PORT < <(e2e_ports 3)
cd "$TMP"
"${ON_SRV[@]}" "$RESPONDER" --http-port "$HTTP_PORT" --tls-port 0 --dns-port "$DNS_PORT" \
    --tarpit-port 0 >responder.out 2>responder.err &
PIDS+=($!)
"${ON_GEN[@]}" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$TMP" >redis.log 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
e2e_wait_ready responder.out "$REDIS_PORT" || { echo "mpic-e2e: Redis or the responder did not start" >&2; exit 1; }

echo "mpic-e2e: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$ROUNDS rounds of ${DUR}s, $MIX, $CONC in flight (rate, CPU) and 1 (latency)," \
    "$REMOTES remotes, pinning: $PIN"
run() { # run LABEL CONC [--mpic N]: one acmeva-bench e2e run; prints its figures
    local label=$1 conc=$2
    shift 2
    timeout $((DUR * 3 + 60)) "${ON_GEN[@]}" "$BENCH" --allow-private-addresses \
        --resolver "127.0.0.1:$DNS_PORT" --http-port "$HTTP_PORT" --max-per-destination 100000 \
        --mode e2e --redis "redis://127.0.0.1:$REDIS_PORT" --redis-pid "$REDIS_PID" \
        --workers 1 --worker-threads 1 --worker-log "$label.log" --mix "$MIX" -c "$conc" \
        --duration "$DUR" --warmup 200 --json --label "$label" "$@" >"$label.json"
    python3 -c 'import json,sys
d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
c=d.get("cpu",{}); l=d.get("latency_ms",{})
if d.get("unexpected") or d.get("lost"): sys.exit("mpic-e2e: %s: %s unexpected, %s lost" % (sys.argv[1], d.get("unexpected"), d.get("lost")))
print("%.0f %.3f %.3f %.1f %.1f %.1f %.1f %.1f" % (d["rate_per_s"], l.get("p50",0), l.get("p99",0),
      c.get("all_us_per_validation",0), c.get("self_us_per_validation",0),
      c.get("workers_us_per_validation",0), c.get("coordinator_us_per_validation",0),
      c.get("redis_us_per_validation",0)))' "$label.json"
}
: >figures.txt
for r in $(seq "$ROUNDS"); do
    for mode in single mpic; do
        extra=()
        [ $mode = mpic ] && extra=(--mpic "$REMOTES")
        read -r rate p50 p99 all self workers coord redis < <(run "$mode-$r" "$CONC" "${extra[@]}")
        echo "round $r $mode c=$CONC: $rate/s; CPU us per validation: all $all = bench $self +" \
            "workers $workers + coordinator $coord + redis-server $redis"
        read -r _ lp50 lp99 _ < <(run "$mode-$r-c1" 1 "${extra[@]}")
        echo "round $r $mode c=1: p50 $lp50 ms, p99 $lp99 ms"
        echo "$mode $rate $all $self $workers $coord $redis $lp50 $lp99" >>figures.txt
    done
done
python3 - figures.txt <<'EOF'
import statistics, sys
runs = {"single": [], "mpic": []}
for line in open(sys.argv[1]):
    f = line.split()
    runs[f[0]].append([float(x) for x in f[1:]])
med = {m: [statistics.median(col) for col in zip(*v)] for m, v in runs.items()}
names = ["rate", "all", "bench", "workers", "coordinator", "redis-server", "p50", "p99"]
for m in ("single", "mpic"):
    print("median %-6s " % m + ", ".join("%s %.3f" % (n, x) for n, x in zip(names, med[m])))
s, m = med["single"], med["mpic"]
# Added latency: per round, MPIC minus single, then the median of the rounds.
dp50 = statistics.median(b[6] - a[6] for a, b in zip(runs["single"], runs["mpic"]))
dp99 = statistics.median(b[7] - a[7] for a, b in zip(runs["single"], runs["mpic"]))
print("ratio mpic-cpu %.1f %.1f %.2f" % (m[1], s[1], m[1] / s[1]))
print("ratio mpic-rate %.0f %.0f %.3f" % (m[0], s[0], m[0] / s[0]))
print("mpic added-latency p50 %.3f p99 %.3f" % (dp50, dp99))
EOF
