"""The explanations of `acmeva check --format text`, each against real parts on loopback.

For every failure of the catalogue (worker/cmd/diagnose.c) a real validation runs against
pebble-challtestsrv or a fixture server of tests/fixtures, and its text is checked line by line
where it matters: the verdict line, the step that shows the failure, the likely cause and what
to change. Wording elsewhere may improve without breaking this test.

  1. AAAA present, the server listens on IPv4 only (refused on IPv6): valid, with a note;
     dropped on IPv6 (a firewall): the same note; another server on IPv6: a note that says so
  2. a firewall dropping port 80 (connect timeout)
  3. a redirect to a port other than 80/443
  4. an https redirect to a host with a certificate for another name: valid, and it says why
  5. a body with extra content: a CDN-style HTML page, an HTML error page (404), the key
     authorization followed by more
  6. a CAA record for another CA
  7. a CNAME to a name with no records: dns-01 (no TXT at the target), http-01 (NXDOMAIN)
  8. a stale TXT record beside the right one (valid, noted) and alone (both values shown)
  9. DNSSEC bogus (a validating Unbound in front of a zone with broken signatures)
 10. SERVFAIL from the authoritative server
 11. tls-alpn-01 where the server does not offer acme-tls/1
"""

import json
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

sys.path.insert(0, t.FIXTURES)
import dnsseclab  # noqa: E402  (its free_port: free for UDP and TCP)

cts = t.Challtestsrv()
c = t.Checks()
PREFIX = "/.well-known/acme-challenge/"
ISSUER = "ca.example"
HTTPFIX = os.path.join(t.FIXTURES, "httpfix.py")
CONNECT_TIMEOUT_MS = 1000  # the firewall cases wait this long per address
tmp = tempfile.mkdtemp(prefix="acmeva-diagnose-")


def fix_token(case):
    """A token that picks |case| of httpfix (base64url, not of length 4n+1)."""
    tok = f"{case}_{t.secrets.token_hex(10)}"
    return tok + "x" if len(tok) % 4 == 1 else tok


def ka_of(suffix):
    return lambda tok: tok + "." + suffix


def verdict(text):
    return (text or "").split("\n", 1)[0]


def steps(text):
    """The lines of the "What the validation did:" part."""
    part = (text or "").split("What the validation did:\n", 1)
    return part[1].split("\n\n", 1)[0] if len(part) == 2 else ""


def expect(texts, job_id, first, cause=None, fix=None, step=(), note=()):
    """Checks the text of one job: the verdict line starts with |first|; the cause and fix
    paragraphs hold |cause| and |fix|; the steps hold each of |step|; some note holds each of
    |note|."""
    text = texts.get(job_id, "")
    c.ok(verdict(text).startswith(first), f"{job_id}: verdict", verdict(text) or text[:300])
    if cause is not None:
        c.has(t.paragraph(text, "Likely cause:"), cause, f"{job_id}: likely cause")
    if fix is not None:
        c.has(t.paragraph(text, "What to change:"), fix, f"{job_id}: what to change")
    for s in step:
        c.has(steps(text), s, f"{job_id}: step")
    for n in note:
        c.ok(any(n in p for p in t.paragraphs(text, "Note:")), f"{job_id}: note",
             f"{t.paragraphs(text, 'Note:')!r} lacks {n!r}")
    return text


# The key authorizations httpfix serves: <token>.<its suffix>.
import importlib.util  # noqa: E402
spec = importlib.util.spec_from_file_location("httpfix", HTTPFIX)
hf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hf)
ka = ka_of(hf.KA_SUFFIX_DEFAULT)

