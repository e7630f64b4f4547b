"""dns-01, dns-account-01, dns-persist-01 and CAA end to end: the real `acmeva check` against
pebble-challtestsrv's DNS (TXT, CNAME, CAA, SERVFAIL, a timeout) and against the dnsfix
fixture (tests/fixtures/dnsfix.py) for what challtestsrv cannot answer (NXDOMAIN, truncation
with TCP fallback, CAA with flag 128, the AD bit, REFUSED, TXT records of several strings).
"""

import atexit
import base64
import hashlib
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

cts = t.Challtestsrv()
c = t.Checks()
ACCOUNT = "https://ca.example/acme/acct/1"
ISSUER = "ca.example"


def account_label(uri):
    digest = hashlib.sha256(uri.encode()).digest()[:10]
    return base64.b32encode(digest).decode().lower().rstrip("=")


def dns01_job(name, job_id, ctype="dns-01", **extra):
    tok = t.new_token()
    ka = t.key_authorization(tok)
    return t.job(name, ctype, tok, ka, job_id=job_id, **extra), ka


# ---- challtestsrv -----------------------------------------------------------------------
jobs = []
n_ok = t.unique("d-ok")
j, ka = dns01_job(n_ok, "dns01-ok")
cts.call("set-txt", {"host": f"_acme-challenge.{n_ok}.", "value": t.dns01_value(ka)})
jobs.append(j)

n_wild = t.unique("d-wild")
j, ka = dns01_job("*." + n_wild, "dns01-wildcard")
cts.call("set-txt", {"host": f"_acme-challenge.{n_wild}.", "value": t.dns01_value(ka)})
jobs.append(j)

n_wrong = t.unique("d-wrong")
j, ka = dns01_job(n_wrong, "dns01-wrong")
cts.call("set-txt", {"host": f"_acme-challenge.{n_wrong}.", "value": "a" * 120})
cts.call("set-txt", {"host": f"_acme-challenge.{n_wrong}.", "value": "second"})
jobs.append(j)

n_none = t.unique("d-none")
jobs.append(dns01_job(n_none, "dns01-none")[0])

n_cname, n_target = t.unique("d-cname"), t.unique("d-target")
j, ka = dns01_job(n_cname, "dns01-cname")
cts.call("set-cname", {"host": f"_acme-challenge.{n_cname}",
                       "target": f"_acme-challenge.{n_target}"})
cts.call("set-txt", {"host": f"_acme-challenge.{n_target}.", "value": t.dns01_value(ka)})
jobs.append(j)

n_servfail = t.unique("d-servfail")
cts.call("set-servfail", {"host": f"_acme-challenge.{n_servfail}"})
jobs.append(dns01_job(n_servfail, "dns01-servfail")[0])

n_acct = t.unique("d-acct")
j, ka = dns01_job(n_acct, "dnsaccount01-ok", ctype="dns-account-01", accountUri=ACCOUNT)
cts.call("set-txt", {"host": f"_{account_label(ACCOUNT)}._acme-challenge.{n_acct}.",
                     "value": t.dns01_value(ka)})
jobs.append(j)

# dns-persist-01: no token, no key authorization.
def persist_job(name, job_id, account=ACCOUNT):
    return t.job(name, "dns-persist-01", job_id=job_id, accountUri=account)

n_p = t.unique("p-ok")
cts.call("set-txt", {"host": f"_validation-persist.{n_p}.",
                     "value": f"{ISSUER}; accounturi={ACCOUNT}"})
jobs.append(persist_job(n_p, "persist-ok"))
n_pw = t.unique("p-wild")
cts.call("set-txt", {"host": f"_validation-persist.{n_pw}.",
                     "value": f"{ISSUER}; accounturi={ACCOUNT}"})
