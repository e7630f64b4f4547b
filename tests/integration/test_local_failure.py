"""Failures of this machine are never the subscriber's fault (DESIGN.md "Hardening").

`acmeva check` runs under small descriptor limits (prlimit --nofile): with too few to start it
exits 2 with one clear line (it used to crash with SIGSEGV: its event loop could not be made
and was used all the same); with a few more it runs a batch whose validations cannot all get a
socket, and every result is then either the right answer or serverInternal with the
local-failure wording, never a connection problem blamed on the subscriber's server.

The jobs are IP identifiers, so no DNS socket is involved: each connection is the only
descriptor a validation needs. A slow fixture (httpfix `hold`) keeps the connections that did
get a socket open while the others are tried.
"""

import os
import secrets
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

c = t.Checks()
LOCAL = "Local failure of the validation server, not of the subscriber: "
N_OK, N_WRONG = 40, 8
# Limits: too few to start (8), then a handful to a few dozen descriptors.
LIMITS = (8, 12, 16, 24)


def batch():
    jobs, expect = [], {}
    for i in range(N_OK + N_WRONG):
        case = "hold" if i < N_OK else "wrong"
        tok = f"{case}_{secrets.token_hex(11 if case == 'hold' else 10)}"
        jid = f"{case}-{i}"
        jobs.append(t.job("127.0.0.1", "http-01", tok, t.key_authorization(tok), job_id=jid,
                          ident_type="ip"))
        expect[jid] = case
    return jobs, expect


def right(result, case):
    """The answer this job gets when the machine has what it needs."""
    err = result.get("error") or {}
    if case == "hold":
        return result.get("status") == "valid"
    return (err.get("type") == "urn:ietf:params:acme:error:unauthorized" and
            "wrong-key-authorization" in (err.get("detail") or ""))


def local(result):
    err = result.get("error") or {}
    return (err.get("type") == "urn:ietf:params:acme:error:serverInternal" and
            (err.get("detail") or "").startswith(LOCAL))


fix = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen", "127.0.0.1",
                 "--hold-ms", "300", "--key-authorization-suffix", t.THUMBPRINT])
try:
    args = ["--http-port", str(fix.port), "--max-per-destination", "1000", "--timeout-ms",
            "20000"]
    for limit in LIMITS:
        jobs, expect = batch()
        rc, res, results, err = t.run_check(args, jobs, allow=("127.0.0.1/32",),
                                            prefix=["prlimit", f"--nofile={limit}:{limit}"])
        what = f"--nofile={limit}"
        c.ok(rc in (0, 1, 2), f"{what}: a clean exit, not a signal", f"rc={rc} {err[-2000:]}")
        if rc == 2:
            c.ok("too few file descriptors" in err and f"limit of {limit}" in err,
                 f"{what}: one clear line", err[-2000:])
            c.eq(results, [], f"{what}: nothing validated")
            c.ok(limit <= 12, f"{what}: only the smallest limits refuse to start", err[-500:])
            continue
        c.eq(rc, 1, f"{what}: exit 1 (some invalid)")
        c.eq(sorted(res), sorted(expect), f"{what}: a result for every job")
        n_right = sum(1 for jid, r in res.items() if right(r, expect.get(jid)))
        n_local = sum(1 for r in res.values() if local(r))
        wrong = [r for jid, r in res.items() if not right(r, expect.get(jid)) and not local(r)]
        c.eq(wrong, [], f"{what}: every result right or a local failure")
        c.ok(n_right >= 1, f"{what}: the validations that got a socket are right", n_right)
        c.ok(n_local >= 1, f"{what}: the others are local failures (serverInternal)", n_local)
        c.ok(any(r.get("error", {}).get("status") == 500 for r in res.values() if local(r)),
             f"{what}: local failures carry status 500")
        c.ok("too many open files" in " ".join((r.get("error") or {}).get("detail", "")
                                               for r in res.values() if local(r)),
             f"{what}: the detail says what ran out")
        print(f"{what}: {n_right} right, {n_local} local failures", flush=True)
    # The smallest limit must have refused to start, the others must have run.
    jobs, _ = batch()
    rc, _, _, err = t.run_check(args, jobs[:1], allow=("127.0.0.1/32",),
                                prefix=["prlimit", "--nofile=8:8"])
    c.eq(rc, 2, "--nofile=8: exit 2")
    rc, res, _, err = t.run_check(args, jobs[:1], allow=("127.0.0.1/32",),
                                  prefix=["prlimit", "--nofile=24:24"])
    c.ok(rc == 0, "--nofile=24: one job runs and is valid", err[-1000:])
finally:
    fix.stop()

c.done()
