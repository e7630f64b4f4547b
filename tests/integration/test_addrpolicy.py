"""The address policy end to end: `acmeva check --allow-address` dials the reserved addresses
it names and nothing else reserved, on every path that connects.

A fixture (httpfix) listens on an allowed address (127.0.0.1, ::1) and on one the runs refuse
(127.0.0.9), and counts what it accepts on each; a DNS fixture (dnsfix) serves the names,
IPv4-mapped AAAA records included (pebble-challtestsrv cannot serve those). A first hop (a name whose addresses are all
refused), a redirect hop to the refused address, an IP identifier for http-01 and for
tls-alpn-01, and the IPv4-mapped form [::ffff:127.0.0.9] (refused even while 127.0.0.9 itself
is allowed) must each fail with Boulder's problem while the fixture sees no connection at all
on 127.0.0.9. Positive controls on the same fixture show that it does count what reaches it.
--allow-private-addresses keeps meaning every reserved range.
"""

import json
import os
import secrets
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

c = t.Checks()
PREFIX = "/.well-known/acme-challenge/"
REFUSED = "127.0.0.9"
LOOPBACK_RFC = "IP address is in a reserved address block: [RFC1122], Section 3.2.1.3: Loopback"
MAPPED_RFC = "IP address is in a reserved address block: [RFC4291]: IPv4-mapped Address"


def start_fixture(redirect_host):
    return t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"),
                      "--listen", "127.0.0.1", "--listen", "::1", "--listen", REFUSED,
                      "--redirect-host", redirect_host, "--key-authorization-suffix",
                      t.THUMBPRINT])


def stats(fix):
    with urllib.request.urlopen(f"http://127.0.0.1:{fix.port}/_stats", timeout=10) as r:
        return json.loads(r.read())


def tok(case):
    return f"{case}_{secrets.token_hex(10)}"


def job(ident, ctype, token, job_id, ident_type="dns"):
    return t.job(ident, ctype, token, t.key_authorization(token), job_id=job_id,
                 ident_type=ident_type)


# The names, each with exactly these A and AAAA records (none: NODATA).
MAPPED = "::ffff:" + REFUSED
ZONE = {
    "refused.dnsfix.test": ([REFUSED], [MAPPED]),
    "allowed.dnsfix.test": (["127.0.0.1"], ["::1"]),
    "mapped.dnsfix.test": ([], [MAPPED]),
    "v4only.dnsfix.test": ([REFUSED], []),
}
zone_file = tempfile.NamedTemporaryFile("w", prefix="acmeva-addrpolicy-", suffix=".json",
                                        delete=False)
json.dump({"records": [{"name": n, "type": typ, "value": v} for n, (a, aaaa) in ZONE.items()
                       for typ, vs in (("A", a), ("AAAA", aaaa)) for v in vs]}, zone_file)
zone_file.close()
dns = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "dnsfix.py"), "--listen", "127.0.0.1",
                 "--zone", zone_file.name])
RESOLVER = ["--resolver", f"127.0.0.1:{dns.port}"]