jobs.append(persist_job("*." + n_pw, "persist-wildcard-no-policy"))
n_pa = t.unique("p-acct")
cts.call("set-txt", {"host": f"_validation-persist.{n_pa}.",
                     "value": f"{ISSUER}; accounturi=https://ca.example/acme/acct/2"})
jobs.append(persist_job(n_pa, "persist-other-account"))
n_po = t.unique("p-other")
cts.call("set-txt", {"host": f"_validation-persist.{n_po}.",
                     "value": f"other-ca.example; accounturi={ACCOUNT}"})
jobs.append(persist_job(n_po, "persist-other-issuer"))
n_pm = t.unique("p-malformed")
cts.call("set-txt", {"host": f"_validation-persist.{n_pm}.",
                     "value": f"{ISSUER}; accounturi={ACCOUNT}; accounturi={ACCOUNT}"})
jobs.append(persist_job(n_pm, "persist-malformed"))
# draft §4.1 item 1: unknown parameters are ignored, more of them than a CAA value may carry.
n_pu = t.unique("p-unknown")
cts.call("set-txt", {"host": f"_validation-persist.{n_pu}.",
                     "value": f"{ISSUER}; accounturi={ACCOUNT}" +
                     "".join(f"; x{i}=y" for i in range(20))})
jobs.append(persist_job(n_pu, "persist-many-unknown-parameters"))

# CAA: a CAA-only job has a "caa" member and no challenge.
def caa_job(name, job_id, **extra):
    extra.setdefault("caa", {})
    return t.job(name, None, job_id=job_id, **extra)

n_c1 = t.unique("caa-ok")
cts.call("add-caa", {"host": n_c1, "policies": [{"tag": "issue", "value": ISSUER}]})
jobs.append(caa_job(n_c1, "caa-permits"))
n_c2 = t.unique("caa-deny")
cts.call("add-caa", {"host": n_c2, "policies": [{"tag": "issue", "value": "other-ca.example"}]})
jobs.append(caa_job(n_c2, "caa-forbids"))
n_parent = t.unique("caa-parent")
cts.call("add-caa", {"host": n_parent, "policies": [{"tag": "issue", "value": ";"}]})
jobs.append(caa_job("www.sub." + n_parent, "caa-climb"))
n_c3 = t.unique("caa-wild")
cts.call("add-caa", {"host": n_c3, "policies": [{"tag": "issue", "value": ISSUER},
                                                 {"tag": "issuewild", "value": ";"}]})
jobs.append(caa_job(n_c3, "caa-wild-plain"))
jobs.append(caa_job("*." + n_c3, "caa-wild-star"))
n_c4 = t.unique("caa-acct")
cts.call("add-caa", {"host": n_c4, "policies": [
    {"tag": "issue", "value": f"{ISSUER}; accounturi={ACCOUNT}"}]})
jobs.append(caa_job(n_c4, "caa-accounturi-ok", accountUri=ACCOUNT))
jobs.append(caa_job(n_c4, "caa-accounturi-other", accountUri="https://ca.example/acme/acct/9"))
# validationmethods (RFC 8657 §4): satisfied by a dns-01 job, and by a CAA-only job that names
# the method of its authorization in caa.method; a CAA-only job without one has no method, so
# the record cannot permit it (fail closed) and the detail says what would.
n_c6 = t.unique("caa-vm")
cts.call("add-caa", {"host": n_c6, "policies": [
    {"tag": "issue", "value": f"{ISSUER}; validationmethods=dns-01,http-01"}]})
j, ka = dns01_job(n_c6, "caa-validationmethods-ok", caa={})
cts.call("set-txt", {"host": f"_acme-challenge.{n_c6}.", "value": t.dns01_value(ka)})
jobs.append(j)
jobs.append(caa_job(n_c6, "caa-validationmethods-no-method"))
jobs.append(caa_job(n_c6, "caa-validationmethods-caa-method", caa={"method": "http-01"}))
jobs.append(caa_job(n_c6, "caa-validationmethods-caa-method-unlisted",
                    caa={"method": "tls-alpn-01"}))
