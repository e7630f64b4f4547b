"""How fast the kill switch bites (DESIGN.md "Live kill switch per method": in force within 1 s):
the time from `acmeva policy disable` returning to the first job refused, over 20 tries, with
http-01 jobs streaming in every 5 ms to two workers of two threads each (a real redis-server and
pebble-challtestsrv). Prints the median, the fastest and the slowest, from the command's return
and from its start (the change can bite before the process has even exited, so the first figure
may be below zero), and checks every try against the contract's 1 s plus acmevatest.GRACE_S.

    ACMEVA_BUILDS=normal ACMEVA_FUZZ_SECONDS=0 ACMEVA_CTEST_ARGS="-R policy_latency -V" \\
        bash tests/run.sh
"""

import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

TRIES = 20
EVERY_S = 0.005
BOUND_MS = (1.0 + t.GRACE_S) * 1000

cts = t.Challtestsrv()
c = t.Checks()
redis = t.RedisServer()
cl = redis.client()
procs = []
tok = t.new_token()
ka = t.key_authorization(tok)
cts.call("add-http01", {"token": tok, "content": ka})
stop = threading.Event()


def feed():
    fc = redis.client()
    i = 0
    while not stop.is_set():
        fc.call("XADD", t.JOBS_STREAM, "MAXLEN", "~", "10000", "*", "job",
                json.dumps(t.job(t.unique("lat"), "http-01", tok, ka, job_id=f"lat-{i}")))
        i += 1
        time.sleep(EVERY_S)
    fc.close()


def results_since(start_id):
    out = []
    for eid, fields in cl.call("XRANGE", t.RESULTS_STREAM, start_id, "+"):
        f = dict(zip(fields[::2], fields[1::2]))
        if b"result" in f:
            out.append(json.loads(f[b"result"]))
    return out


def is_refused(r, i):
    """Whether |r| was refused by try |i| (its reason is the try's own: a result of an earlier
    try posted late does not count)."""
    return (r.get("error") or {}).get("detail", "").endswith(f": latency try {i}")


def now_ms():
    return time.time() * 1000


def last_id():
    e = cl.call("XREVRANGE", t.RESULTS_STREAM, "+", "-", "COUNT", 1)
    return e[0][0].decode() if e else "0"


try:
    for n in range(2):
        procs.append(t.WorkerProc(["--redis", redis.url, "--threads", "2",
                                   "--max-per-destination", "1000"] + t.cts_engine_args(cts),
                                  f"lat-{n}"))
    c.ok(t.wait_group(cl, consumers=4), "two workers of two threads joined")
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    from_return, from_start = [], []
    for i in range(TRIES):
        start = last_id()
        t0 = now_ms()
        rc, out, err = t.run_policy(["--redis", redis.url, "disable", "http-01", "--reason",
                                     f"latency try {i}"])
        t_ret = now_ms()
        c.ok(rc == 0, f"try {i}: disabled", err)
        first = t.wait_until(lambda: min((r["startedMs"] for r in results_since(start)
                                          if is_refused(r, i)), default=None), BOUND_MS / 1000)
        c.ok(first is not None, f"try {i}: a job was refused")
        if first is not None:
            from_return.append(first - t_ret)
            from_start.append(first - t0)
            c.ok(first - t_ret <= BOUND_MS, f"try {i}: in force within the bound", first - t_ret)
        start = last_id()
        rc, out, err = t.run_policy(["--redis", redis.url, "enable", "http-01"])
        c.ok(rc == 0, f"try {i}: enabled", err)
        c.ok(t.wait_until(lambda: any(r["status"] == "valid" for r in results_since(start)),
                          BOUND_MS / 1000), f"try {i}: validated again")
    stop.set()
    feeder.join()
    if from_return:
        print(f"policy disable -> first refused job, {len(from_return)} tries: from the command's "
              f"return median {statistics.median(from_return):.1f} ms (min "
              f"{min(from_return):.1f}, max {max(from_return):.1f}); from its start median "
              f"{statistics.median(from_start):.1f} ms (min {min(from_start):.1f}, max "
              f"{max(from_start):.1f}); jobs every {EVERY_S * 1000:.0f} ms", flush=True)
    c.eq(len(from_return), TRIES, "every try measured")
    for p in procs:
        c.eq(p.stop(), 0, "the worker exits 0")
finally:
    stop.set()
    for p in procs:
        p.cleanup()
    redis.cleanup()
c.done()
