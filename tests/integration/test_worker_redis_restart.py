"""Redis restarted mid-run (appendonly yes, so the streams and the group survive): validations in
flight go on while Redis is away, their results wait in the worker's outbox and are posted once
it is back; the worker reconnects by itself and no job ends without a result. Then entries
delivered to the worker whose reply it never saw are resumed when its connections come back.
"""

import json
import os
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

REPLY = "acmeva:v1:results:test-restart"
N_FAST, N_SLOW, N_AFTER = 100, 20, 50

cts = t.Challtestsrv()
c = t.Checks()
redis = t.RedisServer(appendonly=True)
fix = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen", "127.0.0.1",
                 "--listen", "::1", "--key-authorization-suffix", t.THUMBPRINT])
w = None


def job(kind, i):
    tok = f"{kind}_{secrets.token_hex(10)}"
    return t.job(t.unique("rr"), "http-01", tok, t.key_authorization(tok), job_id=f"{kind}-{i}",
                 replyTo=REPLY)


try:
    # The slow jobs (never answered) end after 4 s: while Redis is down.
    TIMEOUT_MS = 4000
    w = t.WorkerProc(["--redis", redis.url, "--threads", "2", "--timeout-ms", str(TIMEOUT_MS),
                      *cts.resolver_args, *t.allow_args(),
                      "--http-port", str(fix.port),
                      # Every job goes to the one fixture address: no per-address queue in the
                      # way (the default cap, split over the threads, is less than N_SLOW, and
                      # a fast job whose name resolved after the slow ones would wait them out).
                      "--max-per-destination", "1000"], "restart")
    cl = redis.client()
    c.ok(t.wait_group(cl, consumers=2), "the worker joined the group")
    t.enqueue(cl, [job("ok", i) for i in range(N_FAST)] + [job("silent", i) for i in range(N_SLOW)])
    c.ok(t.wait_until(lambda: cl.call("XLEN", REPLY) >= N_FAST and
                      t.pending_count(cl) >= N_SLOW, TIMEOUT_MS / 1000),
         "fast jobs done, slow ones in flight")  # they end after --timeout-ms
    cl.close()

    redis.restart(down_seconds=4.5)
    cl = redis.client()
    c.ok(cl.call("XLEN", t.JOBS_STREAM) == N_FAST + N_SLOW, "the jobs stream survived")
    t.enqueue(cl, [job("ok", N_FAST + i) for i in range(N_AFTER)])

    want = {f"ok-{i}" for i in range(N_FAST + N_AFTER)} | {f"silent-{i}" for i in range(N_SLOW)}
    got = t.wait_until(lambda: {r["id"] for r in t.stream_results(cl, REPLY)} >= want and
                       {r["id"] for r in t.stream_results(cl, REPLY)},
                       # back within one reconnect delay, then new jobs within --timeout-ms
                       t.RECONNECT_MAX_S + TIMEOUT_MS / 1000 + t.GRACE_S, 0.1)
    c.ok(got, "no job ended without a result",
         sorted(want - {r["id"] for r in t.stream_results(cl, REPLY)})[:5])
    results = t.stream_results(cl, REPLY)
    c.ok(all(r["status"] == "valid" for r in results if r["id"].startswith("ok-")),
         "the fast jobs are valid")
    slow = [r for r in results if r["id"].startswith("silent-")]
    c.ok(slow and all(r["status"] == "invalid" for r in slow), "the slow ones time out")
    # A result and its acknowledgement are one transaction: no wait beyond the grace.
    c.ok(t.wait_until(lambda: t.pending_count(cl) == 0, t.GRACE_S), "nothing left pending")

    # Entries delivered to the worker's consumer whose reply it never saw (a reply lost with
    # the connection): put them in its pending list behind its back, in one transaction so that
    # its own blocked read cannot take them first, then cut its connections. On reconnect it
    # resumes its own pending entries before anything new.
    consumer = f"{os.uname().nodename}:{w.pid}:0"
    consumer = next((x for x in [dict(zip(e[::2], e[1::2])).get(b"name", b"").decode()
                                 for e in cl.call("XINFO", "CONSUMERS", t.JOBS_STREAM, "acmeva")]
                     if x.split(":")[1:] == [str(w.pid), "0"]), consumer)
    orphans = [job("ok", f"orphan-{i}") for i in range(5)]
    replies = cl.pipeline([["MULTI"]] +
                          [["XADD", t.JOBS_STREAM, "*", "job", json.dumps(j)] for j in orphans] +
                          [["XREADGROUP", "GROUP", "acmeva", consumer, "COUNT", 5, "STREAMS",
                            t.JOBS_STREAM, ">"], ["EXEC"]])
    c.ok(isinstance(replies[-1], list) and len(replies[-1][-1][0][1]) == 5,
         "five entries pending for the worker's consumer, unseen by it", replies[-1])

    def connections():
        out = []
        for line in cl.call("CLIENT", "LIST").decode().splitlines():
            f = dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)
            if f.get("name", "").startswith(consumer + ":"):
                out.append(f["id"])
        return out

    # Its reconnect after the restart may still be in backoff.
    ids = t.wait_until(lambda: len(connections()) == 2 and connections(),
                       t.RECONNECT_MAX_S + t.GRACE_S)
    c.ok(ids, "the thread is connected (reader and writer)")
    for cid in ids or []:
        cl.call("CLIENT", "KILL", "ID", cid)
    want = {j["id"] for j in orphans}
    # Every one of them, not the first to come (they are posted one transaction each).
    got = t.wait_until(lambda: want <= {r["id"] for r in t.stream_results(cl, REPLY)} and
                       [r for r in t.stream_results(cl, REPLY) if r["id"] in want],
                       t.RECONNECT_MAX_S + TIMEOUT_MS / 1000 + t.GRACE_S)
    c.eq(sorted(r["id"] for r in got or []), sorted(want), "the unseen entries were resumed")
    c.ok(got and all(r["status"] == "valid" and r["attempt"] == 2 for r in got),
         "valid, with attempt 2 (resuming counts as a delivery)")
    # A result and its acknowledgement are one transaction: no wait beyond the grace.
    c.ok(t.wait_until(lambda: t.pending_count(cl) == 0, t.GRACE_S), "nothing left pending")

    log = w.log()
    c.ok("redis connection lost" in log, "the loss is logged")
    c.ok("redis reconnected" in log, "the reconnect is logged")
    lost, back = log.find("redis connection lost"), log.find("redis reconnected")
    c.ok(0 <= lost < back and "validation id=silent-" in log[lost:back],
         "slow jobs ended while Redis was away (their results waited in the outbox)")
    c.ok(w.alive(), "the worker kept running")
    c.eq(w.stop(), 0, "exit 0 on SIGTERM")
finally:
    if w:
        w.cleanup()
    fix.stop()
    redis.cleanup()
c.done()
