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
    # Every job goes to the one fixture address: no per-address queue in the way.
    engine = t.allow_args() + [*cts.resolver_args, "--http-port", str(fix.port),
                               "--max-per-destination", "1000"]
    cl = redis.client()

    # 1. Everything in flight finishes within the grace period.
    reply = "acmeva:v1:results:test-sigterm-1"
    TIMEOUT_MS, GRACE_MS = 4000, 10000
    w = t.WorkerProc(["--redis", redis.url, "--threads", "2", "--timeout-ms", str(TIMEOUT_MS),
                      "--grace-ms", str(GRACE_MS)] + engine, "sigterm-1")
    workers.append(w)
    c.ok(t.wait_group(cl, consumers=2), "the worker joined the group")
    jobs = jobs_for("st1", reply)
    t.enqueue(cl, jobs)
    # The slow jobs are in flight until --timeout-ms after they start: after that, the state
    # waited for is gone.
    c.ok(t.wait_until(lambda: cl.call("XLEN", reply) >= N and t.pending_count(cl) >= N,
                      TIMEOUT_MS / 1000), "fast jobs done, slow ones in flight")
    start = time.time()
    w.signal(signal.SIGTERM)
    # Its jobs end within --timeout-ms, and the grace period is longer: it exits once they
    # are posted, within --timeout-ms (plus the machine's grace), not at --grace-ms.
    bound = min(TIMEOUT_MS, GRACE_MS) / 1000 + t.GRACE_S
    rc = w.wait(GRACE_MS / 1000 + t.GRACE_S)
    took = time.time() - start
    c.eq(rc, 0, "exit 0 after SIGTERM")
    c.ok(took <= bound, "exited once its jobs ended, within the grace period",
         f"{took:.2f} s, bound {bound:.1f} s")
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
    TIMEOUT2_MS, GRACE2_MS = 30000, 500
    w2 = t.WorkerProc(["--redis", redis.url, "--threads", "1", "--timeout-ms", str(TIMEOUT2_MS),
                       "--grace-ms", str(GRACE2_MS)] + engine, "sigterm-2")
    workers.append(w2)
    # The first worker removed its consumers (nothing pending) when it stopped.
    c.ok(t.wait_group(cl, consumers=1), "the second worker joined the group")
    jobs = jobs_for("st2", reply)
    t.enqueue(cl, jobs)
    c.ok(t.wait_until(lambda: cl.call("XLEN", reply) >= N and t.pending_count(cl) >= N,
                      TIMEOUT2_MS / 1000), "fast jobs done, slow ones in flight")
    start = time.time()
    w2.signal(signal.SIGTERM)
    # The jobs would run for --timeout-ms; the worker stops them at --grace-ms.
    bound = GRACE2_MS / 1000 + t.GRACE_S
    rc = w2.wait(bound + t.GRACE_S)
    took = time.time() - start
    c.eq(rc, 0, "exit 0 at the end of a short grace period")
    c.ok(took <= bound, "exited at the end of the grace period, not of its jobs",
         f"{took:.2f} s, bound {bound:.1f} s")
    pend = pending_by_consumer(cl)
    mine = sum(n for name, n in pend.items() if name.split(":")[1] == str(w2.pid))
    c.eq(mine, N, "the cancelled jobs stay pending for its consumer")
    c.ok("grace period over" in w2.log(), "the cancellation is logged")

    TIMEOUT3_MS, CLAIM_MS = 1500, 1000
    w3 = t.WorkerProc(["--redis", redis.url, "--threads", "1", "--timeout-ms", str(TIMEOUT3_MS),
                       "--claim-idle-ms", str(CLAIM_MS)] + engine, "sigterm-3")
    workers.append(w3)
    # Claimed once idle for --claim-idle-ms, at the next claim round (every claim-idle / 4),
    # then run for at most --timeout-ms.
    bound = (CLAIM_MS + CLAIM_MS / 4 + TIMEOUT3_MS) / 1000 + t.GRACE_S
    c.ok(t.wait_until(lambda: len({r["id"] for r in t.stream_results(cl, reply)}) >= 2 * N,
                      bound, 0.1), "another worker finished the abandoned jobs")
    slow = [r for r in t.stream_results(cl, reply) if "-slow-" in r["id"]]
    c.ok(slow and all(r["attempt"] >= 2 for r in slow), "with attempt >= 2")
    # A result and its acknowledgement are one transaction: no wait beyond the grace.
    c.ok(t.wait_until(lambda: t.pending_count(cl) == 0, t.GRACE_S), "nothing left pending")
    c.eq(w3.stop(), 0, "the third worker exits 0")
finally:
    for w in workers:
        w.cleanup()
    fix.stop()
    redis.cleanup()
c.done()
