"""deploy/redis/ in a real Redis 7: redis.conf (TLS only, client certificates) and users.acl,
with the passwords set the way deploy/redis/README.md says, and one perspective added with
the README's one-line template.

Cases: the shipped file loads and every user is locked until its password is set; a
perspective's user gets NOPERM on another perspective's jobs stream, on XADD to any jobs stream
(its own too), on creating its group and on the CA core's results stream; the CA core's and the
coordinator's users are refused what is not theirs; every daemon's user may read the operator's
policy (HGETALL, SUBSCRIBE to its channel) but not change it, and only acmeva-operator (and the
admin) may, with `acmeva policy`; and the whole MPIC path runs as these users only (acmeva submit --mpic --wait as the CA core, acmeva-coordinator, a primary and two
remote workers over mutual TLS), with no command of acmeva refused: the workers read groups they
could not create, the coordinator keeps its reply stream alive (EXPIRE) and deletes it at stop.
"""

import hashlib
import json
import os
import re
import secrets
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

DEPLOY = os.path.join(t.SOURCE, "deploy", "redis")
cts = t.Challtestsrv()
c = t.Checks()
pki = t.TestPKI()
procs = []
srv = None
NAMES = ["primary", "us-west", "eu-central", "tst"]
RIRS = {"primary": "ARIN", "us-west": "ARIN", "eu-central": "RIPE", "tst": "APNIC"}
ZERO = "0" * 64


def sha(pw):
    return hashlib.sha256(pw.encode()).hexdigest()


def set_password(acl, user, pw):
    """deploy/redis/README.md "Passwords": the user's SHA-256 in place of its lock."""
    out, n = re.subn(rf"^user {re.escape(user)} on #[0-9a-f]{{64}}",
                     f"user {user} on #{sha(pw)}", acl, flags=re.M)
    if n != 1:
        raise RuntimeError(f"no line for {user}")
    return out


def noperm(cl, *cmd):
    try:
        cl.call(*cmd)
        return False
    except t.RedisError as e:
        return str(e).startswith("NOPERM")


def allowed(cl, *cmd):
    try:
        cl.call(*cmd)
        return True
    except t.RedisError as e:
        return not str(e).startswith("NOPERM")


