"""deploy/systemd/: the units are valid, sandboxed, and the daemons run inside their sandbox.

1. `systemd-analyze verify` accepts both units. It checks that ExecStart='s program exists,
   so it reads copies whose /usr/local/bin/ is this build's directory (nothing else changed).
2. `systemd-analyze security --offline=true` rates each unit 2.0 or better (lower is safer);
   the scores are printed.
3. The sandbox has what DESIGN.md and the BRs ask of a validation service (DynamicUser,
   ProtectSystem=strict, no capabilities, the three address families, W^X, a syscall filter),
   every ${VAR} of ExecStart= is set by the example environment file, and LimitNOFILE= covers
   the descriptors acmeva-worker needs for the example's --threads and --max-inflight
   (docs/worker.md "This machine out of resources": 64 + threads x (3 x max-inflight + 8)).
4. No systemd runs here, so the daemons are run under the units' own syscall filter (each
   SystemCallFilter= line, expanded with `systemd-analyze syscall-filter`), address families
   (RestrictAddressFamilies=) and MemoryDenyWriteExecute=, applied with libseccomp (Debian
   python3-seccomp) as systemd applies them: acmeva-worker validates an http-01 job from Redis
   against pebble-challtestsrv and stops cleanly on SIGTERM; acmeva-coordinator starts and
   stops cleanly; a probe under the same filter is refused what the units forbid.
   The options the units pass that this build does not have yet (--metrics-listen,
   --audit-log, --signing-key, --redis-ca, from DESIGN.md "Operations" and "Channel") are
   not used in this run; only the sandbox is.
"""

import errno
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

deploylib.need_debian_modules("seccomp")
import seccomp  # noqa: E402

t = deploylib.t
UNITS = os.path.join(t.SOURCE, "deploy", "systemd")
WORKER_UNIT = os.path.join(UNITS, "acmeva-worker@.service")
COORD_UNIT = os.path.join(UNITS, "acmeva-coordinator.service")
MAX_EXPOSURE = 2.0
c = t.Checks()
tmp = tempfile.mkdtemp(prefix="acmeva-systemd-")


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


# ---- 1. systemd-analyze verify ------------------------------------------------------------------
for src in (WORKER_UNIT, COORD_UNIT):
    with open(src) as f:
        text = f.read()
    c.ok("/usr/local/bin/" in text, f"{os.path.basename(src)} runs the installed program")
    dst = os.path.join(tmp, os.path.basename(src))
    with open(dst, "w") as f:
        f.write(text.replace("/usr/local/bin/", t.BUILD.rstrip("/") + "/"))
    p = run(["systemd-analyze", "verify", dst])
    c.ok(p.returncode == 0 and not p.stderr.strip() and not p.stdout.strip(),
         f"systemd-analyze verify {os.path.basename(src)} is clean", p.stderr + p.stdout)

# ---- 2. systemd-analyze security ----------------------------------------------------------------
for src in (WORKER_UNIT, COORD_UNIT):
    p = run(["systemd-analyze", "security", "--offline=true", "--no-pager",
             f"--threshold={int(MAX_EXPOSURE * 10)}", src])
    m = re.search(r"Overall exposure level for (\S+): (\d+\.\d+)", p.stdout)
    c.ok(m is not None, f"systemd-analyze security rates {os.path.basename(src)}", p.stdout[-500:])
    if m:
        print(f"systemd-analyze security: {m.group(1)}: {m.group(2)}", flush=True)
        c.ok(float(m.group(2)) <= MAX_EXPOSURE, f"{m.group(1)} rates {MAX_EXPOSURE} or better",
             m.group(2))
    c.eq(p.returncode, 0, f"systemd-analyze security --threshold passes for {src}")

# ---- 3. what the sandbox must hold ---------------------------------------------------------------
REQUIRED = {
    "DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
    "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
    "RestrictNamespaces": "yes", "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures":
    "native", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
}
units = {p: deploylib.read_unit(p) for p in (WORKER_UNIT, COORD_UNIT)}
for path, unit in units.items():
    name = os.path.basename(path)
    for key, want in REQUIRED.items():
        c.eq(deploylib.unit_values(unit, "Service", key), [want], f"{name}: {key}={want}")
    filters = deploylib.unit_values(unit, "Service", "SystemCallFilter")
    c.ok(filters and filters[0] == "@system-service", f"{name}: a @system-service allow list")

