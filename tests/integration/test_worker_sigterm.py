"""SIGTERM: a worker stops reading, lets its jobs in flight finish within --grace-ms, posts and
acknowledges them and exits 0, leaving nothing pending. With a grace period shorter than its
jobs, it exits 0 at the deadline and what it still ran stays pending, to be claimed and
finished by another worker.
"""

import os
import secrets
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

N = 20

cts = t.Challtestsrv()
c = t.Checks()
redis = t.RedisServer()
fix = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen", "127.0.0.1",
                 "--listen", "::1", "--key-authorization-suffix", t.THUMBPRINT])
workers = []


def jobs_for(prefix, reply):
    jobs = []
    for i in range(N):
        tok = f"ok_{secrets.token_hex(10)}"
        jobs.append(t.job(t.unique(prefix), "http-01", tok, t.key_authorization(tok),
                          job_id=f"{prefix}-fast-{i}", replyTo=reply))
        tok = f"silent_{secrets.token_hex(10)}"
        jobs.append(t.job(t.unique(prefix), "http-01", tok, t.key_authorization(tok),
                          job_id=f"{prefix}-slow-{i}", replyTo=reply))
    return jobs


def pending_by_consumer(cl):
    summary = cl.call("XPENDING", t.JOBS_STREAM, "acmeva")
    return {name.decode(): int(n) for name, n in (summary[3] or [])}


try:
    engine = t.allow_args() + ["--resolver", cts.dns, "--http-port", str(fix.port)]
    cl = redis.client()

    # 1. Everything in flight finishes within the grace period.
    reply = "acmeva:v1:results:test-sigterm-1"
    w = t.WorkerProc(["--redis", redis.url, "--threads", "2", "--timeout-ms", "4000",
                      "--grace-ms", "10000"] + engine, "sigterm-1")
    workers.append(w)
    c.ok(t.wait_group(cl, consumers=2), "the worker joined the group")
    jobs = jobs_for("st1", reply)
    t.enqueue(cl, jobs)
    c.ok(t.wait_until(lambda: cl.call("XLEN", reply) >= N and t.pending_count(cl) >= N, 10),
         "fast jobs done, slow ones in flight")
    start = time.time()
    w.signal(signal.SIGTERM)
    rc = w.wait(15)
    took = time.time() - start
    c.eq(rc, 0, "exit 0 after SIGTERM")
    c.ok(took < 10.0, "exited within the grace period", f"{took:.2f} s")
    ids = {r["id"] for r in t.stream_results(cl, reply)}
    c.eq(len(ids), 2 * N, "every job it held has its result")
    c.eq(t.pending_count(cl), 0, "nothing it finished is left unacknowledged")
    c.ok(not any(name.split(":")[1] == str(w.pid) for name in pending_by_consumer(cl)),
         "no pending entry for its consumers")
    log = w.log()
    c.ok("stopping signal=SIGTERM" in log and "acmeva-worker stopped" in log,
         "the shutdown is logged", log[-600:])

    # 2. A grace period shorter than the jobs: exit 0 at the deadline; the jobs stay pending.
    reply = "acmeva:v1:results:test-sigterm-2"
    w2 = t.WorkerProc(["--redis", redis.url, "--threads", "1", "--timeout-ms", "30000",
                       "--grace-ms", "500"] + engine, "sigterm-2")
    workers.append(w2)
    # The first worker removed its consumers (nothing pending) when it stopped.
    c.ok(t.wait_group(cl, consumers=1), "the second worker joined the group")
    jobs = jobs_for("st2", reply)
    t.enqueue(cl, jobs)
    c.ok(t.wait_until(lambda: cl.call("XLEN", reply) >= N and t.pending_count(cl) >= N, 10),
         "fast jobs done, slow ones in flight")
    start = time.time()
    w2.signal(signal.SIGTERM)
    rc = w2.wait(15)
    took = time.time() - start
    c.eq(rc, 0, "exit 0 at the end of a short grace period")
    c.ok(took < 3.0, "exited soon after the grace period", f"{took:.2f} s")
    pend = pending_by_consumer(cl)
    mine = sum(n for name, n in pend.items() if name.split(":")[1] == str(w2.pid))
    c.eq(mine, N, "the cancelled jobs stay pending for its consumer")
    c.ok("grace period over" in w2.log(), "the cancellation is logged")

    w3 = t.WorkerProc(["--redis", redis.url, "--threads", "1", "--timeout-ms", "1500",
                       "--claim-idle-ms", "1000"] + engine, "sigterm-3")
    workers.append(w3)
    c.ok(t.wait_until(lambda: len({r["id"] for r in t.stream_results(cl, reply)}) >= 2 * N,
                      20, 0.1), "another worker finished the abandoned jobs")
    slow = [r for r in t.stream_results(cl, reply) if "-slow-" in r["id"]]
    c.ok(slow and all(r["attempt"] >= 2 for r in slow), "with attempt >= 2")
    c.ok(t.wait_until(lambda: t.pending_count(cl) == 0, 10), "nothing left pending")
    c.eq(w3.stop(), 0, "the third worker exits 0")
finally:
    for w in workers:
        w.cleanup()
    fix.stop()
    redis.cleanup()
c.done()