# ---- 1. Exactly the fixtures' addresses: 127.0.0.9 is refused on every path ---------------------
fix = start_fixture(REFUSED)
try:
    args = RESOLVER + ["--http-port", str(fix.port), "--tls-port", str(fix.port)]
    first_hop = alpn_name = "refused.dnsfix.test"
    redir_tok = tok("rhost")
    jobs = [
        job(first_hop, "http-01", tok("ok"), "first-hop"),
        job("allowed.dnsfix.test", "http-01", redir_tok, "redirect-hop"),
        job(REFUSED, "http-01", tok("ok"), "ip-http", ident_type="ip"),
        job(REFUSED, "tls-alpn-01", tok("ok"), "ip-alpn", ident_type="ip"),
        job(alpn_name, "tls-alpn-01", tok("ok"), "name-alpn"),
        # Positive controls: the allowed addresses, by IP and by name (::1 first).
        job("127.0.0.1", "http-01", tok("ok"), "ok-ip", ident_type="ip"),
        job("allowed.dnsfix.test", "http-01", tok("ok"), "ok-name"),
    ]
    rc, res, results, err = t.run_check(args, jobs)
    c.eq(rc, 1, "exit status 1 (some invalid)")
    c.eq(len(results), len(jobs), "a result per job")
    c.eq(res.get("ok-ip", {}).get("status"), "valid", "allowed IPv4 identifier valid")
    c.eq(res.get("ok-name", {}).get("status"), "valid", "allowed name valid")
    rec = (res.get("ok-name", {}).get("validationRecord") or [{}])[0]
    c.eq(rec.get("addressUsed"), "::1", "the allowed name used ::1 first")

    c.problem(res.get("first-hop", {}), "dns", f"No valid IP addresses found for {first_hop}",
              "first hop to refused addresses")
    rec = (res.get("first-hop", {}).get("validationRecord") or [{}])[0]
    c.eq(rec.get("addressesResolved"), [MAPPED, REFUSED],
         "first hop: the refused addresses are recorded as resolved")
    c.ok("addressUsed" not in rec, "first hop: no address used", rec)

    target = f"http://{REFUSED}:{fix.port}{PREFIX}ok_{redir_tok.split('_', 1)[1]}"
    c.problem(res.get("redirect-hop", {}), "connection",
              f"{REFUSED}: Fetching {target}: Invalid host: {LOOPBACK_RFC}",
              "redirect hop to a refused IP literal")
    recs = res.get("redirect-hop", {}).get("validationRecord") or []
    c.eq(len(recs), 2, "redirect hop: a record for each hop")
    if len(recs) == 2:
        c.eq(recs[0].get("addressUsed"), "::1", "redirect hop: the first hop was dialled")
        c.eq(recs[1].get("url"), target, "redirect hop: the refused hop's URL recorded")
        c.ok("addressUsed" not in recs[1], "redirect hop: the refused hop used no address",
             recs[1])

    c.problem(res.get("ip-http", {}), "connection",
              f"{REFUSED}: Fetching http://{REFUSED}:{fix.port}{PREFIX}", "http-01 IP identifier")
    c.problem(res.get("ip-http", {}), "connection", f"Invalid host: {LOOPBACK_RFC}",
              "http-01 IP identifier: Boulder's text")
    c.problem(res.get("ip-alpn", {}), "connection", f"{REFUSED}: {LOOPBACK_RFC}",
              "tls-alpn-01 IP identifier")
    c.problem(res.get("name-alpn", {}), "dns", f"No valid IP addresses found for {alpn_name}",
              "tls-alpn-01 name with refused addresses")

    s = stats(fix)
    c.eq(s["accepts"].get(REFUSED, 0), 0, "no connection reached 127.0.0.9")
    c.ok(s["accepts"].get("127.0.0.1", 0) >= 2, "the allowed addresses were reached (counted)",
         s)
    c.ok(s["accepts"].get("::1", 0) >= 2, "::1 was reached (counted)", s)
finally:
    fix.stop()

