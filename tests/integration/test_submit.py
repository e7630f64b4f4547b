"""`acmeva submit` end to end with a worker: --wait prints each result and exits 0/1, a bad line
is reported and skipped (exit 2, the other jobs still run), a timeout exits 2, and the reply
stream is deleted every time. Then Redis with a password and with a least-privilege ACL user
(percent-encoded password): worker and submit work, and no password ever appears in a log
or an error message.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

cts = t.Challtestsrv()
c = t.Checks()
servers, workers = [], []


def http_job(jid, valid=True):
    tok = t.new_token()
    cts.call("add-http01", {"token": tok, "content": t.key_authorization(tok) if valid else "no"})
    return t.job(t.unique("submit"), "http-01", tok, t.key_authorization(tok), job_id=jid)


def ndjson(jobs):
    return "".join((j if isinstance(j, str) else json.dumps(j)) + "\n" for j in jobs)


def reply_streams(cl):
    return cl.call("KEYS", "acmeva:v1:results:submit:*")


try:
    # ---- a plain Redis ------------------------------------------------------------------------
    redis = t.RedisServer()
    servers.append(redis)
    cl = redis.client()
    w = t.WorkerProc(["--redis", redis.url, "--threads", "1"] + t.cts_engine_args(cts), "submit")
    workers.append(w)
    c.ok(t.wait_group(cl), "the worker joined the group")

    rc, res, err = t.run_submit(["--redis", redis.url, "--job", "-", "--wait"],
                                ndjson([http_job("s-ok-1"), http_job("s-ok-2")]))
    c.eq(rc, 0, "all valid: exit 0")
    c.eq(sorted(r["id"] for r in res), ["s-ok-1", "s-ok-2"], "both results printed")
    c.ok(all(r["status"] == "valid" for r in res), "both valid")
    c.eq(reply_streams(cl), [], "the reply stream is deleted")
    c.eq(t.stream_results(cl), [], "nothing went to the default results stream")

    rc, res, err = t.run_submit(["--redis", redis.url, "--job", "-", "--wait"],
                                ndjson([http_job("s-ok-3"), http_job("s-bad-1", valid=False)]))
    c.eq(rc, 1, "one invalid: exit 1")
    c.eq({r["id"]: r["status"] for r in res}, {"s-ok-3": "valid", "s-bad-1": "invalid"},
         "both results printed with their status")

    rc, res, err = t.run_submit(
        ["--redis", redis.url, "--job", "-", "--wait", "--timeout-ms", "20000"],
        ndjson([http_job("s-ok-4"), '{"v":1,"id":"s-broken"}', "", "not json",
                http_job("s-ok-5")]))
    c.eq(rc, 2, "bad lines: exit 2")
    c.ok("line 2 (id s-broken)" in err and "line 4" in err and "line 3" not in err,
         "the bad lines are reported (a blank line is skipped)", err)
    c.eq(sorted(r["id"] for r in res), ["s-ok-4", "s-ok-5"], "the good lines still ran")

    # No worker serves this perspective: a timeout.
    rc, res, err = t.run_submit(["--redis", redis.url, "--perspective", "nobody", "--job", "-",
                                 "--wait", "--timeout-ms", "1000"], ndjson([http_job("s-lost")]))
    c.eq(rc, 2, "timeout: exit 2")
    c.ok("timed out" in err and "1 of 1 results missing" in err, "the timeout is reported", err)
    c.eq(reply_streams(cl), [], "the reply stream is deleted after a timeout too")

    # Without --wait the line is enqueued as it is.
    line = json.dumps(http_job("s-raw"))
    rc, res, err = t.run_submit(["--redis", redis.url, "--perspective", "raw", "--job", "-"],
                                line + "\n")
    c.eq(rc, 0, "enqueue only: exit 0")
    entries = t.stream_entries(cl, "acmeva:v1:jobs:raw")
    c.eq([f.get("job") for _, f in entries], [line], "the job is enqueued byte for byte")

    rc, _, err = t.run_submit(["--redis", redis.url], "")
    c.eq(rc, 2, "no --job: exit 2")
    rc, _, err = t.run_submit(["--redis", "http://x", "--job", "-"], "")
    c.eq(rc, 2, "a bad URL: exit 2")
    c.eq(w.stop(), 0, "the worker exits 0")

    # ---- a password and an ACL user ------------------------------------------------------------
    default_pw, user_pw = "def-secret-4b1c", "p@ss/w:rd-9d2e"
    encoded = "p%40ss%2Fw%3Ard-9d2e"
    acl = t.RedisServer(password=default_pw, extra=[
        "--requirepass", default_pw,
        # Least privilege: the commands the worker and submit use, on acmeva keys only, and the
        # operator's policy (read, and watched on its channel).
        "--user", "acme", "on", ">" + user_pw, "~acmeva:*", "resetchannels",
        "&acmeva:v1:policy", "-@all", "+@stream", "+multi", "+exec", "+exists", "+del",
        "+client|setname", "+hgetall", "+subscribe"])
    servers.append(acl)
    acl_cl = acl.client()
    user_url = f"redis://acme:{encoded}@127.0.0.1:{acl.port}/0"
    pass_url = f"redis://:{default_pw}@127.0.0.1:{acl.port}"
    # A short --claim-idle-ms: XAUTOCLAIM and the rest run often under the ACL.
    wu = t.WorkerProc(["--redis", user_url, "--threads", "1", "--claim-idle-ms", "400"] +
                      t.cts_engine_args(cts), "acl-u")
    wp = t.WorkerProc(["--redis", pass_url, "--threads", "1", "--log-format", "json"] +
                      t.cts_engine_args(cts), "acl-p")
    workers += [wu, wp]
    c.ok(t.wait_group(acl_cl, consumers=2), "workers with an ACL user and a password joined")
    rc, res, err = t.run_submit(["--redis", user_url, "--job", "-", "--wait"],
                                ndjson([http_job(f"acl-{i}") for i in range(6)]))
    c.eq(rc, 0, "submit as the ACL user: exit 0")
    c.eq(len(res), 6, "every result came back")
    c.eq(reply_streams(acl_cl), [], "the reply stream is deleted")
    # The URL from the environment: a password kept off the command line.
    p = t.subprocess.run([t.ACMEVA, "submit", "--job", "-", "--wait"],
                         input=ndjson([http_job(f"env-{i}") for i in range(3)]),
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, ACMEVA_REDIS_URL=user_url))
    c.eq(p.returncode, 0, "submit with the URL in ACMEVA_REDIS_URL: exit 0")
    c.eq(len([x for x in p.stdout.splitlines() if x.strip()]), 3, "its results came back")
    c.ok(user_pw not in p.stderr and encoded not in p.stderr, "and no password is printed")

    bad_pw = "wrong-secret-77aa"
    wbad = t.WorkerProc(["--redis", f"redis://acme:{bad_pw}@127.0.0.1:{acl.port}",
                         "--threads", "1"] + t.cts_engine_args(cts), "acl-bad")
    workers.append(wbad)
    # Its first connect is made at start: refused at once, logged within the grace.
    c.ok(t.wait_until(lambda: "refused AUTH" in wbad.log(), t.GRACE_S),
         "a wrong password is logged")
    rc, _, err = t.run_submit(["--redis", f"redis://acme:{bad_pw}@127.0.0.1:{acl.port}",
                               "--job", "-"], ndjson([http_job("never")]))
    c.eq(rc, 2, "submit with a wrong password: exit 2")
    c.ok("refused AUTH" in err and "redis://acme:***@" in err, "submit says why", err)
    c.ok(bad_pw not in err, "submit never prints the password")

    for wk in (wu, wp, wbad):
        c.eq(wk.stop(), 0, "exit 0 on SIGTERM")
    problems = [line for line in wu.log().splitlines() if " warn " in line or " error " in line]
    c.eq(problems, [], "the least-privilege ACL user is enough for every command")
    c.ok(t.wait_until(lambda: not [x for x in acl_cl.call("XINFO", "CONSUMERS", t.JOBS_STREAM,
                                                          "acmeva")
                                   if str(wu.pid).encode() in x[1]], t.GRACE_S),
         "the ACL user could remove its consumer on exit")  # removed before it exited
    logs = wu.log() + wp.log() + wbad.log()
    c.ok("redis://acme:***@127.0.0.1" in wu.log(), "the URL is logged masked", wu.log()[:300])
    c.ok('"redis":"redis://:***@127.0.0.1' in wp.log(), "masked in JSON logs too",
         wp.log()[:300])
    for secret in (default_pw, user_pw, encoded, bad_pw):
        c.ok(secret not in logs, f"the password {secret[:4]}... never appears in a log")
finally:
    for wk in workers:
        wk.cleanup()
    for s in servers:
        s.cleanup()
c.done()