n_c5 = t.unique("caa-sf")
cts.call("set-servfail", {"host": n_c5})
jobs.append(caa_job(n_c5, "caa-servfail"))
jobs.append(caa_job(t.unique("caa-none"), "caa-none"))
jobs.append(caa_job("127.0.0.1", "caa-ip", ident_type="ip"))
# A job picked up after its deadline is not validated, and so is not valid (DESIGN.md "Job").
jobs.append(caa_job(n_c1, "caa-late", deadlineMs=1))
jobs.append(caa_job(n_c1, "caa-job-issuer", caa={"issuerDomains": ["other-ca.example"]}))
# Issuer domain names are DNS names and compare without case (RFC 8659 §4.2, RFC 4343 §3).
n_c7 = t.unique("caa-case")
cts.call("add-caa", {"host": n_c7, "policies": [{"tag": "issue", "value": ISSUER.upper()}]})
jobs.append(caa_job(n_c7, "caa-issuer-case"))
# A challenge and CAA together: the challenge passes, CAA forbids.
j, ka = dns01_job(n_c2, "dns01-with-caa-forbidden", caa={})
cts.call("set-txt", {"host": f"_acme-challenge.{n_c2}.", "value": t.dns01_value(ka)})
jobs.append(j)
# A job whose deadline passed before it was picked up is not validated, and so never valid,
# even with the right TXT record in place (DESIGN.md "Job": deadlineMs).
n_late = t.unique("d-late")
j, ka = dns01_job(n_late, "dns01-deadline-passed", deadlineMs=1000)
cts.call("set-txt", {"host": f"_acme-challenge.{n_late}.", "value": t.dns01_value(ka)})
jobs.append(j)
# A malformed pairing: dns-01 for an IP identifier.
ip_tok = t.new_token()
jobs.append(t.job("192.0.2.1", "dns-01", ip_tok, t.key_authorization(ip_tok), ident_type="ip",
                  job_id="dns01-ip"))

args = [*cts.resolver_args, "--issuer-domain", ISSUER]
rc, res, results, err = t.run_check(args, jobs)
c.eq(rc, 2, "batch with a malformed job exits 2")
c.eq(len(results), len(jobs), "a result for every job")
valid = ["dns01-ok", "dns01-wildcard", "dns01-cname", "dnsaccount01-ok", "persist-ok",
         "persist-many-unknown-parameters",
         "caa-permits", "caa-wild-plain", "caa-accounturi-ok", "caa-none", "caa-ip",
         "caa-validationmethods-ok", "caa-validationmethods-caa-method", "caa-issuer-case"]
for k in valid:
    c.ok(res.get(k, {}).get("status") == "valid", k + " valid", json.dumps(res.get(k)))
rec = (res["dns01-ok"].get("validationRecord") or [{}])[0]
c.eq(rec.get("hostname"), f"_acme-challenge.{n_ok}", "dns-01 record hostname")
c.eq(rec.get("resolverAddrs"), [cts.dns], "dns-01 record resolver")
c.eq(rec.get("dnssec"), "insecure", "challtestsrv does not set AD")
c.eq(((res["dns01-wildcard"].get("validationRecord") or [{}])[0]).get("hostname"),
     f"_acme-challenge.{n_wild}", "wildcard: *. removed")
c.problem(res["dns01-wrong"], "unauthorized",
          f'Incorrect TXT record "{"a" * 100}..." (and 1 more) found at _acme-challenge.{n_wrong}',
          "wrong TXT")
c.problem(res["dns01-none"], "unauthorized", f"No TXT record found at _acme-challenge.{n_none}",
          "no TXT")
