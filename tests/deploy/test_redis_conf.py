"""deploy/redis/production.conf and sentinel.conf, run by real Redis servers and Sentinels on
loopback, each failure they protect against made to happen.

The servers load production.conf unchanged (include) followed by what only a test changes:
loopback addresses and free ports, a data directory, test certificates (made here with the
openssl command) and a test ACL file with the replication and Sentinel users of
docs/deploy.md. Sentinels run a copy of sentinel.conf with the same
substitutions (Sentinel rewrites its file, so it cannot be included).

1. TLS only: a TLS client that verifies the server's certificate works; the plain-text port is
   closed and plain text on the TLS port gets nothing; the default user is off.
2. AOF: every write in the AOF (Redis reports its buffer written, within the 2 s that everysec
   may hold a write back) is there after the server is killed (SIGKILL) and restarted.
3. noeviction: when memory is full, writes are refused with OOM and nothing is evicted.
4. min-replicas-to-write: without a replica in sync the primary refuses writes (NOREPLICAS).
5. Sentinel: with a replica and three Sentinels, writes succeed; when the primary is killed,
   the Sentinels promote the replica within down-after-milliseconds and a few seconds, and the
   acknowledged writes are on the new primary.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

t = deploylib.t
REDIS = os.path.join(t.SOURCE, "deploy", "redis")
PRODUCTION = os.path.join(REDIS, "production.conf")
SENTINEL = os.path.join(REDIS, "sentinel.conf")
ADMIN_PW, REPLICA_PW, SENTINEL_PW = "admin-test-pw", "replica-test-pw", "sentinel-test-pw"
c = t.Checks()
tmp = tempfile.mkdtemp(prefix="acmeva-redis-conf-")
procs = []


def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"{argv[0]}: {p.stderr}")


def make_certs():
    """A CA, and a certificate for localhost and 127.0.0.1 signed by it."""
    ca_key, ca = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.crt")
    key, csr, crt = (os.path.join(tmp, n) for n in ("redis.key", "redis.csr", "redis.crt"))
    ext = os.path.join(tmp, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=acmeva test CA"])
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=localhost"])
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", crt, "-days", "2", "-extfile", ext])
    return ca, crt, key


CA, CRT, KEY = make_certs()
# The users replication and Sentinel log in as are docs/deploy.md's (step 2), with test
# passwords: the failover below shows that they allow enough.
DOC_USERS = {}
with open(os.path.join(t.SOURCE, "docs", "deploy.md")) as f:
    for line in f:
        m = re.match(r"^\s+user (replica|sentinel) (.*)$", line)
        if m:
            pw = REPLICA_PW if m.group(1) == "replica" else SENTINEL_PW
            DOC_USERS[m.group(1)] = f"user {m.group(1)} " + re.sub(r">\S+", ">" + pw, m.group(2))
c.eq(sorted(DOC_USERS), ["replica", "sentinel"],
     "docs/deploy.md gives the replica and sentinel users")
ACL = os.path.join(tmp, "users.acl")
with open(ACL, "w") as f:
    f.write(f"user default off\nuser admin on >{ADMIN_PW} ~* &* +@all\n" +
            "".join(u + "\n" for u in DOC_USERS.values()))
CTX = ssl.create_default_context(cafile=CA)


class TLSClient(t.RedisClient):
    """acmevatest's RESP client over TLS, verifying the server's certificate."""

    def __init__(self, port, user="admin", password=ADMIN_PW):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = CTX.wrap_socket(raw, server_hostname="localhost")
        self.buf = b""
        if password is not None:
            self.call("AUTH", user, password)


def start(args):
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    procs.append(p)
    return p


def wait_ping(port, timeout=10, **kw):
    def ok():
        try:
            cl = TLSClient(port, **kw)
            r = cl.call("PING")
            cl.close()
            return r == "PONG"
        except (OSError, t.RedisError):
            return False
    return t.wait_until(ok, timeout)


def server(name, port, extra=()):
    """redis-server with production.conf and the test's own addresses, files and ACL."""
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "redis.conf")
    with open(conf, "w") as f:
        f.write(f"include {PRODUCTION}\n"
                f"bind 127.0.0.1\n"
                f"tls-port {port}\n"
                f"tls-cert-file {CRT}\ntls-key-file {KEY}\ntls-ca-cert-file {CA}\n"
                f"aclfile {ACL}\n"
                f"masterauth {REPLICA_PW}\n"
                f"dir {d}\n"
                f"logfile {os.path.join(d, 'redis.log')}\n"
                f"daemonize no\n" + "".join(line + "\n" for line in extra))
    p = start(["redis-server", conf])
    if not wait_ping(port):
        with open(os.path.join(d, "redis.log")) as f:
            raise RuntimeError(f"redis {name} did not start: {f.read()[-2000:]}")
    return p


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def error_of(cl, *args):
    r = cl.pipeline([args])[0]
    return str(r) if isinstance(r, t.RedisError) else None


