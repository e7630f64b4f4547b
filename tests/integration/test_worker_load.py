"""2,000 mixed jobs (http-01 and dns-01, valid and invalid) through Redis and two acmeva-worker
processes against pebble-challtestsrv: every id is answered, and every answer it gets has the
expected status (delivery is at least once: an id may be answered twice, never wrongly), both
workers take part, nothing stays pending, and both stop with exit 0 on SIGTERM.
Prints the end-to-end rate through Redis and the rate of the same jobs through
`acmeva check --job -` in one process.
"""

import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

N_HTTP_OK, N_HTTP_BAD, N_DNS_OK, N_DNS_BAD = 800, 400, 400, 400
REPLY = "acmeva:v1:results:test-load"

cts = t.Challtestsrv()
c = t.Checks()
redis = t.RedisServer()
workers = []
try:
    # Fixtures: a few tokens and names, shared by many jobs (each job has its own id).
    ok_tokens = [t.new_token() for _ in range(20)]
    for tok in ok_tokens:
        cts.call("add-http01", {"token": tok, "content": t.key_authorization(tok)})
    bad_tokens = [t.new_token() for _ in range(5)]
    for tok in bad_tokens:
        cts.call("add-http01", {"token": tok, "content": "not-the-key-authorization"})
    dns_ok = []
    for _ in range(20):
        name, tok = t.unique("load-dns"), t.new_token()
        ka = t.key_authorization(tok)
        cts.call("set-txt", {"host": f"_acme-challenge.{name}.", "value": t.dns01_value(ka)})
        dns_ok.append((name, tok, ka))

    jobs, want = [], {}
    for i in range(N_HTTP_OK):
        tok = ok_tokens[i % len(ok_tokens)]
        jobs.append(t.job(t.unique("load-h"), "http-01", tok, t.key_authorization(tok),
                          job_id=f"http-ok-{i}", replyTo=REPLY))
        want[f"http-ok-{i}"] = ("valid", None)
    for i in range(N_HTTP_BAD):
        tok = bad_tokens[i % len(bad_tokens)]
        jobs.append(t.job(t.unique("load-h"), "http-01", tok, t.key_authorization(tok),
                          job_id=f"http-bad-{i}", replyTo=REPLY))
        want[f"http-bad-{i}"] = ("invalid", "urn:ietf:params:acme:error:unauthorized")
    for i in range(N_DNS_OK):
        name, tok, ka = dns_ok[i % len(dns_ok)]
        jobs.append(t.job(name, "dns-01", tok, ka, job_id=f"dns-ok-{i}", replyTo=REPLY))
        want[f"dns-ok-{i}"] = ("valid", None)
    for i in range(N_DNS_BAD):
        tok = t.new_token()
        jobs.append(t.job(t.unique("load-d"), "dns-01", tok, t.key_authorization(tok),
                          job_id=f"dns-bad-{i}", replyTo=REPLY))
        want[f"dns-bad-{i}"] = ("invalid", "urn:ietf:params:acme:error:unauthorized")
    # Interleave the kinds, as a CA would send them.
    jobs = [jobs[(i * 7919) % len(jobs)] for i in range(len(jobs))]
    c.eq(len({j["id"] for j in jobs}), len(jobs), "2,000 distinct jobs")

    # 125 a thread, 500 in all: challtestsrv's one UDP socket drops answers when more lookups
    # arrive at once (its receive buffer overflows), and a lookup that loses all three tries
    # ends as a DNS timeout. At the default 1,000 a thread that happened in one CI run.
    THREADS, INFLIGHT, TIMEOUT_MS = 2, 125, 30000
    args = ["--redis", redis.url, "--threads", str(THREADS), "--claim-idle-ms", "60000",
            "--max-inflight", str(INFLIGHT), "--timeout-ms", str(TIMEOUT_MS)] + \
        t.cts_engine_args(cts)
    workers = [t.WorkerProc(args, "load-a"), t.WorkerProc(args, "load-b")]
    cl = redis.client()
    c.ok(t.wait_group(cl, consumers=4), "both workers joined the group (4 threads)")

    with tempfile.NamedTemporaryFile("w", suffix=".ndjson", delete=False) as f:
        for j in jobs:
            f.write(json.dumps(j) + "\n")
        path = f.name
    start = time.time()
    rc, _, err = t.run_submit(["--redis", redis.url, "--job", path])
    c.eq(rc, 0, "submit enqueued every job")
    c.ok("enqueued 2000 jobs" in err, "submit says how many it enqueued", err)
    # The bound: the workers hold 2 x THREADS x INFLIGHT jobs at once and the engine ends each
    # within --timeout-ms, so the jobs take at most that many rounds of TIMEOUT_MS.
    rounds = -(-len(jobs) // (len(workers) * THREADS * INFLIGHT))
    bound = rounds * TIMEOUT_MS / 1000 + t.GRACE_S

    def all_answered():
        if cl.call("XLEN", REPLY) < len(jobs):
            return False
        return {r.get("id") for r in t.stream_results(cl, REPLY)} >= set(want)

    done = t.wait_until(all_answered, bound, 0.05)
    elapsed = time.time() - start
    c.ok(done, f"every id answered within {bound:.0f} s", cl.call("XLEN", REPLY))
    redis_rate = len(jobs) / elapsed

    results = t.stream_results(cl, REPLY)
    by_id = {}
    for r in results:
        by_id.setdefault(r.get("id"), []).append(r)
    c.eq(sorted(by_id), sorted(want), "results for exactly the jobs sent")
    wrong = []
    for jid, (status, etype) in want.items():
        rs = by_id.get(jid, [])
        if not rs or any(r.get("status") != status or (r.get("error") or {}).get("type") != etype
                         for r in rs):
            wrong.append((jid, [(r.get("status"), r.get("error")) for r in rs]))
    c.eq(wrong[:5], [], "every id answered, each answer with its expected status")
    pids = {str(w.pid) for w in workers}
    used = {(r.get("worker") or "").split(":")[1] for r in results if r.get("worker")}
    c.eq(used, pids, "both worker processes validated jobs")
    c.ok(all(isinstance(r.get("attempt"), int) and r["attempt"] >= 1 and
             r.get("perspective") == "default" for r in results),
         "an attempt count and the perspective in every result")
    c.eq(t.pending_count(cl), 0, "nothing left pending in the group")

    for w in workers:
        c.eq(w.stop(), 0, f"worker {w.pid} exits 0 on SIGTERM")
        log = w.log()
        c.ok("acmeva-worker starting" in log and "validation id=" in log,
             "the worker logged its start and its validations")

    # The same jobs in one `acmeva check` process, for comparison.
    start = time.time()
    # acmeva check holds --max-inflight jobs at once (default 1000), each ended within
    # --timeout-ms: as many rounds of it as that takes.
    check_bound = -(-len(jobs) // 1000) * TIMEOUT_MS / 1000 + t.GRACE_S
    rc, res, _, _ = t.run_check(t.cts_engine_args(cts) + ["--timeout-ms", str(TIMEOUT_MS)],
                                jobs, timeout=check_bound, allow=())
    check_rate = len(jobs) / (time.time() - start)
    c.eq(rc, 1, "acmeva check: some invalid")
    c.eq(sum(1 for r in res.values() if r.get("status") == "valid"), N_HTTP_OK + N_DNS_OK,
         "acmeva check agrees on the valid ones")
    print(f"rate through Redis (2 workers x 2 threads): {redis_rate:.0f} jobs/s "
          f"({len(jobs)} jobs in {len(jobs) / redis_rate:.2f} s)")
    print(f"rate of acmeva check --job - (one process): {check_rate:.0f} jobs/s")
    os.unlink(path)
finally:
    for w in workers:
        w.cleanup()
    redis.cleanup()
c.done()
