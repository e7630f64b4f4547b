"""The operator's files stay true to the code: deploy/prometheus/alerts.yml passes `promtool
check rules`; every query of deploy/grafana/acmeva.json is valid PromQL (checked by promtool as
recording rules); every acmeva metric they name exists in the table of worker/queue/metrics.c;
and docs/operations.md documents every metric of that table.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acmevatest as t  # noqa: E402

c = t.Checks()
promtool = shutil.which("promtool")
c.ok(promtool, "promtool is installed (Debian package prometheus)")
promtool = promtool or "promtool"

with open(os.path.join(t.SOURCE, "worker", "queue", "metrics.c")) as f:
    families = set(re.findall(r'\{"(acmeva_[a-z_]+)",', f.read()))
c.ok(len(families) >= 26, "the metric table was read", sorted(families))


def names_in(expr):
    out = set()
    for n in re.findall(r"\bacmeva_[a-z_]+", expr):
        for suffix in ("_bucket", "_sum", "_count"):
            if n.endswith(suffix) and n[: -len(suffix)] in families:
                n = n[: -len(suffix)]
        out.add(n)
    return out


alerts = os.path.join(t.SOURCE, "deploy", "prometheus", "alerts.yml")
p = subprocess.run([promtool, "check", "rules", alerts], capture_output=True, text=True)
c.ok(p.returncode == 0, "promtool check rules deploy/prometheus/alerts.yml", p.stdout + p.stderr)
with open(alerts) as f:
    used = names_in(f.read())
c.ok(used and used <= families, "the alerts name only metrics that exist", used - families)

with open(os.path.join(t.SOURCE, "deploy", "grafana", "acmeva.json")) as f:
    dash = json.load(f)
c.eq(dash.get("title"), "acmeva", "the dashboard has a title")
c.ok(any(i.get("pluginId") == "prometheus" for i in dash.get("__inputs", [])),
     "it asks for a Prometheus data source on import")
exprs = [tg["expr"] for pn in dash.get("panels", []) for tg in pn.get("targets", [])]
c.ok(len(exprs) >= 12, "the panels have queries", len(exprs))
used = set().union(*(names_in(e) for e in exprs)) if exprs else set()
c.ok(used <= families, "the dashboard names only metrics that exist", used - families)
for want in ("acmeva_validations_total", "acmeva_validation_duration_seconds", "acmeva_inflight",
             "acmeva_dns_query_duration_seconds", "acmeva_redis_connected",
             "acmeva_mpic_perspective_results_total"):
    c.ok(want in used, f"the dashboard shows {want}")
ids = [pn.get("id") for pn in dash.get("panels", [])]
c.eq(len(ids), len(set(ids)), "panel ids are unique")
# Grafana's variables replaced by what they stand for, the queries go through promtool.
with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as rf:
    rf.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        e = e.replace("$__rate_interval", "5m").replace("$instance", ".*")
        rf.write(f"      - record: dashboard:query{i}\n        expr: {json.dumps(e)}\n")
p = subprocess.run([promtool, "check", "rules", rf.name], capture_output=True, text=True)
os.unlink(rf.name)
c.ok(p.returncode == 0, "every dashboard query is valid PromQL", p.stdout + p.stderr)

with open(os.path.join(t.SOURCE, "docs", "operations.md")) as f:
    doc = f.read()
missing = sorted(n for n in families if f"`{n}`" not in doc)
c.eq(missing, [], "docs/operations.md documents every metric")
c.done()
