"""http-01 end to end: the real `acmeva check` against pebble-challtestsrv and against the
httpfix fixture (tests/fixtures/httpfix.py) for what challtestsrv cannot serve.

Each case asserts the status, the problem type and detail, and the validation records.
"""

import json
import os
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

cts = t.Challtestsrv()
c = t.Checks()
PREFIX = "/.well-known/acme-challenge/"

# ---- against pebble-challtestsrv ------------------------------------------------------------
cts_args = [*cts.resolver_args, "--http-port", str(cts.http_port),
            "--https-port", str(cts.https_port), "--tls-port", str(cts.tlsalpn_port)]

jobs = []
ok_tok = t.new_token()
ok_name = t.unique("cts-ok")
cts.call("add-http01", {"token": ok_tok, "content": t.key_authorization(ok_tok)})
jobs.append(t.job(ok_name, "http-01", ok_tok, t.key_authorization(ok_tok), job_id="cts-ok"))

nl_tok = t.new_token()
cts.call("add-http01", {"token": nl_tok, "content": t.key_authorization(nl_tok) + "\n\t "})
jobs.append(t.job(t.unique("cts-nl"), "http-01", nl_tok, t.key_authorization(nl_tok),
                  job_id="cts-trailing-space"))

wrong_tok = t.new_token()
cts.call("add-http01", {"token": wrong_tok, "content": "not-the-key-authorization"})
jobs.append(t.job(t.unique("cts-wrong"), "http-01", wrong_tok, t.key_authorization(wrong_tok),
                  job_id="cts-wrong"))

# A 302 (challtestsrv's only redirect) to another token on the same server and name.
src_tok, dst_tok = t.new_token(), t.new_token()
redir_name = t.unique("cts-redir")
cts.call("add-http01", {"token": dst_tok, "content": t.key_authorization(src_tok)})
cts.call("add-redirect", {"path": PREFIX + src_tok,
                          "targetURL": f"http://{redir_name}{PREFIX}{dst_tok}"})
jobs.append(t.job(redir_name, "http-01", src_tok, t.key_authorization(src_tok),
                  job_id="cts-redirect"))

# A 302 to challtestsrv's https port (a TLS hop; SNI = the redirect host).
https_tok = t.new_token()
https_name = t.unique("cts-https")
cts.call("add-http01", {"token": https_tok + "x", "content": t.key_authorization(https_tok)})
cts.call("add-redirect", {"path": PREFIX + https_tok,
                          "targetURL": f"https://{https_name}:{cts.https_port}{PREFIX}{https_tok}x"})
jobs.append(t.job(https_name, "http-01", https_tok, t.key_authorization(https_tok),
                  job_id="cts-https-hop"))

# An IPv4 identifier (RFC 8738 §3): the literal in URL and Host.
ip4_tok = t.new_token()
cts.call("add-http01", {"token": ip4_tok, "content": t.key_authorization(ip4_tok)})
jobs.append(t.job("127.0.0.1", "http-01", ip4_tok, t.key_authorization(ip4_tok),
                  ident_type="ip", job_id="cts-ip4"))
ip6_tok = t.new_token()
cts.call("add-http01", {"token": ip6_tok, "content": t.key_authorization(ip6_tok)})
jobs.append(t.job("::1", "http-01", ip6_tok, t.key_authorization(ip6_tok),
                  ident_type="ip", job_id="cts-ip6"))

