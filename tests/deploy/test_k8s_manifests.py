"""deploy/k8s/: every manifest parses, every object has what the API requires, and the
objects fit together. Offline: no cluster, no downloaded schemas.

1. YAML (python3-yaml, Debian) parses, and every object passes tests/deploy/k8sschema.py,
   a strict schema of the fields these manifests use (required fields, types, enums, names,
   quantities, CIDRs; unknown fields refused). Broken copies are refused, so the check can fail.
2. References resolve: selectors match their pods' labels, probes name declared ports, mounts
   name volumes, every Secret and ConfigMap key used exists, the ScaledObject targets the
   workers' Deployment and its TriggerAuthentication's secrets exist.
3. What the deployment promises: probes on /healthz and /readyz, requests and limits, the
   restricted pod security settings, a PodDisruptionBudget that still lets a node drain, a
   NetworkPolicy that lets the workers reach only DNS, 80/443 and Redis (never private,
   link-local or shared addresses), an Unbound sidecar on the workers' loopback with the uid of
   the Containerfile's unbound image, autoscaling with KEDA's redis-streams trigger on the
   perspective's own stream and the group "acmeva", and a coordinator with 5 remote
   perspectives over at least 2 RIRs, each with its public key.
4. Every option given to a daemon is one its --help lists, or one of the DESIGN.md contract
   options not built yet (ASSUMED below; empty now); so a typo or a removed option is caught now, and
   the assumption is written down.
"""

import copy
import glob
import ipaddress
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402

deploylib.need_debian_modules("yaml")
import yaml  # noqa: E402

import k8sschema  # noqa: E402

t = deploylib.t
K8S = os.path.join(t.SOURCE, "deploy", "k8s")
# DESIGN.md contract options the manifests use before a build has them (none now: each
# option used must be in the daemons' --help).
ASSUMED = set()  # every contract option the kit uses is in the daemons' --help now
PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8",
           "100.64.0.0/10", "fc00::/7", "fe80::/10"]
c = t.Checks()

# ---- 1. parse and schema -------------------------------------------------------------------------
objs = []
files = sorted(glob.glob(os.path.join(K8S, "*.yaml")))
c.ok(len(files) >= 4, "the manifests are there", files)
for path in files:
    with open(path) as f:
        try:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            c.ok(False, f"{os.path.basename(path)} parses", e)
            continue
    for d in docs:
        errs = k8sschema.check(d)
        name = f"{os.path.basename(path)}: {d.get('kind')}/{(d.get('metadata') or {}).get('name')}"
        c.ok(not errs, f"{name} passes the schema", errs)
        objs.append(d)

by = {}
for o in objs:
    key = (o["kind"], o["metadata"]["name"])
    c.ok(key not in by, f"{key} is defined once")
    by[key] = o


def of_kind(kind):
    return [o for o in objs if o["kind"] == kind]


deployments = of_kind("Deployment")
c.ok(deployments, "there are Deployments")
# The schema refuses what the API server would: these broken copies must fail.
broken = []
d = copy.deepcopy(deployments[0])
del d["spec"]["template"]["spec"]["containers"][0]["image"]
broken.append(("a container without an image", d))
d = copy.deepcopy(deployments[0])
cont = d["spec"]["template"]["spec"]["containers"][0]
cont["livenesProbe"] = cont.pop("livenessProbe")
broken.append(("a misspelt field", d))
d = copy.deepcopy(deployments[0])
d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "1 GB"
broken.append(("a bad quantity", d))
d = copy.deepcopy(of_kind("PodDisruptionBudget")[0])
d["spec"]["maxUnavailable"] = 1
broken.append(("a PodDisruptionBudget with both minAvailable and maxUnavailable", d))
d = copy.deepcopy(of_kind("ScaledObject")[0])
del d["spec"]["scaleTargetRef"]
broken.append(("a ScaledObject without its target", d))
d = copy.deepcopy(of_kind("NetworkPolicy")[0])
d["spec"]["egress"][0]["ports"][0]["protocol"] = "ICMP"
broken.append(("a NetworkPolicy port of an unknown protocol", d))
for what, d in broken:
    c.ok(k8sschema.check(d), f"the schema refuses {what}")

