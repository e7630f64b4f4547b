"""acmeva-bench in process ends when its last validation does: no idle tail (bench/README.md).

A timer or socket left armed after the last result keeps the loop up, and the run with it.
The one that did was the DNS channel's timer, armed for the oldest query's try timeout and not
stopped when the answers came: each run stayed up to one DNS try timeout (--dns-timeout-ms)
after its last validation. Here the try timeout T is long (5 s) and each run short, so such a
leftover shows at full size: a try sent no earlier than the run's first start times out at
least T - busy after the last result, which is over T/2 when the run took under T/2. Runs:
http-01 and dns-01 answered by acmeva-responder, and http-01 whose lookups are never answered
(the responder's DNS tarpit), ended by their deadline while their tries are in flight.
The rate's denominator is the time with validations in flight (busy_s), not the wall time.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

c = t.Checks()
BENCH = os.path.join(t.BUILD, "bench", "acmeva-bench")
DNS_TIMEOUT_MS = 5000
N = 200
DEADLINE_MS = 300  # the tarpit run: each validation ends here, its lookups still waiting

http_port, dns_port = t.free_port(), t.free_port()
proc, line = t.bench_responder(http_port, dns_port)
try:
    c.ok("ready" in line, "responder started", line)
    engine = ["--allow-private-addresses", "--resolver", f"127.0.0.1:{dns_port}",
              "--http-port", str(http_port), "--dns-timeout-ms", str(DNS_TIMEOUT_MS)]
    runs = [("http-01", ["--mix", "http-01", "-c", "16"]),
            ("dns-01", ["--mix", "dns-01", "-c", "16"]),
            # All at once, so the run lasts one deadline.
            ("dns-tarpit", ["--mix", "http-01", "--sub", "tarpit", "--deadline-ms",
                            str(DEADLINE_MS), "--expect", "invalid", "-c", str(N)])]
    for name, extra in runs:
        t0 = time.monotonic()
        # Bounded by the jobs' deadlines (30 s by default) and every DNS try of them.
        b = t.subprocess.run([BENCH] + engine + extra + ["-n", str(N), "--json"],
                             capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - t0
        c.ok(b.returncode == 0, f"{name}: every validation ended as expected", b.stderr[-500:])
        rep = json.loads(b.stdout.strip().splitlines()[-1]) if b.stdout.strip() else {}
        c.eq(rep.get("completed"), N, f"{name}: {N} validations ended")
        busy, wall = rep.get("busy_s", -1), rep.get("wall_s", -1)
        tail_ms = rep.get("idle_tail_ms", -1)
        c.ok(0 < busy <= wall, f"{name}: busy time within the wall time", rep)
        # Precondition of the bound below: the run's work took under half a try timeout.
        c.ok(busy * 1000 < DNS_TIMEOUT_MS / 2, f"{name}: the work took under T/2", rep)
        c.ok(0 <= tail_ms < DNS_TIMEOUT_MS / 2,
             f"{name}: no idle tail after the last result (under T/2 = {DNS_TIMEOUT_MS // 2} ms)",
             rep)
        # The same from outside, for what the report does not time (start, teardown): a try
        # left armed there would hold the process over T/2 beyond its measured wall time.
        c.ok(elapsed - wall < DNS_TIMEOUT_MS / 2000, f"{name}: the process ended with its work",
             (elapsed, rep))
        rate = rep.get("rate_per_s", 0)
        c.ok(busy > 0 and abs(rate - N / busy) <= 1e-6 * rate + 1e-9,
             f"{name}: the rate counts the time with validations in flight", rep)
        if name == "dns-tarpit":
            probs = rep.get("problems", {})
            c.ok(sum(p.get("count", 0) for p in probs.values()) == N,
                 "dns-tarpit: each ended at its deadline with a problem", probs)
finally:
    proc.terminate()
    proc.wait(10)
    proc.stdout.close()
c.done()
