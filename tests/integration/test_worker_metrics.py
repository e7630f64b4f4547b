"""acmeva-worker --metrics-listen against real Redis and pebble-challtestsrv: a mixed batch
(http-01 valid, through a redirect and refused, dns-01 valid and missing, tls-alpn-01 valid,
CAA-only, malformed jobs), then a scrape that `promtool check
metrics` accepts and whose counters equal what the results in Redis say. /healthz is 200,
/readyz flips to 503 when Redis stops and back to 200 when it returns. Bad requests (huge
headers, a slowloris head, garbage, other methods and paths, more connections than allowed)
leave the worker serving and the endpoint answering. A port that cannot be bound stops the
start with a clear message.
"""

import collections
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

# From worker/queue/httpd.h and ops.h / worker.c: the head deadline, the connection cap and how
# often a thread copies its counters into the metrics.
HEAD_MS = 5000
MAX_CONNS = 32
STATS_SYNC_MS = 500
# Reconnect backoff caps at 5 s (docs/worker.md "Redis lost"), plus the sync period.
RECONNECT_BOUND_S = 5 + 5 + STATS_SYNC_MS / 1000 + 2

cts = t.Challtestsrv()
c = t.Checks()
promtool = shutil.which("promtool")
c.ok(promtool, "promtool is installed (Debian package prometheus, deploy/install-deps.sh)")


def get(port, path, method="GET"):
    """(status, body) of one request to the worker's endpoint."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')


def parse(text):
    """{(name, frozenset(labels)): value} of a scrape."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"bad sample line {line!r}")
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