# What a person needs beside the verdict: the value looked for, every value seen, the alias.
rec = (res["dns01-wrong"].get("validationRecord") or [{}])[0]
c.eq(rec.get("records"), ["a" * 120, "second"], "wrong TXT: every value seen is recorded")
c.eq(len(rec.get("expected") or ""), 43, "wrong TXT: the value looked for is recorded")
rec = (res["dns01-cname"].get("validationRecord") or [{}])[0]
c.eq(rec.get("cnames"), [f"_acme-challenge.{n_target}"], "dns-01 through a CNAME: the chain")
c.ok("cnames" not in ((res["dns01-ok"].get("validationRecord") or [{}])[0]),
     "no CNAME, no chain recorded")
c.problem(res["dns01-servfail"], "dns",
          f"DNS problem: SERVFAIL looking up TXT for _acme-challenge.{n_servfail} - the domain's "
          "nameservers may be malfunctioning", "SERVFAIL")
c.eq(((res["dnsaccount01-ok"].get("validationRecord") or [{}])[0]).get("hostname"),
     f"_{account_label(ACCOUNT)}._acme-challenge.{n_acct}", "dns-account-01 label")
c.ok((((res["persist-ok"].get("validationRecord") or [{}])[0]).get("matchedRecord") or "")
     .startswith(ISSUER), "dns-persist-01 reports the matching record")
c.problem(res["persist-wildcard-no-policy"], "unauthorized", "_validation-persist." + n_pw,
          "wildcard needs policy=wildcard")
c.problem(res["persist-other-account"], "unauthorized", "_validation-persist." + n_pa,
          "other account")
c.problem(res["persist-other-issuer"], "unauthorized", "_validation-persist." + n_po,
          "other issuer")
c.problem(res["persist-malformed"], "malformed", "_validation-persist." + n_pm,
          "duplicated tag")
c.problem(res["caa-forbids"], "caa",
          f"While processing CAA for {n_c2}: CAA record for {n_c2} prevents issuance",
          "CAA forbids")
c.eq(res["caa-forbids"].get("caa", {}).get("foundAt"), n_c2, "caa foundAt")
c.eq(res["caa-forbids"].get("caa", {}).get("issuerDomains"), [ISSUER],
     "caa: the issuer domains the records were held to")
c.eq(res["caa-forbids"].get("caa", {}).get("decision"),
     'no issue record permits issuance by this CA; issue record "other-ca.example": '
     'issuer-domain-name "other-ca.example" is not this CA\'s', "caa: the deciding record")
c.eq(res["caa-permits"].get("caa", {}).get("decision"),
     f'issue record "{ISSUER}" permits issuance', "caa: the record that permits")
c.eq(res["caa-job-issuer"].get("caa", {}).get("issuerDomains"), ["other-ca.example"],
     "caa: the job's issuer domains are recorded")
c.ok("decision" not in res["caa-none"].get("caa", {}), "no CAA set: no decision recorded")
c.eq(res["caa-forbids"].get("caa", {}).get("status"), "invalid", "caa object status")
c.problem(res["caa-climb"], "caa", f"CAA record for {n_parent} prevents issuance", "climb")
c.problem(res["caa-wild-star"], "caa", "prevents issuance", "issuewild ; for a wildcard")
c.problem(res["caa-accounturi-other"], "caa", "prevents issuance", "accounturi mismatch")
c.problem(res["caa-validationmethods-no-method"], "caa", "prevents issuance",
          "validationmethods without a method")
c.ok("caa.method" in (res["caa-validationmethods-no-method"].get("error") or {}).get("detail", ""),
     "the detail names caa.method", res["caa-validationmethods-no-method"].get("error"))
c.problem(res["caa-validationmethods-caa-method-unlisted"], "caa",
          f"CAA record for {n_c6} prevents issuance", "caa.method not in validationmethods")
c.ok("caa.method" not in (res["caa-validationmethods-caa-method-unlisted"].get("error") or {})
     .get("detail", ""), "no caa.method hint when a method was named")
