#!/usr/bin/env python3
"""Checks a render of deploy/helm/palisade (called by scripts/check-helm).

    helm_compare.py RENDER.yaml MANIFESTS_DIR EXPECT

EXPECT is `manifests` (the render must hold the same objects as MANIFESTS_DIR) or a `;`-separated
list of `key=value` assertions: cabundle=B64, policies=VALIDATING,MUTATING, timeout=N,
excluded=NS,NS..., replicas=N, mutating=absent. Whatever EXPECT says, every render must keep the
invariants the issue asks of the deployment: namespaced objects in the release namespace, the
ClusterRoleBinding pointing at the release's service account, webhooks with sideEffects None and
a namespaceSelector that excludes kube-system and the release namespace.
Prints nothing and exits 0 when everything holds; otherwise names each difference and exits 1.
"""
import glob
import json
import sys

import yaml

CLUSTER_SCOPED = {
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "Namespace",
}
# Labels a chart adds for its release bookkeeping; they carry no behaviour.
RELEASE_LABELS = {"app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"}
# Annotations a chart adds so that a config change rolls the pods.
RELEASE_ANNOTATIONS = {"checksum/config"}

problems = []


def load(paths):
    objs = {}
    for path in paths:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if isinstance(doc, dict) and "kind" in doc:
                    objs[(doc["kind"], doc["metadata"]["name"])] = doc
    return objs


def strip(o):
    """The object without release bookkeeping; ConfigMap data that is YAML compared parsed."""
    if isinstance(o, dict):
        out = {}
        for k, v in o.items():
            if k in RELEASE_LABELS or k in RELEASE_ANNOTATIONS:
                continue
            v = strip(v)
            if v == {} and k in ("labels", "annotations", "matchLabels"):
                continue
            out[k] = v
        return out
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o