worker = units[WORKER_UNIT]
env_example = deploylib.read_env(os.path.join(UNITS, "worker.env.example"))
c.eq(deploylib.unit_values(worker, "Service", "EnvironmentFile"), ["/etc/acmeva/worker-%i.env"],
     "one environment file per instance")
for path, env_name in ((WORKER_UNIT, "worker.env.example"),
                       (COORD_UNIT, "coordinator.env.example")):
    env = deploylib.read_env(os.path.join(UNITS, env_name))
    start = " ".join(deploylib.unit_values(units[path], "Service", "ExecStart"))
    used = set(re.findall(r"\$\{?([A-Z_]+)\}?", start))
    c.ok(used and used <= set(env), f"{env_name} sets every variable ExecStart= uses",
         sorted(used - set(env)))
    c.ok("ACMEVA_REDIS_URL" in env and "ACMEVA_REDIS_URL" not in start,
         f"{env_name}: the Redis URL (a secret) comes from the environment, not the command line")
opts = shlex.split(env_example["ACMEVA_WORKER_OPTS"])
threads = int(opts[opts.index("--threads") + 1])
inflight = int(opts[opts.index("--max-inflight") + 1])
need = 64 + threads * (3 * inflight + 8)
nofile = int(deploylib.unit_values(worker, "Service", "LimitNOFILE")[0])
c.ok(nofile >= need, f"LimitNOFILE={nofile} covers {threads} threads x {inflight} in flight",
     need)
c.ok("--require-dnssec-resolver" in opts and "127.0.0.1:53" in opts,
     "the example worker asks its own validating resolver and requires DNSSEC")


# ---- 4. the daemons inside the units' seccomp sandbox -------------------------------------------
def syscall_groups():
    """{"@group": [entries]} from systemd-analyze syscall-filter (groups nest)."""
    p = run(["systemd-analyze", "syscall-filter", "--no-pager"])
    groups, cur = {}, None
    for line in p.stdout.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.strip(), [])
        elif cur is not None and line.strip() and not line.strip().startswith("#"):
            cur.append(line.strip())
    return groups


GROUPS = syscall_groups()


def expand(names, seen=None):
    out = set()
    seen = seen if seen is not None else set()
    for n in names:
        if n.startswith("@"):
            if n not in seen:
                seen.add(n)
                out |= expand(GROUPS.get(n, []), seen)
        else:
            out.add(n)
    return out


def allowed_syscalls(unit):
    """The allow list SystemCallFilter= lines make, in systemd's order: the first line sets
    an allow list, later "~" lines take from it, later plain lines add to it."""
    allow = None
    for line in deploylib.unit_values(unit, "Service", "SystemCallFilter"):
        if line.startswith("~"):
            allow = (allow or set()) - expand(line[1:].split())
        else:
            allow = (allow or set()) | expand(line.split())
    return allow or set()


FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10}
PROT_WRITE, PROT_EXEC = 0x2, 0x4


def sandbox(unit):
    """A preexec_fn that loads |unit|'s filter into the child before it runs the program."""
    allow = allowed_syscalls(unit)
    errno_name = (deploylib.unit_values(unit, "Service", "SystemCallErrorNumber") or ["EPERM"])[0]
    families = deploylib.unit_values(unit, "Service", "RestrictAddressFamilies")[0].split()
    wx = deploylib.unit_values(unit, "Service", "MemoryDenyWriteExecute") == ["yes"]

    def load():
        f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(getattr(errno, errno_name)))
        for name in sorted(allow):
            if name == "socket" or (wx and name in ("mmap", "mprotect", "pkey_mprotect")):
                continue
            try:
                f.add_rule(seccomp.ALLOW, name)
            except (RuntimeError, ValueError):
                pass  # not a system call of this architecture
        if "socket" in allow:
            for fam in families:
                f.add_rule(seccomp.ALLOW, "socket", seccomp.Arg(0, seccomp.EQ, FAMILIES[fam]))
        if wx:  # every protection but writable and executable at once
            for name in ("mmap", "mprotect", "pkey_mprotect"):
                if name in allow:
                    for prot in (0, PROT_WRITE, PROT_EXEC):
                        f.add_rule(seccomp.ALLOW, name,
                                   seccomp.Arg(2, seccomp.MASKED_EQ, PROT_WRITE | PROT_EXEC, prot))
        f.load()
    return load


