"""acmeva check --format: JSON for scripts and pipes, unchanged; text for people at a terminal.

1. --format json, and the default when standard output is not a terminal, print the result
   documents of before byte for byte: tests/integration/golden/check-json.ndjson holds what
   acmeva check printed before the readable diagnosis existed, for an http-01 job with a
   redirect and CAA, a dns-01 job with a wrong TXT record and a forbidding CAA record, and a
   tls-alpn-01 job (against pebble-challtestsrv; ports, resolver, worker id, version and times
   replaced by placeholders). The output of today, without the fields added since within major
   1 (which come after every older field of their object), must be exactly those bytes.
2. On a terminal (a pty from Python's pty module) the default is text, coloured; with NO_COLOR
   set, the same text without a single escape sequence; --format text on a pipe is text without
   colour; --format json on a terminal is JSON.
3. --format with another value is bad usage (exit 2); --help documents it.
"""

import json
import os
import pty
import re
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

cts = t.Challtestsrv()
c = t.Checks()
PREFIX = "/.well-known/acme-challenge/"
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "check-json.ndjson")
# The fields added within major 1 since the golden file was written (proto/result.schema.json).
ADDED = {"httpStatus", "body", "triedErrors", "cnames", "certNames", "alpn", "expected",
         "issuerDomains", "decision", "addressChecks"}

# Fixed names and tokens: the golden bytes hold them. Set afresh (TXT and CAA append).
TOK1 = "goldenJsonHttp01TokenAAAAAAAAAAAAAAAAAAAAAAA"
TOK2 = "goldenJsonDns01TokenAAAAAAAAAAAAAAAAAAAAAAAA"
TOK3 = "goldenJsonTlsAlpn01TokenAAAAAAAAAAAAAAAAAAAA"
N1, N2, N3 = ("http.golden-json.example.com", "dns.golden-json.example.com",
              "tls.golden-json.example.com")
cts.call("add-http01", {"token": TOK1 + "x", "content": t.key_authorization(TOK1)})
cts.call("add-redirect", {"path": PREFIX + TOK1, "targetURL": f"http://{N1}{PREFIX}{TOK1}x"})
cts.call("clear-txt", {"host": f"_acme-challenge.{N2}."})
cts.call("set-txt", {"host": f"_acme-challenge.{N2}.", "value": "stale-value"})
cts.call("clear-caa", {"host": N2})
cts.call("add-caa", {"host": N2, "policies": [{"tag": "issue", "value": "other-ca.example"}]})
cts.call("add-tlsalpn01", {"host": N3, "content": t.key_authorization(TOK3)})
JOBS = [t.job(N1, "http-01", TOK1, t.key_authorization(TOK1), job_id="golden-http", caa={}),
        t.job(N2, "dns-01", TOK2, t.key_authorization(TOK2), job_id="golden-dns", caa={}),
        t.job(N3, "tls-alpn-01", TOK3, t.key_authorization(TOK3), job_id="golden-tls")]
STDIN = "".join(json.dumps(j) + "\n" for j in JOBS)
# One job at a time, so that the lines come in the order of the golden file.
ARGS = [t.ACMEVA, "check", *t.allow_args(), *cts.resolver_args, "--http-port",
        str(cts.http_port), "--tls-port", str(cts.tlsalpn_port), "--issuer-domain", "ca.example",
        "--max-inflight", "1", "--job", "-"]


def normalize(line):
    """The golden file's placeholders for what differs from run to run."""
    line = line.replace(f":{cts.http_port}/", ":{HTTP_PORT}/")
    line = line.replace(f'"{cts.http_port}"', '"{HTTP_PORT}"')
    line = line.replace(f'"{cts.tlsalpn_port}"', '"{TLS_PORT}"').replace(cts.dns, "{DNS}")
    line = re.sub(r'"worker":"[^"]*"', '"worker":"{WORKER}"', line)
    line = re.sub(r'"workerVersion":"[^"]*"', '"workerVersion":"{VERSION}"', line)
    line = re.sub(r'"startedMs":[0-9]+', '"startedMs":0', line)
    return re.sub(r'"durationMs":[0-9.]+', '"durationMs":0.0', line)


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def drop_added(value):
    if isinstance(value, dict):
        return {k: drop_added(v) for k, v in value.items() if k not in ADDED}
    if isinstance(value, list):
        return [drop_added(v) for v in value]
    return value


def run(extra, env=None):
    p = subprocess.run(ARGS + extra, input=STDIN, capture_output=True, text=True, timeout=120,
                       env=env)
    return p.returncode, p.stdout, p.stderr


# ---- 1. JSON, byte for byte -------------------------------------------------------------------
with open(GOLDEN) as f:
    golden = [line.rstrip("\n") for line in f if line.strip()]
