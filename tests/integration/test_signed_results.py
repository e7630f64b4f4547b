"""Signed results (DESIGN.md "Channel"; docs/signed-results.md): acmeva-worker --signing-key,
acmeva verify, and acmeva-coordinator --perspective-key, against a real redis-server and
pebble-challtestsrv, with keys made by the openssl command.

Cases: every result entry carries a "sig" that independent verifiers accept (the openssl
command, and Python's cryptography package when this Python has it), over the exact bytes of
"result"; a flipped byte fails them and acmeva verify; acmeva verify's output and exit
statuses; the private key never reaches the log; bad key files are refused. The coordinator
counts a remote whose result is unsigned or signed by another key as failed, with a log line
and a counter; a forged result for a perspective with a key is not counted, while one signed
with that perspective's key is.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

try:  # Debian's python3-cryptography (deploy/install-deps.sh), when this Python sees it
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
except ImportError:
    load_pem_public_key = None

cts = t.Challtestsrv()
c = t.Checks()
redis = t.RedisServer()
cl = redis.client()
tmp = tempfile.mkdtemp(prefix="acmeva-sig-")
procs = []
MPIC = "acmeva:v1:mpic"


def keypair(name):
    key, pub = os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True,
                   capture_output=True)
    os.chmod(key, 0o600)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    return key, pub


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def openssl_verifies(pub, msg, sig):
    """The openssl command's verdict (pure Ed25519 wants the raw message: -rawin)."""
    m, s = os.path.join(tmp, "msg"), os.path.join(tmp, "sig")
    with open(m, "wb") as f:
        f.write(msg)
    with open(s, "wb") as f:
        f.write(b64url_decode(sig))
    p = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin",
                        "-in", m, "-sigfile", s], capture_output=True, text=True)
    return p.returncode == 0


def cryptography_verifies(pub, msg, sig):
    with open(pub, "rb") as f:
        k = load_pem_public_key(f.read())
    try:
        k.verify(b64url_decode(sig), msg)
        return True
    except InvalidSignature:
        return False


def verifiers():
    v = [("openssl", openssl_verifies)]
    if load_pem_public_key is not None:
        v.append(("cryptography", cryptography_verifies))
    return v


def run_verify(key, lines):
    p = subprocess.run([t.ACMEVA, "verify", "--key", key], input="".join(lines),
                       capture_output=True, text=True, timeout=60)
    out = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    return p.returncode, out, p.stderr


def entry_line(result, sig):
    e = {"result": result if isinstance(result, str) else result.decode()}
    if sig is not None:
        e["sig"] = sig
    return json.dumps(e) + "\n"


def http_job(jid, **extra):
    name, tok = t.unique("sig"), t.new_token()
    cts.call("add-http01", {"token": tok, "content": t.key_authorization(tok)})
    return t.job(name, "http-01", tok, t.key_authorization(tok), job_id=jid, **extra)


def worker(name, rir, signing_key=None):
    args = ["--redis", redis.url, "--perspective", name, "--rir", rir, "--threads", "1"]
    if signing_key is not None:
        args += ["--signing-key", signing_key]
    w = t.WorkerProc(args + t.cts_engine_args(cts), f"sig-{name}")
    procs.append(w)
    return w


def raw_entries(stream):
    """(result bytes, sig or None) of every entry of |stream|, as Redis holds them."""
    out = []
    for _, fields in cl.call("XRANGE", stream, "-", "+"):
        f = dict(zip(fields[::2], fields[1::2]))
        out.append((f[b"result"], f[b"sig"].decode() if b"sig" in f else None))
    return out


