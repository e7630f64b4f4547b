"""Large `acmeva check --job -` batches against pebble-challtestsrv: 1,000 http-01, 10,000
dns-01 and 2,000 tls-alpn-01 jobs, each batch one process, every result valid. Prints each
batch's validations per second (challtestsrv, a Go server on the same two cores, is the
bottleneck here; bench/ measures acmeva against its own fast responder).
"""

import http.client
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

cts = t.Challtestsrv()
c = t.Checks()
mgmt = urllib.parse.urlparse(cts.mgmt)
conn = http.client.HTTPConnection(mgmt.hostname, mgmt.port, timeout=10)


def call(endpoint, body):
    # One kept-alive connection: thousands of fixtures are set up in seconds.
    conn.request("POST", "/" + endpoint, body=json.dumps(body))
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise RuntimeError(f"{endpoint}: {resp.status}")


def run(kind, n, setup, extra_args=()):
    jobs = []
    run_id = t.unique(kind).split(".")[0]
    for i in range(n):
        tok = t.new_token()
        ka = t.key_authorization(tok)
        name = f"{run_id}-{i}.example.com"
        setup(name, tok, ka)
        jobs.append(t.job(name, kind, tok, ka, job_id=f"{kind}-{i}"))
    args = [*cts.resolver_args, "--http-port", str(cts.http_port),
            "--tls-port", str(cts.tlsalpn_port)] + list(extra_args)
    start = time.time()
    rc, res, results, err = t.run_check(args, jobs, timeout=300)
    elapsed = time.time() - start
    n_valid = sum(1 for r in results if r.get("status") == "valid")
    c.eq(rc, 0, f"{kind} batch exit status")
    c.eq(len(results), n, f"{kind}: one result per job")
    c.eq(n_valid, n, f"{kind}: every result valid")
    c.eq(len(res), n, f"{kind}: every id once")
    if n_valid != n:
        bad = [r for r in results if r.get("status") != "valid"][:3]
        print(json.dumps(bad, indent=1), file=sys.stderr)
    print(f"batch {kind}: {n} jobs in {elapsed:.2f} s = {n / elapsed:.0f} validations/s",
          flush=True)


# challtestsrv reads its UDP socket slowly: a thousand lookups at once (2,000 queries) overflow
# its receive buffer, and each lost answer costs a one-second retry. 250 at a time keeps it
# whole, for every batch below.
run("http-01", 1000,
    lambda name, tok, ka: call("add-http01", {"token": tok, "content": ka}),
    ["--max-inflight", "250"])
run("dns-01", 10000,
    lambda name, tok, ka: call("set-txt", {"host": f"_acme-challenge.{name}.",
                                           "value": t.dns01_value(ka)}),
    ["--max-inflight", "250"])
run("tls-alpn-01", 2000,
    lambda name, tok, ka: call("add-tlsalpn01", {"host": name, "content": ka}),
    ["--max-inflight", "250"])

# A job whose deadline passed before it was started is never validated, so it is never valid,
# whatever a server would answer: here one that would pass (the right TXT record is there).
late = []
for kind in ("http-01", "dns-01", "tls-alpn-01"):
    name, tok = t.unique("late"), t.new_token()
    ka = t.key_authorization(tok)
    call("add-http01", {"token": tok, "content": ka})
    call("set-txt", {"host": f"_acme-challenge.{name}.", "value": t.dns01_value(ka)})
    call("add-tlsalpn01", {"host": name, "content": ka})
    late.append(t.job(name, kind, tok, ka, job_id=f"late-{kind}",
                      deadlineMs=int(time.time() * 1000) - 1000))
late.append(t.job(t.unique("late"), None, job_id="late-caa", caa={"issuerDomains": ["ca.example"]},
                  deadlineMs=int(time.time() * 1000) - 1000))
rc, res, results, err = t.run_check([*cts.resolver_args, "--http-port", str(cts.http_port),
                                     "--tls-port", str(cts.tlsalpn_port)], late)
c.eq(rc, 1, "late jobs: exit status 1 (invalid)")
for j in late:
    c.problem(res.get(j["id"], {}), "serverInternal", "deadline passed",
              f"{j['id']}: not validated after its deadline")
c.done()