try:
    # ---- 1. TLS, ACL, and what production.conf sets ----------------------------------------------
    port = t.free_port()
    primary = server("single", port)
    cl = TLSClient(port)
    cfg = {}
    for k in ("port", "appendonly", "appendfsync", "maxmemory-policy", "tls-replication",
              "tls-auth-clients", "min-replicas-to-write", "min-replicas-max-lag",
              "aof-load-truncated", "protected-mode"):
        r = cl.call("CONFIG", "GET", k)
        cfg[k] = r[1].decode() if r else None
    c.eq(cfg, {"port": "0", "appendonly": "yes", "appendfsync": "everysec",
               "maxmemory-policy": "noeviction", "tls-replication": "yes",
               "tls-auth-clients": "optional", "min-replicas-to-write": "1",
               "min-replicas-max-lag": "10", "aof-load-truncated": "yes",
               "protected-mode": "yes"}, "production.conf's settings are in force")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        try:
            got = s.recv(100)
        except OSError:
            got = b""
    c.ok(b"PONG" not in got, "plain text on the TLS port gets no answer", got)
    try:
        bad = TLSClient(port, password=None)
        err = error_of(bad, "PING")
        bad.close()
    except OSError as e:
        err = str(e)
    c.ok(err and "NOAUTH" in err, "the default user is off: nothing without AUTH", err)

    # ---- 4. min-replicas-to-write: no replica, no write ------------------------------------------
    err = error_of(cl, "XADD", "acmeva:v1:jobs:test", "*", "job", "{}")
    c.ok(err and err.startswith("NOREPLICAS"), "without a replica in sync, writes are refused",
         err)
    cl.call("CONFIG", "SET", "min-replicas-to-write", "0")  # a single server from here on

    # ---- 2. AOF: acknowledged writes survive SIGKILL ---------------------------------------------
    n = 500
    replies = cl.pipeline([["XADD", "acmeva:v1:jobs:test", "*", "job", f'{{"n":{i}}}']
                           for i in range(n)])
    c.ok(all(not isinstance(r, t.RedisError) for r in replies), "the jobs were written")
    # With everysec, Redis may hold a write back while a slow fsync runs (up to 2 s): the
    # writes are safe from a crash of the process once its AOF buffer is empty (in the kernel).
    def aof_written():
        return re.search(rb"aof_buffer_length:0\r", cl.call("INFO", "persistence"))
    c.ok(t.wait_until(aof_written, 2 + 1 + t.GRACE_S),
         "the AOF buffer is written within 2 s and a fsync tick")
    cl.close()
    stop(primary, signal.SIGKILL)
    primary = server("single", port)
    cl = TLSClient(port)
    cl.call("CONFIG", "SET", "min-replicas-to-write", "0")
    c.eq(cl.call("XLEN", "acmeva:v1:jobs:test"), n,
         "every job acknowledged before Redis was killed is there after the restart (AOF)")

    # ---- 3. noeviction: full memory refuses writes, evicts nothing -------------------------------
    used = int(re.search(rb"used_memory:(\d+)", cl.call("INFO", "memory")).group(1))
    cl.call("CONFIG", "SET", "maxmemory", str(used + 2 * 1024 * 1024))
    big = "x" * 16384
    written, err = 0, None
    for i in range(1000):  # 16 MB of attempts for 2 MB of room
        err = error_of(cl, "XADD", "acmeva:v1:results", "*", "result", big)
        if err:
            break
        written += 1
    c.ok(err and err.startswith("OOM"), "a full Redis refuses writes with OOM", err)
    c.eq(cl.call("XLEN", "acmeva:v1:jobs:test"), n, "no job was evicted to make room")
    c.eq(cl.call("XLEN", "acmeva:v1:results"), written, "no result was evicted either")
    cl.close()
    stop(primary)

    # ---- 5. Sentinel: failover keeps the acknowledged writes -------------------------------------
    p1, p2 = t.free_port(), t.free_port()
    primary = server("primary", p1)
    replica = server("replica", p2, [f"replicaof 127.0.0.1 {p1}"])
    with open(SENTINEL) as f:
        text = f.read()
    down_ms = int(re.search(r"(?m)^sentinel down-after-milliseconds acmeva (\d+)", text).group(1))
    sentinels = []
    for i in range(3):
        sp = t.free_port()
        d = os.path.join(tmp, f"sentinel{i}")
        os.makedirs(d)
        conf = text
        for pattern, repl in ((r"(?m)^tls-port .*$", f"tls-port {sp}"),
                              (r"(?m)^tls-cert-file .*$", f"tls-cert-file {CRT}"),
                              (r"(?m)^tls-key-file .*$", f"tls-key-file {KEY}"),
                              (r"(?m)^tls-ca-cert-file .*$", f"tls-ca-cert-file {CA}"),
                              (r"(?m)^dir .*$", f"dir {d}"),
                              (r"(?m)^sentinel monitor acmeva \S+ \d+ (\d+)$",
                               rf"sentinel monitor acmeva 127.0.0.1 {p1} \1"),
                              (r"(?m)^sentinel auth-pass acmeva .*$",
                               f"sentinel auth-pass acmeva {SENTINEL_PW}")):
            conf, k = re.subn(pattern, repl, conf)
            c.eq(k, 1, f"sentinel.conf has one line for {pattern}")
        path = os.path.join(d, "sentinel.conf")
        with open(path, "w") as f:
            f.write(conf + f"bind 127.0.0.1\nlogfile {os.path.join(d, 'sentinel.log')}\n")
        start(["redis-server", path, "--sentinel"])
        sentinels.append(sp)
    for sp in sentinels:
        c.ok(wait_ping(sp, password=None), f"Sentinel on {sp} runs with sentinel.conf")

    def sentinel_call(sp, *args):
        s = TLSClient(sp, password=None)
        try:
            return s.call(*args)
        finally:
            s.close()

    def knows_all():
        try:
            return all(len(sentinel_call(sp, "SENTINEL", "REPLICAS", "acmeva")) == 1 and
                       len(sentinel_call(sp, "SENTINEL", "SENTINELS", "acmeva")) == 2
                       for sp in sentinels)
        except (OSError, t.RedisError):
            return False
    c.ok(t.wait_until(knows_all, 30), "the Sentinels found the replica and each other")
    cl = TLSClient(p1)
    c.ok(t.wait_until(lambda: error_of(cl, "XADD", "acmeva:v1:jobs:ha", "*", "job", "{}") is None,
                      10), "with a replica in sync, the primary takes writes")
    replies = cl.pipeline([["XADD", "acmeva:v1:jobs:ha", "*", "job", "{}"] for _ in range(99)])
    c.ok(all(not isinstance(r, t.RedisError) for r in replies), "100 jobs written")
    cl.call("WAIT", 1, 5000)  # acknowledged by the replica too
    cl.close()
    killed = time.monotonic()
    stop(primary, signal.SIGKILL)

    def promoted():
        try:
            addr = sentinel_call(sentinels[0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "acmeva")
            return addr and int(addr[1]) == p2
        except (OSError, t.RedisError):
            return False
    c.ok(t.wait_until(promoted, down_ms / 1000 + 15 + t.GRACE_S),
         "the Sentinels promote the replica when the primary dies")
    print(f"failover: {time.monotonic() - killed:.1f} s after the primary was killed "
          f"(down-after-milliseconds {down_ms})", flush=True)
    cl = TLSClient(p2)
    c.eq(cl.call("ROLE")[0], b"master", "the replica is the primary now")
    c.eq(cl.call("XLEN", "acmeva:v1:jobs:ha"), 100, "the acknowledged jobs are on it")
    cl.close()
finally:
    for p in procs:
        stop(p)
    shutil.rmtree(tmp, ignore_errors=True)
c.done()
