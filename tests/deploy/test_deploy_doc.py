"""docs/deploy.md says what the repository has and does.

1. Every repository path it names exists.
2. Every option it gives acmeva's commands is one their --help lists, or one of the DESIGN.md
   contract options the deployment kit assumes (test_k8s_manifests.py's ASSUMED); options of
   other tools are listed here by tool.
3. The Redis ACL users it adds for replication, Sentinel and KEDA load into a real
   redis-server and allow what they are for and nothing else: KEDA may read a jobs stream's
   group lag but not its jobs, the replica user may not read keys.
4. The figures it quotes are the ones measured: the systemd-analyze security scores of the
   units, and the descriptors the example worker needs.
"""

import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

t = deploylib.t
DOC = os.path.join(t.SOURCE, "docs", "deploy.md")
ASSUMED = set()  # every contract option the kit uses is in the daemons' --help now
OTHER_TOOLS = {
    "redis-cli": {"--tls", "--cacert", "--user", "--askpass"},
    "kubectl": {"--from-literal", "--from-file"},
    "docker": {"--build-arg", "--target"},
    "cmake": {"--build", "--install"},
    "systemctl": {"--now"},
    "deploy/install-deps.sh": {"--build-only"},
}
c = t.Checks()
with open(DOC) as f:
    doc = f.read()

# ---- 1. paths ------------------------------------------------------------------------------------
for p in sorted(set(re.findall(r"\b(?:deploy|docs|tests|proto)/[A-Za-z0-9_./@-]*", doc))):
    p = p.rstrip(".")
    last = p.rstrip("/").rsplit("/", 1)[-1]
    if p.endswith("/") or "." in last:  # a directory or a file; others are kubectl's deploy/NAME
        c.ok(os.path.exists(os.path.join(t.SOURCE, p)), f"docs/deploy.md names {p}: it exists")

# ---- 2. options ----------------------------------------------------------------------------------
known = set(ASSUMED) | {"--help"}
for argv in ([t.WORKER, "--help"], [t.COORDINATOR, "--help"], [t.ACMEVA, "check", "--help"],
             [t.ACMEVA, "submit", "--help"]):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    known |= set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", p.stdout + p.stderr))
c.ok("--require-dnssec-resolver" in known and "--mpic" in known, "the commands' options were read")
other = set().union(*OTHER_TOOLS.values())
for opt in sorted(set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", doc))):
    c.ok(opt in known or opt in other, f"docs/deploy.md: {opt} is a known option")
with open(os.path.join(t.SOURCE, "deploy", "install-deps.sh")) as f:
    c.ok("--build-only" in f.read(), "install-deps.sh takes --build-only")

# ---- 3. the ACL users ----------------------------------------------------------------------------
acl = [line.strip() for line in doc.splitlines() if re.match(r"^\s+user (replica|sentinel|keda) ",
                                                               line)]
c.eq(len(acl), 3, "the doc adds the replica, sentinel and keda users")
redis = t.RedisServer()
try:
    admin = redis.client()
    for line in acl:
        words = shlex.split(line)
        r = admin.pipeline([["ACL", "SETUSER"] + words[1:]])[0]
        c.ok(not isinstance(r, t.RedisError), f"ACL SETUSER {words[1]} loads", r)
    admin.call("XADD", "acmeva:v1:jobs:p1", "*", "job", "{}")
    admin.call("XGROUP", "CREATE", "acmeva:v1:jobs:p1", "acmeva", "0")
    pw = {shlex.split(line)[1]: next(w[1:] for w in shlex.split(line) if w.startswith(">"))
          for line in acl}

    def as_user(user, *args):
        cl = redis.client(user=user, password=pw[user])
        try:
            r = cl.pipeline([args])[0]
        finally:
            cl.close()
        return r

    r = as_user("keda", "XINFO", "GROUPS", "acmeva:v1:jobs:p1")
    c.ok(isinstance(r, list) and len(r) == 1, "keda reads the group's lag", r)
    for args in (("XRANGE", "acmeva:v1:jobs:p1", "-", "+"), ("XADD", "acmeva:v1:jobs:p1", "*",
                                                              "job", "{}"),
                 ("XINFO", "GROUPS", "acmeva:v1:results")):
        r = as_user("keda", *args)
        c.ok(isinstance(r, t.RedisError) and "NOPERM" in str(r), f"keda may not {args[0]} "
             f"{args[2] if args[0] == 'XINFO' else args[1]}", r)
    r = as_user("replica", "XRANGE", "acmeva:v1:jobs:p1", "-", "+")
    c.ok(isinstance(r, t.RedisError) and "NOPERM" in str(r), "the replica user reads no keys", r)
    r = as_user("sentinel", "INFO", "replication")
    c.ok(isinstance(r, bytes) and b"role:" in r, "the sentinel user reads INFO", r)
finally:
    redis.cleanup()

# ---- 4. the figures ------------------------------------------------------------------------------
units = os.path.join(t.SOURCE, "deploy", "systemd")
for unit, name in (("acmeva-worker@.service", "acmeva-worker@primary.service"),
                   ("acmeva-coordinator.service", "acmeva-coordinator.service")):
    p = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                        os.path.join(units, unit)], capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", p.stdout)
    score = m.group(1) if m else "?"
    c.ok(re.search(rf"systemd-analyze security {re.escape(name)} \| tail -1\s+# {score} OK", doc),
         f"the doc gives {unit}'s measured score {score}")
env = deploylib.read_env(os.path.join(units, "worker.env.example"))
opts = shlex.split(env["ACMEVA_WORKER_OPTS"])
threads = int(opts[opts.index("--threads") + 1])
inflight = int(opts[opts.index("--max-inflight") + 1])
need = 64 + threads * (3 * inflight + 8)
c.ok(f"example's {threads} threads of {inflight} need {need}" in doc,
     f"the doc gives the example's descriptor figure ({need})")
c.done()
