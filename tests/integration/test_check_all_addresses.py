"""acmeva check --all-addresses: the challenge against every address of the identifier.

1. http-01, a name with two A records on loopback: 127.0.0.1 serves the right file, 127.0.0.2
   an old one (another account's key authorization). Without the option the validation passes
   (the CA's first IPv4 address serves the right file); with it, each address is checked on
   its own, the result lists both outcomes in order and is invalid, and the text names the
   address that serves the old file. Once 127.0.0.2 serves the right file: valid, both listed.
2. tls-alpn-01, a name with AAAA ::1 and A 127.0.0.1, the server on IPv4 only: the CA falls
   back and passes; --all-addresses shows ::1 refusing.
3. Bounded by the job's deadline: an address that drops connections ends its run at the
   deadline, not at the connect limit.
4. Bounded in number: a name with 40 addresses gets at most 32 runs.
5. Never on a worker: acmeva-worker refuses the option.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

cts = t.Challtestsrv()
c = t.Checks()
HTTPFIX = os.path.join(t.FIXTURES, "httpfix.py")
MAX_RUNS = 32  # ACMEVA_MAX_ADDRESS_CHECKS
ALLOW = ("127.0.0.1/32", "127.0.0.2/32", "127.0.0.3/32", "::1/128")

import importlib.util  # noqa: E402
spec = importlib.util.spec_from_file_location("httpfix", HTTPFIX)
hf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hf)


def ka(tok):
    return tok + "." + hf.KA_SUFFIX_DEFAULT


def a_only(name, addrs):
    """|name| resolves to |addrs| (A) and to no AAAA (challtestsrv: a mock of another family
    turns the default off)."""
    cts.call("add-a", {"host": name, "addresses": list(addrs)})
    cts.call("add-aaaa", {"host": name, "addresses": ["0.0.0.0"]})


good = t.Fixture([sys.executable, HTTPFIX, "--listen", "127.0.0.1"])
old = t.Fixture([sys.executable, HTTPFIX, "--listen", "127.0.0.2", "--port", str(good.port),
                 "--key-authorization-suffix", t.THUMBPRINT])
fixtures = [good, old]
try:
    args = [*cts.resolver_args, "--http-port", str(good.port)]
    # ---- 1. one member of the pool serves an old file --------------------------------------
    n_lb = t.unique("pool")
    a_only(n_lb, ["127.0.0.1", "127.0.0.2"])
    tok = "ok_" + t.secrets.token_hex(10)
    job = t.job(n_lb, "http-01", tok, ka(tok), job_id="pool")
    rc, res, _, err = t.run_check(args, [job], allow=ALLOW)
    c.eq(rc, 0, "without --all-addresses: valid (the CA's address serves the right file)")
    c.ok("addressChecks" not in res.get("pool", {}), "without the option: no addressChecks")

    rc, res, _, err = t.run_check(args + ["--all-addresses"], [job], allow=ALLOW)
    r = res.get("pool", {})
    c.eq(rc, 1, "--all-addresses: exit 1 (one address serves an old file)")
    c.problem(r, "unauthorized", "127.0.0.2: The key authorization file from the server did not "
              "match this challenge", "the problem names the address that failed")
    rec = (r.get("validationRecord") or [{}])[0]
    c.eq(rec.get("addressUsed"), "127.0.0.1", "the validation as the CA does it used 127.0.0.1")
    checks = r.get("addressChecks") or []
    c.eq([x.get("address") for x in checks], ["127.0.0.1", "127.0.0.2"],
         "one outcome per address, in the order resolved")
    c.eq([x.get("status") for x in checks], ["valid", "invalid"], "their outcomes")
    bodies = [((x.get("validationRecord") or [{}])[0]).get("body") for x in checks]
    c.eq(bodies, [ka(tok), tok + "." + t.THUMBPRINT], "what each address served")
    c.eq([((x.get("validationRecord") or [{}])[0]).get("addressUsed") for x in checks],
         ["127.0.0.1", "127.0.0.2"], "each run connected to its own address only")
    c.ok("error" not in checks[0] and "error" in checks[1], "an error only where it failed")
    # What each address saw, from the servers' side: one request each for the runs, one more
    # on 127.0.0.1 for the validation itself.
    seen = {}
    for fx in (good, old):
        hist = json.loads(t.urllib.request.urlopen(f"http://{'127.0.0.1' if fx is good else '127.0.0.2'}:{fx.port}/_history", timeout=10).read())
        seen[fx] = len([h for h in hist if h.get("path", "").endswith(tok)])
    c.eq((seen[good], seen[old]), (3, 1),
         "127.0.0.1 asked by the run without the option, the validation and its run; 127.0.0.2 "
         "by its run")

    rc, texts, err = t.diagnose(args + ["--all-addresses"], [job], allow=ALLOW)
    text = texts.get("pool", "")
    first = text.split("\n", 1)[0]
    c.ok(first.startswith(f"INVALID http-01 {n_lb}: at 127.0.0.2, "), "text: the verdict names "
         "the address", first)
    c.has(text, "Each address on its own (--all-addresses):", "text: the per-address part")
    c.has(text, f'  VALID   127.0.0.1: HTTP 200 OK, body "{ka(tok)}"', "text: the good address")
    c.has(text, f'  INVALID 127.0.0.2: HTTP 200 OK, body "{tok}.{t.THUMBPRINT}"',
          "text: the address with the old file")
    c.ok(any("1 of 2 addresses do not serve the challenge (first: 127.0.0.2), while 127.0.0.1 "
             "does" in p for p in t.paragraphs(text, "Note:")), "text: the load balancer note",
         t.paragraphs(text, "Note:"))

    # Every address right (the old server brought up to date): valid, each listed.
    old.stop()
    fixtures.remove(old)
    fixed = t.Fixture([sys.executable, HTTPFIX, "--listen", "127.0.0.2", "--port",
                       str(good.port)])
    fixtures.append(fixed)
    rc, res, _, err = t.run_check(args + ["--all-addresses"], [job], allow=ALLOW)
    c.eq(rc, 0, "every address right: exit 0")
    c.eq([(x.get("address"), x.get("status")) for x in
          res.get("pool", {}).get("addressChecks") or []],
         [("127.0.0.1", "valid"), ("127.0.0.2", "valid")], "every address right: each valid")

    # ---- 2. tls-alpn-01 on IPv4 only ---------------------------------------------------------
    import tempfile
    tmp = tempfile.mkdtemp(prefix="acmeva-alladdr-")
    ports_file = os.path.join(tmp, "ports")
    tok_tls = t.new_token()
    tls_log = open(os.path.join(tmp, "tlsfix.log"), "w")
    tls = subprocess.Popen([os.path.join(t.BUILD, "tests", "tlsfix"), "--listen", "127.0.0.1",
                            "--ports-file", ports_file, "--key-authorization",
                            t.key_authorization(tok_tls)], stderr=tls_log)
    try:
        t.wait_until(lambda: os.path.exists(ports_file), 10)
        with open(ports_file) as f:
            tls_port = dict((x.split()[0], int(x.split()[1])) for x in f if x.strip())["valid"]
        n_tls = t.unique("tls-v4only")
        tjob = t.job(n_tls, "tls-alpn-01", tok_tls, t.key_authorization(tok_tls), job_id="tls")
        targs = [*cts.resolver_args, "--tls-port", str(tls_port)]
        rc, res, _, err = t.run_check(targs, [tjob])
        c.eq(res.get("tls", {}).get("status"), "valid", "tls-alpn-01: the CA falls back to IPv4")
        rc, res, _, err = t.run_check(targs + ["--all-addresses"], [tjob])
        r = res.get("tls", {})
        checks = r.get("addressChecks") or []
        c.eq([(x.get("address"), x.get("status")) for x in checks],
             [("::1", "invalid"), ("127.0.0.1", "valid")], "tls-alpn-01: each address")
        c.ok("Connection refused" in ((checks[0].get("error") or {}).get("detail", "")
                                      if checks else ""), "::1 refused", checks)
        c.eq(((checks[1].get("validationRecord") or [{}])[0]).get("alpn") if len(checks) > 1
             else None, "acme-tls/1", "127.0.0.1 answered acme-tls/1")
        c.problem(r, "connection", "::1: Connection refused", "the result: invalid at ::1")
    finally:
        tls.terminate()
        tls.wait(timeout=10)
        tls_log.close()

    # ---- 3. within the job's deadline ----------------------------------------------------------
    pit = t.Tarpit(("127.0.0.3",), port=good.port)
    c.ok(pit.drops("127.0.0.3"), "127.0.0.3 drops connections")
    n_dl = t.unique("pool-drop")
    a_only(n_dl, ["127.0.0.1", "127.0.0.3"])
    tok_dl = "ok_" + t.secrets.token_hex(10)
    deadline = int(time.time() * 1000) + 2000
    j = t.job(n_dl, "http-01", tok_dl, ka(tok_dl), job_id="deadline", deadlineMs=deadline)
    rc, res, _, err = t.run_check(args + ["--all-addresses"], [j], allow=ALLOW)
    pit.stop()
    r = res.get("deadline", {})
    c.ok(t.ended_by(r, deadline), "the runs end at the job's deadline (the connect limit is 10 s)",
         (r.get("startedMs"), r.get("durationMs"), deadline))
    checks = r.get("addressChecks") or []
    c.eq([(x.get("address"), x.get("status")) for x in checks],
         [("127.0.0.1", "valid"), ("127.0.0.3", "invalid")], "the dropping address failed")
    c.ok("Timeout during connect" in ((checks[1].get("error") or {}).get("detail", "")
                                      if len(checks) > 1 else ""), "with a connect timeout", checks)

    # ---- 4. at most 32 runs --------------------------------------------------------------------
    n_many = t.unique("pool-many")
    many = [f"127.0.1.{i}" for i in range(1, 41)]
    a_only(n_many, many)
    tok_many = "ok_" + t.secrets.token_hex(10)
    rc, res, _, err = t.run_check(args + ["--all-addresses"],
                                  [t.job(n_many, "http-01", tok_many, ka(tok_many),
                                         job_id="many")], allow=("127.0.1.0/24",))
    checks = res.get("many", {}).get("addressChecks") or []
    c.eq(len(checks), MAX_RUNS, "40 addresses: 32 runs")
    c.eq([x.get("address") for x in checks], many[:MAX_RUNS], "the first 32, in order")
    c.ok(all(x.get("status") == "invalid" for x in checks), "nothing listens there: all refused")
finally:
    for fx in fixtures:
        fx.stop()

# ---- 5. a worker never runs them ---------------------------------------------------------------
p = subprocess.run([t.WORKER, "--all-addresses"], capture_output=True, text=True, timeout=30)
c.eq(p.returncode, 2, "acmeva-worker --all-addresses: bad usage")
c.ok("--all-addresses" in p.stderr, "acmeva-worker names the option it refuses", p.stderr)

c.done()
