"""A small, strict schema of the Kubernetes and KEDA objects deploy/k8s/ uses, checked offline.

What the API server's validation would refuse, for the fields these manifests use: a required
field missing, a field of the wrong type, a value outside its enum or format (names, labels,
quantities, ports), and any field the schema does not know (as `kubectl apply
--validate=strict` refuses an unknown field, so a misspelt "livenesProbe" is an error here,
not a probe silently missing). The required fields and formats follow the Kubernetes API
reference (apps/v1, v1, policy/v1, networking.k8s.io/v1) and KEDA's CRDs (keda.sh/v1alpha1,
KEDA 2.12+); fields these manifests do not use are not modelled and count as unknown.

check(doc) returns a list of "path: problem" strings; empty means the object passes.
"""

import base64
import ipaddress
import re

R, O = True, False  # required, optional

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                               r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
PORT_NAME = re.compile(r"^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$")  # IANA_SVC_NAME
QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")


class Node:
    def check(self, v, path, errs):
        raise NotImplementedError


class Str(Node):
    def __init__(self, pattern=None, what="a string"):
        self.pattern, self.what = pattern, what

    def check(self, v, path, errs):
        if not isinstance(v, str):
            errs.append(f"{path}: want {self.what}, got {type(v).__name__} {v!r}")
        elif self.pattern is not None and not self.pattern.match(v):
            errs.append(f"{path}: {v!r} is not {self.what}")


