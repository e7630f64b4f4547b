"""Multi-perspective corroboration end to end (BR 3.2.2.9): acmeva-coordinator, a primary and up
to seven remote perspectives (ordinary acmeva-worker processes), a real redis-server and a real
pebble-challtestsrv. Every perspective resolves through its own view (tests/fixtures/dnsview.py),
which relays to challtestsrv except for the names it is told to hijack: those resolve to
127.0.0.2, where nothing listens, as a BGP hijack or a poisoned cache would show one network
perspective and not the others.

Cases: 5 remotes agreeing; one hijacked (valid 4/5, with the disagreement); two hijacked
(invalid); the primary hijacked (no remote is asked); 6 remotes with two hijacked (valid 4/6);
4 passing remotes in one RIR (invalid); a dead remote with an early decision (well before the
deadline) and one that decides the outcome by timing out (answered within the deadline);
malformed MPIC jobs; late and foreign sub-results; the start-up rules; kill -9 of the
coordinator mid-batch (a second one finishes every job).
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

REPLY = "acmeva:v1:results:test-mpic"
MPIC = "acmeva:v1:mpic"
SLOW_MS = 500

cts = t.Challtestsrv()
c = t.Checks()
redis = t.RedisServer()
cl = redis.client()
hijack_file = os.path.join(redis.dir, "hijack.json")
hijacks = {}
NAMES = ["primary"] + [f"r{i}" for i in range(1, 8)]
RIRS = {"primary": "ARIN", "r1": "ARIN", "r2": "RIPE", "r3": "APNIC", "r4": "ARIN", "r5": "RIPE",
        "r6": "APNIC", "r7": "LACNIC"}
procs = []


def set_hijacks():
    with open(hijack_file + ".tmp", "w") as f:
        json.dump({k: sorted(v) for k, v in hijacks.items()}, f)
    os.replace(hijack_file + ".tmp", hijack_file)


def hijack(name, views):
    for v in views:
        hijacks.setdefault(v, set()).add(name)
    set_hijacks()


set_hijacks()
ports = {}
vproc = None


def engine_args(perspective):
    args = t.cts_engine_args(cts)
    i = args.index("--resolver")
    args[i + 1] = f"127.0.0.1:{ports[perspective]}"
    # The hijacked address may be dialled (nothing listens there): the failure a hijack
    # causes is the connection's, as in the wild, not the address policy's.
    return args + ["--allow-address", "127.0.0.2/32"]


def start_worker(name):
    w = t.WorkerProc(["--redis", redis.url, "--perspective", name, "--rir", RIRS[name],
                      "--threads", "1"] + engine_args(name), f"mpic-{name}")
    procs.append(w)
    return w


def start_coordinator(remotes, extra=(), name="coord"):
    args = ["--redis", redis.url, "--threads", "1", "--slow-remote-ms", str(SLOW_MS)]
    for r in remotes:
        args += ["--remote", f"{r}:{RIRS[r]}"]
    p = t.WorkerProc(args + list(extra), name, binary=t.COORDINATOR)
    procs.append(p)
    return p


def mpic_job(jid, **extra):
    name, tok = t.unique("mpic"), t.new_token()
    cts.call("add-http01", {"token": tok, "content": t.key_authorization(tok)})
    return name, t.job(name, "http-01", tok, t.key_authorization(tok), job_id=jid,
                       replyTo=REPLY, **extra)


def results():
    return {r["id"]: r for r in t.stream_results(cl, REPLY)}


def wait_results(ids, timeout):
    ids = set(ids)
    return t.wait_until(lambda: ids <= set(results()), timeout, 0.1)


def entry_ms(stream, jid):
    """The time (ms) at which the result of |jid| was added to |stream|."""
    for eid, f in t.stream_entries(cl, stream):
        if "result" in f and json.loads(f["result"]).get("id") == jid:
            return int(eid.split("-")[0])
    return None


def persp(r, name):
    return next((p for p in r["mpic"]["perspectives"] if p["perspective"] == name), {})


try:
    # The view fixture prints "READY name=port ...", one port per perspective.
    vproc = subprocess.Popen([sys.executable, os.path.join(t.FIXTURES, "dnsview.py"),
                              "--upstream", cts.dns, "--hijack-file", hijack_file] +
                             sum((["--view", n] for n in NAMES), []),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = vproc.stdout.readline()
    c.ok(line.startswith("READY "), "the DNS views started", line)
    ports.update(kv.split("=") for kv in line.split()[1:])

    # Start-up rules: too few remotes for today's BR minimum; remotes in one RIR.
    p = subprocess.run([t.COORDINATOR, "--redis", redis.url, "--remote", "r1:ARIN"],
                       capture_output=True, text=True, timeout=30)
    c.ok(p.returncode == 1 and "too few remote perspectives" in p.stderr and
         "BR 3.2.2.9" in p.stderr, "fewer remotes than the BR minimum: refused", p.stderr)
    p = subprocess.run([t.COORDINATOR, "--redis", redis.url, "--remote", "a:ARIN", "--remote",
                        "b:ARIN", "--remote", "c:ARIN", "--min-remotes", "3"],
                       capture_output=True, text=True, timeout=30)
    c.ok(p.returncode == 1 and "span one RIR" in p.stderr, "3 remotes in one RIR: refused",
         p.stderr)
    p = subprocess.run([t.COORDINATOR, "--remote", "a:XYZ"], capture_output=True, text=True,
                       timeout=30)
    c.ok(p.returncode == 2 and "NAME:RIR" in p.stderr, "an unknown RIR: usage error", p.stderr)

    workers = {n: start_worker(n) for n in NAMES[:-1]}  # r7 never runs: a dead perspective
    for n in NAMES[:-1]:
        c.ok(t.wait_group(cl, stream=f"acmeva:v1:jobs:{n}", consumers=1),
             f"perspective {n} is reading")

    # ---- A: 5 remotes (ARIN RIPE APNIC ARIN RIPE), primary first ----------------------------
    metrics_port = t.free_port()
    audit_path = os.path.join(redis.dir, "mpic-audit.log")
    coord = start_coordinator(["r1", "r2", "r3", "r4", "r5"],
                              ["--metrics-listen", f"127.0.0.1:{metrics_port}", "--audit-log",
                               audit_path])
    c.ok(t.wait_group(cl, stream=MPIC, group="acmeva-coordinator"), "the coordinator is reading")
    jobs = {}
    for jid, views in (("a-agree", []), ("a-one", ["r5"]), ("a-two", ["r4", "r5"]),
                       ("a-primary", ["primary"])):
        name, j = mpic_job(jid)
        hijack(name, views)
        jobs[jid] = j
    sub_streams_before = {n: cl.call("XLEN", f"acmeva:v1:jobs:{n}") for n in NAMES[1:6]}
    t.enqueue(cl, jobs.values(), stream=MPIC)
    c.ok(wait_results(jobs, 30), "A: every MPIC job answered")
    res = results()
    r = res.get("a-agree", {})
    c.eq(r.get("status"), "valid", "A agree: valid")
    mp = r.get("mpic", {})
    c.eq(mp.get("quorum"), "5/5", "A agree: quorum 5/5")
    c.eq(mp.get("required"), 4, "A agree: 4 required of 5 (BR 3.2.2.9)")
    c.eq(mp.get("primary"), "valid", "A agree: primary valid")
    c.eq(sorted(mp.get("passedRirs", [])), ["APNIC", "ARIN", "RIPE"], "A agree: RIRs")
    c.eq(mp.get("disagreements"), [], "A agree: no disagreement")
    c.eq(r.get("perspective"), "primary", "the record is the primary's")
    c.eq([p["perspective"] for p in mp.get("perspectives", [])], ["r1", "r2", "r3", "r4", "r5"],
         "every remote asked is listed")
    c.ok(all(p.get("status") == "valid" and "127.0.0.1" in p.get("addressesResolved", [])
             for p in mp.get("perspectives", [])), "each remote's status and addresses")

    r = res.get("a-one", {})
    c.eq(r.get("status"), "valid", "A one hijacked: still valid")
    c.eq(r.get("mpic", {}).get("quorum"), "4/5", "A one hijacked: 4/5")
    c.eq(persp(r, "r5").get("status"), "invalid", "A one hijacked: r5 failed")
    c.ok(persp(r, "r5").get("addressesResolved") == ["127.0.0.2"],
         "A one hijacked: r5 resolved the hijacked address", persp(r, "r5"))
    dis = r.get("mpic", {}).get("disagreements", [])
    c.ok(any(d.startswith("r5: resolved 127.0.0.2 where the primary resolved") for d in dis),
         "A one hijacked: the disagreement names r5 and both addresses", dis)

    r = res.get("a-two", {})
    c.eq(r.get("status"), "invalid", "A two hijacked: invalid")
    c.eq(r.get("mpic", {}).get("quorum"), "3/5", "A two hijacked: 3/5")
    err = r.get("error") or {}
    c.eq(err.get("type"), "urn:ietf:params:acme:error:connection",
         "A two hijacked: the first failing remote's problem type")
    c.ok((err.get("detail") or "").startswith("During secondary validation: "),
         "A two hijacked: Boulder's wording", err)

    r = res.get("a-primary", {})
    c.eq(r.get("status"), "invalid", "A primary hijacked: invalid")
    c.eq(r.get("mpic", {}).get("primary"), "invalid", "A primary hijacked: the primary failed")
    c.eq(r.get("mpic", {}).get("perspectives"), [], "A primary hijacked: no remote asked")
    asked = [json.loads(f["job"])["id"] for n in NAMES[1:6]
             for _, f in t.stream_entries(cl, f"acmeva:v1:jobs:{n}")]
    c.ok(not any(i.startswith("a-primary/") for i in asked),
         "A primary hijacked: no sub-job went to a remote", [i for i in asked if "a-primary" in i])
    c.ok(all(i.startswith(("a-agree/mpic:", "a-one/mpic:", "a-two/mpic:")) for i in asked),
         "sub-job ids are derived from the job id", asked[:3])

    # Operations: one audit line per decision with every perspective and the quorum, and the
    # decision counters (DESIGN.md "Operations").
    audit = [json.loads(x) for x in open(audit_path) if x.strip()]
    lines = {a["id"]: a for a in audit if a.get("event") == "mpic"}
    c.ok(set(jobs) <= set(lines), "one audit line per MPIC decision", sorted(lines))
    a1 = lines.get("a-one", {})
    c.ok(a1.get("mpic", {}).get("quorum") == "4/5" and len(a1["mpic"]["perspectives"]) == 5,
         "the audit line carries the quorum and each perspective's result", a1)
    import urllib.request
    scrape = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read()
    scrape = scrape.decode()
    c.ok('acmeva_mpic_decisions_total{result="valid"} 2' in scrape and
         'acmeva_mpic_decisions_total{result="invalid"} 2' in scrape,
         "decisions counted by result", [x for x in scrape.splitlines() if "decisions" in x])
    c.ok('acmeva_mpic_perspective_results_total{perspective="r5",rir="RIPE",result="invalid"} 2'
         in scrape, "perspective outcomes counted",
         [x for x in scrape.splitlines() if "perspective_results" in x][:12])

    # Malformed MPIC jobs: on the default results stream, with dead letters.
    _, few = mpic_job("m-few", mpic={"perspectiveCount": 2})
    _, quorum = mpic_job("m-quorum", mpic={"quorumCount": 6})
    _, outside = mpic_job("m-outside")
    outside["replyTo"] = "acmeva:v1:jobs:r1"
    _, notobj = mpic_job("m-notobj", mpic=[1])
    t.enqueue(cl, [few, quorum, outside, notobj, "not json"], stream=MPIC)
    ok = t.wait_until(lambda: {"m-few", "m-quorum", "m-outside", "m-notobj"} <=
                      {r["id"] for r in t.stream_results(cl, t.RESULTS_STREAM)}, 15)
    c.ok(ok, "malformed MPIC jobs answered on the default results stream")
    dres = {r["id"]: r for r in t.stream_results(cl, t.RESULTS_STREAM)}
    for jid, part in (("m-few", "mpic.perspectiveCount"), ("m-quorum", "mpic.quorumCount"),
                      ("m-outside", "replyTo: must start with"), ("m-notobj", "mpic: must be")):
        c.problem(dres.get(jid, {}), "malformed", part, f"malformed {jid}")
    c.ok(t.wait_until(lambda: len([f for _, f in t.stream_entries(cl, t.DEAD_STREAM)]) >= 5, 10),
         "malformed MPIC jobs are dead-lettered (the one that is not JSON too)")

    # Late and foreign sub-results: a result for a sub-job already decided, and one for an id
    # nobody asked for, written to the coordinator's reply stream, change nothing.
    sub = next(json.loads(f["job"]) for _, f in t.stream_entries(cl, "acmeva:v1:jobs:r1")
               if json.loads(f["job"])["id"].startswith("a-agree/"))
    reply_stream = sub["replyTo"]
    c.ok(reply_stream.startswith("acmeva:v1:results:mpic:"),
         "the sub-jobs' reply stream is the coordinator's own, under the reply prefix",
         reply_stream)
    late = dict(res["a-agree"], id=sub["id"], status="invalid", perspective="r1",
                error={"type": "urn:ietf:params:acme:error:unauthorized", "detail": "x",
                       "status": 403})
    late.pop("mpic", None)
    cl.call("XADD", reply_stream, "*", "result", json.dumps(late))
    cl.call("XADD", reply_stream, "*", "result", json.dumps(dict(late, id="nobody/asked")))
    time.sleep(1)
    c.eq(sum(1 for x in t.stream_results(cl, REPLY) if x["id"] == "a-agree"), 1,
         "a late sub-result does not produce a second result")
    # acmeva submit --mpic: enqueues on acmeva:v1:mpic and prints the corroborated result.
    _, j = mpic_job("s-submit")
    j.pop("replyTo")
    rc, out, err = t.run_submit(["--redis", redis.url, "--mpic", "--job", "-", "--wait",
                                 "--timeout-ms", "20000"], stdin=json.dumps(j) + "\n")
    c.eq(rc, 0, "submit --mpic --wait: exit 0 (valid)")
    c.ok(len(out) == 1 and out[0].get("mpic", {}).get("quorum") == "5/5",
         "submit --mpic prints the result with its mpic object (checked by the result schema)",
         out or err)
    rc, _, err = t.run_submit(["--redis", redis.url, "--mpic", "--perspective", "x", "--job",
                               "-"], stdin="")
    c.ok(rc == 2 and "exclude" in err, "--mpic with --perspective is refused", err)
    c.eq(coord.stop(), 0, "coordinator A: exit 0 on SIGTERM")
    c.ok("late_results=2" in coord.log(), "the late and the foreign result were counted",
         coord.log()[-600:])
    c.eq(cl.call("EXISTS", reply_stream), 0, "the reply stream is deleted at a clean stop")
    c.ok("late_results" in coord.log(), "thread stop line")

    # ---- B: 6 remotes, two hijacked: BR allows 2 non-corroborations ------------------------
    coord = start_coordinator(["r1", "r2", "r3", "r4", "r5", "r6"], ["--parallel"], "coord-b")
    name, j = mpic_job("b-two")
    hijack(name, ["r1", "r6"])
    t.enqueue(cl, [j], stream=MPIC)
    c.ok(wait_results(["b-two"], 20), "B: answered")
    r = results().get("b-two", {})
    c.eq(r.get("status"), "valid", "B: 6 remotes, 2 hijacked: valid")
    c.eq(r.get("mpic", {}).get("quorum"), "4/6", "B: 4/6")
    c.eq(r.get("mpic", {}).get("required"), 4, "B: 4 required of 6")
    c.eq(coord.stop(), 0, "coordinator B: exit 0")

    # ---- C: 4 ARIN remotes pass, the RIPE one is hijacked: one RIR is not enough ----------
    RIRS.update({"r2": "ARIN", "r3": "ARIN", "r4": "ARIN", "r5": "RIPE"})
    coord = start_coordinator(["r1", "r2", "r3", "r4", "r5"], [], "coord-c")
    name, j = mpic_job("c-rir")
    hijack(name, ["r5"])
    t.enqueue(cl, [j], stream=MPIC)
    c.ok(wait_results(["c-rir"], 20), "C: answered")
    r = results().get("c-rir", {})
    c.eq(r.get("status"), "invalid", "C: 4/5 in one RIR: invalid (BR 3.2.2.9: 2 RIRs)")
    c.eq(r.get("mpic", {}).get("passedRirs"), ["ARIN"], "C: passed in ARIN only")
    c.eq(coord.stop(), 0, "coordinator C: exit 0")
    RIRS.update({"r2": "RIPE", "r3": "APNIC", "r4": "ARIN", "r5": "RIPE"})

    # ---- D: 7 remotes, r7 dead ---------------------------------------------------------------
    coord = start_coordinator(NAMES[1:], [], "coord-d")
    long_ms, short_ms = 20000, 5000
    now = int(time.time() * 1000)
    _, early = mpic_job("d-early", deadlineMs=now + long_ms)
    name, tight = mpic_job("d-tight", deadlineMs=now + short_ms)
    hijack(name, ["r5", "r6"])
    t.enqueue(cl, [early, tight], stream=MPIC)
    c.ok(wait_results(["d-early", "d-tight"], short_ms / 1000 + 10), "D: answered")
    r = results()
    e, g = r.get("d-early", {}), r.get("d-tight", {})
    c.eq(e.get("status"), "valid", "D early: valid with a dead remote (6/7)")
    c.eq(persp(e, "r7").get("status"), "timeout", "D early: the dead remote is a timeout")
    # Decided once 5 passed across 2 RIRs, then SLOW_MS for stragglers: far from the deadline.
    posted = entry_ms(REPLY, "d-early")
    c.ok(posted is not None and posted - now < long_ms / 2,
         "D early: posted well before the deadline (early decision)",
         f"{posted - now if posted else None} ms of {long_ms}")
    c.eq(g.get("status"), "invalid", "D tight: the dead remote's timeout is the third failure")
    c.eq(g.get("mpic", {}).get("quorum"), "4/7", "D tight: 4/7")
    c.eq(persp(g, "r7").get("status"), "timeout", "D tight: r7 timed out")
    posted = entry_ms(REPLY, "d-tight")
    c.ok(posted is not None and posted <= now + short_ms,
         "D tight: answered within the job's deadline", f"{posted - now if posted else None} ms")
    c.eq(coord.stop(), 0, "coordinator D: exit 0")

    # ---- kill -9 of a coordinator mid-batch: another finishes every job -----------------------
    first = start_coordinator(["r1", "r2", "r3", "r4", "r5"], ["--claim-idle-ms", "1000"],
                              "coord-k1")
    c.ok(t.wait_group(cl, stream=MPIC, group="acmeva-coordinator"), "the first coordinator joined")
    # The primary is frozen while the first coordinator fans the batch out, so that it dies
    # holding every job: deterministic orphans, whatever the machine's speed.
    batch = [mpic_job(f"k-{i}")[1] for i in range(40)]
    workers["primary"].signal(signal.SIGSTOP)
    t.enqueue(cl, batch, stream=MPIC)
    c.ok(t.wait_until(lambda: cl.call("XPENDING", MPIC, "acmeva-coordinator")[0] == len(batch)
                      and sum(1 for _, f in t.stream_entries(cl, "acmeva:v1:jobs:primary")
                              if json.loads(f["job"])["id"].startswith("k-")) >= len(batch), 15),
         "the first coordinator holds the batch and asked the (frozen) primary")
    first.signal(signal.SIGKILL)
    first.wait(10)
    workers["primary"].signal(signal.SIGCONT)
    second = start_coordinator(["r1", "r2", "r3", "r4", "r5"], ["--claim-idle-ms", "1000"],
                               "coord-k2")
    want = {j["id"] for j in batch}
    c.ok(wait_results(want, 60), "after kill -9, every job of the batch is answered",
         sorted(want - set(results()))[:5])
    c.ok(all(results()[i]["status"] == "valid" for i in want if i in results()),
         "and every one is valid")
    c.ok("claimed idle entries" in second.log(), "the second coordinator claimed the orphans")
    c.ok(t.wait_until(lambda: cl.call("XPENDING", MPIC, "acmeva-coordinator")[0] == 0, 15),
         "nothing left pending")
    c.eq(second.stop(), 0, "second coordinator: exit 0")
    for n, w in workers.items():
        c.ok(w.alive(), f"worker {n} kept running")
finally:
    for p in procs:
        p.cleanup()
    if vproc is not None:
        vproc.terminate()
        vproc.wait(10)
        vproc.stdout.close()
    redis.cleanup()
c.done()
