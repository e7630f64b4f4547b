"""deploy/container/: the Containerfile's stages, and its build stage run for real.

No container engine runs on the machines that run these tests (a docker client, no daemon), so
the image is not built here. What the image holds is made by deploy/container/stage.sh, the
build stage's only commands, and this test runs them on this Debian 12 machine, the image's
base, then checks the result as the runtime image would use it:

1. the Containerfile: the build stage is Debian 12 (bookworm-slim) and runs stage.sh build and
   collect; the runtime image is FROM scratch with only the collected tree, runs as a non-root
   user, and has a HEALTHCHECK on /healthz; every COPY --from names a stage and every file
   copied exists; a plain build ends on the runtime image;
2. stage.sh build (Debian's BoringSSL), and stage.sh configure with -DBORINGSSL_ROOT (a prefix
   laid out like an upstream BoringSSL install) picks the prefix's libraries, and links a
   static libssl.a (what an upstream install holds) with the C++ runtime it needs;
3. stage.sh collect: every library ldd finds for the binaries is in the tree, and the tree holds
   nothing else than the binaries, those libraries, the CA bundle and passwd, group and
   nsswitch files (no shell);
4. in a chroot of that tree, as the image's user, acmeva-worker --help runs and acmeva check
   validates a dns-01 challenge against pebble-challtestsrv on loopback;
5. acmeva-healthcheck exits 0 for a 200 on /healthz, 1 for a 503 or nothing listening;
6. the unbound image's configuration (deploy/container/unbound-container.conf including
   deploy/unbound/unbound.conf) passes unbound-checkconf, and Unbound runs with it as the
   unbound user in a network namespace of its own (port 53 there, nothing shared with this
   machine): it answers, and unbound-control reaches it through its socket.
"""

import http.server
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

t = deploylib.t
HERE = os.path.join(t.SOURCE, "deploy", "container")
CONTAINERFILE = os.path.join(HERE, "Containerfile")
STAGE = os.path.join(HERE, "stage.sh")
BINARIES = ["acmeva", "acmeva-worker", "acmeva-coordinator"]
RUN_UID = 10001
c = t.Checks()
tmp = tempfile.mkdtemp(prefix="acmeva-container-")
os.chmod(tmp, 0o755)  # the chroot's user and the unbound user walk through it


def run(argv, timeout=600, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


# ---- 1. the Containerfile ------------------------------------------------------------------------
def stages(path):
    """[(name, base, [instructions])] in order; instructions with continuations joined."""
    out, args, lines, pending = [], {}, [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            lines.append(pending + line)
            pending = ""
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        if word == "ARG" and not out:
            k, _, v = rest.partition("=")
            args[k] = v
        elif word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), re.I)
            base = re.sub(r"\$\{(\w+)\}", lambda g: args.get(g.group(1), ""), m.group(1))
            out.append((m.group(2), base, []))
        elif out:
            out[-1][2].append((word, rest.strip()))
    return out


st = stages(CONTAINERFILE)
names = [s[0] for s in st if s[0]]
by_name = {s[0]: s for s in st if s[0]}
build = by_name.get("build")
c.ok(build is not None and build[1] == "debian:bookworm-slim", "the build stage is Debian 12",
     build and build[1])
runs = " ".join(rest for word, rest in (build[2] if build else []) if word == "RUN")
c.ok("deploy/container/stage.sh build /src /build" in runs and
     "deploy/container/stage.sh collect /build /rootfs" in runs,
     "the build stage runs stage.sh build and collect", runs)
rt = by_name.get("acmeva")
c.ok(rt is not None and rt[1] == "scratch", "the runtime image starts from nothing (scratch)")
rt_ins = rt[2] if rt else []
c.eq([r for w, r in rt_ins if w == "COPY"], ["--from=build /rootfs/ /"],
     "the runtime image holds the collected tree and nothing else")
users = [r for w, r in rt_ins if w == "USER"]
c.ok(users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) != 0,
     "the runtime image runs as a non-root user", users)
health = " ".join(r for w, r in rt_ins if w == "HEALTHCHECK")
c.ok("/usr/local/bin/acmeva-healthcheck" in health and "/healthz" in health,
     "HEALTHCHECK asks /healthz", health)
c.eq(st[-1][1], "acmeva", "a plain build (no --target) ends on the runtime image")
for name, base, ins in st:
    for word, rest in ins:
        if word != "COPY":
            continue
        m = re.match(r"--from=(\S+)\s+(\S+)", rest)
        if m:
            c.ok(m.group(1) in names, f"COPY --from={m.group(1)} names a stage")
        else:
            src = rest.split()[0]
            c.ok(src == "." or os.path.exists(os.path.join(t.SOURCE, src)),
                 f"COPY {src}: the file exists")