def diff(a, b, where=""):
    """Records every difference between chart value `a` and manifests value `b`; at the top
    level both are maps from "Kind/name" to the object."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            at = f"{where}.{k}" if where else k
            if k not in a:
                problems.append(f"{at}: in deploy/manifests only: {json.dumps(b[k])[:200]}")
            elif k not in b:
                problems.append(f"{at}: in the chart only: {json.dumps(a[k])[:200]}")
            else:
                diff(a[k], b[k], at)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{where}[{i}]")
    elif a != b:
        problems.append(f"{where}: chart {json.dumps(a)[:200]} != manifests {json.dumps(b)[:200]}")


def parse_config(obj):
    if obj.get("kind") == "ConfigMap":
        data = obj.get("data") or {}
        for k, v in list(data.items()):
            if k.endswith((".yaml", ".yml")):
                data[k] = yaml.safe_load(v)
    return obj


def default_deny(objs):
    """The namespace-wide deny-all NetworkPolicy, whatever its name."""
    for (kind, name), o in objs.items():
        spec = o.get("spec") or {}
        if kind == "NetworkPolicy" and spec.get("podSelector") in ({}, None) and not spec.get(
            "ingress"
        ) and not spec.get("egress"):
            return (kind, name)
    return None


def compare_with_manifests(chart, plain):
    # The chart does not create its namespace (helm install --create-namespace does, and the
    # README asks for the restricted label); the deny-all policy is named after the release.
    plain = dict(plain)
    plain.pop(("Namespace", "palisade-system"), None)
    c_deny, p_deny = default_deny(chart), default_deny(plain)
    if c_deny is None or p_deny is None:
        problems.append(f"deny-all NetworkPolicy: chart {c_deny}, manifests {p_deny}")
    else:
        plain[c_deny] = dict(plain.pop(p_deny))
        plain[c_deny]["metadata"] = dict(plain[c_deny]["metadata"], name=c_deny[1])
    diff(
        {f"{k}/{n}": strip(parse_config(o)) for (k, n), o in chart.items()},
        {f"{k}/{n}": strip(parse_config(o)) for (k, n), o in plain.items()},
    )


def webhooks(chart):
    out = []
    for (kind, name), o in sorted(chart.items()):
        if kind.endswith("WebhookConfiguration"):
            for w in o.get("webhooks") or []:
                out.append((kind, w))
    return out


def excluded_namespaces(w):
    for e in (w.get("namespaceSelector") or {}).get("matchExpressions") or []:
        if e.get("key") == "kubernetes.io/metadata.name" and e.get("operator") == "NotIn":
            return e.get("values") or []
    return []


def invariants(chart, ns):
    for (kind, name), o in sorted(chart.items()):
        got = o["metadata"].get("namespace")
        if kind in CLUSTER_SCOPED:
            if got is not None:
                problems.append(f"{kind}/{name}: cluster-scoped but has namespace {got!r}")
        elif got != ns:
            problems.append(f"{kind}/{name}: namespace {got!r}, expected the release's {ns!r}")
        if kind == "ClusterRoleBinding":
            for s in o.get("subjects") or []:
                if s.get("kind") == "ServiceAccount" and s.get("namespace") != ns:
                    problems.append(f"{kind}/{name}: subject {s} not in the release namespace")
    hooks = webhooks(chart)
    if not any(k.startswith("Validating") for k, _ in hooks):
        problems.append("no ValidatingWebhookConfiguration rendered")
    for kind, w in hooks:
        if w.get("sideEffects") != "None":
            problems.append(f"{kind} {w.get('name')}: sideEffects {w.get('sideEffects')!r}")
        ex = excluded_namespaces(w)
        for must in ("kube-system", ns):
            if must not in ex:
                problems.append(f"{kind} {w.get('name')}: namespaceSelector does not exclude {must}")
        if len(ex) != len(set(ex)):
            problems.append(f"{kind} {w.get('name')}: excluded namespaces repeat: {ex}")


def assertions(chart, expect):
    hooks = webhooks(chart)
    for item in filter(None, expect.split(";")):
        key, _, val = item.partition("=")
        if key == "cabundle":
            for kind, w in hooks:
                got = (w.get("clientConfig") or {}).get("caBundle")
                if got != val:
                    problems.append(f"{kind}: caBundle {got!r}, expected {val!r}")
            for (kind, name), o in chart.items():
                if "cert-manager.io/inject-ca-from" in (o["metadata"].get("annotations") or {}):
                    problems.append(f"{kind}/{name}: cert-manager annotation with certManager=false")
        elif key == "policies":
            want_v, want_m = val.split(",")
            for kind, w in hooks:
                want = want_v if kind.startswith("Validating") else want_m
                if w.get("failurePolicy") != want:
                    problems.append(f"{kind}: failurePolicy {w.get('failurePolicy')!r}, expected {want!r}")
        elif key == "timeout":
            for kind, w in hooks:
                if w.get("timeoutSeconds") != int(val):
                    problems.append(f"{kind}: timeoutSeconds {w.get('timeoutSeconds')!r}, expected {val}")
        elif key == "excluded":
            for kind, w in hooks:
                if sorted(excluded_namespaces(w)) != sorted(val.split(",")):
                    problems.append(f"{kind}: excluded namespaces {excluded_namespaces(w)}, expected {val}")
        elif key == "replicas":
            deps = [o for (k, _), o in chart.items() if k == "Deployment"]
            if [d["spec"].get("replicas") for d in deps] != [int(val)]:
                problems.append(f"Deployment replicas {[d['spec'].get('replicas') for d in deps]}, expected {val}")
        elif key == "mutating" and val == "absent":
            if any(k == "MutatingWebhookConfiguration" for k, _ in chart):
                problems.append("MutatingWebhookConfiguration rendered with webhook.mutation=false")
        else:
            problems.append(f"unknown assertion {item!r}")


def main():
    render, manifests, expect = sys.argv[1], sys.argv[2], sys.argv[3]
    chart = load([render])
    ns = None
    for (kind, _), o in chart.items():
        if kind == "Deployment":
            ns = o["metadata"].get("namespace")
    if ns is None:
        problems.append("no Deployment rendered")
    else:
        invariants(chart, ns)
    if expect == "manifests":
        compare_with_manifests(chart, load(sorted(glob.glob(f"{manifests}/*.yaml"))))
    else:
        assertions(chart, expect)
    if problems:
        for p in problems:
            print(f"{render}: {p}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