# ---- 2. references -------------------------------------------------------------------------------
def pod_labels(dep):
    return dep["spec"]["template"]["metadata"]["labels"]


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def secret_keys(name):
    s = by.get(("Secret", name))
    return set((s or {}).get("stringData") or {}) | set((s or {}).get("data") or {})


for dep in deployments:
    name = dep["metadata"]["name"]
    spec = dep["spec"]["template"]["spec"]
    c.ok(selects(dep["spec"]["selector"], pod_labels(dep)), f"{name}: the selector picks its pods")
    c.ok(("ServiceAccount", spec.get("serviceAccountName")) in by,
         f"{name}: its service account exists")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for ct in spec["containers"] + spec.get("initContainers", []):
        cn = f"{name}/{ct['name']}"
        ports = {p.get("name") for p in ct.get("ports", [])} | {
            p["containerPort"] for p in ct.get("ports", [])}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            hg = (ct.get(probe) or {}).get("httpGet")
            if hg:
                c.ok(hg["port"] in ports, f"{cn}: {probe} names a declared port")
        for m in ct.get("volumeMounts", []):
            c.ok(m["name"] in volumes, f"{cn}: mount {m['name']} has a volume")
        for e in ct.get("env", []):
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                c.ok(ref["key"] in secret_keys(ref["name"]),
                     f"{cn}: ${e['name']} comes from an existing secret key", ref)
    for v in volumes.values():
        if "secret" in v:
            keys = secret_keys(v["secret"]["secretName"])
            c.ok(keys and all(i["key"] in keys for i in v["secret"].get("items", [])),
                 f"{name}: volume {v['name']}: the secret and its keys exist")
        if "configMap" in v:
            cm = by.get(("ConfigMap", v["configMap"]["name"]))
            c.ok(cm is not None, f"{name}: volume {v['name']}: the ConfigMap exists")

for kind, field in (("PodDisruptionBudget", "selector"), ("NetworkPolicy", "podSelector")):
    for o in of_kind(kind):
        sel = o["spec"][field]
        c.ok(any(selects(sel, pod_labels(d)) for d in deployments),
             f"{kind}/{o['metadata']['name']} selects pods of a Deployment")

