"""What an off-path forger has to guess, and what happens to the replies it sends: the real
`acmeva check` against tests/fixtures/dnsspoof.py on loopback.

1. Every query is unpredictable (RFC 5452 §9.2, draft-vixie-dnsext-dns0x20): over a few hundred
   queries the fixture records ids that follow no arithmetic sequence, source ports spread over
   the whole range (not one port, not consecutive ones), and names in mixed letter case; with
   --no-dns-0x20 the names go in the case given.
2. Forged replies sent from the resolver's own address before the true one (wrong id, wrong
   letter case, wrong type, another name, not a response, cut short; over TCP a message with
   the wrong id) are dropped and counted (--dns-stats), the true answer is taken, and the
   forged records are never used; a true answer's record for another owner is ignored too.
3. `acmeva check` exits as soon as its last result is written: no resolver timer keeps it
   waiting for the rest of a try's time.
"""

import atexit
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

c = t.Checks()
ISSUER = "ca.example"
tmp = tempfile.mkdtemp(prefix="acmeva-dnsspoof-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)


def start(zone, record=None):
    path = os.path.join(tmp, "zone.json")
    with open(path, "w") as f:
        json.dump(zone, f)
    argv = [sys.executable, os.path.join(t.FIXTURES, "dnsspoof.py"), "--listen", "127.0.0.1",
            "--zone", path]
    if record:
        argv += ["--record", record]
    return t.Fixture(argv)


def recorded(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def dns_stats(stderr):
    for line in stderr.splitlines():
        if line.startswith('{"dnsStats":'):
            return json.loads(line)["dnsStats"]
    return {}


def caa_job(name, job_id):
    return t.job(name, None, job_id=job_id, caa={})


# ---- 1. ids, ports and letter case ---------------------------------------------------------
N = 100  # CAA-only jobs of 4 labels: 4 queries each, 400 in all
names = [f"c{i}.rec.dnsspoof.test" for i in range(N)]
expected = sorted(n for name in names for n in
                  (name, name.split(".", 1)[1], "dnsspoof.test", "test"))
for mode in ("0x20", "no-0x20"):
    rec = os.path.join(tmp, f"record-{mode}.jsonl")
    fix = start({"records": []}, rec)
    try:
        args = ["--resolver", f"127.0.0.1:{fix.port}", "--issuer-domain", ISSUER,
                "--max-inflight", "25", "--dns-timeout-ms", "5000"]
        if mode == "no-0x20":
            args.append("--no-dns-0x20")
        rc, res, results, err = t.run_check(args, [caa_job(n, f"rec-{i}")
                                                   for i, n in enumerate(names)])
        c.eq(rc, 0, f"{mode}: every CAA job valid (no CAA records anywhere)")
        q = recorded(rec)
    finally:
        fix.stop()
    c.eq(sorted(r["name"].lower() for r in q), expected, f"{mode}: every name asked once")
    if mode == "no-0x20":
        c.eq(sum(1 for r in q if r["name"] != r["name"].lower()), 0,
             "no-0x20: names go in the case given")
        continue
    # Letter case: a name whose letters' case is drawn one bit each is almost never all one
    # case (the 4-letter "test" is 1 time in 8, every longer name far less often).
    mixed = sum(1 for r in q if r["name"] != r["name"].lower() and r["name"] != r["name"].upper())
    c.ok(mixed >= 0.9 * len(q), "0x20: names in mixed letter case", f"{mixed} of {len(q)}")
    ids = [r["id"] for r in q]
    ports = [r["port"] for r in q]
    # Ids: 400 draws of 16 bits. Today's main sent next*7919+1: one constant step.
    steps = [(b - a) & 0xFFFF for a, b in zip(ids, ids[1:])]
    same_step = sum(1 for a, b in zip(steps, steps[1:]) if a == b)
    c.ok(same_step <= 2, "ids follow no arithmetic sequence", f"{same_step} repeated steps")
    c.ok(len(set(ids)) >= 0.9 * len(ids), "ids distinct", f"{len(set(ids))} of {len(ids)}")
    # Ports: a fresh socket per try, on a random port of 1024..65535.
    c.ok(len(set(ports)) >= 0.9 * len(ports), "source ports distinct",
         f"{len(set(ports))} of {len(ports)}")
    c.ok(sum(1 for a, b in zip(ports, ports[1:]) if a == b) <= 2,
         "no two consecutive queries from one port")
    c.ok(sum(1 for a, b in zip(ports, ports[1:]) if b == a + 1) <= 2,
         "source ports not sequential")
    c.ok(max(ports) - min(ports) > 30000 and min(ports) >= 1024, "source ports spread widely",
         f"{min(ports)}..{max(ports)}")

# ---- 2. forged replies -----------------------------------------------------------------------
web = "web.spoof.test"          # http-01: forged A and AAAA (127.0.0.66, ::1)
web2 = "web2.spoof.test"        # http-01: a stray A of another owner first in the true answer
txt = "txt.spoof.test"          # dns-01: forged TXT "forged-value"
stray = "stray.spoof.test"      # dns-01: a stray TXT of another owner first
tc = "tc.spoof.test"            # dns-01: truncated over UDP; over TCP a wrong id first
caa = "caa.spoof.test"          # CAA: forged "0 issue forged.invalid" would forbid issuance
http = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen",
                  "127.0.0.1", "--key-authorization-suffix", t.THUMBPRINT])
