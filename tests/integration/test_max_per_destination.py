"""--max-per-destination: at most N connections open at once to one IP address; the other
validations for it wait their turn within their own deadline.

A slow fixture (httpfix `hold`: each connection held --hold-ms, then answered) counts the
connections open at once per address. Many validations for one address must never push it
past N, all must finish (they take at least one hold per wave of N), and another address is
served alongside with a limit of its own. With a deadline too short for the line, the
validations that get a turn in time are valid and the rest fail with the timeout problem at
their deadline.
"""

import json
import math
import os
import secrets
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

c = t.Checks()
HOLD_MS = 400


def stats(fix):
    with urllib.request.urlopen(f"http://127.0.0.1:{fix.port}/_stats", timeout=10) as r:
        return json.loads(r.read())


def reset(fix):
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{fix.port}/_reset",
                                                  data=b"", method="POST"), timeout=10).read()


def hold_jobs(n, ip, prefix):
    jobs = []
    for i in range(n):
        tok = f"hold_{secrets.token_hex(11)}"
        jobs.append(t.job(ip, "http-01", tok, t.key_authorization(tok), job_id=f"{prefix}-{i}",
                          ident_type="ip"))
    return jobs


fix = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen", "127.0.0.1",
                 "--listen", "::1", "--hold-ms", str(HOLD_MS), "--key-authorization-suffix",
                 t.THUMBPRINT])
try:
    # ---- 1. Many validations for one address: never more than N open, all valid ----------------
    N, JOBS, JOBS6, TIMEOUT_MS = 4, 24, 8, 30000
    jobs = hold_jobs(JOBS, "127.0.0.1", "v4") + hold_jobs(JOBS6, "::1", "v6")
    start = time.time()
    rc, res, results, err = t.run_check(["--http-port", str(fix.port), "--max-per-destination",
                                         str(N), "--timeout-ms", str(TIMEOUT_MS)], jobs)
    elapsed = time.time() - start
    s = stats(fix)
    c.ok(rc == 0, "every validation valid (exit 0)", err)
    c.eq(len(results), len(jobs), "a result per job")
    c.eq(sum(1 for r in results if r.get("status") == "valid"), len(jobs), "all valid")
    c.ok(s["max_open"].get("127.0.0.1", 0) <= N, f"127.0.0.1 never saw more than {N} at once", s)
    c.eq(s["max_open"].get("127.0.0.1", 0), N, f"127.0.0.1 did get {N} at once")
    c.ok(s["max_open"].get("::1", 0) <= N, f"::1 never saw more than {N} at once", s)
    c.eq(s["accepts"].get("::1", 0), JOBS6, "::1 served alongside, one connection per job")
    # Each wave of N is held HOLD_MS by the server: the line cannot be faster than that.
    floor_s = math.ceil(JOBS / N) * HOLD_MS / 1000.0
    c.ok(elapsed >= floor_s, f"the waves took at least {floor_s:.1f} s", f"{elapsed:.2f} s")
    c.ok(all((r.get("durationMs") or 1e9) < TIMEOUT_MS for r in results),
         "every job within its deadline")
    print(f"max-per-destination {N}: {JOBS}+{JOBS6} jobs in {elapsed:.2f} s "
          f"(floor {floor_s:.1f} s), max open {s['max_open']}", flush=True)

    # ---- 2. A deadline too short for the line: valid in time, else the timeout problem ---------
    reset(fix)
    N, JOBS, TIMEOUT_MS = 2, 12, 1500
    jobs = hold_jobs(JOBS, "127.0.0.1", "short")
    rc, res, results, err = t.run_check(["--http-port", str(fix.port), "--max-per-destination",
                                         str(N), "--timeout-ms", str(TIMEOUT_MS)], jobs)
    s = stats(fix)
    c.ok(rc == 1, "short deadline: exit 1", err)
    c.eq(len(results), JOBS, "short deadline: a result per job")
    valid = [r for r in results if r.get("status") == "valid"]
    waited = [r for r in results if "Timeout during connect" in
              ((r.get("error") or {}).get("detail") or "")]
    timed_out = [r for r in results if r.get("status") != "valid" and
                 (r.get("error") or {}).get("type") == "urn:ietf:params:acme:error:connection" and
                 "Timeout" in ((r.get("error") or {}).get("detail") or "")]
    c.ok(len(valid) + len(timed_out) == JOBS, "each valid or the connection timeout problem",
         [r.get("error") for r in results if r not in valid and r not in timed_out])
    c.ok(len(valid) >= 1, "the first turns are valid", len(valid))
    # Wave k cannot start before (k - 1) holds: at most N per hold fit before the deadline.
    most_valid = N * (TIMEOUT_MS // HOLD_MS)
    c.ok(len(valid) <= most_valid, f"at most {most_valid} could be served in time", len(valid))
    c.ok(len(timed_out) >= JOBS - most_valid, "the others timed out", len(timed_out))
    # The last in line never get a turn: they fail while waiting, at their deadline.
    c.ok(len(waited) >= 1, "some timed out waiting: 'Timeout during connect'", len(waited))
    c.ok(all((r.get("durationMs") or 1e9) < TIMEOUT_MS + 1000 for r in results),
         "every job ended at its deadline", [r.get("durationMs") for r in results])
    c.ok(s["max_open"].get("127.0.0.1", 0) <= N, f"never more than {N} open at once", s)
finally:
    fix.stop()

# ---- 3. The option's value is checked ----------------------------------------------------------
for bad in ("0", "-1", "x", "1000001"):
    rc, _, _, err = t.run_check(["--max-per-destination", bad, "--type", "dns-01",
                                 "--identifier", "example.com"])
    c.eq(rc, 2, f"--max-per-destination {bad}: exit 2")
    c.ok("--max-per-destination" in err, f"--max-per-destination {bad}: says which option", err)

c.done()
