"""DNSSEC end to end with real parts (DESIGN.md "DNSSEC"; BR ballot SC085).

tests/fixtures/dnsseclab.py signs zones with ldns-signzone, serves them with NSD and validates
them with Unbound, run with the policy of deploy/unbound/unbound.conf and a trust anchor for
test. only. Against it:

1. dns-01, http-01 (A and AAAA) and CAA on the signed zone record "dnssec": "secure";
2. a zone whose signatures expired and one whose signatures are broken fail with a dns problem
   that says DNSSEC validation failed, with Unbound's Extended DNS Error code and text
   (RFC 8914), for dns-01, http-01 and CAA alike;
3. an unsigned zone (delegated without a DS) records "insecure" and validates;
4. --require-dnssec-resolver: `acmeva check` runs against the validating Unbound, refuses to
   run (exit 2, no job run) against resolvers that do not validate (pebble-challtestsrv, NSD
   itself, and Unbound asked about a name no trust anchor covers), names each resolver in its
   message and checks each on its own (a resolver that times out is not counted as the one
   behind it); acmeva-worker takes no job while none validates, says so in its log, and
   starts taking jobs once a validating resolver appears.
"""

import json
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

sys.path.insert(0, t.FIXTURES)
import dnsseclab  # noqa: E402  (its free_port: free for UDP and TCP)

ISSUER = "ca.example"
PROBE = ["--dnssec-probe-name", "test"]
# The worker checks its resolvers every 5 s while none validates (worker/queue/worker.c,
# DNSSEC_RETRY_MS; --help): the bound of every wait for a change of state below.
DNSSEC_RETRY_S = 5.0
DNS_TRIES, DNS_TIMEOUT_MS = 2, 500
CHECK_S = DNS_TRIES * DNS_TIMEOUT_MS / 1000  # the longest one resolver check takes
DNS_ARGS = ["--dns-tries", str(DNS_TRIES), "--dns-timeout-ms", str(DNS_TIMEOUT_MS)]

cts = t.Challtestsrv()
c = t.Checks()


def name(label, zone):
    return f"{label}-{t.new_token()[:8].lower().replace('_', 'x').replace('-', 'x')}.{zone}.test"


def dns01(ident):
    tok = t.new_token()
    ka = t.key_authorization(tok)
    rec = {"name": "_acme-challenge." + ident, "type": "TXT",
           "value": t.dns01_value(ka)}
    return t.job(ident, "dns-01", tok, ka, job_id="dns01:" + ident), [rec]


def http01(ident):
    tok = "ok_" + t.new_token()[:40]
    recs = [{"name": ident, "type": "A", "value": "127.0.0.1"},
            {"name": ident, "type": "AAAA", "value": "::1"}]
    return t.job(ident, "http-01", tok, t.key_authorization(tok), job_id="http01:" + ident), recs


def caa(ident):
    rec = {"name": ident, "type": "CAA", "value": f'0 issue "{ISSUER}"'}
    return t.job(ident, None, job_id="caa:" + ident, caa={}), [rec]


def start_lab(records, unbound_port=0):
    path = os.path.join(tmp, "records.json")
    with open(path, "w") as f:
        json.dump(records, f)
    argv = [sys.executable, os.path.join(t.FIXTURES, "dnsseclab.py"), "--records", path]
    if unbound_port:
        argv += ["--unbound-port", str(unbound_port)]
    return t.Fixture(argv)


def log_has(w, text):
    return text in w.log()


# ---- the jobs and the zone data ---------------------------------------------------------------
tmp = tempfile.mkdtemp(prefix="acmeva-dnssec-")
records, jobs, expect = [], [], {}


def add(job_recs, outcome):
    job, recs = job_recs
    jobs.append(job)
    records.extend(recs)
    expect[job["id"]] = outcome


add(dns01(name("txt", "secure")), "secure")
add(http01(name("web", "secure")), "secure")
add(caa(name("caa", "secure")), "secure")
add(dns01(name("txt", "plain")), "insecure")
add(http01(name("web", "plain")), "insecure")
add(caa(name("caa", "plain")), "insecure")
add(dns01(name("txt", "expired")), ("TXT", 7, "Signature Expired", "signature expired"))
add(dns01(name("txt", "badsig")), ("TXT", 6, "DNSSEC Bogus", "signature crypto failed"))
add(http01(name("web", "badsig")), (None, 6, "DNSSEC Bogus", "signature crypto failed"))
add(caa(name("caa", "badsig")), ("CAA", 6, "DNSSEC Bogus", "signature crypto failed"))
# The job the late worker (section 4) takes once its resolver appears.
late_job, late_recs = dns01(name("late", "secure"))
late_job["id"] = "late:" + late_job["identifier"]["value"]
records.extend(late_recs)