def raw_exchange(port, data, wait=5.0):
    """Sends |data|, returns what comes back until the server closes or |wait| s pass."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    got = b""
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return got


redis = t.RedisServer()
mport = t.free_port()
w = None
try:
    w = t.WorkerProc(["--redis", redis.url, "--threads", "2", "--metrics-listen",
                      f"127.0.0.1:{mport}", "--timeout-ms", "5000", "--dns-tries", "1",
                      "--tls-timeout-ms", "2000", "--connect-timeout-ms", "2000"]
                     + t.cts_engine_args(cts), "metrics")
    cl = redis.client()
    c.ok(t.wait_group(cl, consumers=2), "the worker joined the group")
    c.eq(t.wait_until(lambda: get(mport, "/readyz")[0] == 200 and 200, 10), 200,
         "ready once connected")
    c.eq(get(mport, "/healthz"), (200, "ok\n"), "healthy")

    # ---- the mixed batch ---------------------------------------------------------------------
    jobs = []
    for i in range(6):  # http-01 valid
        tok = t.new_token()
        cts.call("add-http01", {"token": tok, "content": t.key_authorization(tok)})
        jobs.append(t.job(t.unique("m"), "http-01", tok, t.key_authorization(tok)))
    for i in range(2):  # http-01 valid through one redirect
        tok, tok2 = t.new_token(), t.new_token()
        name = t.unique("mr")
        cts.call("add-http01", {"token": tok2, "content": t.key_authorization(tok)})
        cts.call("add-redirect", {"path": f"/.well-known/acme-challenge/{tok}",
                                  "targetURL": f"http://{name}:{cts.http_port}"
                                               f"/.well-known/acme-challenge/{tok2}"})
        jobs.append(t.job(name, "http-01", tok, t.key_authorization(tok)))
    for i in range(3):  # http-01 with the wrong content: unauthorized
        tok = t.new_token()
        cts.call("add-http01", {"token": tok, "content": "wrong"})
        jobs.append(t.job(t.unique("m"), "http-01", tok, t.key_authorization(tok)))
    for i in range(3):  # dns-01 valid
        tok, name = t.new_token(), t.unique("md")
        cts.call("set-txt", {"host": f"_acme-challenge.{name}.",
                             "value": t.dns01_value(t.key_authorization(tok))})
        jobs.append(t.job(name, "dns-01", tok, t.key_authorization(tok)))
    for i in range(2):  # dns-01 without a record
        tok = t.new_token()
        jobs.append(t.job(t.unique("md"), "dns-01", tok, t.key_authorization(tok)))
    for i in range(2):  # tls-alpn-01 valid
        tok, name = t.new_token(), t.unique("mt")
        cts.call("add-tlsalpn01", {"host": name, "content": t.key_authorization(tok)})
        jobs.append(t.job(name, "tls-alpn-01", tok, t.key_authorization(tok)))
    jobs.append(t.job(t.unique("mc"), None, caa={"issuerDomains": ["ca.example"]}))
    malformed = ['{"v":1,"id":"m-bad-1"}', "not json at all"]
    entries = t.enqueue(cl, jobs + malformed)
    n = len(entries)

    results = t.wait_until(lambda: len(t.stream_results(cl)) >= n and t.stream_results(cl), 60,
                           0.1)
    c.ok(results, "every job answered", len(t.stream_results(cl)))
    results = results or []
    c.ok(t.wait_until(lambda: t.pending_count(cl) == 0, 10), "nothing left pending")
    # Counters kept elsewhere reach the metrics within a sync period: wait for the last of them
    # (a loop's sync timer can run late on a loaded machine), up to the grace period; if they
    # never get there, the checks below say which is wrong.
    def all_posted():
        try:
            return value(parse(get(mport, "/metrics")[1]), "acmeva_results_posted_total") == n
        except ValueError:  # a bad scrape: promtool below says what is wrong
            return True
    t.wait_until(all_posted, 2 * STATS_SYNC_MS / 1000 + t.GRACE_S, 0.1)
    status, text = get(mport, "/metrics")
    c.eq(status, 200, "/metrics answers 200")
    p = subprocess.run([promtool or "promtool", "check", "metrics"], input=text,
                       capture_output=True, text=True)
    c.ok(p.returncode == 0, "promtool check metrics accepts the scrape", p.stdout + p.stderr)
    c.ok(p.stdout.strip() == "" and p.stderr.strip() == "", "and finds nothing to lint",
         p.stdout + p.stderr)
    samples = parse(text)

    # validations_total{type,result,problem,perspective} equals the results.
    want = collections.Counter()
    validated = collections.Counter()
    for r in results:
        ctype = (r.get("challenge") or {}).get("type") or ("caa" if "caa" in r else "unknown")
        problem = r["error"]["type"].rsplit(":", 1)[1] if r["status"] == "invalid" else "none"
        want[(ctype, r["status"], problem)] += 1
        if r.get("identifier") is not None:
            validated[(ctype, r["status"])] += 1
    got = {(dict(k[1])["type"], dict(k[1])["result"], dict(k[1])["problem"]): v
           for k, v in samples.items() if k[0] == "acmeva_validations_total"}
    c.eq(got, {k: float(v) for k, v in want.items()}, "acmeva_validations_total equals the results")
    c.ok(all(dict(k[1]).get("perspective") == "default" for k in samples
             if k[0] == "acmeva_validations_total"), "labelled with the perspective")
    for (ctype, result), count in validated.items():
        c.eq(value(samples, "acmeva_validation_duration_seconds_count", type=ctype, result=result),
             count, f"duration histogram counts {ctype} {result}")
        c.eq(value(samples, "acmeva_validation_duration_seconds_bucket", type=ctype,
                   result=result, le="+Inf"), count, f"+Inf bucket of {ctype} {result}")
    c.eq(value(samples, "acmeva_jobs_received_total"), n, "jobs received")
    c.eq(value(samples, "acmeva_results_posted_total"), n, "results posted")
    c.eq(value(samples, "acmeva_dead_letters_total", reason="malformed"), len(malformed),
         "malformed jobs dead-lettered")
    c.eq(value(samples, "acmeva_http_redirects_total"), 2, "redirects followed")
    c.eq(value(samples, "acmeva_inflight"), 0, "nothing in flight")
    c.eq(value(samples, "acmeva_results_waiting"), 0, "no result waiting")
    c.eq(value(samples, "acmeva_redis_connected"), 1, "Redis connected")
    c.eq(value(samples, "acmeva_stream_reading"), 1, "reading")
    version = subprocess.run([t.WORKER, "--version"], capture_output=True,
                             text=True).stdout.split()[1]
    c.eq(value(samples, "acmeva_build_info", version=version), 1, "build info names the version")
    # HEAD: the headers without the body.
    c.eq(get(mport, "/metrics", "HEAD"), (200, ""), "HEAD /metrics")

    # ---- bad requests ---------------------------------------------------------------------------
    huge = b"GET /metrics HTTP/1.1\r\nX-Fill: " + b"a" * 9000 + b"\r\n\r\n"
    c.ok(raw_exchange(mport, huge).startswith(b"HTTP/1.1 431 "), "huge headers: 431")
    c.ok(raw_exchange(mport, b"\x16\x03\x01garbage\r\n\r\n").startswith(b"HTTP/1.1 400 "),
         "garbage: 400")
    c.ok(raw_exchange(mport, b"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
         .startswith(b"HTTP/1.1 413 "), "a body: 413")
    c.eq(get(mport, "/metrics", "POST")[0], 405, "POST: 405")
    c.eq(get(mport, "/nope")[0], 404, "unknown path: 404")
    # Slowloris: a head that never ends is cut at the head deadline, and the endpoint serves
    # others meanwhile.
    slow = socket.create_connection(("127.0.0.1", mport))
    slow.sendall(b"GET /metrics HTTP/1.1\r\nX-A: 1\r\n")
    t0 = time.time()
    c.eq(get(mport, "/healthz")[0], 200, "served while a slow head is pending")
    slow.settimeout(HEAD_MS / 1000 + 5)
    try:
        closed = slow.recv(100) == b""
    except (socket.timeout, ConnectionResetError):
        closed = False
    waited = time.time() - t0
    c.ok(closed and HEAD_MS / 1000 - 0.5 <= waited <= HEAD_MS / 1000 + 3,
         "a slow head is closed at the head deadline", waited)
    slow.close()
    # More connections than allowed: the oldest are evicted and new ones served.
    idle = [socket.create_connection(("127.0.0.1", mport)) for _ in range(3 * MAX_CONNS)]
    c.eq(get(mport, "/readyz")[0], 200, "served with many idle connections open")
    evicted = 0
    for s in idle[:MAX_CONNS]:
        s.settimeout(2)
        try:
            evicted += s.recv(10) == b""
        except (socket.timeout, ConnectionResetError):
            evicted += 1
    c.eq(evicted, MAX_CONNS, "the oldest connections were closed")
    for s in idle:
        s.close()
    # Keep-alive: two requests on one connection.
    both = raw_exchange(mport, b"GET /healthz HTTP/1.1\r\n\r\n", wait=1.0)
    c.ok(both.startswith(b"HTTP/1.1 200 ") and b"Connection: keep-alive" in both,
         "keep-alive by default on HTTP/1.1")
    c.ok(w.alive(), "the worker survived the bad requests")
    tok = t.new_token()
    cts.call("add-http01", {"token": tok, "content": t.key_authorization(tok)})
    after = t.job(t.unique("m"), "http-01", tok, t.key_authorization(tok), job_id="after-bad")
    t.enqueue(cl, [after])
    c.ok(t.wait_until(lambda: any(r["id"] == "after-bad" and r["status"] == "valid"
                                  for r in t.stream_results(cl)), 15),
         "and still validates")

    # ---- readiness follows Redis ------------------------------------------------------------
    cl.close()
    redis.stop()
    c.eq(t.wait_until(lambda: get(mport, "/readyz")[0] == 503 and 503, RECONNECT_BOUND_S), 503,
         "not ready while Redis is down")
    status, body = get(mport, "/readyz")
    c.ok("Redis" in body, "the body says why", body)
    c.eq(get(mport, "/healthz")[0], 200, "still healthy: the loops turn")
    samples = parse(get(mport, "/metrics")[1])
    c.eq(value(samples, "acmeva_redis_connected"), 0, "acmeva_redis_connected 0")
    redis.start()
    c.eq(t.wait_until(lambda: get(mport, "/readyz")[0] == 200 and 200, RECONNECT_BOUND_S), 200,
         "ready again once Redis is back")
    samples = parse(get(mport, "/metrics")[1])
    lost = sum(v for k, v in samples.items() if k[0] == "acmeva_redis_connection_losses_total")
    c.ok(lost >= 4, "the lost connections are counted (2 threads x reader and writer)", lost)
    c.eq(w.stop(), 0, "exit 0 on SIGTERM")
    w.cleanup()
    w = None

    # ---- a port that cannot be bound -------------------------------------------------------
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    bport = busy.getsockname()[1]
    p = subprocess.run([t.WORKER, "--redis", redis.url, "--threads", "1", "--metrics-listen",
                        f"127.0.0.1:{bport}"], capture_output=True, text=True, timeout=30)
    c.eq(p.returncode, 1, "a port in use: exit 1")
    c.ok(f"cannot bind the metrics address 127.0.0.1:{bport}" in p.stderr or
         f"cannot listen the metrics address 127.0.0.1:{bport}" in p.stderr,
         "with a clear message", p.stderr[-400:])
    busy.close()
    p = subprocess.run([t.WORKER, "--metrics-listen", "localhost:9100"], capture_output=True,
                       text=True, timeout=30)
    c.eq(p.returncode, 2, "a bad --metrics-listen: exit 2")
    c.ok("--metrics-listen" in p.stderr, "naming the option", p.stderr)
finally:
    if w:
        w.cleanup()
    redis.cleanup()
c.done()
