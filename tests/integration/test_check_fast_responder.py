"""The engine against acmeva-responder (bench/), a resolver and web server that answer as fast
as the loopback allows.

Regression test: a query started from an answer's callback used to be sent at once, and c-ares,
which reads a socket until it is empty, then never left its read loop while each new query was
answered before the loop ended: every timer starved. acmeva-bench --refill-in-callback starts
the next validation from the result callback exactly so; it must stop at its --duration.
Then `acmeva check` runs 30,000 jobs, and jobs whose resolver never answers must still end at
their deadline meanwhile.
"""

import base64
import collections
import hashlib
import json
import os
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

c = t.Checks()
RESPONDER = os.path.join(t.BUILD, "bench", "acmeva-responder")
BENCH = os.path.join(t.BUILD, "bench", "acmeva-bench")


def b64(d):
    return base64.urlsafe_b64encode(d).decode().rstrip("=")


def ka(token):
    # bench/README.md "The token scheme".
    return token + "." + b64(hashlib.sha256(b"acmeva-bench:" + token.encode()).digest())


http_port, tls_port, dns_port = t.free_port(), t.free_port(), t.free_port()
proc = t.subprocess.Popen([RESPONDER, "--http-port", str(http_port), "--tls-port", str(tls_port),
                           "--dns-port", str(dns_port)], stdout=t.subprocess.PIPE,
                          stderr=t.subprocess.DEVNULL, text=True)
try:
    line = proc.stdout.readline()
    c.ok("ready" in line, "responder started", line)
    # It stops starting jobs after --duration and each job ends by its --deadline-ms: when the
    # duration timer is starved by jobs refilled from callbacks, it never stops.
    DURATION_S, JOB_DEADLINE_MS = 2, 3000
    bound = DURATION_S + JOB_DEADLINE_MS / 1000 + t.GRACE_S
    start = time.time()
    try:
        b = t.subprocess.run([BENCH] + t.allow_args() + ["--resolver",
                              f"127.0.0.1:{dns_port}", "--http-port", str(http_port), "--mix",
                              "dns-01", "-c", "256", "--duration", str(DURATION_S),
                              "--deadline-ms", str(JOB_DEADLINE_MS), "--refill-in-callback"],
                             capture_output=True, text=True, timeout=bound + t.GRACE_S)
        bench_rc = b.returncode
    except t.subprocess.TimeoutExpired:
        bench_rc = "timeout"
    c.eq(bench_rc, 0, "acmeva-bench --refill-in-callback ends")
    c.ok(time.time() - start <= bound, "it stops at its duration (timers are not starved)",
         f"{time.time() - start:.1f} s for --duration {DURATION_S}, bound {bound:.1f} s")
    DNS_TIMEOUT_MS, DNS_TRIES = 300, 2
    others = []
    for i in range(30000):
        tok = secrets.token_hex(16)
        kind = "http-01" if i % 3 == 0 else "dns-01"
        others.append(json.dumps(t.job(f"{tok}.bench.test", kind, tok, ka(tok),
                                       job_id=f"{kind}-{i}")))
    # First in the batch, jobs whose names the responder never answers (a DNS tarpit). Each
    # ends after its tries (--dns-tries x --dns-timeout-ms, timeouts handled in batches up to
    # 25 ms late, README), however busy the loop is with the others. Their deadline leaves
    # the tries and the batch's start-up room, so that the tries, not the deadline, end them.
    tries_ms = DNS_TRIES * (DNS_TIMEOUT_MS + 25)
    deadline = int(time.time() * 1000) + tries_ms + int(t.GRACE_S * 1000)
    jobs = []
    for i in range(5):
        tok = secrets.token_hex(16)
        jobs.append(json.dumps(t.job(f"{tok}.tarpit.bench.test", "dns-01", tok, ka(tok),
                                     job_id=f"tarpit-{i}", deadlineMs=deadline)))
    jobs += others
    start = time.time()
    rc, res, results, err = t.run_check(["--resolver", f"127.0.0.1:{dns_port}", "--http-port",
                                         str(http_port), "--max-inflight", "256",
                                         "--dns-timeout-ms", str(DNS_TIMEOUT_MS), "--dns-tries",
                                         str(DNS_TRIES)], jobs, timeout=120)
    elapsed = time.time() - start
    c.eq(rc, 1, "exit status (the tarpit jobs are invalid)")
    c.eq(len(results), len(jobs), "a result for every job")
    bad = collections.Counter(
        (r.get("error") or {}).get("detail", "")[:60] + "... (" + r.get("id", "").split("-")[0] + ")"
        for r in results if r.get("status") != "valid" and not r.get("id", "").startswith("tarpit"))
    c.ok(not bad, "every other job valid", bad.most_common(5))
    for i in range(5):
        r = res.get(f"tarpit-{i}", {})
        c.problem(r, "dns", "query timed out", f"tarpit job {i}")
        c.ok((r.get("durationMs") or 1e9) <= tries_ms + t.GRACE_S * 1000,
             f"tarpit job {i} ended after its tries",
             f"after {r.get('durationMs')} ms while the batch took {elapsed:.1f} s")
        c.ok(t.ended_by(r, deadline), f"tarpit job {i} ended by its deadline", r.get("startedMs"))
    print(f"fast responder: {len(jobs)} jobs in {elapsed:.2f} s = {len(jobs) / elapsed:.0f}/s",
          flush=True)
finally:
    proc.terminate()
    proc.wait(timeout=10)
c.done()