redis = t.RedisServer()
cl = redis.client()
http = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen",
                  "127.0.0.1", "--listen", "::1", "--key-authorization-suffix", t.THUMBPRINT])
workers, lab = [], None
try:
    # ---- 4a. workers that must not take jobs: started first, so that their waits overlap ----
    unbound_port = dnsseclab.free_port()  # nothing answers there until the lab starts
    common = ["--redis", redis.url, "--threads", "1", "--require-dnssec-resolver", *PROBE,
              *DNS_ARGS, "--allow-private-addresses", "--issuer-domain", ISSUER]
    late = t.WorkerProc(common + ["--perspective", "late", "--resolver",
                                  f"127.0.0.1:{unbound_port}"], "dnssec-late")
    ready_port = t.free_port()
    plain = t.WorkerProc(common + ["--perspective", "cts", *cts.resolver_args,
                                   "--metrics-listen", f"127.0.0.1:{ready_port}"], "dnssec-cts")
    workers += [late, plain]
    refused_line = "no resolver validates DNSSEC (--require-dnssec-resolver): not taking jobs"
    for w, who in ((late, "a resolver that does not answer"), (plain, "pebble-challtestsrv")):
        c.ok(t.wait_until(lambda w=w: log_has(w, refused_line), CHECK_S + t.GRACE_S),
             f"the worker with {who} says loudly that it takes no jobs", w.log()[-2000:])
    import urllib.error
    import urllib.request
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{ready_port}/readyz", timeout=10)
        ready = (200, "")
    except urllib.error.HTTPError as e:
        ready = (e.code, e.read().decode(errors="replace"))
    c.ok(ready[0] == 503 and "DNSSEC" in ready[1],
         "readiness is 503 while no resolver validates DNSSEC", ready)
    c.ok(f"{cts.dns}: DNS problem: NOTIMP looking up SOA for test" in plain.log() or
         f"{cts.dns} answered SOA for test without the AD bit" in plain.log(),
         "the log line names pebble-challtestsrv and what it answered", plain.log()[-1500:])
    late_stream = t.JOBS_STREAM.replace("default", "late")
    cts_tok = t.new_token()
    cts_job = t.job(t.unique("dnssec-cts"), "dns-01", cts_tok, t.key_authorization(cts_tok),
                    job_id="cts-job")
    t.enqueue(cl, [late_job], late_stream)
    t.enqueue(cl, [cts_job], t.JOBS_STREAM.replace("default", "cts"))
    # A worker that reads would have taken its job within a blocking read; give it that and a
    # further check of its resolvers.
    time.sleep(t.READ_BLOCK_S + DNSSEC_RETRY_S + CHECK_S)
    for stream, w in ((late_stream, late), (t.JOBS_STREAM.replace("default", "cts"), plain)):
        c.eq(t.pending_count(cl, stream), 0, f"no job was read from {stream}")
        c.ok(w.alive(), f"the worker on {stream} still runs", w.log()[-1500:])
    c.eq(t.stream_results(cl), [], "no result was posted while no resolver validates")

    # ---- the lab; the late worker's resolver appears -----------------------------------------
    lab = start_lab(records, unbound_port)
    c.eq(lab.port, unbound_port, "Unbound listens where the late worker looks")
    res = t.wait_until(lambda: t.stream_results(cl), DNSSEC_RETRY_S + CHECK_S +
                       t.READ_BLOCK_S + t.GRACE_S + 10)
    c.ok(res and res[0].get("id") == late_job["id"] and res[0].get("status") == "valid",
         "once a validating resolver appears, the worker takes its job and validates it", res)
    if res:
        rec = (res[0].get("validationRecord") or [{}])[0]
        c.eq(rec.get("dnssec"), "secure", "the late job's TXT answer is secure")
    c.ok("DNSSEC resolver check passed: taking jobs" in late.log(),
         "the worker says it takes jobs again", late.log()[-1500:])
    c.eq(t.pending_count(cl, t.JOBS_STREAM.replace("default", "cts")), 0,
         "the worker asking pebble-challtestsrv still takes nothing")

    resolver = f"127.0.0.1:{lab.port}"
    nsd = f"127.0.0.1:{lab.fields[1]}"  # READY <unbound port> <nsd port>

    # ---- 1-3. validations through the validating resolver --------------------------------------
    args = ["--resolver", resolver, "--require-dnssec-resolver", *PROBE, "--http-port",
            str(http.port), "--issuer-domain", ISSUER]
    rc, by_id, results, err = t.run_check(args, jobs)
    c.eq(rc, 1, "acmeva check ran the jobs (some are meant to fail)")
    c.eq(len(results), len(jobs), "one result per job")
    c.ok("warning" not in err, "the only resolver validates: no warning", err)
    for job in jobs:
        jid, want = job["id"], expect[job["id"]]
        r = by_id.get(jid) or {}
        recs = r.get("validationRecord") or []
        if isinstance(want, str):
            c.eq(r.get("status"), "valid", f"{jid}: valid")
            if "challenge" in job:
                c.ok(recs and all(x.get("dnssec") == want for x in recs),
                     f"{jid}: every validation record says {want}", recs)
                c.ok(recs and all(x.get("resolverAddrs") == [resolver] for x in recs),
                     f"{jid}: the records name the resolver", recs)
            else:
                c.eq((r.get("caa") or {}).get("dnssec"), want, f"{jid}: the caa object says {want}")
                c.eq((r.get("caa") or {}).get("foundAt"), job["identifier"]["value"],
                     f"{jid}: the CAA record was found")
            continue
        qtype, code, ede_name, text = want
        c.problem(r, "dns", "DNSSEC validation failed", f"{jid}: a dns problem")
        detail = (r.get("error") or {}).get("detail") or ""
        c.ok(f"(Extended DNS Error {code}: {ede_name}: " in detail,
             f"{jid}: the detail carries EDE {code} ({ede_name})", detail)
        c.ok(text in detail and "validation failure <" in detail,
             f"{jid}: the detail quotes Unbound's reason", detail)
        if qtype:
            c.ok(f"SERVFAIL looking up {qtype} for " in detail, f"{jid}: it names the lookup",
                 detail)
        if "challenge" not in job:
            c.eq(((r.get("caa") or {}).get("error") or {}).get("type"),
                 "urn:ietf:params:acme:error:dns", f"{jid}: the caa object has the dns problem")

    # ---- 4b. acmeva check --require-dnssec-resolver against resolvers that do not validate -----
    one = dns01(name("never", "secure"))[0]
    for what, extra, says in (
            ("pebble-challtestsrv", cts.resolver_args + PROBE, cts.dns),
            ("NSD, an authoritative server that does not validate", ["--resolver", nsd, *PROBE],
             f"{nsd} answered SOA for test without the AD bit"),
            ("the validating resolver asked about a name no trust anchor covers",
             ["--resolver", resolver, "--dnssec-probe-name", "plain.test"],
             f"{resolver} answered SOA for plain.test without the AD bit"),
            ("the default probe name, the root, which this Unbound refuses",
             ["--resolver", resolver], f"{resolver}: DNS problem: REFUSED looking up SOA for .")):
        rc, by_id, results, err = t.run_check(["--require-dnssec-resolver", *DNS_ARGS] + extra,
                                              [one])
        c.eq(rc, 2, f"check refuses to run with {what}")
        c.eq(results, [], f"check prints no result with {what}")
        c.ok("--require-dnssec-resolver: no resolver validates DNSSEC, so no job was run" in err
             and says in err, f"check says why with {what}", err)
    c.eq(cts.history("dns", "_acme-challenge." + one["identifier"]["value"]), [],
         "the refused job never reached pebble-challtestsrv")

    # Each resolver is checked on its own: a resolver that never answers times out on every
    # try, and is not credited with the answer of the resolver after it.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{hole.getsockname()[1]}"
        rc, by_id, results, err = t.run_check(
            ["--require-dnssec-resolver", *PROBE, *DNS_ARGS, "--resolver", dead, "--resolver",
             resolver], [jobs[0]])
    c.ok(rc in (0, 1) and len(results) == 1, "check runs when one resolver of two validates",
         (rc, err))
    c.ok(f"{dead}: DNS problem: query timed out looking up SOA for test" in err and
         f"{resolver} validates" in err and "warning: not every resolver validates DNSSEC" in err,
         "check warns, naming the resolver that does not validate", err)
finally:
    for w in workers:
        w.stop()
        w.cleanup()
    if lab is not None:
        lab.stop()
    http.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    redis.cleanup()
c.done()