try:
    kp, kp_pub = keypair("primary")
    k1, k1_pub = keypair("r1")
    k2, k2_pub = keypair("r2")
    kwrong, kwrong_pub = keypair("wrong")
    k3, k3_pub = keypair("r3")
    k4, k4_pub = keypair("r4")

    # ---- the worker signs every result entry ----------------------------------------------
    reply = "acmeva:v1:results:sig"
    wp = worker("primary", "ARIN", kp)
    c.ok(t.wait_group(cl, stream="acmeva:v1:jobs:primary"), "the signing worker reads")
    jobs = [http_job(f"s-{i}", replyTo=reply) for i in range(5)]
    jobs.append("not json")  # malformed: its result goes to the default stream, signed too
    t.enqueue(cl, jobs, stream="acmeva:v1:jobs:primary")
    ok = t.wait_until(lambda: cl.call("XLEN", reply) + cl.call("XLEN", t.RESULTS_STREAM) >= 6,
                      30)
    c.ok(ok, "every job answered")
    entries = raw_entries(reply) + raw_entries(t.RESULTS_STREAM)
    c.eq(len(entries), 6, "six result entries")
    c.ok(all(s is not None and len(s) == 86 for _, s in entries),
         "each has a field sig of 86 base64url characters", [s for _, s in entries])
    for name, verify in verifiers():
        c.ok(all(verify(kp_pub, r, s) for r, s in entries),
             f"{name} verifies every signature over the exact bytes of result")
        flipped = [(r[:10] + bytes([r[10] ^ 1]) + r[11:], s) for r, s in entries]
        c.ok(not any(verify(kp_pub, r, s) for r, s in flipped),
             f"{name}: a flipped byte fails every one")
        c.ok(not any(verify(k1_pub, r, s) for r, s in entries), f"{name}: another key fails")

    # acmeva verify: one line per entry, exit 0 when all verify.
    rc, out, err = run_verify(kp_pub, [entry_line(r, s) for r, s in entries])
    c.eq(rc, 0, "acmeva verify: all verify: exit 0")
    c.ok(len(out) == 6 and all(o["verified"] is True for o in out) and
         [o["line"] for o in out] == list(range(1, 7)), "one verified line per entry", out)
    c.ok({o.get("id") for o in out} >= {f"s-{i}" for i in range(5)}, "lines carry the ids", out)
    r0, s0 = entries[0]
    rc, out, _ = run_verify(kp_pub, [entry_line(r0, s0),
                                     entry_line(r0.replace(b'"status":"valid"',
                                                           b'"status":"invalid"'), s0),
                                     entry_line(r0, None)])
    c.eq(rc, 1, "acmeva verify: a tampered result: exit 1")
    c.eq([o["verified"] for o in out], [True, False, False], "which lines verify")
    c.eq(out[2].get("reason"), "no sig", "an entry without sig says so")
    rc, out, _ = run_verify(k1_pub, [entry_line(r0, s0)])
    c.ok(rc == 1 and out[0]["verified"] is False, "acmeva verify with another key: exit 1")
    rc, out, err = run_verify(kp_pub, [entry_line(r0, s0), "not json\n", '{"sig": "x"}\n'])
    c.ok(rc == 2 and "line 2" in err and [o["verified"] for o in out] == [True, False, False],
         "acmeva verify: lines that are not entries: exit 2, the others still checked",
         (rc, out, err))
    rc, _, err = run_verify(kp, [])
    c.ok(rc == 2 and "holds a private key" in err, "acmeva verify wants the public key", err)
    rc, _, err = run_verify(os.path.join(tmp, "none.pub"), [])
    c.ok(rc == 2 and "No such file" in err, "acmeva verify: a missing key file: exit 2", err)

    # The private key never reaches the log; the public half names it.
    with open(kp) as f:
        body = "".join(x for x in f.read().splitlines() if not x.startswith("-----"))
    raw = subprocess.run(["openssl", "pkey", "-in", kp, "-outform", "DER"],
                         capture_output=True, check=True).stdout[-32:]
    log = wp.log()
    c.ok(body not in log and base64.urlsafe_b64encode(raw).decode().rstrip("=") not in log and
         base64.b64encode(raw).decode() not in log, "the private key is not in the log")
    pub_raw = subprocess.run(["openssl", "pkey", "-pubin", "-in", kp_pub, "-outform", "DER"],
                             capture_output=True, check=True).stdout[-32:]
    c.ok("signing_key=" + base64.urlsafe_b64encode(pub_raw).decode().rstrip("=") in log,
         "the start line names the public key", log[:1200])

    # Bad --signing-key files: exit 2 with the reason.
    for path, want in ((kp_pub, "holds a public key"),
                       (os.path.join(tmp, "none.key"), "No such file"),
                       (os.path.join(tmp, "msg"), "no PEM PKCS#8 private key")):
        p = subprocess.run([t.WORKER, "--signing-key", path], capture_output=True, text=True,
                           timeout=30)
        c.ok(p.returncode == 2 and want in p.stderr, f"--signing-key refused: {want}", p.stderr)
    rsa = os.path.join(tmp, "rsa.key")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:1024", "-out", rsa], check=True, capture_output=True)
    p = subprocess.run([t.WORKER, "--signing-key", rsa], capture_output=True, text=True,
                       timeout=30)
    c.ok(p.returncode == 2 and "not an Ed25519 key" in p.stderr, "an RSA key is refused",
         p.stderr)

    # ---- the coordinator counts unsigned and badly signed remotes as failed ------------------
    # r1 signs with its key; r2 signs with a key that is not the one the coordinator has for
    # it; r3 does not sign at all.
    worker("r1", "ARIN", k1)
    worker("r2", "RIPE", kwrong)
    worker("r3", "APNIC")
    for n in ("r1", "r2", "r3"):
        c.ok(t.wait_group(cl, stream=f"acmeva:v1:jobs:{n}"), f"perspective {n} reads")
    mreply = "acmeva:v1:results:sig-mpic"
    keys = ["--perspective-key", f"primary={kp_pub}", "--perspective-key", f"r1={k1_pub}",
            "--perspective-key", f"r2={k2_pub}", "--perspective-key", f"r3={k3_pub}"]
    base = ["--redis", redis.url, "--threads", "1", "--slow-remote-ms", "500"]
    coord = t.WorkerProc(base + ["--remote", "r1:ARIN", "--remote", "r2:RIPE", "--remote",
                                 "r3:APNIC", "--min-remotes", "3"] + keys, "sig-coord",
                         binary=t.COORDINATOR)
    procs.append(coord)
    c.ok(t.wait_group(cl, stream=MPIC, group="acmeva-coordinator"), "the coordinator reads")
    t.enqueue(cl, [http_job("m-bad", replyTo=mreply)], stream=MPIC)
    got = t.wait_until(lambda: t.stream_results(cl, mreply), 30)
    r = got[0] if got else {}
    c.eq(r.get("status"), "invalid", "r2 and r3 not counted: the quorum fails")
    mp = r.get("mpic", {})
    c.eq(mp.get("quorum"), "1/3", "only r1 corroborates")
    pers = {p["perspective"]: p for p in mp.get("perspectives", [])}
    c.eq(pers.get("r1", {}).get("status"), "valid", "r1, signed with its key: valid")
    for n, why in (("r2", "has a signature that does not verify"), ("r3", "is not signed")):
        p = pers.get(n, {})
        err = p.get("error") or {}
        c.ok(p.get("status") == "invalid" and
             err.get("type") == "urn:ietf:params:acme:error:serverInternal" and
             f"the result of perspective {n} {why} with its key (--perspective-key)" in
             err.get("detail", ""), f"{n}: invalid, a serverInternal problem that says why", p)
        c.ok(p.get("addressesResolved") == [], f"{n}: nothing of its result is used", p)
    log = coord.log()
    c.ok(log.count("mpic result refused: bad signature") == 2 and "perspective=r2" in log and
         "perspective=r3" in log, "one log line per refused result", log[-1500:])
    c.ok("perspective_keys=\"primary=" in log and "r3=" in log, "the start line names the keys")
    c.eq(coord.stop(), 0, "coordinator: exit 0")
    c.ok("bad_signatures=2" in coord.log(), "the refused results are counted",
         coord.log()[-600:])

    # A key for a perspective the coordinator does not ask: refused at start; bad key files.
    p = subprocess.run([t.COORDINATOR, "--redis", redis.url, "--remote", "r1:ARIN", "--remote",
                        "r2:RIPE", "--min-remotes", "2", "--perspective-key", f"r9={k1_pub}"],
                       capture_output=True, text=True, timeout=30)
    c.ok(p.returncode == 1 and "--perspective-key names no perspective" in p.stderr,
         "a key for an unknown perspective: cannot start", p.stderr)
    for v, want in ((f"r1={k1}", "holds a private key"), ("r1", "is not NAME=FILE"),
                    (f"r1={k1_pub}", "given twice")):
        extra = ["--perspective-key", f"r1={k1_pub}"] if want == "given twice" else []
        p = subprocess.run([t.COORDINATOR, "--remote", "r1:ARIN"] + extra +
                           ["--perspective-key", v], capture_output=True, text=True, timeout=30)
        c.ok(p.returncode == 2 and want in p.stderr, f"--perspective-key {want}", p.stderr)

    # ---- forged results for a perspective with a key ----------------------------------------
    # r4 has no worker: the test answers its sub-jobs itself, as anyone who can write the
    # coordinator's reply stream could. Only an answer signed with r4's key counts.
    coord = t.WorkerProc(base + ["--remote", "r4:RIPE", "--min-remotes", "1",
                                 "--perspective-key", f"primary={kp_pub}",
                                 "--perspective-key", f"r4={k4_pub}"], "sig-coord-forge",
                         binary=t.COORDINATOR)
    procs.append(coord)
    freply = "acmeva:v1:results:sig-forge"

    def forge(jid, sign):
        """Waits for the sub-job of |jid| on r4's stream and answers it as valid, signed by
        |sign| (a private key file), with a wrong signature ("bad"), or unsigned (None)."""
        sub = t.wait_until(lambda: next((json.loads(f["job"]) for _, f in
                                         t.stream_entries(cl, "acmeva:v1:jobs:r4")
                                         if json.loads(f["job"])["id"].startswith(jid + "/")),
                                        None), 20)
        if sub is None:
            return False
        doc = json.dumps({"v": 1, "id": sub["id"], "status": "valid", "perspective": "r4",
                          "rir": "RIPE", "validationRecord": [], "durationMs": 1.0},
                         separators=(",", ":")).encode()
        fields = ["result", doc]
        if sign == "bad":
            fields += ["sig", "A" * 86]
        elif sign is not None:
            m = os.path.join(tmp, "forge.msg")
            with open(m, "wb") as f:
                f.write(doc)
            sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", sign, "-rawin",
                                  "-in", m], capture_output=True, check=True).stdout
            fields += ["sig", base64.urlsafe_b64encode(sig).decode().rstrip("=")]
        cl.call("XADD", sub["replyTo"], "*", *fields)
        return True

    c.ok(t.wait_group(cl, stream=MPIC, group="acmeva-coordinator"),
         "the second coordinator reads")
    for jid, sign, want in (("f-unsigned", None, "invalid"), ("f-badsig", "bad", "invalid"),
                            ("f-otherkey", k1, "invalid"), ("f-signed", k4, "valid")):
        t.enqueue(cl, [http_job(jid, replyTo=freply)], stream=MPIC)
        c.ok(forge(jid, sign), f"{jid}: the sub-job for r4 was sent")
        got = t.wait_until(lambda: next((x for x in t.stream_results(cl, freply)
                                         if x["id"] == jid), None), 30)
        c.eq((got or {}).get("status"), want, f"{jid}: {want}")
    c.eq(coord.stop(), 0, "forge coordinator: exit 0")
    c.ok("bad_signatures=3" in coord.log(), "three forged results refused and counted",
         coord.log()[-600:])
finally:
    for p in procs:
        p.cleanup()
    redis.cleanup()
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
c.done()