c.problem(res["caa-servfail"], "dns", "SERVFAIL looking up CAA for " + n_c5, "CAA SERVFAIL")
c.ok(res["caa-ip"].get("caa", {}).get("note"), "CAA skipped for IP with a note")
c.problem(res["caa-late"], "serverInternal", "deadline passed", "a late job is not valid")
c.problem(res["caa-job-issuer"], "caa", "prevents issuance", "the job's issuerDomains win")
r = res["dns01-with-caa-forbidden"]
c.problem(r, "caa", "prevents issuance", "challenge valid, CAA forbids: CAA's problem")
c.eq(r.get("caa", {}).get("status"), "invalid", "both: caa object invalid")
c.problem(res["dns01-ip"], "malformed", "IP identifier", "dns-01 refuses IP identifiers")
c.problem(res["dns01-deadline-passed"], "serverInternal", "deadline passed",
          "a job past its deadline is not validated")

# A TXT that challtestsrv cannot encode gets no reply at all: a timeout after the tries.
n_to = t.unique("d-timeout")
cts.call("set-txt", {"host": f"_acme-challenge.{n_to}.", "value": "x" * 300})
rc, res, _, err = t.run_check(args + ["--dns-timeout-ms", "200", "--dns-tries", "2"],
                              [dns01_job(n_to, "timeout")[0]])
c.problem(res.get("timeout", {}), "dns",
          f"DNS problem: query timed out looking up TXT for _acme-challenge.{n_to}", "timeout")
c.eq(len(cts.history("dns", f"_acme-challenge.{n_to}")), 2, "2 tries on timeout")

