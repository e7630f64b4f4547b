"""acmeva-bench's end-to-end mode (bench/README.md), the harness of bench/tls-e2e.sh: through a
real redis-server with a plain and a TLS port, with the workers it starts on plain TCP and on
mutual TLS (--worker-redis, --worker-arg), against acmeva-responder on loopback. Every job must
be answered valid in both: the mode had stopped answering anything once workers required
replyTo under --reply-prefix. Then --mpic 2 (bench/mpic-e2e.sh's harness): the jobs go through
acmeva-coordinator to a primary and two remote perspectives, every one must come back valid, and
the report gives the coordinator's CPU apart from the workers' and the sum of every process.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

c = t.Checks()
BENCH = os.path.join(t.BUILD, "bench", "acmeva-bench")
N = 300
pki = t.TestPKI()
redis = None
http_port, dns_port, tls_port = t.free_port(), t.free_port(), t.free_port()
proc, line = t.bench_responder(http_port, dns_port)
try:
    c.ok("ready" in line, "responder started", line)
    ca = pki.ca("ca")
    server = pki.leaf("server", ca, "redis", ["DNS:localhost", "IP:127.0.0.1"])
    client = pki.leaf("client", ca, "bench", client=True)
    redis = t.RedisServer(extra=["--tls-port", str(tls_port), "--tls-cert-file", server[0],
                                 "--tls-key-file", server[1], "--tls-ca-cert-file", ca[0],
                                 "--tls-auth-clients", "yes"])
    for mode in ("plain", "tls"):
        log = os.path.join(pki.dir, f"worker-{mode}.log")
        extra = []
        if mode == "tls":
            extra = ["--worker-redis", f"rediss://localhost:{tls_port}"]
            for a in t.tls_args(ca[0], *client):
                extra += ["--worker-arg", a]
        # Each job's deadline bounds it; the run as a whole gets them all plus start and stop.
        b = t.subprocess.run([BENCH, "--allow-private-addresses", "--resolver",
                              f"127.0.0.1:{dns_port}", "--http-port", str(http_port), "--mode",
                              "e2e", "--redis", redis.url, "--workers", "1", "--worker-threads",
                              "1", "--worker-log", log, "--mix", "http-01", "-n", str(N), "-c",
                              "32", "--deadline-ms", "10000", "--json"] + extra,
                             capture_output=True, text=True, timeout=120)
        c.eq(b.returncode, 0, f"{mode}: every validation ended as expected")
        rep = json.loads(b.stdout.strip().splitlines()[-1]) if b.stdout.strip() else {}
        c.ok(rep.get("valid") == N, f"{mode}: {N} valid results came back",
             (rep.get("valid"), b.stderr[-500:]))
        with open(log) as f:
            wlog = f.read()
        if mode == "tls":
            c.ok('tls="TLSv1.3' in wlog and "client_cert=" in wlog,
                 "tls: the worker's connections were TLS with the client certificate",
                 wlog[:1200])
        else:
            c.ok("redis connected" in wlog and "tls=" not in wlog, "plain: no TLS", wlog[:800])
    log = os.path.join(pki.dir, "mpic.log")
    b = t.subprocess.run([BENCH, "--allow-private-addresses", "--resolver", f"127.0.0.1:{dns_port}",
                          "--http-port", str(http_port), "--mode", "e2e", "--redis", redis.url,
                          "--workers", "1", "--worker-threads", "1", "--worker-log", log,
                          "--mix", "dns-01", "-n", str(N), "-c", "16", "--deadline-ms", "10000",
                          "--mpic", "2", "--json"], capture_output=True, text=True, timeout=120)
    c.eq(b.returncode, 0, "mpic: every corroborated validation ended as expected")
    rep = json.loads(b.stdout.strip().splitlines()[-1]) if b.stdout.strip() else {}
    c.ok(rep.get("valid") == N and rep.get("mpicRemotes") == 2,
         f"mpic: {N} valid results came back through the coordinator", (rep, b.stderr[-500:]))
    cpu = rep.get("cpu", {})
    parts = [cpu.get(k, 0) for k in ("self_us_per_validation", "workers_us_per_validation",
                                     "coordinator_us_per_validation", "redis_us_per_validation")]
    c.ok(cpu.get("coordinator_us_per_validation", 0) > 0 and cpu.get("workers_us_per_validation", 0) > 0
         and abs(cpu.get("all_us_per_validation", 0) - sum(parts)) < 0.01 * sum(parts) + 0.1,
         "mpic: the coordinator's CPU apart, and all processes' as the sum", cpu)
    with open(log) as f:
        c.ok("acmeva-coordinator starting" in f.read(), "mpic: the coordinator ran")
finally:
    proc.terminate()
    proc.wait(10)
    proc.stdout.close()
    if redis is not None:
        redis.cleanup()
    pki.cleanup()
c.done()
