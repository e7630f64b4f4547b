"""The worker must not wedge, loop or start where it cannot work (DESIGN.md "Hardening"):

1. a Redis link that stops answering (a TCP proxy that freezes the worker's connections, as a
   half-open link or a stuck proxy would) is dropped after --redis-timeout-ms and opened again,
   and the results held in flight are posted on the new connection;
2. a job whose replyTo is outside --reply-prefix is malformed, and nothing is written to the
   stream it named;
3. a result that Redis refuses on its replyTo (NOPERM from an ACL, WRONGTYPE) is posted to the
   default results stream with a dead letter, and the job is acknowledged instead of looping;
4. the worker raises its descriptor limit to the hard limit, and refuses to start, with the
   numbers, when --threads x --max-inflight cannot fit in it.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

REPLY = "acmeva:v1:results:test-hardening"
MALFORMED = "urn:ietf:params:acme:error:malformed"

cts = t.Challtestsrv()
c = t.Checks()


def read_stats(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def wedged_link():
    """1. The reader and the writer connections freeze while jobs run."""
    redis = t.RedisServer()
    stats = os.path.join(redis.dir, "proxy.json")
    proxy = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "tcpproxy.py"), "--target",
                       f"127.0.0.1:{redis.port}", "--stats", stats])
    http = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen",
                      "127.0.0.1", "--key-authorization-suffix", t.THUMBPRINT])
    w = None
    redis_timeout_ms, job_timeout_ms = 1500, 2000
    try:
        w = t.WorkerProc(["--redis", f"redis://127.0.0.1:{proxy.port}", "--threads", "1",
                          "--redis-timeout-ms", str(redis_timeout_ms), "--timeout-ms",
                          str(job_timeout_ms), "--allow-private-addresses",
                          *cts.resolver_args, "--http-port", str(http.port)], "wedged")
        cl = redis.client()
        c.ok(t.wait_group(cl, consumers=1), "the worker joined the group through the proxy")
        # Names answered with 127.0.0.1 only: the fixture listens on IPv4.
        names = []
        for _ in range(2):
            n = t.unique("wedge")
            cts.call("add-a", {"host": n, "addresses": ["127.0.0.1"]})
            cts.call("add-aaaa", {"host": n, "addresses": ["0.0.0.0"]})  # NODATA for AAAA
            names.append(n)

        def job(case, i, name):
            tok = f"{case}_{secrets.token_hex(12)}"
            return t.job(name, "http-01", tok, t.key_authorization(tok), job_id=f"{case}-{i}",
                         replyTo=REPLY)

        # Silent jobs end with a timeout after job_timeout_ms: by then both connections are
        # frozen, so their results meet a writer that no longer answers.
        silent = [job("silent", i, names[0]) for i in range(5)]
        t.enqueue(cl, silent)
        c.ok(t.wait_until(lambda: t.pending_count(cl) == len(silent), 5),
             "the silent jobs are running")
        before = read_stats(stats).get("accepted", 0)
        proxy.proc.send_signal(signal.SIGUSR1)
        c.ok(t.wait_until(lambda: read_stats(stats).get("frozen", 0) >= 2, 5),
             "the worker's reader and writer connections are frozen")
        fresh = [job("ok", i, names[1]) for i in range(5)]
        t.enqueue(cl, fresh)
        want = {j["id"] for j in silent + fresh}
        # Bound: the jobs' own timeout, then the reply timeout on the frozen writer, the first
        # reconnect backoff (at most 100 ms) and a reconnect, plus the fresh jobs' validation.
        bound = (job_timeout_ms + 2 * redis_timeout_ms + 100) / 1000 + 5
        got = t.wait_until(lambda: {r["id"] for r in t.stream_results(cl, REPLY)} >= want, bound,
                           0.1)
        results = {r["id"]: r for r in t.stream_results(cl, REPLY)}
        c.ok(got, "every job answered after the freeze", sorted(want - set(results))[:5])
        c.ok(all(results[j["id"]]["status"] == "invalid" for j in silent if j["id"] in results),
             "the silent jobs timed out (invalid)")
        c.ok(all(results[j["id"]]["status"] == "valid" for j in fresh if j["id"] in results),
             "the fresh jobs are valid")
        c.ok(read_stats(stats).get("accepted", 0) >= before + 2,
             "new connections were opened through the proxy")
        log = w.log()
        c.ok(f"no reply within {redis_timeout_ms} ms" in log, "the wedged link is named in the log")
        c.ok("conn=reader" in log and "conn=writer" in log and log.count("redis connection lost") >= 2,
             "both connections were dropped and reopened", log[-2000:])
        c.ok(t.wait_until(lambda: t.pending_count(cl) == 0, 10), "nothing left pending")
        c.eq(w.stop(), 0, "exit 0 on SIGTERM")
    finally:
        if w:
            w.cleanup()
        proxy.stop()
        http.stop()
        redis.cleanup()


def reply_to_rules():
    """2 and 3: replyTo outside the prefix, refused by an ACL, or of the wrong type."""
    redis = t.RedisServer()
    w = None
    try:
        admin = redis.client()
        # The worker's user may use the jobs streams, the default results stream, the streams
        # under acmeva:v1:results:ok and the dead letters, read the operator's policy, and
        # nothing else.
        admin.call("ACL", "SETUSER", "worker", "on", ">workerpw", "resetkeys",
                   "~acmeva:v1:jobs:*", "~acmeva:v1:results", "~acmeva:v1:results:ok*",
                   "~acmeva:v1:dead", "%R~acmeva:v1:policy", "resetchannels",
                   "&acmeva:v1:policy", "-@all", "+@stream", "+multi", "+exec", "+exists",
                   "+client|setname", "+hgetall", "+subscribe")
        admin.call("SET", "acmeva:v1:results:ok-string", "not a stream")
        w = t.WorkerProc(["--redis", f"redis://worker:workerpw@127.0.0.1:{redis.port}",
                          "--threads", "1", "--claim-idle-ms", "300", "--max-deliveries", "3"] +
                         t.cts_engine_args(cts), "replyto")
        c.ok(t.wait_group(admin, consumers=1), "the worker joined the group")
        tok = t.new_token()
        cts.call("add-http01", {"token": tok, "content": t.key_authorization(tok)})

        def job(jid, reply):
            return t.job(t.unique("reply"), "http-01", tok, t.key_authorization(tok),
                         job_id=jid, replyTo=reply)

        jobs = [job("outside", "acmeva:v1:jobs:other"),   # a perspective's jobs stream
                job("noperm", "acmeva:v1:results:forbidden"),
                job("wrongtype", "acmeva:v1:results:ok-string"),
                job("fine", "acmeva:v1:results:ok-fine")]
        t.enqueue(admin, jobs)
        want = {"outside", "noperm", "wrongtype"}
        got = t.wait_until(lambda: {r["id"] for r in t.stream_results(admin, t.RESULTS_STREAM)}
                           >= want, 15)
        c.ok(got, "the refused results came to the default stream")
        res = {r["id"]: r for r in t.stream_results(admin, t.RESULTS_STREAM)}
        out = res.get("outside", {})
        c.problem(out, "malformed", "replyTo: must start with \"acmeva:v1:results\"",
                  "replyTo outside the prefix")
        c.eq(admin.call("EXISTS", "acmeva:v1:jobs:other"), 0,
             "nothing was written to the stream the job named")
        for jid in ("noperm", "wrongtype"):
            c.eq(res.get(jid, {}).get("status"), "valid", f"{jid}: the validation's own result")
        fine = t.wait_until(lambda: t.stream_results(admin, "acmeva:v1:results:ok-fine"), 10)
        c.ok(fine and fine[0]["id"] == "fine", "an allowed replyTo still gets its result")
        dead = [f for _, f in t.stream_entries(admin, t.DEAD_STREAM)]
        reasons = " | ".join(f.get("reason", "") for f in dead)
        c.ok("the result could not be posted to acmeva:v1:results:forbidden: NOPERM" in reasons,
             "NOPERM: dead letter with the reason", reasons)
        c.ok("the result could not be posted to acmeva:v1:results:ok-string: WRONGTYPE" in reasons,
             "WRONGTYPE: dead letter with the reason", reasons)
        c.ok("malformed: replyTo" in reasons, "outside the prefix: dead letter", reasons)
        c.ok(t.wait_until(lambda: t.pending_count(admin) == 0, 10), "every job acknowledged")
        # No loop: several claim periods later, each refused job still has exactly one result.
        time.sleep(3 * 0.3 + 1)
        ids = [r["id"] for r in t.stream_results(admin, t.RESULTS_STREAM)]
        c.ok(ids.count("noperm") == 1 and ids.count("wrongtype") == 1,
             "the refused jobs were not delivered again", ids)
        c.eq(w.stop(), 0, "exit 0 on SIGTERM")

        # A custom prefix: the default replyTo is now outside it.
        w.cleanup()
        w = t.WorkerProc(["--redis", f"redis://worker:workerpw@127.0.0.1:{redis.port}",
                          "--threads", "1", "--reply-prefix", "acmeva:v1:results:ok"] +
                         t.cts_engine_args(cts), "prefix")
        t.enqueue(admin, [job("default-reply", "acmeva:v1:results")])
        got = t.wait_until(lambda: [r for r in t.stream_results(admin, t.RESULTS_STREAM)
                                    if r["id"] == "default-reply"], 15)
        c.ok(got and got[0]["error"]["type"] == MALFORMED and
             "acmeva:v1:results:ok" in got[0]["error"]["detail"],
             "--reply-prefix: a replyTo outside it is malformed", got)
        c.eq(w.stop(), 0, "exit 0 on SIGTERM")
        bad = subprocess.run([t.WORKER, "--reply-prefix", "bad prefix"], capture_output=True,
                             text=True, timeout=30)
        c.ok(bad.returncode == 2 and "--reply-prefix" in bad.stderr, "a bad prefix is refused",
             bad.stderr)
        bad = subprocess.run([t.WORKER, "--redis-timeout-ms", "500"], capture_output=True,
                             text=True, timeout=30)
        c.ok(bad.returncode == 2 and "blocking read" in bad.stderr,
             "a reply timeout shorter than the blocking read is refused", bad.stderr)
    finally:
        if w:
            w.cleanup()
        redis.cleanup()


def descriptor_limit():
    """4. The descriptor limit: raised to the hard limit, and checked."""
    redis = t.RedisServer()
    try:
        # 64 + 2 x (3 x 1000 + 8) = 6080 descriptors do not fit in 256.
        p = subprocess.run(["prlimit", "--nofile=256:256", t.WORKER, "--redis", redis.url,
                            "--threads", "2", "--max-inflight", "1000"] + t.cts_engine_args(cts),
                           capture_output=True, text=True, timeout=30)
        c.eq(p.returncode, 1, "too few descriptors: exit 1")
        c.ok("too few file descriptors" in p.stderr and "256" in p.stderr and "6080" in p.stderr,
             "the refusal gives the numbers", p.stderr)
        # A soft limit below the need and a hard limit above it: raised, and it starts.
        argv = ["prlimit", "--nofile=64:1024", t.WORKER, "--redis", redis.url, "--threads", "1",
                "--max-inflight", "100"] + t.cts_engine_args(cts)
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        cl = redis.client()
        ok = t.wait_group(cl, consumers=1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        c.ok(ok, "started with the soft limit raised")
        c.ok("nofile=1024" in err, "the raised limit is in the start line", err[:2000])
        c.eq(proc.returncode, 0, "exit 0 on SIGTERM")
    finally:
        redis.cleanup()


wedged_link()
reply_to_rules()
descriptor_limit()
c.done()