# ---- 2. 127.0.0.9 allowed as IPv4: its IPv4-mapped form stays refused ---------------------------
fix = start_fixture(f"[{MAPPED}]")
try:
    args = RESOLVER + ["--http-port", str(fix.port), "--tls-port", str(fix.port)]
    allow = t.FIXTURE_CIDRS + (REFUSED + "/32",)
    mapped_name = "mapped.dnsfix.test"
    redir_tok = tok("rhost")
    jobs = [
        job(MAPPED, "http-01", tok("ok"), "mapped-http", ident_type="ip"),
        job(MAPPED, "tls-alpn-01", tok("ok"), "mapped-alpn", ident_type="ip"),
        job("allowed.dnsfix.test", "http-01", redir_tok, "mapped-redirect"),
        job(mapped_name, "http-01", tok("ok"), "mapped-name"),
        job(mapped_name, "tls-alpn-01", tok("ok"), "mapped-name-alpn"),
    ]
    rc, res, results, err = t.run_check(args, jobs, allow=allow)
    c.eq(rc, 1, "mapped: exit status 1")
    c.eq(len(results), len(jobs), "mapped: a result per job")
    c.problem(res.get("mapped-http", {}), "connection", f"Invalid host: {MAPPED_RFC}",
              "http-01 IPv4-mapped identifier")
    c.problem(res.get("mapped-alpn", {}), "connection", f"{MAPPED}: {MAPPED_RFC}",
              "tls-alpn-01 IPv4-mapped identifier")
    c.problem(res.get("mapped-redirect", {}), "connection",
              f"Fetching http://[{MAPPED}]:{fix.port}{PREFIX}", "redirect to [::ffff:127.0.0.9]")
    c.problem(res.get("mapped-redirect", {}), "connection", MAPPED_RFC,
              "redirect to [::ffff:127.0.0.9]: Boulder's text")
    c.problem(res.get("mapped-name", {}), "dns", f"No valid IP addresses found for {mapped_name}",
              "a name whose only address is IPv4-mapped")
    c.problem(res.get("mapped-name-alpn", {}), "dns",
              f"No valid IP addresses found for {mapped_name}",
              "tls-alpn-01: a name whose only address is IPv4-mapped")
    c.eq(stats(fix)["accepts"].get(REFUSED, 0), 0, "no connection reached 127.0.0.9")

    # Control: 127.0.0.9 itself is allowed in this run, and the fixture counts it.
    rc, res, _, err = t.run_check(args, [job(REFUSED, "http-01", tok("ok"), "v4", ident_type="ip")],
                                  allow=allow)
    c.ok(res.get("v4", {}).get("status") == "valid", "127.0.0.9 allowed as IPv4: valid", err)
    c.eq(stats(fix)["accepts"].get(REFUSED, 0), 1, "exactly that one connection reached it")
finally:
    fix.stop()

# ---- 3. --allow-private-addresses: every reserved range, as before -------------------------------
fix = start_fixture(REFUSED)
try:
    args = RESOLVER + ["--allow-private-addresses", "--http-port", str(fix.port)]
    jobs = [job(REFUSED, "http-01", tok("ok"), "private-ip", ident_type="ip"),
            job("allowed.dnsfix.test", "http-01", tok("rhost"), "private-redirect"),
            job("v4only.dnsfix.test", "http-01", tok("ok"), "private-name")]
    rc, res, results, err = t.run_check(args, jobs, allow=())
    c.ok(rc == 0, "--allow-private-addresses: exit 0", err)
    for j in jobs:
        c.eq(res.get(j["id"], {}).get("status"), "valid", f"{j['id']} valid")
    c.eq(stats(fix)["accepts"].get(REFUSED, 0), 3, "each reached 127.0.0.9")
finally:
    fix.stop()
    dns.stop()
    os.unlink(zone_file.name)

# ---- 4. Bad values are refused at start, with one clear line ------------------------------------
for bad, why in (("127.0.0.1", "ADDRESS/PREFIX"), ("10.1.2.3/8", "the network is 10.0.0.0/8"),
                 ("::1/129", "longer than 128"), ("[::1]/128", "not an IPv4 or IPv6 address")):
    rc, _, results, err = t.run_check(["--allow-address", bad, "--type", "dns-01",
                                       "--identifier", "example.com"], allow=())
    c.eq(rc, 2, f"--allow-address {bad}: exit 2")
    c.ok(why in err and err.count("\n") == 1, f"--allow-address {bad}: one clear line", err)
    c.eq(results, [], f"--allow-address {bad}: nothing validated")
too_many = []
for i in range(65):
    too_many += ["--allow-address", f"127.0.1.{i}/32"]
rc, _, _, err = t.run_check(too_many + ["--type", "dns-01", "--identifier", "example.com"],
                            allow=())
c.eq(rc, 2, "65 --allow-address: exit 2")
c.ok("at most 64" in err, "65 --allow-address: says the cap", err)
p = t.subprocess.run([t.ACMEVA, "check", "--help"], capture_output=True, text=True, timeout=30)
c.ok("--allow-address CIDR" in p.stdout and "--max-per-destination N" in p.stdout,
     "--help lists --allow-address and --max-per-destination", p.stdout[-2000:])

c.done()
