"""Backpressure: with --max-inflight 10 a worker thread never holds more than 10 jobs, so that
work it cannot start stays in the stream for other workers. Slow targets (httpfix `silent`,
never answered) keep the slots busy while XPENDING is sampled per consumer (one per thread).
"""

import os
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

REPLY = "acmeva:v1:results:test-backpressure"
N = 60
MAX = 10

cts = t.Challtestsrv()
c = t.Checks()
redis = t.RedisServer()
fix = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen", "127.0.0.1",
                 "--listen", "::1", "--key-authorization-suffix", t.THUMBPRINT])
w = None
try:
    THREADS, TIMEOUT_MS = 2, 1500
    w = t.WorkerProc(["--redis", redis.url, "--threads", str(THREADS), "--max-inflight", str(MAX),
                      "--timeout-ms", str(TIMEOUT_MS), *cts.resolver_args, *t.allow_args(),
                      "--http-port", str(fix.port)], "backpressure")
    cl = redis.client()
    c.ok(t.wait_group(cl, consumers=2), "the worker joined the group")
    jobs = []
    for i in range(N):
        tok = f"silent_{secrets.token_hex(10)}"
        jobs.append(t.job(t.unique("bp"), "http-01", tok, t.key_authorization(tok),
                          job_id=f"bp-{i}", replyTo=REPLY))
    t.enqueue(cl, jobs)

    peak, samples = {}, 0
    # THREADS x MAX slots, each job ended by --timeout-ms: that many rounds of it.
    deadline = time.time() + -(-N // (THREADS * MAX)) * TIMEOUT_MS / 1000 + t.GRACE_S
    while time.time() < deadline and cl.call("XLEN", REPLY) < N:
        summary = cl.call("XPENDING", t.JOBS_STREAM, "acmeva")
        for name, n in summary[3] or []:
            peak[name.decode()] = max(peak.get(name.decode(), 0), int(n))
        samples += 1
        time.sleep(0.01)
    c.eq(cl.call("XLEN", REPLY), N, "every job got its result")
    c.ok(samples > 50, "XPENDING was sampled often", samples)
    c.eq(len(peak), 2, "one consumer per thread")
    c.ok(all(n <= MAX for n in peak.values()), "no consumer ever held more than 10", peak)
    c.ok(all(n == MAX for n in peak.values()), "each thread did fill its 10 slots", peak)
    c.ok(all(r["status"] == "invalid" for r in t.stream_results(cl, REPLY)),
         "the silent targets time out")
    c.eq(w.stop(), 0, "exit 0 on SIGTERM")
finally:
    if w:
        w.cleanup()
    fix.stop()
    redis.cleanup()
c.done()
