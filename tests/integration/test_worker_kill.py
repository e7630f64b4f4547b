"""At least once: a worker killed with SIGKILL while it holds jobs (slow targets that never
answer, from tests/fixtures/httpfix.py) loses nothing: another worker claims the jobs once they
have been idle for --claim-idle-ms and every job gets its result, the claimed ones with
attempt >= 2.
"""

import os
import secrets
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

REPLY = "acmeva:v1:results:test-kill"
N = 30

cts = t.Challtestsrv()
c = t.Checks()
redis = t.RedisServer()
fix = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen", "127.0.0.1",
                 "--listen", "::1", "--key-authorization-suffix", t.THUMBPRINT])
workers = []
try:
    CLAIM_MS, A_TIMEOUT_MS, B_TIMEOUT_MS = 2000, 6000, 3000
    args = ["--redis", redis.url, "--threads", "2", "--claim-idle-ms", str(CLAIM_MS),
            *cts.resolver_args, *t.allow_args(), "--http-port", str(fix.port),
            # Every job goes to the one fixture address: no per-address queue in the way.
            "--max-per-destination", "1000"]
    # A holds each slow job for 6 s (plenty of time to kill it); B gives up on them after 3 s.
    a = t.WorkerProc(args + ["--timeout-ms", str(A_TIMEOUT_MS)], "kill-a")
    workers.append(a)
    cl = redis.client()
    c.ok(t.wait_group(cl, consumers=2), "worker A joined the group")

    jobs = []
    for i in range(N):
        tok = f"ok_{secrets.token_hex(10)}"
        jobs.append(t.job(t.unique("kill"), "http-01", tok, t.key_authorization(tok),
                          job_id=f"fast-{i}", replyTo=REPLY))
        tok = f"silent_{secrets.token_hex(10)}"
        jobs.append(t.job(t.unique("kill"), "http-01", tok, t.key_authorization(tok),
                          job_id=f"slow-{i}", replyTo=REPLY))
    t.enqueue(cl, jobs)

    # A holds the slow jobs (never answered) once the fast ones are done.
    # A holds them until its --timeout-ms: after that the state waited for is gone.
    c.ok(t.wait_until(lambda: cl.call("XLEN", REPLY) >= N and t.pending_count(cl) >= N,
                      A_TIMEOUT_MS / 1000),
         "A finished the fast jobs and holds the slow ones",
         (cl.call("XLEN", REPLY), t.pending_count(cl)))
    a.signal(signal.SIGKILL)
    a.wait(10)
    held = t.pending_count(cl)
    c.ok(held >= N, "the killed worker left its jobs pending", held)

    b = t.WorkerProc(args + ["--timeout-ms", str(B_TIMEOUT_MS)], "kill-b")
    workers.append(b)
    # Claimed once idle for --claim-idle-ms, at the next claim round (every claim-idle / 4),
    # then run for at most B's --timeout-ms.
    bound = (CLAIM_MS + CLAIM_MS / 4 + B_TIMEOUT_MS) / 1000 + t.GRACE_S
    done = t.wait_until(lambda: len({r["id"] for r in t.stream_results(cl, REPLY)}) >= 2 * N,
                        bound, 0.1)
    c.ok(done, "every job got a result")
    results = t.stream_results(cl, REPLY)
    by_id = {}
    for r in results:
        by_id.setdefault(r["id"], []).append(r)
    c.eq(sorted(by_id), sorted(j["id"] for j in jobs), "results for exactly the jobs sent")
    c.ok(all(r["status"] == "valid" for i in range(N) for r in by_id.get(f"fast-{i}", [])),
         "the fast jobs are valid")
    slow = [by_id.get(f"slow-{i}", [{}])[0] for i in range(N)]
    c.ok(all((r.get("error") or {}).get("type") == "urn:ietf:params:acme:error:connection"
             for r in slow), "the slow jobs time out (connection problem)",
         [r.get("error") for r in slow[:2]])
    c.ok(all(r.get("worker", "").split(":")[1:2] == [str(b.pid)] for r in slow),
         "the slow jobs were finished by worker B")
    c.ok(all(r.get("attempt", 0) >= 2 for r in slow), "claimed jobs carry attempt >= 2",
         [r.get("attempt") for r in slow[:3]])
    # A result and its acknowledgement are one transaction: no wait beyond the grace.
    c.ok(t.wait_until(lambda: t.pending_count(cl) == 0, t.GRACE_S), "nothing left pending")
    c.ok("claimed idle entries" in b.log(), "worker B logged its claims")
    c.eq(b.stop(), 0, "worker B exits 0 on SIGTERM")
finally:
    for w in workers:
        w.cleanup()
    fix.stop()
    redis.cleanup()
c.done()
