"""The live kill switch per validation method (DESIGN.md "Live kill switch per method"), end to
end: `acmeva policy`, a real redis-server (append-only, so the policy survives restarts),
pebble-challtestsrv and acmeva-worker processes.

Cases: results carry policyVersion; a method disabled while jobs stream in is validated by no
job that started more than 1 s (plus the grace of acmevatest.GRACE_S) after the command
returned, while the other method goes on; each process logs the change once and writes it to
its audit log, and counts the refusals; a job already running when the switch flips finishes
valid under the version it started with; enable again; a raw HSET without PUBLISH still takes
effect in time; a hostile reason reaches the detail escaped; the subscriber connections survive
every message; a worker started while the method is disabled refuses it from its first job; a
hash that cannot be read keeps the last policy in force; Redis restarted keeps it disabled; a
worker started while Redis is down takes no job and is not ready until it has read the policy;
a --primary worker needs a validating resolver while dnssec-at-primary is in force; and the
command line refuses what it must.
"""

import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

POLICY = "acmeva:v1:policy"
# DESIGN.md "Live kill switch per method": a change is in force within 1 s, everywhere. What
# the tests allow on top is acmevatest's GRACE_S (a loaded machine, the ASan build).
IN_FORCE_MS = (1.0 + t.GRACE_S) * 1000
EVERY_S = 0.02  # one job every 20 ms while a switch flips
HOLD_MS = 3000  # the fixture's "hold" case: a job that is still running when the switch flips

cts = t.Challtestsrv()
c = t.Checks()
redis = t.RedisServer(appendonly=True)
cl = redis.client()
procs = []
tmp = redis.dir

tok = t.new_token()
ka = t.key_authorization(tok)
cts.call("add-http01", {"token": tok, "content": ka})
dname, dtok = t.unique("pol-dns"), t.new_token()
dka = t.key_authorization(dtok)
cts.call("set-txt", {"host": f"_acme-challenge.{dname}.", "value": t.dns01_value(dka)})


def http_job(jid):
    return t.job(t.unique("pol"), "http-01", tok, ka, job_id=jid)


def dns_job(jid):
    return t.job(dname, "dns-01", dtok, dka, job_id=jid)


MAKE = {"http-01": http_job, "dns-01": dns_job}


def policy(*args):
    return t.run_policy(["--redis", redis.url] + list(args))


def now_ms():
    return int(time.time() * 1000)


def results():
    return {r["id"]: r for r in t.stream_results(cl)}


def wait_answered(ids, timeout=30):
    ids = set(ids)
    return t.wait_until(lambda: ids <= set(results()), timeout, 0.1)


def refused(r, ctype):
    err = r.get("error") or {}
    return (r.get("status") == "invalid" and
            err.get("type") == "urn:ietf:params:acme:error:serverInternal" and
            f"The validation method {ctype} is disabled by the operator's policy" in
            err.get("detail", ""))


get = t.http_get


def metric(port, line_start):
    """The value of the first sample whose text starts with |line_start|, or None."""
    for line in get(port, "/metrics")[1].splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return None


def start_worker(name, extra=(), threads=2):
    w = t.WorkerProc(["--redis", redis.url, "--threads", str(threads)] + list(extra) +
                     t.cts_engine_args(cts), name)
    procs.append(w)
    return w


class Stream:
    """Enqueues jobs of |kinds| in turn, one every EVERY_S, from a thread of its own."""

    def __init__(self, prefix, kinds):
        self.cl = redis.client()
        self.prefix, self.kinds, self.sent = prefix, kinds, []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        i = 0
        while not self.done.is_set():
            kind = self.kinds[i % len(self.kinds)]
            j = MAKE[kind](f"{self.prefix}-{kind}-{i}")
            self.cl.call("XADD", t.JOBS_STREAM, "*", "job", json.dumps(j))
            self.sent.append((j["id"], kind))
            i += 1
            time.sleep(EVERY_S)

    def stop(self):
        self.done.set()
        self.thread.join()
        self.cl.close()
        return self.sent