rc, res, _, err = t.run_check(cts_args, jobs)
c.eq(rc, 1, "challtestsrv batch exit status (one invalid)")
r = res.get("cts-ok", {})
c.eq(r.get("status"), "valid", "cts-ok valid")
rec = (r.get("validationRecord") or [{}])[0]
c.eq(rec.get("url"), f"http://{ok_name}:{cts.http_port}{PREFIX}{ok_tok}", "cts-ok record url")
c.eq(rec.get("hostname"), ok_name, "cts-ok record hostname")
c.eq(rec.get("port"), str(cts.http_port), "cts-ok record port")
c.eq(rec.get("addressesResolved"), ["::1", "127.0.0.1"], "cts-ok addresses resolved (v6 first)")
c.eq(rec.get("addressUsed"), "::1", "cts-ok IPv6 used first")
c.eq(rec.get("resolverAddrs"), [cts.dns], "cts-ok resolver recorded")
c.eq(rec.get("dnssec"), "insecure", "cts-ok: DNSSEC status of the A/AAAA answers (no AD)")
c.ok("error" not in r, "cts-ok has no error")
c.eq(rec.get("httpStatus"), 200, "cts-ok: the status code recorded")
c.eq(rec.get("body"), t.key_authorization(ok_tok), "cts-ok: the body judged recorded")
c.eq(res.get("cts-trailing-space", {}).get("status"), "valid", "trailing whitespace trimmed")
c.problem(res.get("cts-wrong", {}), "unauthorized",
          'The key authorization file from the server did not match this challenge. Expected "'
          + t.key_authorization(wrong_tok) + '" (got "not-the-key-authorization")', "cts-wrong")
r = res.get("cts-redirect", {})
c.eq(r.get("status"), "valid", "cts-redirect valid")
c.eq(len(r.get("validationRecord") or []), 2, "cts-redirect has one record per hop")
c.eq((r.get("validationRecord") or [{}, {}])[-1].get("url"),
     f"http://{redir_name}:{cts.http_port}{PREFIX}{dst_tok}", "cts-redirect second hop url")
r = res.get("cts-https-hop", {})
c.ok(r.get("status") == "valid", "cts-https-hop valid", json.dumps(r))
c.eq((r.get("validationRecord") or [{}, {}])[-1].get("port"), str(cts.https_port),
     "https hop record port")
hops = r.get("validationRecord") or [{}, {}]
c.eq([h.get("httpStatus") for h in hops], [302, 200], "https hop: each hop's status code")
c.ok("body" not in hops[0], "no body recorded for a redirect followed")
c.eq(hops[-1].get("certNames"), ["challenge test server"],
     "https hop: the names of the certificate seen (not checked)")
c.eq(res.get("cts-ip4", {}).get("status"), "valid", "IPv4 identifier valid")
c.eq(((res.get("cts-ip4", {}).get("validationRecord") or [{}])[0]).get("url"),
     f"http://127.0.0.1:{cts.http_port}{PREFIX}{ip4_tok}", "IPv4 identifier URL")
c.eq(res.get("cts-ip6", {}).get("status"), "valid", "IPv6 identifier valid")
c.eq(((res.get("cts-ip6", {}).get("validationRecord") or [{}])[0]).get("url"),
     f"http://[::1]:{cts.http_port}{PREFIX}{ip6_tok}", "IPv6 identifier URL in brackets")
hist = cts.history("http", ok_name)
c.eq(len(hist), 1, "challtestsrv saw exactly one request for cts-ok")

# ---- against the httpfix fixture -----------------------------------------------------------
fix = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "httpfix.py"), "--listen", "127.0.0.1",
                 "--listen", "::1", "--https-redirect-port", str(cts.https_port)])