class Int(Node):
    def __init__(self, lo=None, hi=None):
        self.lo, self.hi = lo, hi

    def check(self, v, path, errs):
        if not isinstance(v, int) or isinstance(v, bool):
            errs.append(f"{path}: want an integer, got {type(v).__name__} {v!r}")
        elif (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
            errs.append(f"{path}: {v} is outside {self.lo}..{self.hi}")


class Bool(Node):
    def check(self, v, path, errs):
        if not isinstance(v, bool):
            errs.append(f"{path}: want true or false, got {v!r}")


class Enum(Node):
    def __init__(self, *values):
        self.values = values

    def check(self, v, path, errs):
        if v not in self.values:
            errs.append(f"{path}: {v!r} is not one of {', '.join(map(str, self.values))}")


class IntOrString(Node):
    def __init__(self, pattern=None):
        self.pattern = pattern

    def check(self, v, path, errs):
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            errs.append(f"{path}: want an integer or a string, got {v!r}")
        elif isinstance(v, str) and self.pattern is not None and not self.pattern.match(v):
            errs.append(f"{path}: {v!r} is not a valid value")


class Quantity(Node):
    def check(self, v, path, errs):
        if isinstance(v, bool) or not (isinstance(v, (int, float)) or
                                       (isinstance(v, str) and QUANTITY.match(v))):
            errs.append(f"{path}: {v!r} is not a quantity")


class Cidr(Node):
    def check(self, v, path, errs):
        try:
            ipaddress.ip_network(v, strict=True)
        except (TypeError, ValueError):
            errs.append(f"{path}: {v!r} is not a CIDR")


class Map(Node):
    """A map of keys matching |key| to values of schema |value|."""

    def __init__(self, key, value):
        self.key, self.value = key, value

    def check(self, v, path, errs):
        if not isinstance(v, dict):
            errs.append(f"{path}: want a map, got {type(v).__name__}")
            return
        for k, x in v.items():
            if not isinstance(k, str) or not self.key.match(k):
                errs.append(f"{path}: {k!r} is not a valid key")
            self.value.check(x, f"{path}.{k}", errs)


class List(Node):
    def __init__(self, item, min_items=0):
        self.item, self.min_items = item, min_items

    def check(self, v, path, errs):
        if not isinstance(v, list):
            errs.append(f"{path}: want a list, got {type(v).__name__}")
            return
        if len(v) < self.min_items:
            errs.append(f"{path}: want at least {self.min_items} item(s)")
        for i, x in enumerate(v):
            self.item.check(x, f"{path}[{i}]", errs)


class Obj(Node):
    """An object with known fields {name: (schema, required)}; |one_of| lists groups of which
    exactly one field must be set; any other field is an error."""

    def __init__(self, fields, one_of=()):
        self.fields, self.one_of = fields, one_of

    def check(self, v, path, errs):
        if not isinstance(v, dict):
            errs.append(f"{path}: want an object, got {type(v).__name__}")
            return
        for k, x in v.items():
            if k not in self.fields:
                errs.append(f"{path}: unknown field {k!r}")
            else:
                self.fields[k][0].check(x, f"{path}.{k}", errs)
        for k, (_, required) in self.fields.items():
            if required and k not in v:
                errs.append(f"{path}: missing required field {k!r}")
        for group in self.one_of:
            n = sum(1 for k in group if k in v)
            if n != 1:
                errs.append(f"{path}: exactly one of {', '.join(group)} (got {n})")


class Base64(Node):
    def check(self, v, path, errs):
        try:
            base64.b64decode(v, validate=True)
        except (TypeError, ValueError):
            errs.append(f"{path}: not base64")


S = Str()
LABELS = Map(re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?" + LABEL_NAME.pattern[1:]),
             Str(LABEL_VALUE, "a label value"))
STRMAP = Map(re.compile(r"^.+$"), S)
METADATA = Obj({"name": (Str(DNS1123_SUBDOMAIN, "a DNS-1123 name"), R), "namespace":
                (Str(DNS1123_LABEL, "a DNS-1123 label"), O), "labels": (LABELS, O),
                "annotations": (STRMAP, O)})
SELECTOR = Obj({"matchLabels": (LABELS, O), "matchExpressions": (List(Obj({
    "key": (S, R), "operator": (Enum("In", "NotIn", "Exists", "DoesNotExist"), R),
    "values": (List(S), O)})), O)})
PORT = Int(1, 65535)
PORT_REF = IntOrString(PORT_NAME)
PROBE = Obj({
    "httpGet": (Obj({"path": (S, O), "port": (PORT_REF, R), "scheme": (Enum("HTTP", "HTTPS"), O),
                     "host": (S, O)}), O),
    "exec": (Obj({"command": (List(S, 1), R)}), O),
    "tcpSocket": (Obj({"port": (PORT_REF, R)}), O),
    "initialDelaySeconds": (Int(0), O), "periodSeconds": (Int(1), O),
    "timeoutSeconds": (Int(1), O), "failureThreshold": (Int(1), O),
    "successThreshold": (Int(1), O)}, one_of=[("httpGet", "exec", "tcpSocket")])
KEY_REF = Obj({"name": (Str(DNS1123_SUBDOMAIN, "a DNS-1123 name"), R),
               "key": (Str(CONFIG_KEY, "a key"), R), "optional": (Bool(), O)})
ENV = Obj({"name": (Str(re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"), "a variable name"), R),
           "value": (S, O),
           "valueFrom": (Obj({"secretKeyRef": (KEY_REF, O), "configMapKeyRef": (KEY_REF, O),
                              "fieldRef": (Obj({"fieldPath": (S, R)}), O)},
                             one_of=[("secretKeyRef", "configMapKeyRef", "fieldRef")]), O)})
CONTAINER_SECURITY = Obj({
    "runAsUser": (Int(0), O), "runAsGroup": (Int(0), O), "runAsNonRoot": (Bool(), O),
    "allowPrivilegeEscalation": (Bool(), O), "readOnlyRootFilesystem": (Bool(), O),
    "privileged": (Bool(), O),
    "capabilities": (Obj({"add": (List(S), O), "drop": (List(S), O)}), O),
    "seccompProfile": (Obj({"type": (Enum("RuntimeDefault", "Localhost", "Unconfined"), R),
                            "localhostProfile": (S, O)}), O)})
CONTAINER = Obj({
    "name": (Str(DNS1123_LABEL, "a DNS-1123 label"), R), "image": (S, R),
    "imagePullPolicy": (Enum("Always", "IfNotPresent", "Never"), O),
    "command": (List(S), O), "args": (List(S), O), "env": (List(ENV), O),
    "restartPolicy": (Enum("Always"), O),
    "ports": (List(Obj({"name": (Str(PORT_NAME, "a port name"), O), "containerPort": (PORT, R),
                        "protocol": (Enum("TCP", "UDP", "SCTP"), O)})), O),
    "startupProbe": (PROBE, O), "livenessProbe": (PROBE, O), "readinessProbe": (PROBE, O),
    "resources": (Obj({"requests": (Map(re.compile(r"^[a-z0-9./-]+$"), Quantity()), O),
                       "limits": (Map(re.compile(r"^[a-z0-9./-]+$"), Quantity()), O)}), O),
    "securityContext": (CONTAINER_SECURITY, O),
    "volumeMounts": (List(Obj({"name": (S, R), "mountPath": (Str(re.compile(r"^/")), R),
                               "readOnly": (Bool(), O), "subPath": (S, O)})), O)})
ITEMS = List(Obj({"key": (Str(CONFIG_KEY, "a key"), R), "path": (S, R), "mode": (Int(0, 511), O)}))
VOLUME = Obj({
    "name": (Str(DNS1123_LABEL, "a DNS-1123 label"), R),
    "secret": (Obj({"secretName": (S, R), "defaultMode": (Int(0, 511), O), "items": (ITEMS, O),
                    "optional": (Bool(), O)}), O),
    "configMap": (Obj({"name": (S, R), "defaultMode": (Int(0, 511), O), "items": (ITEMS, O),
                       "optional": (Bool(), O)}), O),
    "emptyDir": (Obj({"medium": (Enum("", "Memory"), O), "sizeLimit": (Quantity(), O)}), O)},
    one_of=[("secret", "configMap", "emptyDir")])
POD_SPEC = Obj({
    "containers": (List(CONTAINER, 1), R), "initContainers": (List(CONTAINER), O),
    "volumes": (List(VOLUME), O), "serviceAccountName": (S, O),
    "automountServiceAccountToken": (Bool(), O),
    "terminationGracePeriodSeconds": (Int(0), O),
    "nodeSelector": (STRMAP, O),
    "securityContext": (Obj({
        "runAsNonRoot": (Bool(), O), "runAsUser": (Int(0), O), "runAsGroup": (Int(0), O),
        "fsGroup": (Int(0), O),
        "seccompProfile": (Obj({"type": (Enum("RuntimeDefault", "Localhost", "Unconfined"), R),
                                "localhostProfile": (S, O)}), O),
        "sysctls": (List(Obj({"name": (S, R), "value": (S, R)})), O)}), O),
    "topologySpreadConstraints": (List(Obj({
        "maxSkew": (Int(1), R), "topologyKey": (S, R),
        "whenUnsatisfiable": (Enum("DoNotSchedule", "ScheduleAnyway"), R),
        "labelSelector": (SELECTOR, O)})), O)})
DEPLOYMENT_SPEC = Obj({
    "replicas": (Int(0), O), "revisionHistoryLimit": (Int(0), O), "minReadySeconds": (Int(0), O),
    "progressDeadlineSeconds": (Int(1), O),
    "strategy": (Obj({"type": (Enum("RollingUpdate", "Recreate"), O),
                      "rollingUpdate": (Obj({"maxUnavailable": (IntOrString(), O),
                                             "maxSurge": (IntOrString(), O)}), O)}), O),
    "selector": (SELECTOR, R),
    "template": (Obj({"metadata": (Obj({"labels": (LABELS, O), "annotations": (STRMAP, O)}), O),
                      "spec": (POD_SPEC, R)}), R)})
PDB_SPEC = Obj({"minAvailable": (IntOrString(), O), "maxUnavailable": (IntOrString(), O),
                "selector": (SELECTOR, O),
                "unhealthyPodEvictionPolicy": (Enum("IfHealthyBudget", "AlwaysAllow"), O)},
               one_of=[("minAvailable", "maxUnavailable")])
NP_PEER = Obj({"ipBlock": (Obj({"cidr": (Cidr(), R), "except": (List(Cidr()), O)}), O),
               "namespaceSelector": (SELECTOR, O), "podSelector": (SELECTOR, O)})
NP_PORT = Obj({"protocol": (Enum("TCP", "UDP", "SCTP"), O), "port": (PORT_REF, O),
               "endPort": (PORT, O)})
NETPOL_SPEC = Obj({
    "podSelector": (SELECTOR, R),
    "policyTypes": (List(Enum("Ingress", "Egress")), O),
    "ingress": (List(Obj({"from": (List(NP_PEER), O), "ports": (List(NP_PORT), O)})), O),
    "egress": (List(Obj({"to": (List(NP_PEER), O), "ports": (List(NP_PORT), O)})), O)})
HPA_RULES = Obj({"stabilizationWindowSeconds": (Int(0, 3600), O),
                 "selectPolicy": (Enum("Max", "Min", "Disabled"), O),
                 "policies": (List(Obj({"type": (Enum("Pods", "Percent"), R),
                                        "value": (Int(1), R),
                                        "periodSeconds": (Int(1, 1800), R)})), O)})
SCALEDOBJECT_SPEC = Obj({
    "scaleTargetRef": (Obj({"name": (S, R), "kind": (S, O), "apiVersion": (S, O),
                            "envSourceContainerName": (S, O)}), R),
    "pollingInterval": (Int(1), O), "cooldownPeriod": (Int(0), O),
    "idleReplicaCount": (Int(0), O), "minReplicaCount": (Int(0), O),
    "maxReplicaCount": (Int(1), O),
    "fallback": (Obj({"failureThreshold": (Int(1), R), "replicas": (Int(0), R)}), O),
    "advanced": (Obj({"restoreToOriginalReplicaCount": (Bool(), O),
                      "horizontalPodAutoscalerConfig": (Obj({
                          "name": (S, O),
                          "behavior": (Obj({"scaleUp": (HPA_RULES, O),
                                            "scaleDown": (HPA_RULES, O)}), O)}), O)}), O),
    "triggers": (List(Obj({
        "type": (S, R), "name": (S, O), "metadata": (STRMAP, R),
        "metricType": (Enum("AverageValue", "Value", "Utilization"), O),
        "useCachedMetrics": (Bool(), O),
        "authenticationRef": (Obj({"name": (S, R), "kind": (Enum(
            "TriggerAuthentication", "ClusterTriggerAuthentication"), O)}), O)}), 1), R)})
TRIGGERAUTH_SPEC = Obj({
    "secretTargetRef": (List(Obj({"parameter": (S, R), "name": (S, R), "key": (S, R)})), O),
    "env": (List(Obj({"parameter": (S, R), "name": (S, R), "containerName": (S, O)})), O)})

TOP = {"apiVersion": (S, R), "kind": (S, R), "metadata": (METADATA, R)}
KINDS = {
    ("v1", "Namespace"): Obj(dict(TOP)),
    ("v1", "ServiceAccount"): Obj(dict(TOP, automountServiceAccountToken=(Bool(), O))),
    ("v1", "Secret"): Obj(dict(TOP, type=(S, O), data=(Map(CONFIG_KEY, Base64()), O),
                               stringData=(Map(CONFIG_KEY, S), O), immutable=(Bool(), O))),
    ("v1", "ConfigMap"): Obj(dict(TOP, data=(Map(CONFIG_KEY, S), O), immutable=(Bool(), O))),
    ("apps/v1", "Deployment"): Obj(dict(TOP, spec=(DEPLOYMENT_SPEC, R))),
    ("policy/v1", "PodDisruptionBudget"): Obj(dict(TOP, spec=(PDB_SPEC, R))),
    ("networking.k8s.io/v1", "NetworkPolicy"): Obj(dict(TOP, spec=(NETPOL_SPEC, R))),
    ("keda.sh/v1alpha1", "ScaledObject"): Obj(dict(TOP, spec=(SCALEDOBJECT_SPEC, R))),
    ("keda.sh/v1alpha1", "TriggerAuthentication"): Obj(dict(TOP, spec=(TRIGGERAUTH_SPEC, R))),
}
NAMESPACED = {k for k in KINDS if k[1] != "Namespace"}


def check(doc):
    """The problems of one manifest object (a dict from the YAML)."""
    if not isinstance(doc, dict):
        return ["the document is not an object"]
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key not in KINDS:
        return [f"unknown apiVersion/kind {key[0]}/{key[1]}"]
    errs = []
    KINDS[key].check(doc, key[1], errs)
    if key in NAMESPACED and "namespace" not in (doc.get("metadata") or {}):
        errs.append(f"{key[1]}.metadata: a namespaced object names its namespace")
    return errs
