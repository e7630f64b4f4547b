#!/usr/bin/env bash
# acmeva quickstart: the whole job end to end, on loopback, with no configuration.
#
# Installs what is missing (Debian packages), builds, starts a Redis, an acmeva-worker and a
# local challenge server (pebble-challtestsrv: DNS, http-01, tls-alpn-01) on free loopback
# ports, submits one job of every challenge type (one with CAA) and one that fails, prints the
# results so a person can read them. Then it shows multi-perspective corroboration (BR 3.2.2.9):
# acmeva-coordinator with a primary and 5 remote perspectives, each resolving through its own
# DNS view (tests/fixtures/dnsview.py) so that one name can be hijacked for some perspectives:
# one job corroborated 5/5, one where a perspective sees a hijacked address (still valid 4/5,
# with the disagreement printed), one where two do (invalid). It stops everything it started
# (Ctrl-C included).
#
# Usage: deploy/quickstart.sh [--keep-logs]
#   ACMEVA_BUILD_DIR  where to build (default build/normal)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${ACMEVA_BUILD_DIR:-$top/build/normal}
run=$(mktemp -d "${TMPDIR:-/tmp}/acmeva-quickstart.XXXXXX")
keep_logs=0
[ "${1:-}" = "--keep-logs" ] && keep_logs=1

say() { printf '\033[1m== %s\033[0m\n' "$*"; }

# The services run in sessions of their own (setsid) so that a Ctrl-C at the terminal reaches
# only this script, whose trap then stops them in order.
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ $keep_logs -eq 1 ]; then
        echo "logs kept in $run"
    else
        rm -rf "$run"
    fi
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

say "installing what is missing"
deploy/install-deps.sh