# ---- dnsfix ---------------------------------------------------------------------------------
tmp = tempfile.mkdtemp(prefix="acmeva-dns-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)
zone_path, stats_path = os.path.join(tmp, "zone.json"), os.path.join(tmp, "stats.json")
zone = {"records": [], "nxdomain": [], "refused": [], "truncate": [], "ad": [], "drop": [],
        "many": {}, "servfail": [], "ede": {}}
fjobs = []


def fix_dns01(label, job_id, values=None, strings=None, **lists):
    name = f"{label}.dnsfix.test"
    j, ka = dns01_job(name, job_id)
    owner = f"_acme-challenge.{name}"
    if strings is not None:
        zone["records"].append({"name": owner, "type": "TXT", "strings": strings(ka)})
    for key in lists:
        if key == "many":
            zone["many"][owner] = lists[key]
        else:
            zone[key].append(owner)
    fjobs.append(j)
    return name, ka


fix_dns01("nx", "nxdomain", nxdomain=True)
# SERVFAIL with Extended DNS Errors (RFC 8914): DNSSEC bogus (its text escaped), and another.
fix_dns01("bogus", "servfail-dnssec", servfail=True)
zone["ede"]["_acme-challenge.bogus.dnsfix.test"] = [[22, "no reachable authority"],
                                                    [6, "RRSIG expired \u00e9\u0007"]]
fix_dns01("unreach", "servfail-ede", servfail=True)
zone["ede"]["_acme-challenge.unreach.dnsfix.test"] = [[22, "at 192.0.2.53"]]
fix_dns01("refused", "refused", refused=True)
fix_dns01("tc", "truncated", truncate=True, strings=lambda ka: [t.dns01_value(ka)])
fix_dns01("ad", "secure", ad=True, strings=lambda ka: [t.dns01_value(ka)])
fix_dns01("split", "split-strings",
          strings=lambda ka: None)  # replaced below with a record of several strings
# The truncated name's answer is large too: ten more records of 240 bytes.
for i in range(10):
    zone["records"].append({"name": "_acme-challenge.tc.dnsfix.test", "type": "TXT",
                            "strings": [f"{i:02d}" + "p" * 238]})
split_ka = fjobs[-1]["keyAuthorization"]
v = t.dns01_value(split_ka)
zone["records"].append({"name": "_acme-challenge.split.dnsfix.test", "type": "TXT",
                        "strings": [v[:10], v[10:30], v[30:]]})
zone["records"] = [r for r in zone["records"] if r.get("strings") is not None]
fix_dns01("many", "many", many=150)
# The right value after 150 wrong ones: every record of the answer counts, not the first 100.
fix_dns01("manyok", "many-right-last", many=151, strings=lambda ka: [t.dns01_value(ka)])
caa_crit = "crit.dnsfix.test"
zone["records"].append({"name": caa_crit, "type": "CAA", "flags": 128, "tag": "tbs",
                        "value": "x"})
zone["records"].append({"name": caa_crit, "type": "CAA", "flags": 0, "tag": "issue",
                        "value": ISSUER})
fjobs.append(caa_job(caa_crit, "caa-critical"))
caa_ok = "issue128.dnsfix.test"
zone["records"].append({"name": caa_ok, "type": "CAA", "flags": 128, "tag": "issue",
                        "value": ISSUER})
fjobs.append(caa_job(caa_ok, "caa-critical-known-tag"))
# NXDOMAIN below the TLD counts as empty for CAA; a TLD that does not exist fails the check.
zone["nxdomain"].append("gone.dnsfix.test")
fjobs.append(caa_job("gone.dnsfix.test", "caa-nxdomain"))
zone["nxdomain"] += ["www.shop.nosuchtld", "shop.nosuchtld", "nosuchtld"]
fjobs.append(caa_job("www.shop.nosuchtld", "caa-nxdomain-tld"))
# DNSSEC status (DESIGN.md "DNSSEC"): A/AAAA of http-01 and tls-alpn-01 records, and the CAA
# lookups the outcome rests on. The AD bit is set for the names in "ad" only.
for host, ad in (("web-ad.dnsfix.test", True), ("web-noad.dnsfix.test", False)):
    zone["records"].append({"name": host, "type": "A", "value": "127.0.0.1"})
    if ad:
        zone["ad"].append(host)
    for kind in ("http-01", "tls-alpn-01"):
        tok = t.new_token()
        fjobs.append(t.job(host, kind, tok, t.key_authorization(tok), job_id=f"{kind}-{host}"))
zone["records"].append({"name": "caa-ad.dnsfix.test", "type": "CAA", "tag": "issue",
                        "value": ISSUER})
zone["ad"].append("caa-ad.dnsfix.test")
fjobs.append(caa_job("caa-ad.dnsfix.test", "caa-secure"))
fjobs.append(caa_job("sub.caa-ad.dnsfix.test", "caa-insecure-below"))
with open(zone_path, "w") as f:
    json.dump(zone, f)

fix = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "dnsfix.py"), "--listen",
                 "127.0.0.1", "--zone", zone_path, "--stats", stats_path])
