#!/usr/bin/env bash
# The end-to-end rate through Redis with the worker's connections over TLS, against the same
# over plain TCP, on this machine in one run (bench/README.md "TLS to Redis").
#
# One redis-server listens on a plain port and on a TLS port (client certificates required,
# certificates made here with the openssl command). acmeva-bench (its own client, standing in
# for the CA core, stays on the plain port) enqueues http-01 jobs answered by acmeva-responder
# and starts one single-threaded acmeva-worker on either port; the two modes alternate for
# ROUNDS rounds so that a machine whose load drifts affects both alike. Pinning as in
# compare.sh: the responder on cpu 0; Redis, acmeva-bench and the worker together on cpu 1.
#
# Environment: BUILD (default build/normal), ROUNDS (5), DUR (seconds per run, 5),
# CONC (validations in flight, 256).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build/normal}
ROUNDS=${ROUNDS:-5}
DUR=${DUR:-5}
CONC=${CONC:-256}
BENCH=$BUILD/bench/acmeva-bench
RESPONDER=$BUILD/bench/acmeva-responder
WORKER=$BUILD/acmeva-worker
for b in "$BENCH" "$RESPONDER" "$WORKER"; do
    [ -x "$b" ] || { echo "tls-e2e: $b is not built" >&2; exit 2; }
done
if [ "$(nproc)" -ge 2 ]; then
    ON_SRV=(taskset -c 0)
    ON_GEN=(taskset -c 1)
else
    ON_SRV=()
    ON_GEN=()
fi

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] && echo "tls-e2e: kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=bench/e2e-lib.sh
. "$ROOT/bench/e2e-lib.sh"
read -r HTTP_PORT DNS_PORT REDIS_PORT REDIS_TLS_PORT < <(e2e_ports 4)

# Certificates: a CA, the server's for localhost, a client's.
cd "$TMP"
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
ossl req -x509 -new -key ca.key -out ca.pem -days 30 -subj "/CN=bench CA"
for n in server client; do
    ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $n.key
    ossl req -new -key $n.key -out $n.csr -subj "/CN=$n"
done
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
printf 'extendedKeyUsage=clientAuth\n' >client.ext
for n in server client; do
    ossl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
        -days 30 -extfile $n.ext -out $n.pem
done

"${ON_SRV[@]}" "$RESPONDER" --http-port "$HTTP_PORT" --tls-port 0 --dns-port "$DNS_PORT" \
    --tarpit-port 0 >responder.out 2>responder.err &
PIDS+=($!)
"${ON_GEN[@]}" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --tls-port "$REDIS_TLS_PORT" \
    --tls-cert-file server.pem --tls-key-file server.key --tls-ca-cert-file ca.pem \
    --tls-auth-clients yes --save "" --appendonly no --dir "$TMP" >redis.log 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
e2e_wait_ready responder.out "$REDIS_PORT" || true

echo "tls-e2e: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$ROUNDS rounds of ${DUR}s, $CONC in flight, http-01"
run() { # run MODE: one acmeva-bench e2e run; prints its rate
    local extra=()
    if [ "$1" = tls ]; then
        extra=(--worker-redis "rediss://localhost:$REDIS_TLS_PORT" --worker-arg --redis-ca
            --worker-arg ca.pem --worker-arg --redis-cert --worker-arg client.pem
            --worker-arg --redis-key --worker-arg client.key)
    fi
    timeout $((DUR * 3 + 60)) "${ON_GEN[@]}" "$BENCH" --allow-private-addresses \
        --resolver "127.0.0.1:$DNS_PORT" --http-port "$HTTP_PORT" --mode e2e \
        --redis "redis://127.0.0.1:$REDIS_PORT" --redis-pid "$REDIS_PID" --workers 1 \
        --worker-threads 1 --worker-log "worker-$1.log" --mix http-01 -c "$CONC" \
        --duration "$DUR" --warmup 500 --json --label "$1" "${extra[@]}" >"$1.json"
    python3 -c 'import json,sys
d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
c=d.get("cpu",{})
print("%.0f %.1f %.1f" % (d["rate_per_s"], c.get("workers_us_per_validation",0),
      c.get("redis_us_per_validation",0)))' "$1.json"
}
plain=()
tls=()
for r in $(seq "$ROUNDS"); do
    for mode in plain tls; do
        read -r rate wcpu rcpu < <(run $mode)
        echo "round $r $mode: $rate validations/s; CPU per validation: worker $wcpu us," \
            "redis-server $rcpu us"
        if [ $mode = plain ]; then plain+=("$rate"); else tls+=("$rate"); fi
    done
done
grep -q "redis TLS" worker-tls.log || { echo "tls-e2e: the worker did not use TLS" >&2; exit 1; }
python3 - "${plain[*]}" "${tls[*]}" <<'EOF'
import statistics, sys
p = [float(x) for x in sys.argv[1].split()]
t = [float(x) for x in sys.argv[2].split()]
print("median plain %.0f/s, median tls %.0f/s, ratio tls/plain %.3f (per round: %s)" % (
    statistics.median(p), statistics.median(t), statistics.median(t) / statistics.median(p),
    ", ".join("%.3f" % (b / a) for a, b in zip(p, t))))
EOF