try:
    suffix = None
    fix_args = [*cts.resolver_args, "--http-port", str(fix.port),
                "--https-port", str(cts.https_port)]
    # The fixture's key authorizations are <token>.<its default suffix>.
    import importlib.util
    spec = importlib.util.spec_from_file_location("httpfix", os.path.join(t.FIXTURES,
                                                                          "httpfix.py"))
    hf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hf)
    suffix = hf.KA_SUFFIX_DEFAULT

    def ka(tok):
        return tok + "." + suffix

    cases, deadlines = {}, {}
    def add(case, expect, name=None, deadline_ms=None, key=None):
        key = key or case
        tok = f"{case}_{secrets.token_hex(8)}"
        if len(tok) % 4 == 1:
            tok += "x"  # a length of 4n+1 is not base64url (the codec refuses it)
        name = name or t.unique("fix-" + case.replace("_", "-"))
        j = t.job(name, "http-01", tok, ka(tok), job_id=key)
        if deadline_ms:
            j["deadlineMs"] = int(time.time() * 1000) + deadline_ms
            deadlines[key] = j["deadlineMs"]
        cases[key] = (tok, name, expect)
        return j

    fjobs = [
        add("ok", "valid"), add("oknl", "valid"), add("okchunked", "valid"),
        add("okclose", "valid"), add("wrong", "invalid"), add("notfound", "invalid"),
        add("servererror", "invalid"), add("see_other", "invalid"),
        add("r301", "valid"), add("r302", "valid"), add("r307", "valid"), add("r308", "valid"),
        add("rabs", "valid"), add("loop", "invalid"), add("chain11", "valid"),
        add("chain12", "invalid"), add("rbadport", "invalid"), add("rftp", "invalid"),
        add("rlong", "invalid"), add("big128", "invalid"), add("big127", "invalid"),
        add("hugeheaders", "invalid"), add("http2", "invalid"), add("reset", "invalid"),
        add("empty", "invalid"), add("garbage", "invalid"), add("huge", "invalid"),
        add("slowbyte", "invalid", deadline_ms=2500), add("silent", "invalid", deadline_ms=2500),
    ]
    # rhttps: an https hop to challtestsrv, which serves ok_<rest> with our key authorization.
    j = add("rhttps", "valid")
    rtok = cases["rhttps"][0]
    cts.call("add-http01", {"token": "ok_" + rtok.split("_", 1)[1], "content": ka(rtok)})
    fjobs.append(j)
    # Connection refused: a name whose only address (127.0.0.2) has no listener.
    refused_name = t.unique("fix-refused")
    cts.call("add-a", {"host": refused_name, "addresses": ["127.0.0.2"]})
    cts.call("add-aaaa", {"host": refused_name, "addresses": ["0.0.0.0"]})
    fjobs.append(add("ok", "invalid", name=refused_name, key="refused"))

    start = time.time()
    rc, res, results, err = t.run_check(fix_args, fjobs,
                                        allow=t.FIXTURE_CIDRS + ("127.0.0.2/32",))
    elapsed = time.time() - start
    c.eq(rc, 1, "fixture batch exit status")
    c.eq(len(results), len(fjobs), "one result per job")
    # The slow cases end at their jobs' deadlines (deadlineMs), not at --timeout-ms.
    for case, deadline in deadlines.items():
        r = res.get(case, {})
        c.ok(t.ended_by(r, deadline), f"{case} ended at its deadline",
             f"started {r.get('startedMs')} took {r.get('durationMs')} ms, deadline {deadline}, "
             f"batch {elapsed:.1f} s")
    for case, (tok, name, expect) in cases.items():
        c.eq(res.get(case, {}).get("status"), expect, f"{case} status")

    def url(case, tok=None):
        return f"http://{cases[case][1]}:{fix.port}{PREFIX}{tok or cases[case][0]}"

    def detail(case):
        return ((res.get(case) or {}).get("error") or {}).get("detail", "")

    c.problem(res["notfound"], "unauthorized", f"Invalid response from {url('notfound')}: 404",
              "404")
    c.problem(res["servererror"], "unauthorized",
              f"Invalid response from {url('servererror')}: 500", "500")
    c.problem(res["see_other"], "unauthorized",
              f"Invalid response from {url('see_other')}: 303", "303 is not followed")
    c.problem(res["wrong"], "unauthorized", '(got "wrong-key-authorization")', "wrong body")
    c.problem(res["big128"], "unauthorized", f"Invalid response from {url('big128')}: \"aaaa",
              "body of 128 bytes")
    c.problem(res["big127"], "unauthorized", '(got "' + "a" * 127 + '")', "body of 127 bytes")
    c.problem(res["huge"], "unauthorized", "Invalid response from", "10 MB body")
    c.problem(res["loop"], "connection", "Redirect loop detected", "redirect loop")
    c.problem(res["chain12"], "connection", "Too many redirects", "12 redirects")
    c.eq(len(res["chain11"].get("validationRecord") or []), 12, "11 redirects: 12 records")
    c.eq(len(res["chain12"].get("validationRecord") or []), 12,
         "12th redirect refused: records of the hops made")
    c.problem(res["rbadport"], "connection", "Invalid port in redirect target", "bad port")
    c.problem(res["rftp"], "connection", "Invalid protocol scheme in redirect target", "ftp")
    c.problem(res["rlong"], "connection", "Redirect target too long", "long redirect")
    c.problem(res["hugeheaders"], "connection", "Fetching " + url("hugeheaders"),
              "100 KB header section")
    c.problem(res["http2"], "connection", "Server is speaking HTTP/2 over HTTP", "HTTP/2 preface")
    c.problem(res["reset"], "connection", "Connection reset by peer", "reset")
    c.problem(res["empty"], "connection", "Fetching " + url("empty"), "empty response")
    c.problem(res["garbage"], "connection", "Malformed HTTP response", "garbage")
    c.problem(res["slowbyte"], "connection",
              "Timeout after connect (your server may be slow or overloaded)", "byte a second")
    c.problem(res["silent"], "connection",
              "Timeout after connect (your server may be slow or overloaded)", "accept-and-silence")
    c.problem(res["refused"], "connection", "127.0.0.2: Fetching", "refused prefix")
    c.problem(res["refused"], "connection", "Connection refused", "refused")
    rec = (res["refused"].get("validationRecord") or [{}])[0]
    c.eq(rec.get("addressUsed"), "127.0.0.2", "refused: address used")
    rec = (res["notfound"].get("validationRecord") or [{}])[0]
    c.eq(rec.get("httpStatus"), 404, "404: the status code recorded")
    rec = (res["big128"].get("validationRecord") or [{}])[0]
    c.eq(rec.get("body"), "a" * 128, "a body over the cap: its first 128 bytes recorded")
    rec = (res["http2"].get("validationRecord") or [{}])[0]
    c.ok("httpStatus" not in rec, "no HTTP/1 status line: no status code recorded")
    for case in ("r301", "r302", "r307", "r308", "rabs", "rhttps"):
        c.eq(len(res[case].get("validationRecord") or []), 2, f"{case}: a record per hop")
    rec = (res["r301"].get("validationRecord") or [{}, {}])[1]
    c.eq(rec.get("url"), url("r301", "ok_" + cases["r301"][0].split("_", 1)[1]),
         "r301 second record url")
    c.eq(rec.get("addressUsed"), "::1", "second hop re-resolved and used IPv6 first")

    # What the server saw: the request line and headers Boulder sends.
    hist = json.loads(t.urllib.request.urlopen(f"http://127.0.0.1:{fix.port}/_history",
                                               timeout=10).read())
    mine = [h for h in hist if h.get("path") == PREFIX + cases["ok"][0]]
    c.eq(len(mine), 1, "one request for the ok case")
    if mine:
        h = mine[0]
        c.eq(h.get("method"), "GET", "method GET")
        c.eq(h.get("version"), "HTTP/1.1", "HTTP/1.1")
        c.eq(h.get("host"), cases["ok"][1], "Host is the bare name (no port)")
        c.eq(h.get("accept"), "*/*", "Accept: */*")
        c.eq(h.get("connection"), "close", "Connection: close")
        c.ok((h.get("user_agent") or "").startswith("acmeva"), "User-Agent names the validator")

    # Without an exception for them, addresses on loopback are never dialled.
    t.urllib.request.urlopen(t.urllib.request.Request(f"http://127.0.0.1:{fix.port}/_reset",
                                                      data=b"", method="POST"), timeout=10)
    j = add("ok", "invalid", key="private")
    rc, res, _, err = t.run_check(fix_args, [j], allow=())
    c.eq(rc, 1, "private address: exit 1")
    c.problem(res.get("private", {}), "dns",
              f"No valid IP addresses found for {cases['private'][1]}",
              "loopback refused by the address policy")
    rec = (res.get("private", {}).get("validationRecord") or [{}])[0]
    c.eq(rec.get("addressesResolved"), ["::1", "127.0.0.1"], "resolved addresses still recorded")
    c.ok("addressUsed" not in rec, "no address used")
    hist = json.loads(t.urllib.request.urlopen(f"http://127.0.0.1:{fix.port}/_history",
                                               timeout=10).read())
    c.eq(len(hist), 0, "no connection reached the server")
finally:
    fix.stop()

c.done()