# ---- 3. what the deployment promises -------------------------------------------------------------
for dep in deployments:
    name = dep["metadata"]["name"]
    spec = dep["spec"]["template"]["spec"]
    psc = spec.get("securityContext", {})
    c.ok(psc.get("runAsNonRoot") is True and
         (psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
         f"{name}: pods run as non-root with the runtime's seccomp profile")
    c.ok(spec.get("automountServiceAccountToken") is False, f"{name}: no API token in the pods")
    c.ok(spec.get("terminationGracePeriodSeconds", 30) > 10,
         f"{name}: the grace period outlasts the daemons' --grace-ms (10 s)")
    for ct in spec["containers"] + spec.get("initContainers", []):
        cn = f"{name}/{ct['name']}"
        res = ct.get("resources", {})
        c.ok(all(k in res.get(x, {}) for x in ("requests", "limits") for k in ("cpu", "memory")),
             f"{cn}: cpu and memory requests and limits")
        sc = ct.get("securityContext", {})
        c.ok(sc.get("allowPrivilegeEscalation") is False and sc.get("readOnlyRootFilesystem")
             is True and (sc.get("capabilities") or {}).get("drop") == ["ALL"]
             and sc.get("runAsUser", 0) > 0,
             f"{cn}: restricted (non-root uid, no privilege escalation, read-only root, no "
             "capabilities)")
    main = spec["containers"][0]
    c.eq((main.get("livenessProbe") or {}).get("httpGet", {}).get("path"), "/healthz",
         f"{name}: liveness on /healthz")
    c.eq((main.get("readinessProbe") or {}).get("httpGet", {}).get("path"), "/readyz",
         f"{name}: readiness on /readyz")
    pdbs = [p for p in of_kind("PodDisruptionBudget") if selects(p["spec"]["selector"],
                                                                  pod_labels(dep))]
    c.eq(len(pdbs), 1, f"{name}: one PodDisruptionBudget")
    if pdbs:
        c.ok(pdbs[0]["spec"]["minAvailable"] < dep["spec"]["replicas"],
             f"{name}: the budget keeps pods up and still lets a node drain")
    nps = [n for n in of_kind("NetworkPolicy") if selects(n["spec"]["podSelector"],
                                                           pod_labels(dep))]
    c.eq(len(nps), 1, f"{name}: one NetworkPolicy")


def help_options(binary):
    p = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    return set(re.findall(r"(?m)^\s+(--[a-z0-9-]+)", p.stdout))


def options(args):
    return [a for a in args if a.startswith("--")]


# The workers of a perspective.
workers = [d for d in deployments if d["metadata"]["labels"].get("app.kubernetes.io/name") ==
           "acmeva-worker"]
c.ok(workers, "a perspective's workers are defined")
worker_help = help_options(t.WORKER)
c.ok("--require-dnssec-resolver" in worker_help, "acmeva-worker --help lists its options")
unbound_uid = None
with open(os.path.join(t.SOURCE, "deploy", "container", "Containerfile")) as f:
    m = re.search(r"(?ms)^FROM \S+ AS unbound$.*?^USER (\d+):", f.read())
    unbound_uid = int(m.group(1)) if m else None
for dep in workers:
    name = dep["metadata"]["name"]
    spec = dep["spec"]["template"]["spec"]
    w = next(ct for ct in spec["containers"] if ct["name"] == "worker")
    args = w["args"]
    unknown = [o for o in options(args) if o not in worker_help and o not in ASSUMED]
    c.eq(unknown, [], f"{name}: every option is acmeva-worker's or an assumed contract option")
    perspective = args[args.index("--perspective") + 1]
    c.ok("--require-dnssec-resolver" in args, f"{name}: it requires a validating resolver")
    c.eq(args[args.index("--resolver") + 1], "127.0.0.1:53", f"{name}: it asks the pod's Unbound")
    c.ok("--redis" not in args and any(e["name"] == "ACMEVA_REDIS_URL" for e in w["env"]),
         f"{name}: the Redis URL comes from a secret, not the command line")
    sidecars = [ct for ct in spec.get("initContainers", []) if ct.get("restartPolicy") == "Always"]
    ub = [ct for ct in sidecars if ct["name"] == "unbound"]
    c.ok(ub and any(p["containerPort"] == 53 for p in ub[0].get("ports", [])),
         f"{name}: an Unbound sidecar on port 53")
    if ub:
        c.eq(ub[0]["securityContext"].get("runAsUser"), unbound_uid,
             f"{name}: the sidecar runs as the unbound image's uid")
        c.ok(any(s["name"] == "net.ipv4.ip_unprivileged_port_start" and int(s["value"]) <= 53
                 for s in spec["securityContext"].get("sysctls", [])),
             f"{name}: a non-root Unbound may bind port 53 in the pod")
    # Egress: DNS, 80/443 and Redis, and never to private, link-local or shared addresses.
    np = next(n for n in of_kind("NetworkPolicy") if selects(n["spec"]["podSelector"],
                                                             pod_labels(dep)))
    c.eq(sorted(np["spec"].get("policyTypes", [])), ["Egress", "Ingress"],
         f"{name}: the policy restricts both directions")
    allowed = set()
    for rule in np["spec"]["egress"]:
        peers = rule.get("to", [])
        ports = {(p["port"], p.get("protocol", "TCP")) for p in rule.get("ports", [])}
        c.ok(peers and ports, f"{name}: every egress rule names its peers and ports")
        for peer in peers:
            blk = peer.get("ipBlock")
            if blk is None:
                continue
            net = ipaddress.ip_network(blk["cidr"])
            if net.prefixlen == 0:
                ex = [ipaddress.ip_network(e) for e in blk.get("except", [])]
                c.ok(all(e.subnet_of(net) for e in ex), f"{name}: {net}: the exceptions lie in it")
                for p in PRIVATE:
                    pn = ipaddress.ip_network(p)
                    if pn.version == net.version:
                        c.ok(any(pn.subnet_of(e) for e in ex), f"{name}: {net} excludes {p}")
        allowed |= ports
    redis_port = None
    so = [s for s in of_kind("ScaledObject") if s["spec"]["scaleTargetRef"]["name"] == name]
    if so:
        redis_port = int(so[0]["spec"]["triggers"][0]["metadata"]["address"].rsplit(":", 1)[1])
    c.eq(allowed, {(53, "UDP"), (53, "TCP"), (80, "TCP"), (443, "TCP"), (redis_port, "TCP")},
         f"{name}: workers reach only DNS, 80/443 and Redis")
    # Autoscaling on the perspective's queue lag.
    c.eq(len(so), 1, f"{name}: one ScaledObject")
    if so:
        trig = so[0]["spec"]["triggers"]
        md = trig[0]["metadata"]
        c.eq(trig[0]["type"], "redis-streams", f"{name}: KEDA's redis-streams trigger")
        c.eq(md.get("stream"), "acmeva:v1:jobs:" + perspective,
             f"{name}: it scales on its perspective's stream")
        c.eq(md.get("consumerGroup"), "acmeva", f"{name}: and the workers' consumer group")
        c.ok(md.get("lagCount", "").isdigit() and int(md["lagCount"]) > 0,
             f"{name}: on the group's lag")
        c.ok(so[0]["spec"].get("minReplicaCount", 0) >= 2,
             f"{name}: never fewer than 2 workers")
        ta = by.get(("TriggerAuthentication", trig[0]["authenticationRef"]["name"]))
        c.ok(ta is not None, f"{name}: the trigger's authentication exists")
        for ref in (ta or {}).get("spec", {}).get("secretTargetRef", []):
            c.ok(ref["key"] in secret_keys(ref["name"]),
                 f"{name}: KEDA's {ref['parameter']} comes from an existing secret key")

# The coordinator.
coord_help = help_options(t.COORDINATOR)
coords = [d for d in deployments if d["metadata"]["name"] == "acmeva-coordinator"]
c.eq(len(coords), 1, "the coordinator is defined")
for dep in coords:
    spec = dep["spec"]["template"]["spec"]
    co = spec["containers"][0]
    args = co["args"]
    unknown = [o for o in options(args) if o not in coord_help and o not in ASSUMED]
    c.eq(unknown, [], "every option is acmeva-coordinator's or an assumed contract option")
    c.ok(co["command"] == ["/usr/local/bin/acmeva-coordinator"], "it runs the coordinator")
    remotes = [args[i + 1] for i, a in enumerate(args) if a == "--remote"]
    keys = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--perspective-key")
    c.ok(len(remotes) >= 5, "5 remote perspectives (the BR minimum from 2026-12-15)", remotes)
    c.ok(len({r.split(":")[1] for r in remotes}) >= 2, "the remotes span at least 2 RIRs")
    mounts = {m["mountPath"]: m["name"] for m in co["volumeMounts"]}
    vols = {v["name"]: v for v in spec["volumes"]}
    for r in remotes:
        rname = r.split(":")[0]
        path = keys.get(rname, "")
        d, base = os.path.split(path)
        v = vols.get(mounts.get(d, ""), {})
        cm = by.get(("ConfigMap", (v.get("configMap") or {}).get("name")), {})
        c.ok(base in (cm.get("data") or {}), f"the public key of {rname} is mounted", path)
    c.eq(args[args.index("--primary") + 1],
         next((w["spec"]["template"]["spec"]["containers"][0]["args"][1] for w in workers), None),
         "the primary is the perspective whose workers are defined here")
c.done()
