"""The operator's policy at acmeva-coordinator (DESIGN.md "Live kill switch per method"), end to
end with a real redis-server, pebble-challtestsrv, a primary and two remote perspectives.

Cases: a decision carries the coordinator's policyVersion; a disabled method is refused before
any sub-job is sent (serverInternal naming the method and the reason, an audit line, the
refusals counted), while another method is still corroborated; a CAA-only job that names the
disabled method is not refused; enforce min-remote-perspectives raises the coordinator's
minimum at once (its log and metrics say so, jobs it cannot corroborate with enough remotes get
serverInternal, a job that asks fewer is malformed, and it keeps running), and unenforce brings
the dated minimum back.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

REPLY = "acmeva:v1:results:test-policy-mpic"
MPIC = "acmeva:v1:mpic"
NAMES = {"primary": "ARIN", "r1": "ARIN", "r2": "RIPE"}

cts = t.Challtestsrv()
c = t.Checks()
redis = t.RedisServer()
cl = redis.client()
procs = []


def policy(*args):
    return t.run_policy(["--redis", redis.url] + list(args))


def http_job(jid, **extra):
    name, tok = t.unique("pm"), t.new_token()
    cts.call("add-http01", {"token": tok, "content": t.key_authorization(tok)})
    return t.job(name, "http-01", tok, t.key_authorization(tok), job_id=jid, replyTo=REPLY,
                 **extra)


def dns_job(jid):
    name, tok = t.unique("pm"), t.new_token()
    cts.call("set-txt", {"host": f"_acme-challenge.{name}.",
                         "value": t.dns01_value(t.key_authorization(tok))})
    return t.job(name, "dns-01", tok, t.key_authorization(tok), job_id=jid, replyTo=REPLY)


def results():
    return {r["id"]: r for r in t.stream_results(cl, REPLY)}


def run(jobs, timeout=30):
    t.enqueue(cl, jobs, stream=MPIC)
    ids = {j["id"] for j in jobs}
    c.ok(t.wait_until(lambda: ids <= set(results()), timeout, 0.1), f"answered: {sorted(ids)}")
    return results()


def sub_jobs():
    return sum(cl.call("XLEN", f"acmeva:v1:jobs:{n}") for n in NAMES)


def metrics(port):
    return t.http_get(port, "/metrics")[1]


def problem(r):
    return (r.get("error") or {}).get("type", ""), (r.get("error") or {}).get("detail", "")


try:
    for n, rir in NAMES.items():
        w = t.WorkerProc(["--redis", redis.url, "--perspective", n, "--rir", rir, "--threads",
                          "1"] + t.cts_engine_args(cts), f"pm-{n}")
        procs.append(w)
    for n in NAMES:
        c.ok(t.wait_group(cl, stream=f"acmeva:v1:jobs:{n}"), f"perspective {n} is reading")
    mport = t.free_port()
    audit = os.path.join(redis.dir, "audit.log")
    coord = t.WorkerProc(["--redis", redis.url, "--threads", "1", "--remote", "r1:ARIN",
                          "--remote", "r2:RIPE", "--min-remotes", "2", "--slow-remote-ms", "500",
                          "--metrics-listen", f"127.0.0.1:{mport}", "--audit-log", audit],
                         "pm-coord", binary=t.COORDINATOR)
    procs.append(coord)
    c.ok(t.wait_group(cl, stream=MPIC, group="acmeva-coordinator"), "the coordinator is reading")

    res = run([http_job("before")])
    r = res.get("before", {})
    c.ok(r.get("status") == "valid" and r.get("mpic", {}).get("quorum") == "2/2" and
         r.get("policyVersion") == 0, "corroborated, with the coordinator's policyVersion 0", r)

    # ---- a disabled method: refused before any fan-out -----------------------------------------
    rc, out, err = policy("disable", "http-01", "--reason", "mpic test advisory")
    c.ok(rc == 0 and "5 processes told" not in out and "4 processes told" in out,
         "disabled; the coordinator and the three workers were told", out + err)
    c.ok(t.wait_until(lambda: "http-01 disabled: mpic test advisory" in coord.log(), t.GRACE_S),
         "the coordinator applied it")
    before = sub_jobs()
    caa_only = t.job(t.unique("pm-caa"), None, job_id="caa-only", replyTo=REPLY,
                     caa={"issuerDomains": ["ca.example"], "method": "http-01"})
    res = run([http_job("off"), dns_job("dns-on"), caa_only])
    r = res.get("off", {})
    ptype, detail = problem(r)
    c.ok(r.get("status") == "invalid" and ptype == "urn:ietf:params:acme:error:serverInternal"
         and "The validation method http-01 is disabled by the operator's policy "
             "(acmeva:v1:policy version 1): mpic test advisory" in detail and
         r.get("policyVersion") == 1, "the http-01 MPIC job is refused, naming the method, the "
         "version and the reason", r)
    c.ok("mpic" not in r, "no decision was taken for it")
    c.eq(sub_jobs() - before, 2 * 3, "no sub-job for it: only the dns-01 and CAA-only jobs fan "
         "out (3 perspectives each)")
    c.ok(all(not json.loads(f["job"])["id"].startswith("off/") for n in NAMES
             for _, f in t.stream_entries(cl, f"acmeva:v1:jobs:{n}")),
         "no perspective was asked to validate the disabled method")
    r = res.get("dns-on", {})
    c.ok(r.get("status") == "valid" and r.get("mpic", {}).get("quorum") == "2/2",
         "dns-01 is still corroborated", r)
    r = res.get("caa-only", {})
    c.ok(r.get("status") == "valid" and "mpic" in r,
         "a CAA-only job naming the disabled method (caa.method) is not refused", r)
    lines = [json.loads(x) for x in open(audit) if x.strip()]
    off = [x for x in lines if x.get("id") == "off"]
    c.ok(len(off) == 1 and off[0]["event"] == "mpic" and
         off[0]["problem"] == "urn:ietf:params:acme:error:serverInternal",
         "the refusal has its audit line", off)
    c.ok(any(x["event"] == "policy" and x["program"] == "acmeva-coordinator" and
             x["version"] == 1 for x in lines), "and the change its own")
    m = metrics(mport)
    c.ok('acmeva_policy_refusals_total{type="http-01"} 1' in m, "the refusal is counted",
         m[-1200:])
    rc, out, err = policy("enable", "http-01")
    c.eq(rc, 0, "enabled again")

    # ---- min-remote-perspectives brought in early ---------------------------------------------
    rc, out, err = policy("show")
    dated = int(re.search(r"min-remote-perspectives .*\n.*\n\s+in force: (\d+)", out).group(1))
    rc, out, err = policy("enforce", "min-remote-perspectives", "--note", "adopting early")
    early = re.search(r"min-remote-perspectives in force: (\d+), the step of", out)
    c.ok(rc == 0 and early, "enforce: the next step is in force at once", out + err)
    want = int(early.group(1)) if early else 0
    c.ok(want > dated, "the minimum rises", (dated, want))
    c.ok(t.wait_until(lambda: "too few remote perspectives for the minimum in force: MPIC jobs "
                              f"are refused min_remotes={want} early=1" in coord.log(),
                      t.GRACE_S), "the coordinator says at once that it falls short",
         coord.log()[-1000:])
    m = metrics(mport)
    c.ok(f'acmeva_policy_rule_value{{rule="min-remote-perspectives"}} {want}' in m and
         'acmeva_policy_rule_early{rule="min-remote-perspectives"} 1' in m,
         "the metrics show the rule in force early", m[-1500:])
    before = sub_jobs()
    res = run([http_job("short")])
    ptype, detail = problem(res.get("short", {}))
    c.ok(ptype == "urn:ietf:params:acme:error:serverInternal" and
         f"fewer than the {want} that BR 3.2.2.9 requires now" in detail and
         "brought in early" in detail, "a job it cannot corroborate enough: serverInternal",
         detail)
    # A malformed job's result goes to the default results stream (docs/worker.md "Delivery").
    t.enqueue(cl, [http_job("asks-two", mpic={"perspectiveCount": 2})], stream=MPIC)
    mal = t.wait_until(lambda: next((x for x in t.stream_results(cl)
                                     if x.get("id") == "asks-two"), None), 30, 0.1) or {}
    ptype, detail = problem(mal)
    c.ok(ptype == "urn:ietf:params:acme:error:malformed" and "mpic.perspectiveCount" in detail
         and f"minimum of {want} remote perspectives" in detail,
         "a job that asks fewer than the minimum: malformed", detail)
    c.eq(sub_jobs(), before, "neither fans out")
    c.ok(coord.alive(), "the coordinator keeps running")
    rc, out, err = policy("unenforce", "min-remote-perspectives")
    c.ok(rc == 0 and "back to its dates" in out, "unenforce", out + err)
    c.ok(t.wait_until(lambda: coord.log().count("minimum of remote perspectives in force "
                                                "min_remotes=2 early=0") == 2, t.GRACE_S),
         "the explicit minimum is back (said at start, and now)", coord.log()[-800:])
    res = run([http_job("after")])
    c.ok(res.get("after", {}).get("status") == "valid" and
         res.get("after", {}).get("policyVersion") == 4, "corroborated again, under version 4",
         res.get("after"))
    c.eq(coord.stop(), 0, "the coordinator exits 0")
finally:
    for p in procs:
        p.cleanup()
    redis.cleanup()
c.done()
