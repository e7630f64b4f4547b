"""TLS to Redis (DESIGN.md "Channel"): a real redis-server with TLS only (--port 0,
--tls-port, --tls-auth-clients yes) and certificates made here with the openssl command.

Cases: acmeva-worker over mutual TLS serves jobs; acmeva submit over TLS end to end (by DNS
name and by address); the server restarted: the worker reconnects; each failure of the channel
is refused with a clear log line and no result: no client certificate, a server certificate
of a CA not given in --redis-ca, a client certificate of a CA the server does not trust, an
expired client certificate, a server certificate that does not name the host (by name and by
address), an expired server certificate; once the server's certificate is fixed the same
worker gets through (reconnect with backoff); rediss:// to a plain port and redis:// to a TLS
port; unusable files at start (a key that does not match, a missing file) and TLS options with
a plain URL.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

cts = t.Challtestsrv()
c = t.Checks()
pki = t.TestPKI()
procs = []
srv = None


def http_job(jid, reply):
    name, tok = t.unique("tls"), t.new_token()
    cts.call("add-http01", {"token": tok, "content": t.key_authorization(tok)})
    return t.job(name, "http-01", tok, t.key_authorization(tok), job_id=jid, replyTo=reply)


def start_worker(url, perspective, tls, name):
    w = t.WorkerProc(["--redis", url, "--perspective", perspective, "--threads", "1"] + tls +
                     t.cts_engine_args(cts), name)
    procs.append(w)
    return w


def results(cl, reply):
    return {r["id"]: r for r in t.stream_results(cl, reply)}


def set_server_cert(cl, pair):
    """Rotates the server's certificate in place (docs/deploy-channel.md): new connections
    get it at once, the connections already open keep theirs."""
    cl.call("CONFIG", "SET", "tls-cert-file", pair[0], "tls-key-file", pair[1])


try:
    ca = pki.ca("ca")
    other_ca = pki.ca("other-ca")
    good = pki.leaf("server", ca, "redis", ["DNS:localhost", "IP:127.0.0.1"])
    mismatch = pki.leaf("server-mismatch", ca, "redis", ["DNS:redis.other.example",
                                                        "IP:192.0.2.1"])
    expired = pki.leaf("server-expired", ca, "redis", ["DNS:localhost", "IP:127.0.0.1"],
                       days=-1)
    client = pki.leaf("client", ca, "acmeva-p-tls", client=True)
    client_other = pki.leaf("client-other", other_ca, "acmeva-p-tls", client=True)
    client_expired = pki.leaf("client-expired", ca, "acmeva-p-tls", client=True, days=-1)

    srv = t.RedisServer(appendonly=True, tls=(good[0], good[1], ca[0]),
                        tls_client=t.tls_client_context(ca[0], *client))
    cl = srv.client()
    host_url = f"rediss://localhost:{srv.port}"
    ip_url = f"rediss://127.0.0.1:{srv.port}"
    mtls = t.tls_args(ca[0], *client)

    # ---- a worker over mutual TLS serves jobs --------------------------------------------
    reply = "acmeva:v1:results:tls-ok"
    w = start_worker(host_url, "tls", mtls, "tls-ok")
    c.ok(t.wait_group(cl, stream="acmeva:v1:jobs:tls"), "the worker reads over mTLS")
    jobs = [http_job(f"ok-{i}", reply) for i in range(20)]
    t.enqueue(cl, jobs, stream="acmeva:v1:jobs:tls")
    want = {j["id"] for j in jobs}
    c.ok(t.wait_until(lambda: want <= set(results(cl, reply)), 30), "every job answered over TLS")
    res = results(cl, reply)
    c.ok(all(res[i]["status"] == "valid" for i in want if i in res), "and every one is valid",
         [res[i].get("error") for i in want if i in res and res[i]["status"] != "valid"][:2])
    log = w.log()
    c.ok("info redis TLS " in log and "subject=\"/CN=acmeva-p-tls\"" in log,
         "the start names the client certificate", log[:1500])
    c.ok("plain redis://" not in log and "expires within" not in log,
         "no warning for a sound channel")
    clients = cl.call("CLIENT", "LIST").decode()
    c.ok(clients.count(":reader") >= 1 and clients.count(":writer") >= 1,
         "both connections of the thread are on the TLS port", clients)

    # ---- acmeva submit over TLS, end to end ---------------------------------------------
    for url in (host_url, ip_url):
        j = http_job(f"submit-{url[10:13]}", reply)
        j.pop("replyTo")
        rc, out, err = t.run_submit(["--redis", url, "--perspective", "tls", "--job", "-",
                                     "--wait", "--timeout-ms", "20000"] + mtls,
                                    stdin=json.dumps(j) + "\n")
        c.eq(rc, 0, f"submit --wait over TLS to {url}: exit 0")
        c.ok(len(out) == 1 and out[0].get("id") == j["id"] and out[0]["status"] == "valid",
             f"submit over TLS to {url} prints the result", out or err)

    # ---- the server restarted: the worker reconnects --------------------------------------
    srv.restart()
    cl = srv.client()
    # docs/worker.md "Redis lost": reconnects back off to at most RECONNECT_MAX_S.
    c.ok(t.wait_until(lambda: w.log().count("redis reconnected") >= 2,
                      t.RECONNECT_MAX_S + t.GRACE_S),
         "after a restart, both connections are back over TLS", w.log()[-800:])
    t.enqueue(cl, [http_job("after-restart", reply)], stream="acmeva:v1:jobs:tls")
    c.ok(t.wait_until(lambda: "after-restart" in results(cl, reply),
                      t.READ_BLOCK_S + t.GRACE_S + 10), "a job after the restart is answered")
    c.eq(w.stop(), 0, "the TLS worker stops with 0")

    # ---- each failure of the channel: a clear line, no result, and it keeps trying ---------
    def refused(case, url, tls, want, server=None, fixed_by=None):
        """A worker that cannot get through: |want| is in its error line, a retry is refused
        too, and its job is never read. With |server|, that certificate is on the server
        meanwhile; then |fixed_by| goes back and the same worker serves the job."""
        reply_to = f"acmeva:v1:results:tls-{case}"
        stream = f"acmeva:v1:jobs:tls-{case}"
        if server is not None:
            set_server_cert(cl, server)
        t.enqueue(cl, [http_job(f"{case}-1", reply_to)], stream=stream)
        w = start_worker(url, f"tls-{case}", tls, f"tls-{case}")
        # The first connect is made at start; the next attempt follows within the backoff.
        line = t.wait_until(lambda: next((x for x in w.log().splitlines()
                                          if "redis TLS handshake failed" in x and
                                          "failures=1" in x), None),
                            t.GRACE_S + t.RECONNECT_MAX_S)
        c.ok(line is not None and want in line, f"{case}: refused, and the log says why",
             line or w.log()[-1500:])
        c.ok(line is not None and " error " in line and "conn=reader" in w.log() and
             "conn=writer" in w.log(), f"{case}: an error line for each connection")
        c.eq(cl.call("XLEN", reply_to), 0, f"{case}: no result")
        c.ok(t.pending_count(cl, stream) == 0 and cl.call("XLEN", stream) == 1,
             f"{case}: the job was never read")
        c.ok(w.alive(), f"{case}: the worker keeps trying")
        if fixed_by is not None:
            set_server_cert(cl, fixed_by)
            ok = t.wait_until(lambda: f"{case}-1" in results(cl, reply_to),
                              t.RECONNECT_MAX_S + t.READ_BLOCK_S + t.GRACE_S + 10)
            c.ok(ok, f"{case}: once the server's certificate is fixed, the same worker gets "
                     "through and serves the job", w.log()[-800:])
        c.eq(w.stop(), 0, f"{case}: stops with 0")
        return w

    refused("noclient", host_url, ["--redis-ca", ca[0]],
            "TLS: the server requires a client certificate (--redis-cert, --redis-key)")
    refused("wrongca", host_url, t.tls_args(other_ca[0], *client),
            "TLS: the server's certificate is not signed by a CA trusted here (--redis-ca)")
    refused("clientca", host_url, t.tls_args(ca[0], *client_other),
            "TLS: the server does not trust our client certificate (alert unknown CA")
    wexp = refused("clientexpired", host_url, t.tls_args(ca[0], *client_expired),
                   "TLS: the server refused our client certificate as expired")
    c.ok("the client certificate has expired" in wexp.log(),
         "an expired client certificate is also warned about at start")
    refused("namemismatch", host_url, mtls,
            "TLS: the server's certificate does not name localhost, the host of the URL",
            server=mismatch, fixed_by=good)
    refused("ipmismatch", ip_url, mtls,
            "TLS: the server's certificate does not name 127.0.0.1, the host of the URL",
            server=mismatch, fixed_by=good)
    refused("expired", host_url, mtls, "TLS: the server's certificate has expired",
            server=expired, fixed_by=good)

    # ---- the CLI: one clear sentence and exit 2, no retry ---------------------------------
    line = json.dumps(http_job("never", "acmeva:v1:results:tls-never")) + "\n"
    for args, want, what in (
            ([host_url, "--redis-ca", ca[0]], "TLS: the server requires a client certificate",
             "no client certificate"),
            ([host_url] + t.tls_args(other_ca[0], *client), "not signed by a CA trusted here",
             "a server of another CA"),
            ([ip_url, "--redis-ca", ca[0], "--redis-cert", client[0], "--redis-key", good[1]],
             f"--redis-key {good[1]} does not match the certificate in --redis-cert", "a key "
             "that does not match the certificate"),
            ([host_url, "--redis-ca", pki.path("missing.pem")], "No such file or directory",
             "a CA file that does not exist"),
            ([host_url, "--redis-ca", client[1]], "no PEM certificate could be read",
             "a CA file with no certificate"),
            ([f"redis://127.0.0.1:{srv.port}"], "a TLS port? then use rediss://",
             "redis:// to a TLS port"),
            ([os.environ["ACMEVA_TEST_REDIS_URL"].replace("redis://", "rediss://")] + mtls,
             "TLS: no TLS answer from the server within the connect timeout (a plain port? "
             "then use redis://)", "rediss:// to a plain port"),
            ([f"redis://127.0.0.1:{srv.port}", "--redis-ca", ca[0]], "need a rediss:// URL",
             "TLS options with redis://")):
        t0 = time.time()
        rc, _, err = t.run_submit(["--redis", args[0], "--perspective", "tls-never", "--job",
                                   "-"] + args[1:], stdin=line)
        c.ok(rc == 2 and want in err, f"submit, {what}: exit 2 and why", (rc, err))
        # A CLI does not reconnect: it ends within its 5 s connect timeout (rclient.c).
        c.ok(time.time() - t0 < 5 + t.GRACE_S, f"submit, {what}: no retrying")
    c.eq(cl.call("XLEN", "acmeva:v1:jobs:tls-never"), 0, "nothing was enqueued by them")

    # The daemons refuse to start on unusable files, naming the file (exit 1).
    for binary, extra in ((t.WORKER, []), (t.COORDINATOR, ["--remote", "a:ARIN", "--remote",
                                                           "b:RIPE", "--min-remotes", "2"])):
        p = subprocess.run([binary, "--redis", host_url, "--redis-ca", ca[0], "--redis-cert",
                            client[0], "--redis-key", mismatch[1], "--threads", "1"] + extra,
                           capture_output=True, text=True, timeout=30)
        c.ok(p.returncode == 1 and "cannot start" in p.stderr and
             "does not match the certificate in --redis-cert" in p.stderr,
             f"{os.path.basename(binary)}: a key that does not match: cannot start", p.stderr)
        p = subprocess.run([binary, "--redis", f"redis://127.0.0.1:{srv.port}", "--redis-cert",
                            client[0]] + extra, capture_output=True, text=True, timeout=30)
        c.ok(p.returncode == 2 and "--redis-cert and --redis-key go together" in p.stderr,
             f"{os.path.basename(binary)}: a certificate without its key: usage error",
             p.stderr)
finally:
    for p in procs:
        p.cleanup()
    if srv is not None:
        srv.cleanup()
    pki.cleanup()
c.done()
