"""DNSSEC end to end with real parts (DESIGN.md "DNSSEC"; BR ballot SC085).

tests/fixtures/dnsseclab.py signs zones with ldns-signzone, serves them with NSD and validates
them with Unbound, run with the policy of deploy/unbound/unbound.conf and a trust anchor for
test. only. Against it:

1. dns-01, http-01 (A and AAAA) and CAA on the signed zone record "dnssec": "secure";
2. a zone whose signatures expired and one whose signatures are broken fail with a dns problem
   that says DNSSEC validation failed, with Unbound's Extended DNS Error code and text
   (RFC 8914), for dns-01, http-01 and CAA alike;
3. an unsigned zone (delegated without a DS) records "insecure" and validates.
"""

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

ISSUER = "ca.example"
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


def start_lab(records):
    path = os.path.join(tmp, "records.json")
    with open(path, "w") as f:
        json.dump(records, f)
    argv = [sys.executable, os.path.join(t.FIXTURES, "dnsseclab.py"), "--records", path]
    return t.Fixture(argv)


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
http = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen",
                  "127.0.0.1", "--listen", "::1", "--key-authorization-suffix", t.THUMBPRINT])
lab = None
try:
    lab = start_lab(records)
    resolver = f"127.0.0.1:{lab.port}"

    # ---- 1-3. validations through the validating resolver --------------------------------------
    args = ["--resolver", resolver, "--http-port", str(http.port), "--issuer-domain", ISSUER]
    rc, by_id, results, err = t.run_check(args, jobs)
    c.eq(rc, 1, "acmeva check ran the jobs (some are meant to fail)")
    c.eq(len(results), len(jobs), "one result per job")
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

finally:
    if lab is not None:
        lab.stop()
    http.stop()
    shutil.rmtree(tmp, ignore_errors=True)
c.done()