jobs, tokens = [], {}
for name, kind in ((web, "http-01"), (web2, "http-01"), (txt, "dns-01"), (stray, "dns-01"),
                   (tc, "dns-01")):
    tok = ("ok_" if kind == "http-01" else "") + t.new_token()[:40]
    tokens[name] = tok
    jobs.append(t.job(name, kind, tok, t.key_authorization(tok), job_id=name))
jobs.append(caa_job(caa, caa))
records = [{"name": web, "type": "A", "value": "127.0.0.1"},
           {"name": web2, "type": "A", "value": "127.0.0.1"},
           {"name": caa, "type": "CAA", "flags": 0, "tag": "issue", "value": ISSUER}]
for name in (txt, stray, tc):
    records.append({"name": "_acme-challenge." + name, "type": "TXT",
                    "value": t.dns01_value(t.key_authorization(tokens[name]))})
# tc's answer is too large for UDP on its own; truncation is forced anyway.
forge = [web, "_acme-challenge." + txt, "_acme-challenge." + tc, caa]
zone = {"records": records, "forge": forge,
        "stray": [web2, "_acme-challenge." + stray], "truncate": ["_acme-challenge." + tc]}
fix = start(zone)
try:
    args = ["--resolver", f"127.0.0.1:{fix.port}", "--http-port", str(http.port),
            "--issuer-domain", ISSUER, "--dns-stats"]
    rc, res, results, err = t.run_check(args, jobs)
finally:
    fix.stop()
    http.stop()
c.eq(rc, 0, "every validation succeeds on the true answers")
for name in (web, web2, txt, stray, tc, caa):
    c.ok(res.get(name, {}).get("status") == "valid", f"{name} valid",
         json.dumps(res.get(name))[:400])
for name in (web, web2):
    rec = (res.get(name, {}).get("validationRecord") or [{}])[0]
    c.eq(rec.get("addressesResolved"), ["127.0.0.1"], f"{name}: only the true address")
for name in (txt, stray, tc):
    rec = (res.get(name, {}).get("validationRecord") or [{}])[0]
    c.eq(rec.get("records"), [t.dns01_value(t.key_authorization(tokens[name]))],
         f"{name}: only the true TXT value")
c.eq(res.get(caa, {}).get("caa", {}).get("records"), ['0 issue "ca.example"'],
     "CAA: only the true record")
stats = dns_stats(err)
# Forged UDP queries: web's A and AAAA, txt's TXT, tc's TXT and caa's CAA: five, each with one
# forgery of every kind (two of them change the question); tc's TCP answer adds one mismatch.
forged_queries = 5
want = {"wrong_id": forged_queries, "wrong_case": forged_queries,
        "wrong_question": 2 * forged_queries, "not_response": forged_queries,
        "malformed": forged_queries, "tcp_mismatch": 1, "wrong_source": 0}
c.eq(stats.get("dropped"), want, "every forged reply dropped and counted by reason")
c.eq(stats.get("tcpTries"), 1, "the truncated answer asked again over TCP")
c.eq(stats.get("tryTimeouts"), 0, "no forged reply made a query wait for a retry")

# ---- 3. exit as soon as the last result is written ------------------------------------------
fix = start({"records": [{"name": "_acme-challenge.quick.spoof.test", "type": "TXT",
                          "value": "x"}]})
try:
    try_ms = 10000
    start_t = time.time()
    tok = t.new_token()
    rc, res, results, err = t.run_check(["--resolver", f"127.0.0.1:{fix.port}",
                                         "--dns-timeout-ms", str(try_ms)],
                                        [t.job("quick.spoof.test", "dns-01", tok,
                                               t.key_authorization(tok), job_id="quick")])
    elapsed_ms = (time.time() - start_t) * 1000
finally:
    fix.stop()
c.eq(len(results), 1, "the quick job has a result")
c.ok(elapsed_ms < try_ms / 2, "acmeva check ends with its last result, not a try later",
     f"{elapsed_ms:.0f} ms with --dns-timeout-ms {try_ms}")

c.done()
