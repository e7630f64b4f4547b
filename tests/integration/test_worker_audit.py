"""acmeva-worker --audit-log: one JSON line per job with the BR 5.4.1 fields, carrying the result
exactly as posted and written before it (every posted result has its line); SIGHUP after the
file was moved away opens a new one (log rotation); "-" writes to standard output; and a log
that cannot be written (/dev/full) posts nothing: the jobs stay pending, the error is logged
and counted, and /readyz answers 503.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

STATS_SYNC_MS = 500  # worker/queue/consumer.c: counters reach the metrics within this

cts = t.Challtestsrv()
c = t.Checks()
tmp = tempfile.mkdtemp(prefix="acmeva-audit-")
get = t.http_get


def http_jobs(prefix, n, valid=True):
    out = []
    for i in range(n):
        tok = t.new_token()
        cts.call("add-http01", {"token": tok,
                                "content": t.key_authorization(tok) if valid else "nope"})
        out.append(t.job(t.unique("a"), "http-01", tok, t.key_authorization(tok),
                         job_id=f"{prefix}-{i}"))
    return out


def read_all(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_lines(path):
    """The validation lines (the policy lines are checked on their own)."""
    return [line for line in read_all(path) if line.get("event") != "policy"]


redis = t.RedisServer()
w = None
try:
    log1 = os.path.join(tmp, "audit.log")
    mport = t.free_port()
    w = t.WorkerProc(["--redis", redis.url, "--threads", "2", "--audit-log", log1,
                      "--audit-sync", "on", "--metrics-listen", f"127.0.0.1:{mport}"]
                     + t.cts_engine_args(cts), "audit")
    cl = redis.client()
    c.ok(t.wait_group(cl, consumers=2), "the worker joined the group")
    jobs = http_jobs("ok", 10) + http_jobs("bad", 5, valid=False)
    caa_job = t.job(t.unique("ac"), None, job_id="caa-0", caa={"issuerDomains": ["ca.example"]})
    jobs.append(caa_job)
    t.enqueue(cl, jobs + ['{"v":1,"id":"broken-0"}'])
    n = len(jobs) + 1
    c.ok(t.wait_until(lambda: len(t.stream_results(cl)) >= n, 30, 0.1), "every job answered")
    posted = {}
    for _, f in t.stream_entries(cl, t.RESULTS_STREAM):
        posted[json.loads(f["result"])["id"]] = f["result"]
    lines = read_lines(log1)
    with open(log1) as f:
        raw_lines = list(f)
    by_id = {}
    for line in lines:
        by_id.setdefault(line["id"], []).append(line)
    c.eq(sorted(by_id), sorted(posted), "a line for every job answered")
    c.eq(len(lines), n, "one line per job")
    for jid, raw in posted.items():
        line = (by_id.get(jid) or [{}])[0]
        # The line holds the result exactly as posted: the same bytes.
        c.ok(any(('"result":' + raw + "}\n") in text for text in raw_lines),
             f"{jid}: the line carries the posted result", raw[:200])
    ok0 = (by_id.get("ok-0") or [{}])[0]
    for field in ("time", "event", "id", "identifier", "method", "caa", "perspective", "rir",
                  "status", "problem", "entry", "attempt", "worker", "result"):
        c.ok(field in ok0, f"field {field} in the line", ok0)
    c.eq(ok0.get("event"), "validation", "event")
    c.eq(ok0.get("method"), "http-01", "method")
    c.eq(ok0.get("status"), "valid", "status")
    c.eq(ok0.get("problem"), None, "no problem when valid")
    c.eq(ok0.get("perspective"), "default", "perspective")
    rec = (ok0.get("result") or {}).get("validationRecord") or [{}]
    c.ok(rec[0].get("url", "").startswith("http://") and rec[0].get("addressUsed") and
         rec[0].get("resolverAddrs"), "records: URL, address used, resolver", rec)
    bad0 = (by_id.get("bad-0") or [{}])[0]
    c.eq(bad0.get("problem"), "urn:ietf:params:acme:error:unauthorized", "the problem type")
    caa0 = (by_id.get("caa-0") or [{}])[0]
    c.ok(caa0.get("method") is None and caa0.get("caa") is True, "a CAA-only job", caa0)
    broken = (by_id.get("broken-0") or [{}])[0]
    c.eq(broken.get("problem"), "urn:ietf:params:acme:error:malformed", "a malformed job")
    c.ok(all(line["time"].endswith("Z") and "T" in line["time"] for line in lines),
         "times in RFC 3339 UTC")
    # The operator's policy in force when the process started: one line, before any job.
    pol = [line for line in read_all(log1) if line.get("event") == "policy"]
    c.eq(len(pol), 1, "one policy line: the policy read at start")
    p0 = pol[0] if pol else {}
    c.ok(p0.get("program") == "acmeva-worker" and p0.get("process", "").endswith(f":{w.pid}")
         and p0.get("version") == 0 and p0.get("changes", [""])[0] == "version 0 (first read)"
         and p0.get("policy", {}).get("disabled") == {}, "the policy line says what", p0)
    c.ok(read_all(log1) and read_all(log1)[0].get("event") == "policy",
         "it comes before every validation line")
    want = f"acmeva_audit_log_lines_total {n + 1}\n"
    t.wait_until(lambda: want in get(mport, "/metrics")[1], 2 * STATS_SYNC_MS / 1000 + t.GRACE_S,
                 0.1)
    metrics = get(mport, "/metrics")[1]
    c.ok(want in metrics, "lines counted", metrics[-300:])

    # ---- rotation: move the file, SIGHUP, new lines go to a new file -------------------------
    log_moved = os.path.join(tmp, "audit.log.1")
    os.rename(log1, log_moved)
    w.signal(signal.SIGHUP)
    c.ok(t.wait_until(lambda: "audit log reopened" in w.log(), 10), "SIGHUP reopens the log")
    t.enqueue(cl, http_jobs("rot", 4))
    c.ok(t.wait_until(lambda: sum(1 for r in t.stream_results(cl)
                                  if r["id"].startswith("rot-")) >= 4, 30), "answered after")
    new = read_lines(log1)
    c.eq(sorted(line["id"] for line in new), [f"rot-{i}" for i in range(4)],
         "the new lines are in a new file")
    c.eq(len(read_lines(log_moved)), n, "the moved file kept the old lines")
    c.eq(w.stop(), 0, "exit 0 on SIGTERM")
    w.cleanup()
    w = None

    # ---- "-": standard output ----------------------------------------------------------------
    out = open(os.path.join(tmp, "stdout.log"), "w+")
    p = subprocess.Popen([t.WORKER, "--redis", redis.url, "--threads", "1", "--audit-log", "-",
                          "--audit-sync", "off"] + t.cts_engine_args(cts),
                         stdout=out, stderr=subprocess.DEVNULL)
    t.enqueue(cl, http_jobs("stdout", 2))
    c.ok(t.wait_until(lambda: sum(1 for r in t.stream_results(cl)
                                  if r["id"].startswith("stdout-")) >= 2, 30), "answered")
    p.send_signal(signal.SIGTERM)
    c.eq(p.wait(timeout=30), 0, "exit 0")
    out.seek(0)
    ids = sorted(d["id"] for d in (json.loads(line) for line in out if line.strip())
                 if d["event"] == "validation")
    c.eq(ids, ["stdout-0", "stdout-1"], "'-' writes the lines on standard output")
    out.close()

    # ---- a log that cannot be written: nothing is posted, jobs stay pending -------------------
    redis2 = t.RedisServer()
    try:
        cl2 = redis2.client()
        mport = t.free_port()
        w = t.WorkerProc(["--redis", redis2.url, "--threads", "1", "--audit-log", "/dev/full",
                          "--metrics-listen", f"127.0.0.1:{mport}"] + t.cts_engine_args(cts),
                         "audit-full")
        c.ok(t.wait_group(cl2), "the worker joined the group")
        # Its first line, the policy read at start, already fails.
        c.ok(t.wait_until(lambda: "audit log write failed" in w.log(), 15),
             "the write error is logged")
        c.eq(t.wait_until(lambda: get(mport, "/readyz")[0] == 503 and 503, 10), 503,
             "not ready after a write error")
        full_jobs = http_jobs("full", 3)
        t.enqueue(cl2, full_jobs)
        # Once the threads have said they are connected (every 500 ms), the body says why.
        c.ok(t.wait_until(lambda: "audit log" in get(mport, "/readyz")[1], 10),
             "the body says why", get(mport, "/readyz"))
        def write_errors():
            return [float(line.split()[1]) for line in get(mport, "/metrics")[1].splitlines()
                    if line.startswith("acmeva_audit_log_write_errors_total ")]
        # The policy line's batch, then the validations' (each batch counts once).
        c.ok(t.wait_until(lambda: (write_errors() or [0])[0] >= 2, 15),
             "write errors counted", write_errors())
        c.eq(t.stream_results(cl2), [], "no result posted without its line")
        c.eq(t.pending_count(cl2), len(full_jobs), "the jobs stay pending")
        c.ok(w.alive(), "the worker keeps running")
        c.eq(w.stop(), 0, "exit 0 on SIGTERM")
        c.eq(t.pending_count(cl2), len(full_jobs), "still pending for another worker")
        w.cleanup()
        w = None
    finally:
        redis2.cleanup()

    # A log that cannot be opened stops the start.
    p = subprocess.run([t.WORKER, "--redis", redis.url, "--audit-log",
                        os.path.join(tmp, "no", "such", "dir", "audit.log")],
                       capture_output=True, text=True, timeout=30)
    c.eq(p.returncode, 1, "an audit log that cannot be opened: exit 1")
    c.ok("cannot open the audit log" in p.stderr, "with a clear message", p.stderr[-300:])
finally:
    if w:
        w.cleanup()
    redis.cleanup()
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
c.done()
