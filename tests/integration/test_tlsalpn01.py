"""tls-alpn-01 end to end: the real `acmeva check` against the tlsfix fixture (every broken
case, each on its own port) and against pebble-challtestsrv's tls-alpn-01 server; plus an
http-01 https redirect hop that lands on a server speaking plain HTTP.
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

cts = t.Challtestsrv()
c = t.Checks()
TLSFIX = os.path.join(t.BUILD, "tests", "tlsfix")

tok = t.new_token()
ka = t.key_authorization(tok)
tmp = tempfile.mkdtemp(prefix="acmeva-tls-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)
ports_file = os.path.join(tmp, "ports")
log = open(os.path.join(tmp, "tlsfix.log"), "w")
proc = t.subprocess.Popen([TLSFIX, "--listen", "127.0.0.1", "--listen6", "::1", "--ports-file",
                           ports_file, "--key-authorization", ka], stderr=log)
try:
    for _ in range(200):
        if os.path.exists(ports_file):
            break
        time.sleep(0.05)
    with open(ports_file) as f:
        ports = dict((line.split()[0], int(line.split()[1])) for line in f if line.strip())

    def check(case, ident="", ident_type="dns", deadline_ms=None, key_auth=ka):
        ident = ident or t.unique("tls-" + case)
        j = t.job(ident, "tls-alpn-01", tok, key_auth, ident_type=ident_type, job_id=case)
        if deadline_ms:
            j["deadlineMs"] = int(time.time() * 1000) + deadline_ms
        rc, res, _, err = t.run_check([*cts.resolver_args, "--tls-port", str(ports[case])],
                                      [j])
        return res.get(case, {}) | ({"_deadline": j["deadlineMs"]} if deadline_ms else {}), ident

    r, name = check("valid")
    c.ok(r.get("status") == "valid", "valid certificate, DNS identifier", json.dumps(r))
    rec = (r.get("validationRecord") or [{}])[0]
    c.eq(rec.get("hostname"), name, "record hostname")
    c.eq(rec.get("port"), str(ports["valid"]), "record port")
    c.eq(rec.get("addressUsed"), "::1", "IPv6 first")
    c.eq(rec.get("addressesResolved"), ["::1", "127.0.0.1"], "addresses resolved")
    c.eq(rec.get("alpn"), "acme-tls/1", "the ALPN protocol selected is recorded")
    c.eq(rec.get("certNames"), [name], "the names of the certificate seen are recorded")
    r, _ = check("valid", "127.0.0.1", "ip")
    c.ok(r.get("status") == "valid", "valid certificate, IPv4 identifier (iPAddress SAN)",
         json.dumps(r))
    r, _ = check("valid", "::1", "ip")
    c.ok(r.get("status") == "valid", "valid certificate, IPv6 identifier", json.dumps(r))
    # Issuer equal to the subject but signed by another key: the signature is not verified
    # (RFC 8737 §3 does not ask for it; the handshake proved the server holds the key).
    r, _ = check("foreign-signature")
    c.ok(r.get("status") == "valid", "a self-signature is not verified", json.dumps(r))
    # That proof is the handshake's: a server signing it with a key other than its
    # certificate's fails, however good the certificate.
    r, _ = check("key-mismatch")
    c.problem(r, "tls", "TLS handshake failed", "handshake signed with another key")
    rec = (r.get("validationRecord") or [{}])[0]
    c.ok("certNames" not in rec, "key-mismatch: no certificate reached the check", rec)
    r, _ = check("close-after-handshake")
    c.ok(r.get("status") == "valid", "a close right after the handshake is not an error",
         json.dumps(r))

    bad_cert = ["no-ext", "noncritical", "wrong-hash", "hash-trailing", "ext-twice", "two-sans",
                "wrong-san", "ip-san-for-dns", "other-issuer"]
    reasons = set()
    for case in bad_cert:
        r, name = check(case)
        c.problem(r, "unauthorized",
                  "Incorrect validation certificate for tls-alpn-01 challenge. Requested "
                  f"{name} from [::1]:{ports[case]}. ", case)
        reasons.add(((r.get("error") or {}).get("detail") or "").split(". ", 2)[-1])
        rec = (r.get("validationRecord") or [{}])[0]
        c.ok("addressesTried" not in rec, f"{case}: a certificate problem does not fall back")
    c.eq(len(reasons), len(bad_cert), "each broken certificate gets its own reason")
    # For an IP identifier the detail names the IP, not the reverse name sent as SNI.
    r, _ = check("wrong-hash", "127.0.0.1", "ip")
    c.problem(r, "unauthorized", f"Requested 127.0.0.1 from 127.0.0.1:{ports['wrong-hash']}. ",
              "IP identifier named in the detail")

    r, _ = check("no-alpn")
    c.problem(r, "unauthorized", 'Cannot negotiate ALPN protocol "acme-tls/1"', "no ALPN")
    c.ok("alpn" not in ((r.get("validationRecord") or [{}])[0]), "no ALPN: none recorded")
    r, _ = check("other-alpn")
    c.problem(r, "tls", "TLS handshake failed", "another ALPN protocol selected")
    rec = (r.get("validationRecord") or [{}])[0]
    c.eq(rec.get("addressesTried"), ["::1"], "a TLS error falls back from IPv6 to IPv4")
    c.ok(len(rec.get("triedErrors") or []) == 1 and
         rec["triedErrors"][0].startswith("TLS handshake failed"),
         "what happened at the address tried first", rec.get("triedErrors"))
    c.eq(rec.get("addressUsed"), "127.0.0.1", "the IPv4 address used after the fallback")
    r, _ = check("tls11")
    c.problem(r, "tls", "TLS handshake failed", "TLS 1.1 only")
    r, _ = check("plain-http")
    c.problem(r, "tls", "Server only speaks HTTP, not TLS", "plain HTTP on the TLS port")
    r, _ = check("stall", deadline_ms=2000)
    c.problem(r, "connection", "Timeout during TLS handshake", "stall in mid-handshake")
    c.ok(t.ended_by(r, r["_deadline"]), "the stall ends at the job's deadline",
         (r.get("startedMs"), r.get("durationMs"), r["_deadline"]))
finally:
    proc.terminate()
    proc.wait(timeout=10)
    log.close()

# pebble-challtestsrv's own tls-alpn-01 server.
name = t.unique("cts-alpn")
cts.call("add-tlsalpn01", {"host": name, "content": ka})
args = [*cts.resolver_args, "--tls-port", str(cts.tlsalpn_port)]
rc, res, _, err = t.run_check(args, [t.job(name, "tls-alpn-01", tok, ka, job_id="cts-valid")])
c.eq(rc, 0, "challtestsrv tls-alpn-01: exit 0")
c.ok(res.get("cts-valid", {}).get("status") == "valid", "challtestsrv certificate accepted",
     json.dumps(res.get("cts-valid")))
other = t.new_token()
rc, res, _, err = t.run_check(args, [t.job(name, "tls-alpn-01", other, t.key_authorization(other),
                                           job_id="cts-wrong")])
c.problem(res.get("cts-wrong", {}), "unauthorized", "Incorrect validation certificate",
          "challtestsrv certificate for another key authorization")
hist = cts.history("tlsalpn01", name)
c.ok(all(h.get("SupportedProtos") == ["acme-tls/1"] for h in hist) and len(hist) >= 2,
     "exactly acme-tls/1 offered, SNI = the identifier", json.dumps(hist))

# An https redirect hop that lands on a plain-HTTP server: "Server only speaks HTTP, not TLS".
fix = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen", "127.0.0.1",
                 "--listen", "::1", "--https-redirect-port", str(cts.http_port)])
try:
    import importlib.util
    spec = importlib.util.spec_from_file_location("httpfix", os.path.join(t.FIXTURES,
                                                                          "httpfix.py"))
    hf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hf)
    rtok = "rhttps_" + t.secrets.token_hex(10)
    rc, res, _, err = t.run_check([*cts.resolver_args, "--http-port", str(fix.port),
                                   "--https-port", str(cts.http_port)],
                                  [t.job(t.unique("hop"), "http-01", rtok,
                                         rtok + "." + hf.KA_SUFFIX_DEFAULT, job_id="hop")])
    c.problem(res.get("hop", {}), "connection", "Server only speaks HTTP, not TLS",
              "https hop to a plain-HTTP server")
    c.eq(len(res.get("hop", {}).get("validationRecord") or []), 2, "https hop: two records")
finally:
    fix.stop()

c.done()