fixtures = []
try:
    # ---- 1. AAAA present, the server on IPv4 only ------------------------------------------
    # httpfix on 127.0.0.1 only; on ::1 the same port is held bound but not listening, so a
    # connect there is refused and no other process can take the port meanwhile.
    v4 = t.Fixture([sys.executable, HTTPFIX, "--listen", "127.0.0.1"])
    fixtures.append(v4)
    hold6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    hold6.bind(("::1", v4.port))
    n_refused = t.unique("v4only")  # challtestsrv: A 127.0.0.1 and AAAA ::1 by default
    tok_refused = fix_token("ok")
    rc, texts, err = t.diagnose([*cts.resolver_args, "--http-port", str(v4.port)],
                                [t.job(n_refused, "http-01", tok_refused, ka(tok_refused),
                                       job_id="v4only-refused")])
    hold6.close()
    expect(texts, "v4only-refused", f"VALID http-01 {n_refused}",
           step=("::1: Connection refused, tried the next address", "127.0.0.1: HTTP 200 OK"),
           note=(f"{n_refused} has an AAAA record (::1), but ::1 on port {v4.port}: Connection "
                 "refused", "The validation fell back to IPv4 (127.0.0.1)",
                 "Make the server listen on IPv6 too"))
    c.eq(rc, 0, "AAAA to a port nobody listens on: still valid (exit 0)")

    # IPv6 dropped by a firewall: the connect to ::1 times out, IPv4 answers.
    pit6 = t.Tarpit(("::1",), port=v4.port)
    c.ok(pit6.drops("::1"), "the tarpit on ::1 drops connections")
    n_dropped = t.unique("v4only-drop")
    tok_dropped = fix_token("ok")
    start = time.time()
    rc, texts, err = t.diagnose([*cts.resolver_args, "--http-port", str(v4.port),
                                 "--connect-timeout-ms", str(CONNECT_TIMEOUT_MS)],
                                [t.job(n_dropped, "http-01", tok_dropped, ka(tok_dropped),
                                       job_id="v4only-dropped")])
    pit6.stop()
    expect(texts, "v4only-dropped", f"VALID http-01 {n_dropped}",
           step=("::1: Timeout during connect (likely firewall problem), tried the next address",),
           note=("has an AAAA record (::1)", "fell back to IPv4"))
    c.ok(time.time() - start >= CONNECT_TIMEOUT_MS / 1000, "IPv6 waited its connect timeout")

    # Another server answers on IPv6 (the AAAA record points elsewhere): httpfix with another
    # account's suffix on ::1, the right one on 127.0.0.1.
    other6 = t.Fixture([sys.executable, HTTPFIX, "--listen", "::1", "--port", str(v4.port),
                        "--key-authorization-suffix", t.THUMBPRINT])
    fixtures.append(other6)
    n_other6 = t.unique("v6-other")
    tok_other6 = fix_token("ok")
    rc, texts, err = t.diagnose([*cts.resolver_args, "--http-port", str(v4.port)],
                                [t.job(n_other6, "http-01", tok_other6, ka(tok_other6),
                                       job_id="v6-other")])
    expect(texts, "v6-other", f"INVALID http-01 {n_other6}:",
           step=(f'::1: HTTP 200 OK, body "{tok_other6}.{t.THUMBPRINT}"',),
           note=("The failing address is IPv6 (::1)", "does not fall back to IPv4 (127.0.0.1)",
                 "--all-addresses"))
    other6.stop()
    fixtures.remove(other6)

    # ---- 2. a firewall dropping port 80 --------------------------------------------------------
    pit = t.Tarpit(("127.0.0.1", "::1"))
    c.ok(pit.drops("127.0.0.1") and pit.drops("::1"), "the tarpit drops connections")
    n_fw = t.unique("firewall")
    tok_fw = t.new_token()
    rc, texts, err = t.diagnose([*cts.resolver_args, "--http-port", str(pit.port),
                                 "--connect-timeout-ms", str(CONNECT_TIMEOUT_MS)],
                                [t.job(n_fw, "http-01", tok_fw, t.key_authorization(tok_fw),
                                       job_id="firewall")])
    pit.stop()
    expect(texts, "firewall",
           f"INVALID http-01 {n_fw}: nothing answered on port {pit.port} of 127.0.0.1: a "
           "firewall drops the connection",
           cause="packets are dropped by a firewall",
           fix=f"Allow inbound TCP port {pit.port} from anywhere",
           step=(f"::1: Timeout during connect (likely firewall problem), tried the next address",
                 "127.0.0.1: Timeout during connect (likely firewall problem)"))
    c.eq(rc, 1, "firewall: exit 1")

    # ---- 3-4. redirects, with pebble-challtestsrv ------------------------------------------
    cts_args = [*cts.resolver_args, "--http-port", str(cts.http_port), "--https-port",
                str(cts.https_port), "--issuer-domain", ISSUER]
    jobs = []
    n_port = t.unique("redir-port")
    tok_port = t.new_token()
    cts.call("add-redirect", {"path": PREFIX + tok_port,
                              "targetURL": f"http://{n_port}:8080{PREFIX}{tok_port}"})
    jobs.append(t.job(n_port, "http-01", tok_port, t.key_authorization(tok_port),
                      job_id="redirect-port"))
    n_https = t.unique("redir-https")
    tok_https = t.new_token()
    cts.call("add-http01", {"token": tok_https + "x", "content": t.key_authorization(tok_https)})
    cts.call("add-redirect", {"path": PREFIX + tok_https,
                              "targetURL": f"https://{n_https}:{cts.https_port}{PREFIX}"
                                           f"{tok_https}x"})
    jobs.append(t.job(n_https, "http-01", tok_https, t.key_authorization(tok_https),
                      job_id="https-wrong-cert"))

    # ---- 6. CAA for another CA; 7. a CNAME to a name with no TXT; 8. stale TXT; 10. SERVFAIL --
    parent = t.unique("caa-other")
    cts.call("add-caa", {"host": parent, "policies": [{"tag": "issue",
                                                       "value": "letsencrypt.org"}]})
    jobs.append(t.job("www." + parent, None, job_id="caa-other-ca", caa={}))
    n_cname, n_target = t.unique("alias"), t.unique("alias-target")
    tok_cname = t.new_token()
    cts.call("set-cname", {"host": f"_acme-challenge.{n_cname}",
                           "target": f"_acme-challenge.{n_target}"})
    jobs.append(t.job(n_cname, "dns-01", tok_cname, t.key_authorization(tok_cname),
                      job_id="cname-no-txt"))
    n_stale = t.unique("stale-beside")
    tok_stale = t.new_token()
    cts.call("set-txt", {"host": f"_acme-challenge.{n_stale}.", "value": "stale-from-last-week"})
    cts.call("set-txt", {"host": f"_acme-challenge.{n_stale}.",
                         "value": t.dns01_value(t.key_authorization(tok_stale))})
    jobs.append(t.job(n_stale, "dns-01", tok_stale, t.key_authorization(tok_stale),
                      job_id="stale-beside"))
    n_alone = t.unique("stale-alone")
    tok_alone = t.new_token()
    cts.call("set-txt", {"host": f"_acme-challenge.{n_alone}.", "value": "stale-from-last-week"})
    jobs.append(t.job(n_alone, "dns-01", tok_alone, t.key_authorization(tok_alone),
                      job_id="stale-alone"))
    n_sf = t.unique("servfail")
    tok_sf = t.new_token()
    cts.call("set-servfail", {"host": n_sf})
    jobs.append(t.job(n_sf, "http-01", tok_sf, t.key_authorization(tok_sf), job_id="servfail"))

    rc, texts, err = t.diagnose(cts_args, jobs)
    c.eq(rc, 1, "challtestsrv batch: exit 1")
    c.eq(sorted(texts), sorted(j["id"] for j in jobs), "one text per job")
    expect(texts, "redirect-port",
           f"INVALID http-01 {n_port}: the server redirects to port 8080, which a CA does not "
           "follow",
           cause=f"redirected to http://{n_port}:8080{PREFIX}{tok_port}",
           fix="Redirect to a URL without a port",
           step=("HTTP 302 Found, redirect not followed",))
    expect(texts, "https-wrong-cert", f"VALID http-01 {n_https}",
           step=("HTTP 302 Found, redirected to the next URL",
                 "TLS certificate names: challenge test server (not checked on a redirect hop)",
                 "HTTP 200 OK"),
           note=(f"served with a certificate for challenge test server, not {n_https}",
                 "That is not a problem for this validation",
                 "does not check the certificate of an https redirect hop"))
    expect(texts, "caa-other-ca",
           f"INVALID CAA www.{parent}: CAA at {parent} does not allow this CA ({ISSUER})",
           cause='is 0 issue "letsencrypt.org". It names other CAs and not this one',
           fix=f'{parent}. CAA 0 issue "{ISSUER}"',
           step=(f"found at {parent}", 'records: 0 issue "letsencrypt.org"',
                 f"this CA's issuer domains: {ISSUER}",
                 'decided by: no issue record permits issuance by this CA; issue record '
                 '"letsencrypt.org"'))
    want_cname = t.dns01_value(t.key_authorization(tok_cname))
    expect(texts, "cname-no-txt",
           f"INVALID dns-01 {n_cname}: _acme-challenge.{n_cname} is an alias of "
           f"_acme-challenge.{n_target}, which has no TXT record",
           cause="looks for the TXT record there",
           fix=f'_acme-challenge.{n_target}. TXT "{want_cname}"',
           step=(f"an alias (CNAME) of _acme-challenge.{n_target}", "values: none"))
    want_stale = t.dns01_value(t.key_authorization(tok_stale))
    expect(texts, "stale-beside", f"VALID dns-01 {n_stale}",
           step=(f'values: "stale-from-last-week", "{want_stale}"',),
           note=('also holds 1 other value ("stale-from-last-week")', "That is fine"))
    want_alone = t.dns01_value(t.key_authorization(tok_alone))
    text = expect(texts, "stale-alone",
                  f"INVALID dns-01 {n_alone}: the TXT record at _acme-challenge.{n_alone} holds "
                  "another value",
                  cause=f'holds 1 value ("stale-from-last-week"), none of them the one this '
                        f'challenge asks for ("{want_alone}")',
                  fix=f'_acme-challenge.{n_alone}. TXT "{want_alone}"',
                  step=('values: "stale-from-last-week"', f'looked for: "{want_alone}"'))
    expect(texts, "servfail", f"INVALID http-01 {n_sf}: the DNS servers of {n_sf} answered "
           "SERVFAIL",
           cause="authoritative nameservers", fix=f"dig +norec @<nameserver> {n_sf} A")

    # ---- 5. bodies with more than the key authorization (httpfix) ----------------------------
    both = t.Fixture([sys.executable, HTTPFIX, "--listen", "127.0.0.1", "--listen", "::1"])
    fixtures.append(both)
    jobs = []
    toks = {}
    for case in ("html", "html404", "kaextra"):
        toks[case] = fix_token(case)
        jobs.append(t.job(t.unique("body-" + case), "http-01", toks[case], ka(toks[case]),
                          job_id="body-" + case))
    rc, texts, err = t.diagnose([*cts.resolver_args, "--http-port", str(both.port)], jobs)
    expect(texts, "body-html", "INVALID http-01",
           cause="a CDN or proxy in front of the site",
           fix="ahead of any rewrite or application route",
           step=('::1: HTTP 200 OK, body "<!DOCTYPE html>\\n<html><head><title>Welcome',
                 "(the first 128 bytes; there was more)"))
    c.has(verdict(texts.get("body-html")), "the server answered with a web page",
          "body-html: headline")
    expect(texts, "body-html404", "INVALID http-01",
           cause="(it sent an HTML error page)", fix="point the client's webroot",
           step=('::1: HTTP 404 Not Found, body "<!DOCTYPE html>',))
    c.has(verdict(texts.get("body-html404")), "the server answered 404", "body-html404: headline")
    expect(texts, "body-kaextra", "INVALID http-01",
           cause='goes on after it ("\\n<!-- served by a proxy -->")',
           fix=f'Serve exactly "{ka(toks["kaextra"])}"')
    c.has(verdict(texts.get("body-kaextra")), "the key authorization and more",
          "body-kaextra: headline")

    # ---- 7b. http-01 through a CNAME to a name that does not exist (dnsfix) ------------------
    zone = os.path.join(tmp, "zone.json")
    with open(zone, "w") as f:
        json.dump({"records": [{"name": "www.alias.test", "type": "CNAME",
                                "value": "gone.elsewhere.test"}],
                   "nxdomain": ["gone.elsewhere.test"]}, f)
    dnsfix = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "dnsfix.py"), "--zone", zone])
    fixtures.append(dnsfix)
    tok_nx = t.new_token()
    rc, texts, err = t.diagnose(["--resolver", f"127.0.0.1:{dnsfix.port}"],
                                [t.job("www.alias.test", "http-01", tok_nx,
                                       t.key_authorization(tok_nx), job_id="cname-nxdomain")])
    expect(texts, "cname-nxdomain",
           "INVALID http-01 www.alias.test: www.alias.test is an alias of gone.elsewhere.test, "
           "which does not exist",
           cause="pointing to gone.elsewhere.test, and that name does not exist (NXDOMAIN)",
           fix="Point the CNAME at a name that exists",
           step=("DNS: www.alias.test is an alias (CNAME) of gone.elsewhere.test",))

    # ---- 11. tls-alpn-01 where the server does not offer acme-tls/1 (tlsfix) -----------------
    tok_tls = t.new_token()
    ports_file = os.path.join(tmp, "tls-ports")
    tls_log = open(os.path.join(tmp, "tlsfix.log"), "w")
    tls = t.subprocess.Popen([os.path.join(t.BUILD, "tests", "tlsfix"), "--listen", "127.0.0.1",
                              "--listen6", "::1", "--ports-file", ports_file,
                              "--key-authorization", t.key_authorization(tok_tls)], stderr=tls_log)
    try:
        t.wait_until(lambda: os.path.exists(ports_file), 10)
        with open(ports_file) as f:
            tls_ports = dict((x.split()[0], int(x.split()[1])) for x in f if x.strip())
        n_tls = t.unique("no-acme-tls")
        rc, texts, err = t.diagnose([*cts.resolver_args, "--tls-port", str(tls_ports["no-alpn"])],
                                    [t.job(n_tls, "tls-alpn-01", tok_tls,
                                           t.key_authorization(tok_tls), job_id="no-acme-tls")])
    finally:
        tls.terminate()
        tls.wait(timeout=10)
        tls_log.close()
    expect(texts, "no-acme-tls",
           f"INVALID tls-alpn-01 {n_tls}: the server on port {tls_ports['no-alpn']} does not "
           "answer tls-alpn-01",
           cause="completed the handshake without selecting the acme-tls/1 protocol",
           fix="Or validate with http-01 or dns-01 instead",
           step=(f"::1: ALPN selected: none; certificate names: {n_tls}",))

    # ---- 9. DNSSEC bogus: a validating Unbound in front of a zone with broken signatures -----
    n_bogus = f"web-{t.secrets.token_hex(4)}.badsig.test"
    records = os.path.join(tmp, "records.json")
    with open(records, "w") as f:
        json.dump([{"name": n_bogus, "type": "A", "value": "127.0.0.1"}], f)
    lab = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "dnsseclab.py"), "--records",
                     records])
    fixtures.append(lab)
    tok_bogus = t.new_token()
    rc, texts, err = t.diagnose(["--resolver", f"127.0.0.1:{lab.port}"],
                                [t.job(n_bogus, "http-01", tok_bogus,
                                       t.key_authorization(tok_bogus), job_id="dnssec-bogus")])
    expect(texts, "dnssec-bogus", f"INVALID http-01 {n_bogus}: DNSSEC validation failed for "
           f"{n_bogus}",
           cause="(Extended DNS Error 6: DNSSEC Bogus",
           fix="remove the DS record at the registrar")
finally:
    for fx in fixtures:
        fx.stop()
    shutil.rmtree(tmp, ignore_errors=True)

c.done()
