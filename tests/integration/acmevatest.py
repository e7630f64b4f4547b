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
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True  # tests import fixtures; leave no __pycache__ in the tree

BUILD = os.environ.get("ACMEVA_BUILD_DIR", "")
SOURCE = os.environ.get("ACMEVA_SOURCE_DIR", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
ACMEVA = os.path.join(BUILD, "acmeva")
WORKER = os.path.join(BUILD, "acmeva-worker")
COORDINATOR = os.path.join(BUILD, "acmeva-coordinator")
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
        # challtestsrv matches query names case-sensitively, so queries to it must go in the
        # case given: every engine pointed at it passes --no-dns-0x20.
        self.resolver_args = ["--resolver", self.dns, "--no-dns-0x20"]

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


def bench_responder(http_port, dns_port):
    """Starts bench/acmeva-responder for http-01 and DNS on loopback (no TLS, no tarpit port) and
    returns (process, its ready line); the caller checks the line, terminates and waits."""
    proc = subprocess.Popen([os.path.join(BUILD, "bench", "acmeva-responder"), "--http-port",
                             str(http_port), "--tls-port", "0", "--dns-port", str(dns_port),
                             "--tarpit-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return proc, proc.stdout.readline()


# The loopback addresses that pebble-challtestsrv answers by default and most fixtures listen on.
# Tests allow exactly their fixtures' addresses (--allow-address), never every reserved range.
FIXTURE_CIDRS = ("127.0.0.1/32", "::1/128")


def allow_args(cidrs=FIXTURE_CIDRS):
    """--allow-address options for |cidrs|."""
    out = []
    for cidr in cidrs:
        out += ["--allow-address", cidr]
    return out


def run_check(args, jobs=None, timeout=120, allow=FIXTURE_CIDRS, prefix=()):
    """Run `acmeva check` with --allow-address for |allow| (() for none); |prefix| goes before
    the command (e.g. prlimit). Returns (exit code, results by id, [results], stderr)."""
    cmd = list(prefix) + [ACMEVA, "check"] + allow_args(allow) + args
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


def diagnose(args, jobs, timeout=120, allow=FIXTURE_CIDRS):
    """Runs `acmeva check --format text` on |jobs|; returns (exit code, {job id: its text},
    stderr). Each job's text starts at a line beginning with VALID or INVALID; its second line
    names the job ("  job <id>, ...")."""
    cmd = [ACMEVA, "check", "--format", "text"] + allow_args(allow) + args + ["--job", "-"]
    stdin = "".join(json.dumps(j) + "\n" for j in jobs)
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
    texts, cur = {}, []
    for line in p.stdout.splitlines(keepends=True):
        if (line.startswith("VALID ") or line.startswith("INVALID ")) and cur:
            texts[job_of(cur)] = "".join(cur).rstrip("\n") + "\n"
            cur = []
        cur.append(line)
    if cur:
        texts[job_of(cur)] = "".join(cur).rstrip("\n") + "\n"
    return p.returncode, texts, p.stderr


def job_of(lines):
    second = lines[1] if len(lines) > 1 else ""
    return second.strip()[4:].split(",", 1)[0] if second.strip().startswith("job ") else None


def paragraph(text, label):
    """The paragraph of a diagnosis that starts with |label| ("Likely cause:", ...), its wrapped
    lines joined with single spaces; "" when there is none."""
    lines = (text or "").splitlines()
    for i, line in enumerate(lines):
        if line.startswith(label):
            out = [line[len(label):].strip()]
            for nxt in lines[i + 1:]:
                if not nxt.startswith("    ") or nxt.startswith("     "):
                    break
                out.append(nxt.strip())
            return " ".join(out)
    return ""


def paragraphs(text, label):
    """Every paragraph of |text| that starts with |label| (there may be several notes)."""
    out, lines = [], (text or "").splitlines()
    for i, line in enumerate(lines):
        if line.startswith(label):
            part = [line[len(label):].strip()]
            for nxt in lines[i + 1:]:
                if not nxt.startswith("      ") or nxt[6:7] == " ":
                    break
                part.append(nxt.strip())
            out.append(" ".join(part))
    return out


class Fixture:
    """A fixture server from tests/fixtures started on loopback; stopped by stop()."""

    def __init__(self, argv):
        # The fixture's log goes to a file: a pipe nobody reads would fill up and stall it.
        self.log = tempfile.NamedTemporaryFile(prefix="acmeva-fixture-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            with open(self.log.name) as f:
                err = f.read()[-4000:]
            raise RuntimeError(f"fixture {argv[1:2]} did not start: {line!r} {err}")
        self.port = int(line.split()[1])
        self.fields = line.split()[1:]  # what follows READY (some fixtures print more ports)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()
        os.unlink(self.log.name)


class Tarpit:
    """A loopback port that drops connection attempts, as a firewall that drops packets does.
    Each address listens with a backlog of 0 and its accept queue is filled by connections of
    our own that are never accepted; the kernel then drops every further SYN (Linux counts them
    in ListenOverflows), so a connect gets no answer at all, neither an accept nor a refusal.
    Real kernel behaviour on loopback, nothing dialled elsewhere."""

    def __init__(self, addrs=("127.0.0.1", "::1"), port=0):
        import select
        self.socks, self.fill = [], []
        for addr in addrs:
            fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.bind((addr, port))
            port = s.getsockname()[1]
            s.listen(0)
            self.socks.append(s)
            # Fill the queue until a connection of ours is left waiting: then it is full.
            for _ in range(16):
                c = socket.socket(fam, socket.SOCK_STREAM)
                c.setblocking(False)
                try:
                    c.connect((addr, port))
                except BlockingIOError:
                    pass
                self.fill.append(c)
                _, w, _ = select.select([], [c], [], 0.2)
                if not w:
                    break
        self.port = port

    def drops(self, addr, timeout=0.5):
        """Whether a connect to |addr| gets no answer within |timeout| seconds."""
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        with socket.socket(fam, socket.SOCK_STREAM) as c:
            c.settimeout(timeout)
            try:
                c.connect((addr, self.port))
                return False
            except socket.timeout:
                return True
            except OSError:
                return False

    def stop(self):
        for s in self.fill + self.socks:
            s.close()


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

    def has(self, text, part, what):
        """Asserts that |part| is in |text| (a line or paragraph of a diagnosis)."""
        return self.ok(part in (text or ""), what, f"{text!r} lacks {part!r}")

    def done(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(0 if self.failed == 0 and self.passed > 0 else 1)


# ---- Redis and acmeva-worker (test_worker_*.py, test_submit*.py) ----------------------------
# Each worker test starts a redis-server of its own (tests/run.sh puts it on PATH), so that it
# can restart, kill or reconfigure it without touching any other test.

class RedisError(Exception):
    pass


class RedisClient:
    """A minimal synchronous RESP2 client (the tests need no Python Redis package). |tls| is
    an ssl.SSLContext for a TLS port (Python's own TLS, independent of the code under test)."""

    def __init__(self, port, host="127.0.0.1", user=None, password=None, timeout=10, tls=None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        self.buf = b""
        if password is not None:
            self.call(*(["AUTH"] + ([user] if user else []) + [password]))

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("redis closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            data = self.sock.recv(max(65536, n + 2 - len(self.buf)))
            if not data:
                raise ConnectionError("redis closed the connection")
            self.buf += data
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RedisError(f"bad reply {line!r}")

    @staticmethod
    def _encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def pipeline(self, commands):
        """Sends every command at once; returns the replies (errors as RedisError values)."""
        self.sock.sendall(b"".join(self._encode(c) for c in commands))
        return [self._reply() for _ in commands]

    def call(self, *args):
        r = self.pipeline([args])[0]
        if isinstance(r, RedisError):
            raise r
        return r


class RedisServer:
    """redis-server on a free loopback port with a data directory of its own; stop() ends it.
    |appendonly| keeps the data across restart(); |extra| are more redis-server arguments."""

    def __init__(self, appendonly=False, extra=(), password=None, tls=None, tls_client=None,
                 config=None, user=None):
        import tempfile
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="acmeva-redis-")
        self.appendonly = appendonly
        self.extra = list(extra)
        self.password = password  # of the test's own client (of |user|, else the default user)
        self.user = user
        # |tls|: (server certificate, its key, the CA of client certificates): TLS only on the
        # port (--port 0), client certificates required; |tls_client| (an ssl.SSLContext) is
        # then the test's own client's.
        self.tls = tls
        self.tls_client = tls_client
        self.config = config  # a redis.conf to start from (the arguments override it)
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}"

    def start(self):
        port_args = ["--port", str(self.port)]
        if self.tls is not None:
            cert, key, ca = self.tls
            port_args = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", cert,
                         "--tls-key-file", key, "--tls-ca-cert-file", ca,
                         "--tls-auth-clients", "yes"]
        argv = ["redis-server"] + ([self.config] if self.config else []) + port_args + [
                "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes" if self.appendonly else "no", "--dir", self.dir,
                "--logfile", os.path.join(self.dir, "redis.log")] + self.extra
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                cl = self.client()
                cl.call("EXISTS", "x")  # refused with LOADING until the data is loaded
                cl.close()
                return
            except (OSError, RedisError):
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)

    def client(self, user=None, password=None):
        if password is None and user is None:
            user, password = self.user, self.password
        return RedisClient(self.port, user=user, password=password, tls=self.tls_client)

    def log(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self, down_seconds=0.0):
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def cleanup(self):
        import shutil
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class WorkerProc:
    """acmeva-worker running in the background, its stderr (the log) kept in a file."""

    def __init__(self, args, name="worker", binary=None):
        import tempfile
        self.logf = tempfile.NamedTemporaryFile(prefix=f"acmeva-{name}-", suffix=".log",
                                                delete=False)
        self.proc = subprocess.Popen([binary or WORKER] + args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.logf)
        self.pid = self.proc.pid

    def log(self):
        with open(self.logf.name, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout=30):
        """Returns the exit status, or None if it is still running after |timeout| s."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=30):
        self.signal(signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.proc.kill()
            self.proc.wait()
        return rc

    def cleanup(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self.logf.close()
        try:
            os.unlink(self.logf.name)
        except OSError:
            pass


def cts_engine_args(cts):
    """Engine options that point a worker at pebble-challtestsrv on loopback."""
    return allow_args() + [*cts.resolver_args, "--http-port", str(cts.http_port),
                           "--https-port", str(cts.https_port), "--tls-port",
                           str(cts.tlsalpn_port)]


# What a loaded two-core machine (and the ASan build) may add to a time the code under test
# promises: process start-up, loop turns spent on other work, timers that fire late, Redis
# round trips. Every time bound in these tests is a configured timeout (or a sum of them) plus
# this, never a guess at how fast the code is.
GRACE_S = 5.0


# docs/worker.md: a thread's read blocks at most 1 s (XREADGROUP ... BLOCK 1000), so a job
# enqueued for an idle worker is read within this.
READ_BLOCK_S = 1.0
# docs/worker.md "Redis lost": the reconnect delay doubles up to 5 s.
RECONNECT_MAX_S = 5.0


def ended_by(result, deadline_ms):
    """Whether |result| ended (its startedMs + durationMs) by |deadline_ms| (unix ms), give or
    take GRACE_S: the engine holds every validation to its job's deadline."""
    if not result or "startedMs" not in result or "durationMs" not in result:
        return False
    return result["startedMs"] + result["durationMs"] <= deadline_ms + GRACE_S * 1000


def wait_until(cond, timeout, interval=0.05):
    """Polls cond() until it returns a true value (returned) or |timeout| s pass (None)."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            return None
        time.sleep(interval)


JOBS_STREAM = "acmeva:v1:jobs:default"
RESULTS_STREAM = "acmeva:v1:results"
DEAD_STREAM = "acmeva:v1:dead"


def wait_group(client, stream=JOBS_STREAM, consumers=1, timeout=15, group="acmeva"):
    """Waits until the group "acmeva" exists on |stream| with at least |consumers| consumers
    that have read from it (workers create the group with $: enqueue only after this)."""
    def ready():
        try:
            groups = client.call("XINFO", "GROUPS", stream)
        except RedisError:
            return False
        for g in groups:
            d = dict(zip(g[::2], g[1::2]))
            if d.get(b"name") == group.encode():
                return d.get(b"consumers", 0) >= consumers
        return False
    return wait_until(ready, timeout)


def enqueue(client, jobs, stream=JOBS_STREAM):
    """XADDs each job (a dict, a str or bytes) as field "job"; returns the entry ids."""
    cmds = []
    for j in jobs:
        body = j if isinstance(j, (str, bytes)) else json.dumps(j)
        cmds.append(["XADD", stream, "*", "job", body])
    ids = []
    for i in range(0, len(cmds), 500):
        for r in client.pipeline(cmds[i:i + 500]):
            if isinstance(r, RedisError):
                raise r
            ids.append(r.decode())
    return ids


def stream_entries(client, stream):
    """Every entry of |stream| as (id, {field: value}) with str fields and values."""
    out, start = [], "-"
    while True:
        batch = client.call("XRANGE", stream, start, "+", "COUNT", 1000)
        if not batch:
            return out
        for eid, fields in batch:
            f = {fields[i].decode(): fields[i + 1].decode(errors="replace")
                 for i in range(0, len(fields), 2)}
            out.append((eid.decode(), f))
        last = batch[-1][0].decode()
        ms, seq = last.split("-")
        start = f"{ms}-{int(seq) + 1}"


def stream_results(client, stream=RESULTS_STREAM):
    """The result documents on |stream|, parsed, in order."""
    return [json.loads(f["result"]) for _, f in stream_entries(client, stream) if "result" in f]


def pending_count(client, stream=JOBS_STREAM, consumer=None):
    """How many entries of the group are pending (for one consumer when given)."""
    try:
        if consumer is None:
            return client.call("XPENDING", stream, "acmeva")[0]
        return len(client.call("XPENDING", stream, "acmeva", "-", "+", 100000, consumer))
    except RedisError:
        return 0


def run_submit(args, stdin=None, timeout=120):
    """Runs `acmeva submit`; returns (exit status, [result dicts from stdout], stderr)."""
    p = subprocess.run([ACMEVA, "submit"] + args, input=stdin, capture_output=True, text=True,
                       timeout=timeout)
    results = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    return p.returncode, results, p.stderr


def http_get(port, path):
    """(status, body) of a GET to a daemon's operations endpoint on 127.0.0.1:|port| (0 and the
    error when nothing answers)."""
    import urllib.error
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def run_policy(args, timeout=60):
    """Runs `acmeva policy`; returns (exit status, stdout, stderr)."""
    p = subprocess.run([ACMEVA, "policy"] + args, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


# ---- TLS (test_redis_tls.py, test_redis_acl.py) ----------------------------------------------
# Certificates are made with the openssl command (Debian's openssl package), independent of the
# BoringSSL the code under test uses, in a temporary directory of the test's own.

class TestPKI:
    """Test CAs and the certificates they sign, as PEM files under one directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="acmeva-pki-")
        self.serial = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def _run(self, args):
        p = subprocess.run(["openssl"] + args, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"openssl {args[0]}: {p.stderr}")

    def _key(self, name):
        self._run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                   "-out", self.path(name + ".key")])
        return self.path(name + ".key")

    def ca(self, name):
        """A self-signed CA: returns (cert, key) paths."""
        key = self._key(name)
        self._run(["req", "-x509", "-new", "-key", key, "-out", self.path(name + ".pem"),
                   "-days", "3650", "-subj", f"/CN=acmeva test {name}",
                   "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return self.path(name + ".pem"), key

    def leaf(self, name, ca, cn, sans=(), client=False, days=365):
        """A certificate of |cn| signed by |ca| (a pair from ca()): server certificates name
        |sans| ("DNS:localhost", "IP:127.0.0.1"); |days| -1 makes one that has expired.
        Returns (cert, key) paths."""
        key = self._key(name)
        csr = self.path(name + ".csr")
        self._run(["req", "-new", "-key", key, "-out", csr, "-subj", f"/CN={cn}"])
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            f.write(f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}\n")
            if sans:
                f.write("subjectAltName=" + ",".join(sans) + "\n")
        self.serial += 1
        self._run(["x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial",
                   str(1000 + self.serial), "-days", str(days), "-extfile", ext,
                   "-out", self.path(name + ".pem")])
        return self.path(name + ".pem"), key

    def cleanup(self):
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)


def tls_client_context(ca, cert=None, key=None):
    """The test's own TLS client context (Python's ssl module): trusts |ca|, presents |cert|."""
    import ssl
    ctx = ssl.create_default_context(cafile=ca)
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx


def tls_args(ca, cert=None, key=None):
    """The TLS options of acmeva's programs."""
    args = ["--redis-ca", ca]
    if cert is not None:
        args += ["--redis-cert", cert, "--redis-key", key]
    return args
