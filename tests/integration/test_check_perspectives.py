"""acmeva check --perspectives FILE: one job through several resolvers, and where they differ.

Two DNS views of the same names on loopback: pebble-challtestsrv (the up-to-date zone) and
dnsfix (a view with a stale TXT record, another address and a CAA record). The differences are
written in acmeva-coordinator's words (proto/resultdiff.c, shared): the addresses, the TXT
values, the CAA set, the outcome, each compared with the first perspective of the file.

1. dns-01 with CAA: JSON (one line per job: every perspective's result in the file's order,
   the disagreements, valid only when every perspective is) and text (the verdict, each
   perspective, the differences, each one's diagnosis).
2. http-01: another address in one view; and two perspectives that agree.
3. Bad files and bad combinations are bad usage (exit 2) with a line that says why.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

cts = t.Challtestsrv()
c = t.Checks()
ISSUER = "ca.example"
HTTPFIX = os.path.join(t.FIXTURES, "httpfix.py")
tmp = tempfile.mkdtemp(prefix="acmeva-persp-")


def write(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def check(args, jobs, allow=t.FIXTURE_CIDRS):
    cmd = [t.ACMEVA, "check", *t.allow_args(allow), "--no-dns-0x20", "--issuer-domain", ISSUER,
           *args, "--job", "-"]
    p = subprocess.run(cmd, input="".join(json.dumps(j) + "\n" for j in jobs), text=True,
                       capture_output=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


n_dns = t.unique("persp-dns")
tok = t.new_token()
ka = t.key_authorization(tok)
good = t.dns01_value(ka)
cts.call("set-txt", {"host": f"_acme-challenge.{n_dns}.", "value": good})
n_web = t.unique("persp-web")
tok_web = "ok_" + t.secrets.token_hex(10)
zone = write("zone.json", json.dumps({"records": [
    {"name": f"_acme-challenge.{n_dns}", "type": "TXT", "value": "stale-value"},
    {"name": n_dns, "type": "CAA", "flags": 0, "tag": "issue", "value": "other-ca.example"},
    {"name": n_web, "type": "A", "value": "127.0.0.2"}]}))
stale = t.Fixture([sys.executable, os.path.join(t.FIXTURES, "dnsfix.py"), "--zone", zone])
web = t.Fixture([sys.executable, HTTPFIX, "--listen", "127.0.0.1", "--listen", "::1"])
try:
    stale_dns = f"127.0.0.1:{stale.port}"
    pfile = write("perspectives", f"# the zone as published, and a nameserver that lags\n"
                                  f"\nupdated {cts.dns}\nlagging   {stale_dns}\n")

    # ---- 1. dns-01 with CAA -----------------------------------------------------------------
    job = t.job(n_dns, "dns-01", tok, ka, job_id="dns", caa={})
    rc, out, err = check(["--perspectives", pfile, "--format", "json"], [job])
    c.eq(rc, 1, "one perspective invalid: exit 1")
    lines = out.splitlines()
    c.eq(len(lines), 1, "one line per job")
    doc = json.loads(lines[0]) if lines else {}
    c.eq(doc.get("id"), "dns", "the job's id")
    c.eq(doc.get("status"), "invalid", "invalid unless every perspective is valid")
    ps = doc.get("perspectives") or []
    c.eq([(p.get("name"), p.get("resolver")) for p in ps],
         [("updated", cts.dns), ("lagging", stale_dns)], "the perspectives in the file's order")
    c.eq([p.get("result", {}).get("perspective") for p in ps], ["updated", "lagging"],
         "each result carries its perspective's name")
    c.eq([p.get("result", {}).get("status") for p in ps], ["valid", "invalid"], "the outcomes")
    c.eq([((p.get("result", {}).get("validationRecord") or [{}])[0]).get("resolverAddrs")
          for p in ps], [[cts.dns], [stale_dns]], "each asked its own resolver only")
    detail = f'Incorrect TXT record "stale-value" found at _acme-challenge.{n_dns}'
    c.eq(doc.get("disagreements"), [
        f'lagging: saw TXT "stale-value" where updated saw "{good}"',
        f'lagging: found CAA at {n_dns} ("0 issue "other-ca.example"") where updated found it at '
        "no name (none)",
        f"lagging: invalid (urn:ietf:params:acme:error:unauthorized: {detail}) where updated was "
        "valid"], "the disagreements, in the coordinator's words")

    rc, text, err = check(["--perspectives", pfile, "--format", "text"], [job])
    c.eq(rc, 1, "text: exit 1")
    first = text.split("\n", 1)[0]
    c.eq(first, f"INVALID dns-01 {n_dns}: 1 of 2 perspectives valid, and their views differ",
         "text: the verdict")
    c.has(text, f"  VALID   updated (resolver {cts.dns}), the reference", "text: the reference")
    c.has(text, f"  INVALID lagging (resolver {stale_dns}): {detail}", "text: the other")
    for d in doc.get("disagreements") or []:
        c.has(text, f"\n  - {d}\n", "text: each difference, as in the JSON")
    c.has(text, f"== lagging (resolver {stale_dns}) ==\nINVALID dns-01 {n_dns}: the TXT record at "
          f"_acme-challenge.{n_dns} holds another value", "text: the lagging view's diagnosis")
    c.has(t.paragraph(text.split("== lagging", 1)[-1], "What to change:"),
          f'_acme-challenge.{n_dns}. TXT "{good}"', "text: what to change in that view")

    # ---- 2. http-01: another address; and two views that agree ------------------------------
    import importlib.util
    spec = importlib.util.spec_from_file_location("httpfix", HTTPFIX)
    hf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hf)
    jw = t.job(n_web, "http-01", tok_web, tok_web + "." + hf.KA_SUFFIX_DEFAULT, job_id="web")
    allow = t.FIXTURE_CIDRS + ("127.0.0.2/32",)
    rc, out, err = check(["--perspectives", pfile, "--http-port", str(web.port)], [jw], allow)
    doc = json.loads(out.splitlines()[0]) if out.strip() else {}
    c.eq(doc.get("disagreements", [None])[0],
         "lagging: resolved 127.0.0.2 where updated resolved ::1, 127.0.0.1",
         "http-01: the other address")
    c.eq([p.get("result", {}).get("status") for p in doc.get("perspectives") or []],
         ["valid", "invalid"], "http-01: nothing listens at 127.0.0.2")
    agree = write("agree", f"one {cts.dns}\ntwo {cts.dns}\n")
    rc, out, err = check(["--perspectives", agree, "--http-port", str(web.port)], [jw])
    doc = json.loads(out.splitlines()[0]) if out.strip() else {}
    c.eq(rc, 0, "two views that agree: exit 0")
    c.eq((doc.get("status"), doc.get("disagreements")), ("valid", []), "no disagreement")
    rc, text, err = check(["--perspectives", agree, "--http-port", str(web.port), "--format",
                           "text"], [jw])
    c.eq(text.split("\n", 1)[0], f"VALID http-01 {n_web}: 2 of 2 perspectives valid, and they "
         "agree", "text: they agree")
    c.has(text, "Where they differ: nowhere", "text: nowhere")

    # ---- 3. bad usage -----------------------------------------------------------------------
    def usage(args, want, what):
        rc, out, err = check(args, [jw])
        c.eq(rc, 2, f"{what}: exit 2")
        c.has(err, want, f"{what}: says why")
        c.eq(out, "", f"{what}: nothing validated")

    usage(["--perspectives", os.path.join(tmp, "none")], "cannot open", "a missing file")
    usage(["--perspectives", write("one", f"only {cts.dns}\n")], "at least two", "one perspective")
    usage(["--perspectives", write("bad", f"a {cts.dns}\nb\n")], "bad:2: want \"NAME RESOLVER\"",
          "a line without a resolver")
    usage(["--perspectives", write("twice", f"a {cts.dns}\na {stale_dns}\n")], "named twice",
          "a name twice")
    usage(["--perspectives", write("addr", f"a {cts.dns}\nb not-an-address\n")],
          "addr:2: not a resolver address", "a bad resolver")
    usage(["--perspectives", write("name", f"a {cts.dns}\nb/c {cts.dns}\n")],
          "a perspective name is", "a bad name")
    usage(["--perspectives", pfile, "--resolver", cts.dns], "does not go with --resolver",
          "with --resolver")
finally:
    stale.stop()
    web.stop()
    shutil.rmtree(tmp, ignore_errors=True)

c.done()
