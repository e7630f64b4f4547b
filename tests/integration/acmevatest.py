"""Shared pieces of the acmeva integration tests.

The tests run the real binaries against the real services that tests/run.sh started
(pebble-challtestsrv, redis-server); their addresses arrive in ACMEVA_TEST_* variables.
Each test uses names of its own (see unique()), so no test depends on another's leftovers.
Every check is counted, and main() prints the closing line "N passed, N failed".
"""

import base64
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request

BUILD = os.environ.get("ACMEVA_BUILD_DIR", "")
SOURCE = os.environ.get("ACMEVA_SOURCE_DIR", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
ACMEVA = os.path.join(BUILD, "acmeva")
WORKER = os.path.join(BUILD, "acmeva-worker")
FIXTURES = os.path.join(SOURCE, "tests", "fixtures")


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set: run this test through tests/run.sh")
    return value


class Challtestsrv:
    """pebble-challtestsrv's management API and ports (see tests/run.sh)."""

    def __init__(self):
        self.mgmt = env("ACMEVA_TEST_CTS_MGMT")
        self.dns = env("ACMEVA_TEST_CTS_DNS")
        self.http_port = int(env("ACMEVA_TEST_CTS_HTTP_PORT"))
        self.https_port = int(env("ACMEVA_TEST_CTS_HTTPS_PORT"))
        self.tlsalpn_port = int(env("ACMEVA_TEST_CTS_TLSALPN_PORT"))

    def call(self, endpoint, body):
        req = urllib.request.Request(self.mgmt + "/" + endpoint,
                                     data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            data = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{endpoint}: {resp.status} {data!r}")
            return data

    def history(self, kind, host):
        return json.loads(self.call(f"{kind}-request-history", {"host": host}) or b"[]")


def unique(prefix="t"):
    """A fresh DNS name under a public TLD (challtestsrv answers every name)."""
    return f"{prefix}-{secrets.token_hex(6)}.example.com"


def new_token():
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


THUMBPRINT = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"


def key_authorization(token):
    return token + "." + THUMBPRINT


def dns01_value(ka):
    return base64.urlsafe_b64encode(hashlib.sha256(ka.encode()).digest()).decode().rstrip("=")


def job(ident, ctype, token=None, ka=None, job_id=None, ident_type="dns", **extra):
    j = {"v": 1, "id": job_id or ("job-" + secrets.token_hex(4)),
         "identifier": {"type": ident_type, "value": ident}}
    if ctype:
        j["challenge"] = {"type": ctype}
        if token:
            j["challenge"]["token"] = token
        if ka:
            j["keyAuthorization"] = ka
    j.update(extra)
    return j


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def run_check(args, jobs=None, timeout=120, allow_private=True):
    """Run `acmeva check`; returns (exit code, results by id, [results], stderr)."""
    cmd = [ACMEVA, "check"] + (["--allow-private-addresses"] if allow_private else []) + args
    stdin = None
    if jobs is not None:
        cmd += ["--job", "-"]
        stdin = "".join(json.dumps(j) + "\n" if not isinstance(j, str) else j + "\n"
                        for j in jobs)
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
    results = []
    for line in p.stdout.splitlines():
        if line.strip():
            results.append(json.loads(line))
    by_id = {r.get("id"): r for r in results}
    return p.returncode, by_id, results, p.stderr


class Fixture:
    """A fixture server from tests/fixtures started on loopback; stopped by stop()."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"fixture {argv[1:2]} did not start: {line!r} {err}")
        self.port = int(line.split()[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Checks:
    """Counts checks; a failed one prints what differed and the test goes on."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, cond, what, detail=None):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {what}" + (f": {detail}" if detail is not None else ""),
                  file=sys.stderr, flush=True)
        return cond

    def eq(self, got, want, what):
        return self.ok(got == want, what, f"got {got!r}, want {want!r}")

    def problem(self, result, ptype, detail_part, what):
        """Asserts an invalid result with a problem of |ptype| whose detail has |detail_part|."""
        err = result.get("error") or {}
        self.eq(result.get("status"), "invalid", what + ": status")
        self.eq(err.get("type"), "urn:ietf:params:acme:error:" + ptype, what + ": error type")
        self.ok(detail_part in (err.get("detail") or ""), what + ": detail",
                f"{err.get('detail')!r} lacks {detail_part!r}")

    def done(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(0 if self.failed == 0 and self.passed > 0 else 1)