cts = t.Challtestsrv()
redis = t.RedisServer()
child_env = dict(os.environ)
# LeakSanitizer stops the process with ptrace at exit, which @debug forbids in the sandbox:
# leaks are checked by every other test of the sanitizer build.
child_env["ASAN_OPTIONS"] = child_env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
try:
    probe = subprocess.run(
        [sys.executable, "-c", """
import mmap, socket, sys
out = []
for fam in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX, socket.AF_NETLINK, socket.AF_PACKET):
    try:
        kind = socket.SOCK_RAW if fam == socket.AF_PACKET else socket.SOCK_DGRAM
        socket.socket(fam, kind).close()
        out.append("ok")
    except OSError:
        out.append("refused")
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    out.append("ok")
except OSError:
    out.append("refused")
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    out.append("ok")
except OSError:
    out.append("refused")
import os
try:
    os.setpriority(os.PRIO_PROCESS, 0, 5)
    out.append("ok")
except OSError:
    out.append("refused")
print(" ".join(out))
"""], capture_output=True, text=True, timeout=60, preexec_fn=sandbox(worker))
    c.eq(probe.stdout.split(), ["ok", "ok", "ok", "refused", "refused", "refused", "ok",
                                "refused"],
         "the sandbox allows inet, inet6 and unix sockets, refuses netlink, packet sockets, "
         "writable+executable memory and a change of priority (@resources)")

    tok = t.new_token()
    ka = t.key_authorization(tok)
    ident = t.unique("sandbox")
    cts.call("add-http01", {"token": tok, "content": ka})
    job = t.job(ident, "http-01", tok, ka, job_id="sandbox-job")
    args = ["--redis", redis.url, "--threads", "2", "--perspective", "sandbox",
            *t.cts_engine_args(cts)]
    w = subprocess.Popen([t.WORKER] + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, env=child_env,
                         preexec_fn=sandbox(worker))
    cl = redis.client()
    stream = t.JOBS_STREAM.replace("default", "sandbox")
    c.ok(t.wait_group(cl, stream, consumers=2), "the sandboxed worker joined the group")
    t.enqueue(cl, [job], stream)
    res = t.wait_until(lambda: t.stream_results(cl), t.READ_BLOCK_S + 30 + t.GRACE_S)
    c.ok(res and res[0].get("status") == "valid",
         "acmeva-worker validates an http-01 job inside the worker unit's sandbox", res)
    w.send_signal(signal.SIGTERM)
    try:
        _, err = w.communicate(timeout=10 + t.GRACE_S)  # --grace-ms defaults to 10 s
    except subprocess.TimeoutExpired:
        w.kill()
        _, err = w.communicate()
    c.eq(w.returncode, 0, "the sandboxed worker stops cleanly on SIGTERM")
    c.ok("acmeva-worker stopped" in err, "the sandboxed worker logged its stop", err[-1500:])

    co = subprocess.Popen([t.COORDINATOR, "--redis", redis.url, "--threads", "1",
                           "--primary", "sandbox", "--remote", "r1:ARIN", "--remote", "r2:RIPE",
                           "--min-remotes", "2"], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env=child_env, preexec_fn=sandbox(units[COORD_UNIT]))
    c.ok(t.wait_group(cl, "acmeva:v1:mpic", consumers=1, group="acmeva-coordinator"),
         "acmeva-coordinator joins its group inside its unit's sandbox")
    co.send_signal(signal.SIGTERM)
    try:
        _, err = co.communicate(timeout=10 + t.GRACE_S)
    except subprocess.TimeoutExpired:
        co.kill()
        _, err = co.communicate()
    c.eq(co.returncode, 0, f"the sandboxed coordinator stops cleanly ({err[-800:]})")
finally:
    redis.cleanup()
    shutil.rmtree(tmp, ignore_errors=True)
c.done()
