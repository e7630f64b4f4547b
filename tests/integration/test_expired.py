"""A job whose deadline has passed is not validated (DESIGN.md "Job": it gets an error result),
and so is never valid: `acmeva check` used to report such jobs valid, since no check had run
to fail them.

Every challenge type and a CAA-only job, with deadlineMs in the past, against targets that
would pass: each result is invalid with serverInternal, and the http-01 target (httpfix,
counting accepts) sees no connection.
"""

import json
import os
import secrets
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

cts = t.Challtestsrv()
c = t.Checks()

fix = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen", "127.0.0.1",
                 "--key-authorization-suffix", t.THUMBPRINT])
try:
    past = int(time.time() * 1000) - 1000
    tok = f"ok_{secrets.token_hex(10)}"
    dtok = t.new_token()
    dname = t.unique("expired")
    cts.call("set-txt", {"host": f"_acme-challenge.{dname}.",
                         "value": t.dns01_value(t.key_authorization(dtok))})
    jobs = [
        t.job("127.0.0.1", "http-01", tok, t.key_authorization(tok), job_id="http-01",
              ident_type="ip", deadlineMs=past),
        t.job(dname, "dns-01", dtok, t.key_authorization(dtok), job_id="dns-01",
              deadlineMs=past),
        t.job("127.0.0.1", "tls-alpn-01", tok, t.key_authorization(tok), job_id="tls-alpn-01",
              ident_type="ip", deadlineMs=past),
        t.job(dname, None, job_id="caa", caa={"issuerDomains": ["ca.example"]},
              deadlineMs=past),
    ]
    # The same dns-01 job without a deadline passes: the targets are right.
    control = dict(jobs[1], id="control")
    del control["deadlineMs"]
    rc, res, results, err = t.run_check([*cts.resolver_args, "--http-port", str(fix.port),
                                         "--tls-port", str(fix.port)], jobs + [control])
    c.eq(rc, 1, "exit status 1")
    c.eq(len(results), len(jobs) + 1, "a result per job")
    c.eq(res.get("control", {}).get("status"), "valid", "the same job in time is valid")
    for j in jobs:
        c.problem(res.get(j["id"], {}), "serverInternal",
                  "The job's deadline passed before validation started",
                  f"{j['id']} past its deadline")
        c.eq(res.get(j["id"], {}).get("validationRecord"), [], f"{j['id']}: nothing done")
    with urllib.request.urlopen(f"http://127.0.0.1:{fix.port}/_stats", timeout=10) as r:
        accepts = json.loads(r.read())["accepts"]
    c.eq(accepts.get("127.0.0.1", 0), 1, "no connection but this stats request")
finally:
    fix.stop()

c.done()