for variant in ("boringssl-debian", "boringssl-upstream"):
    c.ok(variant in names, f"the {variant} stage exists (--build-arg BORINGSSL)")

try:
    # ---- 2. the build stage's commands -----------------------------------------------------------
    out = os.path.join(tmp, "build")
    start = time.monotonic()
    p = run(["bash", STAGE, "build", t.SOURCE, out])
    c.eq(p.returncode, 0, f"stage.sh build ({p.stderr[-2000:]})")
    print(f"stage.sh build: {time.monotonic() - start:.1f} s", flush=True)

    prefix = os.path.join(tmp, "boringssl")  # include/ and lib/, as an upstream install has them
    os.makedirs(prefix)
    os.symlink("/usr/include/android", os.path.join(prefix, "include"))
    os.symlink("/usr/lib/x86_64-linux-gnu/android", os.path.join(prefix, "lib"))
    up = os.path.join(tmp, "build-upstream")
    p = run(["bash", STAGE, "configure", t.SOURCE, up, prefix])
    c.eq(p.returncode, 0, f"stage.sh configure with a BoringSSL prefix ({p.stderr[-1500:]})")
    cache = open(os.path.join(up, "CMakeCache.txt")).read() if p.returncode == 0 else ""
    for lib in ("BORINGSSL_SSL", "BORINGSSL_CRYPTO"):
        m = re.search(lib + r":FILEPATH=(\S+)", cache)
        c.ok(m and m.group(1).startswith(prefix + "/"), f"-DBORINGSSL_ROOT: {lib} is the prefix's",
             m and m.group(1))
    c.ok("-lstdc++" not in cache, "shared BoringSSL libraries need no C++ runtime flag")
    # An upstream install is static: libssl.a and libcrypto.a (empty archives stand in for them;
    # only the configure step runs), and its libssl needs the C++ runtime at link time.
    static = os.path.join(tmp, "boringssl-static")
    os.makedirs(os.path.join(static, "lib"))
    os.symlink("/usr/include/android", os.path.join(static, "include"))
    for lib in ("libssl.a", "libcrypto.a"):
        run(["ar", "rc", os.path.join(static, "lib", lib)])
    up = os.path.join(tmp, "build-static")
    p = run(["bash", STAGE, "configure", t.SOURCE, up, static])
    cache = open(os.path.join(up, "CMakeCache.txt")).read() if p.returncode == 0 else ""
    c.ok(re.search(r"BORINGSSL_SSL:FILEPATH=" + re.escape(static) + r"/lib/libssl\.a", cache),
         "-DBORINGSSL_ROOT: a static libssl.a is used", p.stderr[-1500:])
    c.ok(re.search(r"CMAKE_C_STANDARD_LIBRARIES:\w+=-lstdc\+\+", cache),
         "a static upstream BoringSSL is linked with the C++ runtime")

    # ---- 3. the runtime tree ---------------------------------------------------------------------
    root = os.path.join(tmp, "rootfs")
    p = run(["bash", STAGE, "collect", out, root])
    c.eq(p.returncode, 0, f"stage.sh collect ({p.stderr[-1500:]})")
    files = set()
    for d, _, fs in os.walk(root):
        for f in fs:
            files.add("/" + os.path.relpath(os.path.join(d, f), root))
    libs = set()
    for b in BINARIES:
        ldd = run(["ldd", os.path.join(out, b)]).stdout
        for line in ldd.splitlines():
            m = re.search(r"=> (/\S+)", line) or re.match(r"\s*(/\S+)", line)
            if m:
                libs.add(m.group(1))
    c.ok(libs and libs <= files, "every library ldd finds is in the tree", sorted(libs - files))
    expected = libs | {f"/usr/local/bin/{b}" for b in BINARIES + ["acmeva-healthcheck"]} | {
        "/etc/ssl/certs/ca-certificates.crt", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf"}
    c.eq(sorted(files - expected), [], "the tree holds nothing else")
    c.ok(not os.path.exists(os.path.join(root, "bin", "sh")), "no shell in the image")
    print(f"runtime tree: {len(files)} files, "
          f"{sum(os.path.getsize(os.path.join(root, f[1:])) for f in files) // 1024} KiB",
          flush=True)

    # ---- 4. the binaries in a chroot of the tree, as the image's user ----------------------------
    chroot = ["chroot", f"--userspec={RUN_UID}:{RUN_UID}", root]
    p = run(chroot + ["/usr/local/bin/acmeva-worker", "--help"], timeout=60)
    c.ok(p.returncode == 0 and "--require-dnssec-resolver" in p.stdout,
         "acmeva-worker runs in the tree", p.stderr[-1000:])
    cts = t.Challtestsrv()
    tok = t.new_token()
    ka = t.key_authorization(tok)
    ident = t.unique("container")
    cts.call("set-txt", {"host": f"_acme-challenge.{ident}.", "value": t.dns01_value(ka)})
    p = run(chroot + ["/usr/local/bin/acmeva", "check", *cts.resolver_args, "--type", "dns-01",
                      "--identifier", ident, "--token", tok, "--key-authorization", ka],
            timeout=60)
    c.ok(p.returncode == 0 and '"status":"valid"' in p.stdout,
         "acmeva check validates dns-01 from the tree as uid 10001", (p.stdout, p.stderr))

    # ---- 5. the health check ---------------------------------------------------------------------
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code = 200 if self.path == "/healthz" else 503
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    hc = os.path.join(root, "usr", "local", "bin", "acmeva-healthcheck")
    addr = f"127.0.0.1:{srv.server_address[1]}"
    c.eq(run([hc, addr], timeout=30).returncode, 0, "healthcheck: 200 on /healthz is healthy")
    c.eq(run([hc, addr, "/readyz"], timeout=30).returncode, 1, "healthcheck: 503 is not")
    srv.shutdown()
    srv.server_close()
    c.eq(run([hc, addr], timeout=30).returncode, 1, "healthcheck: nothing listening is not")
    c.eq(run([hc, "localhost:9464"], timeout=30).returncode, 2, "healthcheck: a name is refused")

    # ---- 6. the unbound image's configuration ----------------------------------------------------
    ub = os.path.join(tmp, "unbound")
    for d in ("lib", "run"):
        os.makedirs(os.path.join(ub, d))
    with open(os.path.join(t.SOURCE, "deploy", "unbound", "unbound.conf")) as f:
        policy = f.read()
    with open(os.path.join(ub, "acmeva.conf"), "w") as f:
        f.write(policy.replace("/var/lib/unbound", os.path.join(ub, "lib"))
                .replace("/run/unbound.ctl", os.path.join(ub, "run", "unbound.ctl")))
    with open(os.path.join(HERE, "unbound-container.conf")) as f:
        text = f.read()
    c.ok('include: "/etc/unbound/acmeva.conf"' in text, "the image's file includes the policy")
    conf = os.path.join(ub, "unbound.conf")
    with open(conf, "w") as f:
        f.write(text.replace("/etc/unbound/acmeva.conf", os.path.join(ub, "acmeva.conf")))
    shutil.copy("/usr/share/dns/root.key", os.path.join(ub, "lib", "root.key"))
    for path in ("lib", "lib/root.key", "run"):  # as the image's RUN install -o unbound does
        shutil.chown(os.path.join(ub, path), "unbound", "unbound")
    os.chmod(ub, 0o755)
    p = run(["unbound-checkconf", conf], timeout=60)
    c.eq(p.returncode, 0, f"unbound-checkconf accepts the image's configuration ({p.stderr})")
    c.eq(run(["unbound-checkconf", "-o", "username", conf]).stdout.strip(), "",
         "the image does not switch user")
    as_unbound = ["setpriv", "--reuid=unbound", "--regid=unbound", "--clear-groups"]
    u = subprocess.Popen(["unshare", "--net", "--", "sh", "-c",
                          "ip link set lo up && sysctl -q -w net.ipv4.ip_unprivileged_port_start=53"
                          " && exec \"$@\"", "sh", *as_unbound, "unbound", "-d", "-p", "-c", conf],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        def answered():
            p = run(["nsenter", "-t", str(u.pid), "-n", "dig", "+short", "+tries=1", "+time=1",
                     "@127.0.0.1", "localhost.", "A"], timeout=30)
            return p.stdout.strip() == "127.0.0.1"
        c.ok(t.wait_until(answered, 15, interval=0.2),
             "Unbound runs with the image's configuration as the unbound user, on port 53")
        p = run(["nsenter", "-t", str(u.pid), "-n", *as_unbound, "unbound-control", "-c", conf,
                 "status"], timeout=30)
        c.ok(p.returncode == 0 and "is running" in p.stdout,
             "unbound-control reaches it through its socket", p.stdout + p.stderr)
    finally:
        u.send_signal(signal.SIGTERM)
        try:
            log, _ = u.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            u.kill()
            log, _ = u.communicate()
    c.ok("fatal" not in log, "Unbound logged no fatal error", log[-1500:])
finally:
    shutil.rmtree(tmp, ignore_errors=True)
c.done()