def flip(prefix, kinds, change, lead_s=1.0):
    """Streams jobs, runs |change| (returns anything) after |lead_s|, streams on for
    IN_FORCE_MS and 1.5 s more, and returns (what change returned, its return time in ms, the
    jobs sent as (id, kind), results by id)."""
    s = Stream(prefix, kinds)
    time.sleep(lead_s)
    out = change()
    t_ret = now_ms()
    time.sleep(IN_FORCE_MS / 1000 + 1.5)
    sent = s.stop()
    c.ok(wait_answered([i for i, _ in sent]), f"{prefix}: every job answered")
    return out, t_ret, sent, results()


def sub_ids():
    """CLIENT LIST ids of the policy subscribers, by name."""
    out = {}
    for line in cl.call("CLIENT", "LIST").decode().splitlines():
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if f.get("name", "").endswith(":policy-sub"):
            out[f["name"]] = f["id"]
    return out


try:
    mport = t.free_port()
    audit = os.path.join(tmp, "audit.log")
    w1 = start_worker("pol-w1", ["--metrics-listen", f"127.0.0.1:{mport}", "--audit-log", audit])
    w2 = start_worker("pol-w2")
    c.ok(t.wait_group(cl, consumers=4), "two workers of two threads joined")
    c.eq(t.wait_until(lambda: get(mport, "/readyz")[0] == 200 and 200, t.GRACE_S), 200, "ready")

    # ---- show, and policyVersion from the start -------------------------------------------------
    rc, out, err = policy("show")
    c.ok(rc == 0 and f"{POLICY} version 0" in out and "http-01          enabled" in out and
         "min-remote-perspectives (BR 3.2.2.9)" in out and "dnssec-at-primary" in out,
         "acmeva policy show: version 0, every method enabled, the dated rules", out + err)
    first = [http_job(f"v0-{i}") for i in range(3)]
    t.enqueue(cl, first)
    c.ok(wait_answered(j["id"] for j in first), "jobs answered before any change")
    c.ok(all(results()[j["id"]].get("policyVersion") == 0 and
             results()[j["id"]]["status"] == "valid" for j in first),
         "valid, with policyVersion 0", [results().get(j["id"]) for j in first])
    subs_before = sub_ids()
    c.eq(len(subs_before), 2, "one policy subscriber per worker (CLIENT LIST)")
    c.eq(cl.call("PUBSUB", "NUMSUB", POLICY)[1], 2, "both subscribed to the policy channel")

    # ---- a job already running when the switch flips finishes -----------------------------------
    fix = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen",
                     "127.0.0.1", "--key-authorization-suffix", t.THUMBPRINT, "--hold-ms",
                     str(HOLD_MS)])
    hold_stream = "acmeva:v1:jobs:hold"
    wh = t.WorkerProc(["--redis", redis.url, "--threads", "1", "--perspective", "hold",
                       *cts.resolver_args, *t.allow_args(), "--http-port", str(fix.port)],
                      "pol-hold")
    procs.append(wh)
    c.ok(t.wait_group(cl, stream=hold_stream), "the hold worker joined")
    held = [t.job("127.0.0.1", "http-01", f"hold_{i}{t.new_token()[:20]}", None,
                  job_id=f"held-{i}", ident_type="ip") for i in range(3)]
    for j in held:
        j["keyAuthorization"] = t.key_authorization(j["challenge"]["token"])
    t.enqueue(cl, held, stream=hold_stream)
    c.ok(t.wait_until(lambda: t.pending_count(cl, stream=hold_stream) == 3, t.GRACE_S),
         "the held jobs are running")

    # ---- disable while jobs stream in -------------------------------------------------------
    (rc, out, err), t_ret, sent, res = flip(
        "d", ["http-01", "dns-01"],
        lambda: policy("disable", "http-01", "--reason", "test advisory 1"))
    c.ok(rc == 0 and "http-01 disabled (reason: test advisory 1)" in out and
         f"{POLICY} version 1" in out and "3 processes told" in out,
         "acmeva policy disable: says what changed, the version, who was told", out + err)
    late = [(i, k) for i, k in sent if k == "http-01" and res[i]["startedMs"] > t_ret + IN_FORCE_MS]
    c.ok(late, "http-01 jobs were taken after the bound")
    c.ok(all(refused(res[i], "http-01") for i, _ in late),
         "no http-01 job is validated after the bound: every one is refused",
         [res[i] for i, _ in late if not refused(res[i], "http-01")][:2])
    validated = [res[i] for i, k in sent if k == "http-01" and not refused(res[i], "http-01")]
    c.ok(all(r["startedMs"] <= t_ret + IN_FORCE_MS for r in validated),
         "every validated http-01 job started before the bound",
         max((r["startedMs"] - t_ret for r in validated), default=None))
    first_refused = min((res[i]["startedMs"] for i, k in sent
                         if k == "http-01" and refused(res[i], "http-01")), default=None)
    last_validated = max((r["startedMs"] for r in validated), default=None)
    print(f"disable: first refused job {first_refused - t_ret if first_refused else None} ms "
          f"after the command returned; last validated "
          f"{last_validated - t_ret if last_validated else None} ms", flush=True)
    dns = [res[i] for i, k in sent if k == "dns-01"]
    c.ok(dns and all(r["status"] == "valid" for r in dns), "dns-01 goes on: every one valid",
         [r for r in dns if r["status"] != "valid"][:2])
    r0 = next((res[i] for i, _ in late), {})
    c.ok("(acmeva:v1:policy version 1): test advisory 1" in (r0.get("error") or {}).get("detail", "")
         and r0.get("policyVersion") == 1 and r0.get("validationRecord") == [],
         "the refusal names the method, the version and the reason; nothing was done", r0)
    c.ok(all(r.get("policyVersion") == 0 for r in validated if r["startedMs"] < t_ret - 100),
         "jobs validated before the switch say version 0")
    c.eq(cl.call("XLEN", t.DEAD_STREAM), 0, "a refusal is no dead letter")
    for w in (w1, w2, wh):
        c.eq(w.log().count("http-01 disabled: test advisory 1"), 1,
             "the change is logged once per process")
    c.ok("info policy changed key=acmeva:v1:policy version=1" in w1.log(),
         "the log line names the version", w1.log()[-800:])
    lines = [json.loads(x) for x in open(audit) if x.strip()]
    pol_lines = [x for x in lines if x["event"] == "policy"]
    c.ok(len(pol_lines) == 2 and pol_lines[1]["version"] == 1 and
         "http-01 disabled: test advisory 1" in pol_lines[1]["changes"] and
         pol_lines[1]["policy"]["disabled"] == {"http-01": "test advisory 1"},
         "the audit log has the change (after the first read)", pol_lines)
    refused_lines = [x for x in lines if x["event"] == "validation" and
                     x["problem"] == "urn:ietf:params:acme:error:serverInternal" and
                     x["method"] == "http-01"]
    by_worker = {}
    for i, k in sent:
        if k == "http-01" and refused(res[i], "http-01"):
            pid = res[i]["worker"].split(":")[1]
            by_worker[pid] = by_worker.get(pid, 0) + 1
    mine = by_worker.get(str(w1.pid), 0)
    c.ok(len(refused_lines) == mine and (not refused_lines or "disabled by the operator's policy"
                                         in refused_lines[0]["result"]["error"]["detail"]),
         "each refusal of the worker with the audit log has its audit line",
         (len(refused_lines), by_worker, w1.pid))
    n_refused = sum(1 for i, k in sent if k == "http-01" and refused(res[i], "http-01"))
    # Counters reach the metrics every 500 ms, or later when a loop's timer runs late.
    c.ok(t.wait_until(lambda: (metric(mport, 'acmeva_policy_refusals_total{type="http-01"}') or 0)
                      == mine and metric(mport, "acmeva_policy_version") == 1 and
                      metric(mport, 'acmeva_policy_method_disabled{type="http-01"}') == 1 and
                      metric(mport, 'acmeva_policy_method_disabled{type="dns-01"}') == 0,
                      1.0 + t.GRACE_S),
         "metrics: refusals, the version, the method disabled",
         (n_refused, mine, get(mport, "/metrics")[1][-1500:]))

    c.ok(t.wait_until(lambda: all(i in results() for i in ("held-0", "held-1", "held-2")),
                      HOLD_MS / 1000 + t.GRACE_S), "the held jobs finished")
    c.ok(all(results()[f"held-{i}"]["status"] == "valid" and
             results()[f"held-{i}"]["policyVersion"] == 0 for i in range(3)),
         "a job running when the switch flipped finishes valid, under the version it started "
         "with", [results().get(f"held-{i}") for i in range(3)])
    late_hold = t.job("127.0.0.1", "http-01", f"hold_late{t.new_token()[:19]}", None,
                      job_id="held-late", ident_type="ip")
    late_hold["keyAuthorization"] = t.key_authorization(late_hold["challenge"]["token"])
    t.enqueue(cl, [late_hold], stream=hold_stream)
    c.ok(wait_answered(["held-late"]) and refused(results()["held-late"], "http-01"),
         "a job of the hold worker taken afterwards is refused", results().get("held-late"))
    c.eq(wh.stop(), 0, "the hold worker exits 0")
    fix.stop()

    # ---- enable again -------------------------------------------------------------------------
    (rc, out, err), t_ret, sent, res = flip(
        "e", ["http-01", "dns-01"], lambda: policy("enable", "http-01"))
    c.ok(rc == 0 and 'http-01 enabled again (was: "test advisory 1")' in out and
         f"{POLICY} version 2" in out, "acmeva policy enable", out + err)
    late = [res[i] for i, k in sent if res[i]["startedMs"] > t_ret + IN_FORCE_MS]
    c.ok(late and all(r["status"] == "valid" and r["policyVersion"] == 2 for r in late),
         "after the bound every job is validated again, under version 2",
         [r for r in late if r["status"] != "valid"][:2])
    rc, out, err = policy("enable", "http-01")
    c.ok(rc == 0 and "nothing to change: http-01 already enabled (acmeva:v1:policy version 2)"
         in out, "enabling an enabled method changes nothing", out + err)
    c.eq(int(cl.call("HGET", POLICY, "version")), 2, "not even the version")

    # ---- a raw HSET without PUBLISH ---------------------------------------------------------
    _, t_ret, sent, res = flip("raw", ["dns-01", "http-01"],
                               lambda: cl.call("HSET", POLICY, "disable:dns-01", "raw hset"))
    late = [res[i] for i, k in sent if k == "dns-01" and res[i]["startedMs"] > t_ret + IN_FORCE_MS]
    c.ok(late and all(refused(r, "dns-01") and "raw hset" in r["error"]["detail"] for r in late),
         "a raw HSET, published nowhere, is in force in time (the periodic read)",
         [r for r in late if not refused(r, "dns-01")][:2])
    first_refused = min((res[i]["startedMs"] for i, k in sent
                         if k == "dns-01" and refused(res[i], "dns-01")), default=None)
    print(f"raw HSET: first refused job {first_refused - t_ret if first_refused else None} ms "
          f"after it", flush=True)
    c.ok(all(res[i]["status"] == "valid" for i, k in sent if k == "http-01"),
         "http-01 unaffected")
    cl.call("HDEL", POLICY, "disable:dns-01")

    # ---- a hostile reason ---------------------------------------------------------------------
    cl.call("HSET", POLICY, "disable:dns-01", "line1\nline2\x1b[31m" + "r" * 600)
    # Either worker may take the job: both must have read the new reason (the periodic read).
    # Read at once ("still disabled, reason now: line1...") or after the HDEL on its own
    # ("disabled: line1...").
    c.ok(t.wait_until(lambda: all(re.search(r"dns-01 (still )?disabled(, reason now)?: line1",
                                            w.log()) for w in (w1, w2)),
                      t.GRACE_S + 1),
         "the hostile reason is applied", w2.log()[-600:])
    j = dns_job("hostile")
    t.enqueue(cl, [j])
    c.ok(wait_answered(["hostile"]), "answered")
    d = (results()["hostile"].get("error") or {}).get("detail", "")
    c.ok(refused(results()["hostile"], "dns-01") and "line1\ufffdline2\ufffd[31m" in d and
         d.endswith("...") and len(d.encode()) < 500,
         "the reason reaches the detail made printable and cut", d)
    c.ok("line2" in w1.log() and "\x1b" not in w1.log(), "and the log line escaped")
    rc, out, err = policy("enable", "dns-01")
    c.eq(rc, 0, "enable dns-01")

    # ---- the subscribers took every message on their own connection --------------------------
    c.eq(sub_ids(), subs_before, "the subscriber connections are the same ones (no drop)")
    c.ok(all("conn=policy-sub" not in x or "connected" in x
             for w in (w1, w2) for x in w.log().splitlines()),
         "no policy-sub connection was lost")

    # ---- a worker started while a method is disabled refuses it from its first job -----------
    rc, out, err = policy("disable", "http-01", "--reason", "for a new worker")
    c.eq(rc, 0, "disable http-01 again")
    c.eq(w1.stop(), 0, "worker 1 exits 0")
    c.eq(w2.stop(), 0, "worker 2 exits 0")
    queued = [http_job(f"new-{i}") for i in range(10)]
    t.enqueue(cl, queued)
    w3 = start_worker("pol-w3")
    c.ok(wait_answered(j["id"] for j in queued), "the new worker answered the queued jobs")
    c.ok(all(refused(results()[j["id"]], "http-01") and
             results()[j["id"]]["worker"].split(":")[1] == str(w3.pid) for j in queued),
         "every one refused by the new worker, from its first job",
         [results()[j["id"]] for j in queued if not refused(results()[j["id"]], "http-01")][:2])
    log3 = w3.log()
    c.ok(0 <= log3.find("policy read") < log3.find("info validation "),
         "it read the policy before it took any job")

    # ---- a hash that cannot be read: the last policy stays in force ------------------------
    # One atomic step each way: a worker reading between a RENAME and a SET would see no hash at
    # all, which rightly means "nothing disabled", and the case under test would not be tested.
    swap = "redis.call('RENAME', KEYS[1], KEYS[2]) return redis.call('SET', KEYS[1], ARGV[1])"
    back = "redis.call('DEL', KEYS[1]) return redis.call('RENAME', KEYS[2], KEYS[1])"
    cl.call("EVAL", swap, "2", POLICY, POLICY + ":saved", "not a hash")
    c.ok(t.wait_until(lambda: "cannot read the operator's policy; the last one read stays in "
                              "force" in w3.log(), t.GRACE_S), "the read error is logged",
         w3.log()[-600:])
    j = http_job("unreadable")
    t.enqueue(cl, [j])
    c.ok(wait_answered(["unreadable"]) and refused(results()["unreadable"], "http-01"),
         "a disabled method stays disabled (fail closed)")
    cl.call("EVAL", back, "2", POLICY, POLICY + ":saved")

    # ---- Redis restarted while the method is disabled ------------------------------------------
    cl.close()
    redis.restart(down_seconds=1.5)
    cl = redis.client()
    c.ok(t.wait_until(lambda: w3.log().count("redis reconnected") >= 4, t.RECONNECT_MAX_S +
                      t.GRACE_S), "the worker is back")
    after = [http_job(f"restart-{i}") for i in range(5)]
    t.enqueue(cl, after)
    c.ok(wait_answered(j["id"] for j in after), "answered after the restart")
    c.ok(all(refused(results()[j["id"]], "http-01") for j in after),
         "still refused after the restart (the hash lives in the append-only file)")
    c.eq(w3.log().count("http-01 enabled again"), 0, "never enabled in between")

    # ---- a worker started while Redis is down takes no job before it read the policy --------
    c.eq(w3.stop(), 0, "worker 3 exits 0")
    cl.close()
    redis.stop()
    m4 = t.free_port()
    w4 = start_worker("pol-w4", ["--metrics-listen", f"127.0.0.1:{m4}"])
    status, body = t.wait_until(lambda: get(m4, "/readyz")[0] == 503 and get(m4, "/readyz"),
                                t.GRACE_S) or (0, "")
    c.ok(status == 503 and "the operator's policy (acmeva:v1:policy) has not been read yet" in
         body, "not ready while it never read the policy", body)
    c.eq(metric(m4, "acmeva_policy_version"), 0, "acmeva_policy_version 0 before the first read")
    redis.start()
    cl = redis.client()
    down = [http_job(f"down-{i}") for i in range(5)]
    t.enqueue(cl, down)
    c.ok(wait_answered((j["id"] for j in down), t.RECONNECT_MAX_S + t.GRACE_S + 10),
         "answered once Redis is up")
    c.ok(all(refused(results()[j["id"]], "http-01") for j in down),
         "the first jobs it takes are under the policy it read: refused")
    c.eq(t.wait_until(lambda: get(m4, "/readyz")[0] == 200 and 200, t.GRACE_S), 200,
         "ready once it read the policy")
    log4 = w4.log()
    c.ok(0 <= log4.find("policy read") < log4.find("info validation "),
         "it read the policy before it took any job")

    # ---- dnssec-at-primary at a --primary worker --------------------------------------------
    rc, out, err = policy("show")
    m = re.search(r"dnssec-at-primary .*\n.*\n\s+in force: (\d)", out)
    if m is None or m.group(1) != "1":
        rc, out, err = policy("enforce", "dnssec-at-primary", "--note", "test")
        c.eq(rc, 0, "dnssec-at-primary brought in early")
    mp = t.free_port()
    wp = t.WorkerProc(["--redis", redis.url, "--threads", "1", "--perspective", "prim",
                       "--primary", "--metrics-listen", f"127.0.0.1:{mp}"] +
                      t.cts_engine_args(cts), "pol-primary")
    procs.append(wp)
    c.ok(t.wait_until(lambda: "no resolver validates DNSSEC (dnssec-at-primary" in wp.log(),
                      t.GRACE_S), "a --primary worker with a resolver that does not validate "
         "takes no jobs while dnssec-at-primary is in force", wp.log()[-1000:])
    status, body = get(mp, "/readyz")
    c.ok(status == 503 and "DNSSEC" in body, "and is not ready", body)
    t.enqueue(cl, [http_job("prim-0")], stream="acmeva:v1:jobs:prim")
    time.sleep(2)
    c.ok("prim-0" not in results(), "its job waits")
    c.eq(metric(mp, 'acmeva_policy_rule_value{rule="dnssec-at-primary"}'), 1,
         "acmeva_policy_rule_value says the rule is in force")
    c.eq(wp.stop(), 0, "exit 0")

    # ---- the command line refuses what it must ----------------------------------------------
    for args, want in ((["disable", "caa", "--reason", "x"], "CAA checking cannot be switched off"),
                       (["disable", "tls-sni-01", "--reason", "x"], "is not a challenge type"),
                       (["disable", "http-01"], "--reason TEXT is required"),
                       (["disable", "http-01", "--reason", "two\nlines"], "one line"),
                       (["enforce", "no-such-rule"], "is not a dated rule"),
                       (["enable"], "needs one TYPE"),
                       (["frobnicate"], "unknown command"),
                       (["enable", "http-01", "--note", "x"], "--note with enforce")):
        rc, out, err = policy(*args)
        c.ok(rc == 2 and want in err, f"acmeva policy {' '.join(args)}: refused", (rc, err))
    rc, out, err = t.run_policy(["--redis", f"redis://127.0.0.1:{t.free_port()}", "show"])
    c.ok(rc == 2 and "cannot connect" in err, "no Redis: exit 2", err)
    rc, out, err = t.run_policy(["--help"])
    c.ok(rc == 0 and "disable TYPE --reason TEXT" in out, "--help", out)
    c.eq(w4.stop(), 0, "worker 4 exits 0")
finally:
    for p in procs:
        p.cleanup()
    redis.cleanup()
c.done()