try:
    closed = t.free_port()  # nothing listens: http-01 and tls-alpn-01 fail after the lookup
    fargs = ["--resolver", f"127.0.0.1:{fix.port}", "--issuer-domain", ISSUER,
             "--http-port", str(closed), "--tls-port", str(closed)]
    rc, res, results, err = t.run_check(fargs, fjobs)
    c.eq(len(results), len(fjobs), "a result for every fixture job")
    c.problem(res.get("nxdomain", {}), "dns",
              "DNS problem: NXDOMAIN looking up TXT for _acme-challenge.nx.dnsfix.test - check "
              "that a DNS record exists for this domain", "NXDOMAIN")
    c.problem(res.get("servfail-dnssec", {}), "dns",
              "DNS problem: SERVFAIL looking up TXT for _acme-challenge.bogus.dnsfix.test - "
              "DNSSEC validation failed (Extended DNS Error 6: DNSSEC Bogus: RRSIG expired "
              "\u00e9\\x07)", "SERVFAIL with a DNSSEC EDE")
    c.problem(res.get("servfail-ede", {}), "dns",
              "DNS problem: SERVFAIL looking up TXT for _acme-challenge.unreach.dnsfix.test - the "
              "domain's nameservers may be malfunctioning (Extended DNS Error 22: No Reachable "
              "Authority: at 192.0.2.53)", "SERVFAIL with another EDE")
    c.problem(res.get("refused", {}), "dns",
              "DNS problem: REFUSED looking up TXT for _acme-challenge.refused.dnsfix.test",
              "REFUSED")
    c.ok(res.get("truncated", {}).get("status") == "valid", "truncated UDP answer retried over TCP",
         json.dumps(res.get("truncated")))
    c.ok(res.get("secure", {}).get("status") == "valid", "AD case valid")
    c.eq(((res.get("secure", {}).get("validationRecord") or [{}])[0]).get("dnssec"), "secure",
         "AD bit recorded as secure")
    c.ok(res.get("split-strings", {}).get("status") == "valid", "TXT strings joined",
         json.dumps(res.get("split-strings")))
    c.problem(res.get("many", {}), "unauthorized",
              'Incorrect TXT record "record-1" (and 149 more) found at _acme-challenge.many',
              "every TXT record counted in the detail")
    c.ok(res.get("many-right-last", {}).get("status") == "valid",
         "the right TXT value after 150 wrong ones", json.dumps(res.get("many-right-last"))[:300])
    c.eq(len(((res.get("many", {}).get("validationRecord") or [{}])[0]).get("records") or []),
         100, "the record keeps the first 100 TXT values")
    c.problem(res.get("caa-critical", {}), "caa", "prevents issuance",
              "unknown critical CAA tag forbids")
    c.ok(res.get("caa-critical-known-tag", {}).get("status") == "valid",
         "critical flag on a known tag is fine")
    c.ok(res.get("caa-nxdomain", {}).get("status") == "valid", "NXDOMAIN is an empty CAA set",
         json.dumps(res.get("caa-nxdomain")))
    c.problem(res.get("caa-nxdomain-tld", {}), "dns",
              "While processing CAA for www.shop.nosuchtld: DNS problem: NXDOMAIN looking up CAA "
              "for nosuchtld", "NXDOMAIN at the TLD fails CAA")
    c.eq(res.get("caa-nxdomain-tld", {}).get("caa", {}).get("status"), "invalid",
         "caa object invalid under a TLD that does not exist")
    for host, want in (("web-ad.dnsfix.test", "secure"), ("web-noad.dnsfix.test", "insecure")):
        for kind in ("http-01", "tls-alpn-01"):
            rec = (res.get(f"{kind}-{host}", {}).get("validationRecord") or [{}])[0]
            c.eq(rec.get("dnssec"), want, f"{kind} record of {host}: DNSSEC status of A/AAAA")
            c.eq(rec.get("resolverAddrs"), [f"127.0.0.1:{fix.port}"], f"{kind} {host} resolver")
    caa_obj = res.get("caa-secure", {}).get("caa", {})
    c.eq(caa_obj.get("dnssec"), "secure", "CAA answered with AD: secure")
    c.eq(caa_obj.get("resolverAddrs"), [f"127.0.0.1:{fix.port}"], "CAA resolver recorded")
    caa_obj = res.get("caa-insecure-below", {}).get("caa", {})
    c.eq(caa_obj.get("foundAt"), "caa-ad.dnsfix.test", "CAA found at the parent")
    c.eq(caa_obj.get("dnssec"), "insecure",
         "CAA: the empty set below came without AD, so the outcome is not all authenticated")
    with open(stats_path) as f:
        stats = json.load(f)
    tcp = [q for q in stats["queries"]
           if q["name"] == "_acme-challenge.tc.dnsfix.test" and q["transport"] == "tcp"]
    c.ok(tcp and tcp[0]["count"] >= 1, "the truncated query was asked again over TCP")
finally:
    fix.stop()

c.done()