try:
    with open(os.path.join(DEPLOY, "users.acl")) as f:
        shipped = f.read()
    with open(os.path.join(DEPLOY, "README.md")) as f:
        readme = f.read()
    c.ok(all(line.startswith("user ") for line in shipped.splitlines() if line.strip()),
         "users.acl has no comment line (Redis 7.0 refuses them)")
    c.ok(all(f"#{ZERO}" in line or " off " in line for line in shipped.splitlines()
             if line.strip()), "every shipped user is locked or off")
    # The README's template for adding a perspective, with NAME replaced: one line.
    template = next(x for x in readme.splitlines()
                    if x.startswith("user acmeva-p-NAME on #" + ZERO))
    acl = shipped.rstrip("\n") + "\n" + template.replace("NAME", "tst") + "\n"
    pw = {u: secrets.token_hex(16) for u in ["acmeva-admin", "acmeva-operator", "acmeva-ca",
                                             "acmeva-coordinator"] +
          [f"acmeva-p-{n}" for n in NAMES]}
    for u, p in pw.items():
        acl = set_password(acl, u, p)
    acl_path = pki.path("users.acl")
    with open(acl_path, "w") as f:
        f.write(acl)

    ca = pki.ca("ca")
    server = pki.leaf("server", ca, "redis", ["DNS:localhost", "IP:127.0.0.1"])
    client = pki.leaf("client", ca, "acmeva-client", client=True)
    tls = t.tls_args(ca[0], *client)
    # redis.conf as shipped; the arguments only move files and the port onto the test's own.
    srv = t.RedisServer(config=os.path.join(DEPLOY, "redis.conf"), appendonly=True,
                        tls=(server[0], server[1], ca[0]),
                        tls_client=t.tls_client_context(ca[0], *client),
                        extra=["--aclfile", acl_path], user="acmeva-admin",
                        password=pw["acmeva-admin"])
    admin = srv.client()
    c.eq(admin.call("CONFIG", "GET", "port")[1], b"0", "redis.conf: no plain TCP port")
    c.eq(admin.call("CONFIG", "GET", "tls-auth-clients")[1], b"yes",
         "redis.conf: client certificates required")
    c.eq(admin.call("CONFIG", "GET", "maxmemory-policy")[1], b"noeviction",
         "redis.conf: streams are never evicted")
    users = [u.decode() for u in admin.call("ACL", "USERS")]
    c.ok({"default", "acmeva-ca", "acmeva-coordinator", "acmeva-p-af-south",
          "acmeva-p-tst"} <= set(users), "users.acl and the added line are loaded", users)

    def login(user):
        return t.RedisClient(srv.port, user=user, password=pw[user], tls=srv.tls_client)

    # Locked users and the default user cannot log in.
    for user, p in (("acmeva-p-af-south", "anything"), ("acmeva-p-af-south", ""),
                    ("default", "x")):
        try:
            t.RedisClient(srv.port, user=user, password=p, tls=srv.tls_client)
            c.ok(False, f"{user}: locked")
        except t.RedisError as e:
            c.ok("WRONGPASS" in str(e), f"{user}: locked", str(e))
    anon = t.RedisClient(srv.port, tls=srv.tls_client)
    try:
        anon.call("XLEN", "acmeva:v1:jobs:us-west")
        c.ok(False, "without logging in, nothing is allowed")
    except t.RedisError as e:
        c.ok(str(e).startswith("NOAUTH"), "without logging in, nothing is allowed", str(e))
    anon.close()

    # Groups of the perspectives, created once by the admin (README "Adding a perspective").
    for n in NAMES:
        admin.call("XGROUP", "CREATE", f"acmeva:v1:jobs:{n}", "acmeva", "0", "MKSTREAM")

    # ---- what a perspective's user is refused -------------------------------------------------
    p = login("acmeva-p-us-west")
    c.ok(noperm(p, "XREADGROUP", "GROUP", "acmeva", "x", "COUNT", "1", "STREAMS",
                "acmeva:v1:jobs:eu-central", ">"), "perspective: NOPERM on another's jobs")
    c.ok(noperm(p, "XPENDING", "acmeva:v1:jobs:eu-central", "acmeva"),
         "perspective: NOPERM on another's pending list")
    c.ok(noperm(p, "XADD", "acmeva:v1:jobs:eu-central", "*", "job", "{}"),
         "perspective: NOPERM on XADD to another's jobs stream")
    c.ok(noperm(p, "XADD", "acmeva:v1:jobs:us-west", "*", "job", "{}"),
         "perspective: NOPERM on XADD to its own jobs stream")
    c.ok(noperm(p, "XADD", "acmeva:v1:mpic", "*", "job", "{}"), "perspective: NOPERM on XADD "
         "of MPIC jobs")
    c.ok(noperm(p, "XADD", "acmeva:v1:results", "*", "result", "{}"),
         "perspective: NOPERM on the CA core's results stream")
    c.ok(noperm(p, "XGROUP", "CREATE", "acmeva:v1:jobs:us-west", "g2", "0"),
         "perspective: NOPERM on creating a group")
    c.ok(noperm(p, "XREAD", "STREAMS", "acmeva:v1:results:mpic:x", "0"),
         "perspective: NOPERM on reading reply streams")
    c.ok(noperm(p, "KEYS", "*") and noperm(p, "CONFIG", "GET", "port"),
         "perspective: NOPERM on anything else")
    c.ok(allowed(p, "XPENDING", "acmeva:v1:jobs:us-west", "acmeva"),
         "perspective: its own pending list is allowed")
    p.close()

    # ---- the operator's policy: every daemon reads it, only the operator changes it -----------
    def subscribes(user, channel):
        cl = login(user)
        try:
            r = cl.call("SUBSCRIBE", channel)
            return isinstance(r, list) and r[0] == b"subscribe"
        except t.RedisError:
            return False
        finally:
            cl.close()

    for user in ("acmeva-p-us-west", "acmeva-p-tst", "acmeva-coordinator"):
        d = login(user)
        c.ok(allowed(d, "HGETALL", "acmeva:v1:policy") and allowed(d, "EXISTS", "acmeva:v1:policy"),
             f"{user}: reads the policy")
        c.ok(noperm(d, "HSET", "acmeva:v1:policy", "disable:http-01", "x") and
             noperm(d, "HDEL", "acmeva:v1:policy", "disable:http-01") and
             noperm(d, "HINCRBY", "acmeva:v1:policy", "version", "1") and
             noperm(d, "DEL", "acmeva:v1:policy") and
             noperm(d, "PUBLISH", "acmeva:v1:policy", "x"),
             f"{user}: NOPERM on changing the policy or publishing on its channel")
        d.close()
        c.ok(subscribes(user, "acmeva:v1:policy"), f"{user}: subscribes to the policy channel")
        c.ok(not subscribes(user, "other"), f"{user}: no other channel")
    op = login("acmeva-operator")
    c.ok(noperm(op, "XADD", "acmeva:v1:jobs:us-west", "*", "job", "{}") and
         noperm(op, "XRANGE", "acmeva:v1:results", "-", "+") and
         noperm(op, "HSET", "other", "a", "b") and noperm(op, "PUBLISH", "other", "x"),
         "operator: NOPERM on everything but the policy")
    op.close()

    ca_cl = login("acmeva-ca")
    c.ok(noperm(ca_cl, "XADD", "acmeva:v1:jobs:us-west", "*", "job", "{}"),
         "CA core: NOPERM on XADD to a jobs stream (every job goes through the coordinator)")
    c.ok(noperm(ca_cl, "XADD", "acmeva:v1:results:mpic:x", "*", "result", "{}"),
         "CA core: NOPERM on the coordinator's reply streams")
    c.ok(noperm(ca_cl, "XRANGE", "acmeva:v1:jobs:us-west", "-", "+"),
         "CA core: NOPERM on reading jobs")
    ca_cl.close()
    co = login("acmeva-coordinator")
    c.ok(noperm(co, "XREADGROUP", "GROUP", "acmeva", "x", "COUNT", "1", "STREAMS",
                "acmeva:v1:jobs:us-west", ">"), "coordinator: NOPERM on consuming a jobs stream")
    c.ok(noperm(co, "XADD", "acmeva:v1:mpic", "*", "job", "{}"),
         "coordinator: NOPERM on XADD of MPIC jobs")
    c.ok(noperm(co, "XREAD", "STREAMS", "acmeva:v1:results", "0"),
         "coordinator: NOPERM on reading the CA core's results")
    co.close()

    # ---- the whole MPIC path as these users ---------------------------------------------------
    def url(user):
        return f"rediss://{user}:{pw[user]}@localhost:{srv.port}"

    workers = {}
    for n in NAMES[:3]:
        w = t.WorkerProc(["--redis", url(f"acmeva-p-{n}"), "--perspective", n, "--rir", RIRS[n],
                          "--threads", "1"] + tls + t.cts_engine_args(cts), f"acl-{n}")
        procs.append(w)
        workers[n] = w
    for n, w in workers.items():
        c.ok(t.wait_group(admin, stream=f"acmeva:v1:jobs:{n}"), f"{n} reads as its user")
        c.ok(t.wait_until(lambda: "policy read" in w.log(), t.GRACE_S),
             f"{n} reads the operator's policy as its user", w.log()[-1500:])
        c.ok(t.wait_until(lambda: "not allowed to create the consumer group" in w.log(),
                          t.GRACE_S), f"{n}: the refused XGROUP CREATE is not fatal")
    coord = t.WorkerProc(["--redis", url("acmeva-coordinator"), "--threads", "1",
                          "--remote", "us-west:ARIN", "--remote", "eu-central:RIPE",
                          "--min-remotes", "2", "--slow-remote-ms", "500"] + tls, "acl-coord",
                         binary=t.COORDINATOR)
    procs.append(coord)
    c.ok(t.wait_group(admin, stream="acmeva:v1:mpic", group="acmeva-coordinator"),
         "the coordinator reads as its user")
    name, tok = t.unique("acl"), t.new_token()
    cts.call("add-http01", {"token": tok, "content": t.key_authorization(tok)})
    j = t.job(name, "http-01", tok, t.key_authorization(tok), job_id="acl-mpic")
    rc, out, err = t.run_submit(["--redis", url("acmeva-ca"), "--mpic", "--job", "-", "--wait",
                                 "--timeout-ms", "30000"] + tls, stdin=json.dumps(j) + "\n")
    c.eq(rc, 0, "acmeva submit --mpic --wait as the CA core: exit 0")
    r = out[0] if out else {}
    c.ok(r.get("status") == "valid" and r.get("mpic", {}).get("quorum") == "2/2",
         "corroborated by both remotes, through least-privilege users only", out or err)

    # `acmeva policy` changes the policy as acmeva-operator, and as nobody else.
    rc, out, err = t.run_policy(["--redis", url("acmeva-p-us-west"), "disable", "dns-01",
                                 "--reason", "acl test"] + tls)
    c.ok(rc == 2 and "NOPERM" in err, "acmeva policy as a perspective's user: refused", (rc, err))
    rc, out, err = t.run_policy(["--redis", url("acmeva-operator"), "disable", "dns-01",
                                 "--reason", "acl test"] + tls)
    c.ok(rc == 0 and "dns-01 disabled" in out, "acmeva policy disable as acmeva-operator",
         (rc, out, err))
    c.ok(t.wait_until(lambda: all("dns-01 disabled: acl test" in w.log()
                                  for w in list(workers.values()) + [coord]), t.GRACE_S),
         "every daemon applied it, reading as its own user")
    rc, out, err = t.run_policy(["--redis", url("acmeva-operator"), "enable", "dns-01"] + tls)
    c.ok(rc == 0 and "dns-01 enabled again" in out, "acmeva policy enable as acmeva-operator",
         (rc, out, err))
    rc, out, err = t.run_policy(["--redis", url("acmeva-operator"), "show"] + tls)
    c.ok(rc == 0 and "dns-01           enabled" in out, "acmeva policy show as acmeva-operator",
         (rc, out, err))

    # The added perspective serves its own jobs (sub-jobs as the coordinator would send them).
    wt = t.WorkerProc(["--redis", url("acmeva-p-tst"), "--perspective", "tst", "--rir", "APNIC",
                       "--threads", "1"] + tls + t.cts_engine_args(cts), "acl-tst")
    procs.append(wt)
    co = login("acmeva-coordinator")
    reply = "acmeva:v1:results:mpic:acl-test"
    jobs = []
    for i in range(5):
        name, tok = t.unique("acl"), t.new_token()
        cts.call("add-http01", {"token": tok, "content": t.key_authorization(tok)})
        jobs.append(t.job(name, "http-01", tok, t.key_authorization(tok), job_id=f"tst-{i}",
                          replyTo=reply))
    t.enqueue(co, jobs, stream="acmeva:v1:jobs:tst")
    want = {x["id"] for x in jobs}
    got = t.wait_until(lambda: want <= {x["id"] for x in t.stream_results(admin, reply)}, 30)
    c.ok(got, "the added perspective serves its own jobs as its user")
    c.ok(all(x["status"] == "valid" for x in t.stream_results(admin, reply)), "all valid")
    co.close()

    # The coordinator's upkeep (EXPIRE every 5 s) and its clean stop (DEL, DELCONSUMER).
    streams = [k.decode() for k in admin.call("KEYS", "acmeva:v1:results:mpic:*")
               if k.decode() != reply]
    c.ok(len(streams) == 1, "one reply stream of the coordinator", streams)
    c.ok(t.wait_until(lambda: streams and admin.call("TTL", streams[0]) > 0, 5 + t.GRACE_S),
         "the coordinator's reply stream has a time to live (EXPIRE allowed)")
    c.eq(coord.stop(), 0, "coordinator: exit 0")
    c.eq(admin.call("EXISTS", streams[0]) if streams else -1, 0,
         "its reply stream is deleted at stop (DEL allowed)")
    for w in list(workers.values()) + [wt]:
        c.eq(w.stop(), 0, "worker: exit 0")
    for p in procs:
        log = p.log()
        c.ok("NOPERM" not in log and "refused" not in log and "could not post" not in log,
             "no command of acmeva was refused", log[-1200:])
    consumers = sum(len(admin.call("XINFO", "CONSUMERS", f"acmeva:v1:jobs:{n}", "acmeva"))
                    for n in NAMES)
    c.eq(consumers, 0, "the workers removed their consumers at stop (DELCONSUMER allowed)")
finally:
    for p in procs:
        p.cleanup()
    if srv is not None:
        srv.cleanup()
    pki.cleanup()
c.done()