rc_pipe, out_pipe, err = run([])
rc_json, out_json, _ = run(["--format", "json"])
c.eq(rc_pipe, 1, "a pipe: exit 1 (the dns-01 job is invalid)")
c.eq(rc_json, rc_pipe, "--format json: the same exit status")
lines_pipe = out_pipe.splitlines()
lines_json = out_json.splitlines()
c.eq(len(lines_pipe), 3, "a pipe: one line per job")
c.eq([normalize(x) for x in lines_json], [normalize(x) for x in lines_pipe],
     "--format json prints what a pipe gets by default")
for got, want in zip(lines_pipe, golden):
    # The writer's bytes are compact JSON in the writer's order: re-serializing the parsed
    # line gives them back, so dropping the added fields from the parse gives the bytes a
    # writer without them writes.
    parsed = json.loads(got)
    c.eq(compact(parsed), got, "the line is compact JSON in the writer's own order")
    c.eq(normalize(compact(drop_added(parsed))), want,
         "the output without the added fields is byte for byte the output of before")
    c.ok(set(re.findall(r'"([A-Za-z]+)":', got)) - set(re.findall(r'"([A-Za-z]+)":', want))
         <= ADDED, "no other new field", got)
by_id = {json.loads(x)["id"]: json.loads(x) for x in lines_pipe}
c.eq([h.get("httpStatus") for h in by_id["golden-http"]["validationRecord"]], [302, 200],
     "the added facts are there: each hop's status")


# ---- 2. a terminal --------------------------------------------------------------------------
def run_pty(extra, env_extra=None, timeout=60):
    """Runs acmeva check with standard output (and error) on a pty; returns (rc, output)."""
    master, slave = pty.openpty()
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env.update(env_extra or {})
    p = subprocess.Popen(ARGS + extra, stdin=subprocess.PIPE, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    p.stdin.write(STDIN.encode())
    p.stdin.close()
    out = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not data:
                break
            out += data
        elif p.poll() is not None:
            continue
    os.close(master)
    rc = p.wait(timeout=timeout)
    return rc, out.decode("utf-8", "replace").replace("\r\n", "\n")


def same_text(text):
    """The text with its durations (the one part that differs from run to run) blanked."""
    return re.sub(r", [0-9.]+ ms\n", ", - ms\n", text)


rc, tty_out = run_pty([])
c.eq(rc, 1, "terminal: the same exit status")
c.ok(tty_out.startswith("\x1b[1;32mVALID\x1b[0m http-01 " + N1), "terminal: text, coloured verdict",
     tty_out[:200])
c.ok("\x1b[1;31mINVALID\x1b[0m dns-01 " + N2 in tty_out, "terminal: the invalid job in red")
c.ok('{"v":1' not in tty_out, "terminal: no JSON")
plain = re.sub(r"\x1b\[[0-9;]*m", "", tty_out)
c.ok("What the validation did:" in plain and "What to change:" in plain,
     "terminal: the steps and the fix", plain[:400])

rc, nc_out = run_pty([], {"NO_COLOR": "1"})
c.eq(rc, 1, "NO_COLOR: the same exit status")
c.ok("\x1b" not in nc_out, "NO_COLOR: not a single escape sequence", nc_out[:200])
c.ok(nc_out.startswith("VALID http-01 " + N1), "NO_COLOR: still text on a terminal")
c.eq(same_text(nc_out), same_text(plain),
     "NO_COLOR: the same text as in colour, without the colour")

rc, nc_empty = run_pty([], {"NO_COLOR": ""})
c.ok("\x1b[" in nc_empty, "NO_COLOR set but empty does not turn colour off (no-color.org)")

rc, text_pipe, _ = run(["--format", "text"])
c.eq(rc, 1, "--format text on a pipe: the same exit status")
c.ok("\x1b" not in text_pipe, "--format text on a pipe: no colour")
c.ok(text_pipe.startswith("VALID http-01 " + N1), "--format text on a pipe: text")
c.eq(same_text(text_pipe), same_text(plain),
     "--format text on a pipe is the terminal's text without colour")

rc, json_tty = run_pty(["--format", "json"])
lines = [x for x in json_tty.splitlines() if x.strip()]
c.eq([normalize(x) for x in lines], [normalize(x) for x in lines_pipe],
     "--format json on a terminal: the JSON lines")

# ---- 3. usage -------------------------------------------------------------------------------
p = subprocess.run([t.ACMEVA, "check", "--format", "yaml", "--identifier", "x.example.com",
                    "--caa"], capture_output=True, text=True, timeout=30)
c.eq(p.returncode, 2, "--format yaml: bad usage")
c.ok("--format is text or json" in p.stderr, "--format yaml: says what is allowed", p.stderr)
p = subprocess.run([t.ACMEVA, "check", "--help"], capture_output=True, text=True, timeout=30)
c.ok("--format text|json" in p.stdout and "NO_COLOR" in p.stdout, "--help documents --format")

c.done()