say "building in $build"
mkdir -p "$build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$run/cmake.log" 2>&1 ||
    { cat "$run/cmake.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target acmeva acmeva-worker acmeva-coordinator >"$run/build.log" 2>&1 ||
    { tail -50 "$run/build.log"; exit 1; }

ports=$(python3 - <<'PY'
import socket, sys
ports = []
for _ in range(1000):
    if len(ports) == 6:
        break
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    try:
        for fam, host, typ in ((socket.AF_INET6, "::1", socket.SOCK_STREAM),
                               (socket.AF_INET, "127.0.0.1", socket.SOCK_DGRAM),
                               (socket.AF_INET6, "::1", socket.SOCK_DGRAM)):
            t = socket.socket(fam, typ); t.bind((host, p)); t.close()
        if p not in ports:
            ports.append(p)
    except OSError:
        pass
    s.close()
if len(ports) < 6:
    sys.exit("quickstart: no free port on both 127.0.0.1 and ::1 (is IPv6 loopback disabled?)")
print(*ports)
PY
) || exit 1
read -r p_redis p_http p_https p_alpn p_dns p_mgmt <<<"$ports"

wait_port() {
    python3 - "$1" <<'PY'
import socket, sys, time
end = time.time() + 10
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close(); sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

say "starting redis-server on 127.0.0.1:$p_redis"
setsid redis-server --port "$p_redis" --bind 127.0.0.1 --save "" --appendonly no >"$run/redis.log" 2>&1 &
pids+=($!)
say "starting pebble-challtestsrv (DNS on 127.0.0.1:$p_dns, http-01 :$p_http, tls-alpn-01 :$p_alpn)"
setsid pebble-challtestsrv -http01 "127.0.0.1:$p_http,[::1]:$p_http" \
    -https01 "127.0.0.1:$p_https,[::1]:$p_https" -tlsalpn01 "127.0.0.1:$p_alpn,[::1]:$p_alpn" \
    -dns01 "127.0.0.1:$p_dns,[::1]:$p_dns" -management "127.0.0.1:$p_mgmt" \
    -defaultIPv4 127.0.0.1 -defaultIPv6 ::1 >"$run/challtestsrv.log" 2>&1 &
pids+=($!)
wait_port "$p_redis" || { cat "$run/redis.log"; exit 1; }
wait_port "$p_mgmt" || { cat "$run/challtestsrv.log"; exit 1; }

redis="redis://127.0.0.1:$p_redis"
say "starting acmeva-worker (2 threads; loopback allowed for this demo only)"
# --no-dns-0x20: challtestsrv matches query names case-sensitively, so the demo sends them in
# the case given; a real resolver (Unbound) gets random case.
setsid "$build/acmeva-worker" --redis "$redis" --threads 2 --allow-private-addresses \
    --resolver "127.0.0.1:$p_dns" --no-dns-0x20 --http-port "$p_http" --https-port "$p_https" \
    --tls-port "$p_alpn" --issuer-domain ca.example --log-format text \
    >"$run/worker.log" 2>&1 &
pids+=($!)

say "setting up the challenges on the local challenge server"
python3 - "$p_mgmt" "$run/jobs.ndjson" <<'PY'
import base64, hashlib, json, secrets, sys, urllib.request
mgmt, out = f"http://127.0.0.1:{sys.argv[1]}", sys.argv[2]
def call(ep, body):
    urllib.request.urlopen(urllib.request.Request(f"{mgmt}/{ep}", json.dumps(body).encode()),
                           timeout=10).read()
thumb = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
account = "https://ca.example/acme/acct/1"
def tok(): return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
def b64(d): return base64.urlsafe_b64encode(d).decode().rstrip("=")
jobs = []
def job(i, name, ctype, token=None, ka=None, **extra):
    j = {"v": 1, "id": i, "identifier": {"type": "dns", "value": name}}
    if ctype:
        j["challenge"] = {"type": ctype} | ({"token": token} if token else {})
    if ka: j["keyAuthorization"] = ka
    j.update(extra); jobs.append(j)
t = tok(); ka = f"{t}.{thumb}"
call("add-http01", {"token": t, "content": ka})
job("demo/http-01", "www.example.com", "http-01", t, ka, caa={})
call("add-caa", {"host": "www.example.com", "policies": [{"tag": "issue", "value": "ca.example"}]})
t = tok(); ka = f"{t}.{thumb}"
call("set-txt", {"host": "_acme-challenge.example.org.", "value": b64(hashlib.sha256(ka.encode()).digest())})
job("demo/dns-01-wildcard", "*.example.org", "dns-01", t, ka)
t = tok(); ka = f"{t}.{thumb}"
call("add-tlsalpn01", {"host": "tls.example.net", "content": ka})
job("demo/tls-alpn-01", "tls.example.net", "tls-alpn-01", t, ka)
t = tok(); ka = f"{t}.{thumb}"
label = base64.b32encode(hashlib.sha256(account.encode()).digest()[:10]).decode().lower()
call("set-txt", {"host": f"_{label}._acme-challenge.acct.example.org.", "value": b64(hashlib.sha256(ka.encode()).digest())})
job("demo/dns-account-01", "acct.example.org", "dns-account-01", t, ka, accountUri=account)
call("set-txt", {"host": "_validation-persist.persist.example.org.", "value": f"ca.example; accounturi={account}"})
job("demo/dns-persist-01", "persist.example.org", "dns-persist-01", accountUri=account)
t = tok(); ka = f"{t}.{thumb}"
call("add-http01", {"token": t, "content": "this is not the key authorization"})
job("demo/http-01-wrong-answer", "fail.example.com", "http-01", t, ka)
with open(out, "w") as f:
    for j in jobs: f.write(json.dumps(j) + "\n")
PY

say "submitting $(wc -l <"$run/jobs.ndjson") jobs and waiting for their results"
set +e
"$build/acmeva" submit --redis "$redis" --job "$run/jobs.ndjson" --wait --timeout-ms 30000 \
    >"$run/results.ndjson" 2>"$run/submit.log"
submit_rc=$?
set -e
python3 - "$run/results.ndjson" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    r = json.loads(line)
    ch = (r.get("challenge") or {}).get("type", "CAA only")
    print(f"\n{r['id']}: {r['status'].upper()}  ({ch} for {r['identifier']['value']}, "
          f"{r.get('durationMs')} ms, worker {r.get('worker')})")
    for rec in r.get("validationRecord", []):
        what = rec.get("url") or rec.get("hostname")
        extra = rec.get("addressUsed") or ", ".join(rec.get("records", [])[:1])
        print(f"    checked {what}" + (f" -> {extra}" if extra else ""))
    if r.get("caa"):
        print(f"    CAA: {r['caa']['status']}" + (f" (record at {r['caa']['foundAt']})" if r['caa'].get('foundAt') else ""))
    if r.get("error"):
        print(f"    problem: {r['error']['type'].rsplit(':', 1)[-1]}: {r['error']['detail']}")
PY
echo
if [ $submit_rc -eq 1 ]; then
    say "done: every job came back; one was expected to fail, and did (exit status of submit: 1)"
elif [ $submit_rc -eq 0 ]; then
    say "done: every job came back valid (the failing demo job should not have passed)"
else
    cat "$run/submit.log"
    tail -20 "$run/worker.log"
    say "submit failed (exit $submit_rc)"
    exit 1
fi

# ---- multi-perspective corroboration -----------------------------------------------------
say "multi-perspective corroboration: a primary and 5 remote perspectives, each with its own DNS view"
views=(primary r1 r2 r3 r4 r5)
declare -A rir=([primary]=ARIN [r1]=ARIN [r2]=RIPE [r3]=APNIC [r4]=ARIN [r5]=RIPE)
echo '{}' >"$run/hijack.json"
view_args=()
for v in "${views[@]}"; do view_args+=(--view "$v"); done
setsid python3 tests/fixtures/dnsview.py --upstream "127.0.0.1:$p_dns" \
    --hijack-file "$run/hijack.json" "${view_args[@]}" >"$run/views.out" 2>"$run/views.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$run/views.out" ] && break; sleep 0.05; done
read -r -a view_ports <<<"$(head -1 "$run/views.out")"
declare -A vport
for kv in "${view_ports[@]:1}"; do vport[${kv%%=*}]=${kv#*=}; done
for v in "${views[@]}"; do
    [ -n "${vport[$v]:-}" ] || { cat "$run/views.log"; say "the DNS views did not start"; exit 1; }
    setsid "$build/acmeva-worker" --redis "$redis" --threads 1 --perspective "$v" --rir "${rir[$v]}" \
        --allow-private-addresses --resolver "127.0.0.1:${vport[$v]}" --no-dns-0x20 \
        --http-port "$p_http" --issuer-domain ca.example >"$run/worker-$v.log" 2>&1 &
    pids+=($!)
done
setsid "$build/acmeva-coordinator" --redis "$redis" --threads 1 --primary primary \
    --remote r1:ARIN --remote r2:RIPE --remote r3:APNIC --remote r4:ARIN --remote r5:RIPE \
    --slow-remote-ms 500 >"$run/coordinator.log" 2>&1 &
pids+=($!)

python3 - "$p_mgmt" "$run/mpic.ndjson" "$run/hijack.json" <<'PY'
import base64, json, secrets, sys, urllib.request
mgmt, out, hijack = f"http://127.0.0.1:{sys.argv[1]}", sys.argv[2], sys.argv[3]
def call(ep, body):
    urllib.request.urlopen(urllib.request.Request(f"{mgmt}/{ep}", json.dumps(body).encode()),
                           timeout=10).read()
thumb = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
jobs, views = [], {}
for jid, name, hijacked in (("mpic/agree", "agree.example.com", []),
                            ("mpic/one-hijacked", "one.example.com", ["r5"]),
                            ("mpic/two-hijacked", "two.example.com", ["r4", "r5"])):
    t = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    call("add-http01", {"token": t, "content": f"{t}.{thumb}"})
    for v in hijacked:
        views.setdefault(v, []).append(name)
    jobs.append({"v": 1, "id": jid, "identifier": {"type": "dns", "value": name},
                 "challenge": {"type": "http-01", "token": t}, "keyAuthorization": f"{t}.{thumb}"})
json.dump(views, open(hijack, "w"))
with open(out, "w") as f:
    for j in jobs: f.write(json.dumps(j) + "\n")
PY
say "submitting 3 MPIC jobs (one name hijacked for r5, one for r4 and r5)"
set +e
"$build/acmeva" submit --redis "$redis" --mpic --job "$run/mpic.ndjson" --wait \
    --timeout-ms 30000 >"$run/mpic-results.ndjson" 2>"$run/mpic-submit.log"
mpic_rc=$?
set -e
python3 - "$run/mpic-results.ndjson" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    r = json.loads(line)
    m = r.get("mpic", {})
    print(f"\n{r['id']}: {r['status'].upper()}  (quorum {m.get('quorum')}, {m.get('required')} "
          f"required, passing RIRs {', '.join(m.get('passedRirs', []))})")
    for p in m.get("perspectives", []):
        print(f"    {p['perspective']:<4} {p['rir']:<7} {p['status']:<8} resolved "
              f"{', '.join(p.get('addressesResolved', [])) or '-'}")
    for d in m.get("disagreements", []):
        print(f"    disagreement: {d}")
    if r.get("error"):
        print(f"    problem: {r['error']['type'].rsplit(':', 1)[-1]}: {r['error']['detail']}")
PY
echo
expected=$(python3 -c 'import json, sys
got = {r["id"]: r["status"] for r in map(json.loads, filter(str.strip, open(sys.argv[1])))}
print(got == {"mpic/agree": "valid", "mpic/one-hijacked": "valid", "mpic/two-hijacked": "invalid"})' \
    "$run/mpic-results.ndjson")
if [ $mpic_rc -ne 1 ] || [ "$expected" != True ]; then
    cat "$run/mpic-submit.log"
    tail -20 "$run/coordinator.log"
    say "the MPIC demo did not come out as expected (exit $mpic_rc)"
    exit 1
fi
say "done: corroborated 5/5; still valid 4/5 with one hijacked perspective; invalid with two"
echo "The raw results are JSON lines: see proto/result.schema.json and docs/mpic.md. Worker log:"
sed -n '1,3p' "$run/worker.log"
