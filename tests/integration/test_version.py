"""--version on every binary: one line "<program> <version>", the same version everywhere, the
one results carry in workerVersion and the worker logs at start; the version is git describe of
the source when it is a git checkout, and the project version of CMakeLists.txt in a copy
without .git (cmake/version.cmake run on such a copy).
"""

import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

c = t.Checks()
binaries = {
    "acmeva": t.ACMEVA,
    "acmeva-worker": t.WORKER,
    "acmeva-responder": os.path.join(t.BUILD, "bench", "acmeva-responder"),
    "acmeva-bench": os.path.join(t.BUILD, "bench", "acmeva-bench"),
}
coordinator = os.path.join(t.BUILD, "acmeva-coordinator")
if os.path.exists(coordinator):
    binaries["acmeva-coordinator"] = coordinator

versions = {}
for name, path in binaries.items():
    p = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    c.eq(p.returncode, 0, f"{name} --version exits 0")
    m = re.fullmatch(rf"{re.escape(name)} ([A-Za-z0-9._+-]{{1,64}})\n", p.stdout)
    c.ok(m, f"{name} --version prints '<program> <version>'", p.stdout)
    if m:
        versions[name] = m.group(1)
c.eq(len(set(versions.values())), 1, "every binary reports the same version")
version = versions.get("acmeva", "")

# The version of a git checkout: git describe (without --dirty, which may have changed since the
# build) starts it.
if os.path.exists(os.path.join(t.SOURCE, ".git")):
    d = subprocess.run(["git", "-C", t.SOURCE, "describe", "--always"], capture_output=True,
                       text=True)
    if d.returncode == 0:
        c.ok(version.startswith(d.stdout.strip()), "the version is git describe of the source",
             f"{version!r} vs {d.stdout.strip()!r}")

# A copy without .git: the project version of CMakeLists.txt.
with open(os.path.join(t.SOURCE, "CMakeLists.txt")) as f:
    project = re.search(r"project\(acmeva VERSION ([0-9.]+)", f.read()).group(1)
with tempfile.TemporaryDirectory() as d:
    out = os.path.join(d, "v.h")
    p = subprocess.run(["cmake", f"-DSRC={d}", f"-DFALLBACK={project}", f"-DOUT={out}", "-P",
                        os.path.join(t.SOURCE, "cmake", "version.cmake")],
                       capture_output=True, text=True, timeout=60)
    c.eq(p.returncode, 0, "cmake/version.cmake runs on a copy without .git")
    with open(out) as f:
        c.ok(f'#define ACMEVA_VERSION "{project}"' in f.read(),
             "a copy without .git gets the project version")

# Results carry it.
code, by_id, results, err = t.run_check(["--type", "dns-01", "--identifier", "example.com",
                                         "--token", "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
                                         "--key-authorization",
                                         "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.x",
                                         "--timeout-ms", "300", "--resolver", "127.0.0.1:9",
                                         "--dns-tries", "1", "--dns-timeout-ms", "100"])
c.eq(len(results), 1, "acmeva check answered")
c.eq(results[0].get("workerVersion") if results else None, version,
     "results carry the version in workerVersion")

# The worker's start line names it.
redis = t.RedisServer()
w = t.WorkerProc(["--redis", redis.url, "--threads", "1"], "version")
try:
    cl = redis.client()
    # Joined the group: its signal handlers are in place, SIGTERM stops it cleanly.
    c.ok(t.wait_group(cl), "the worker joined the group")
    line = w.log()
    c.ok(f"version={version} " in line, "the start log line names the version", line[:300])
    c.eq(w.stop(), 0, "the worker stops on SIGTERM")
finally:
    w.cleanup()
    redis.cleanup()
c.done()
