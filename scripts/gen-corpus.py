#!/usr/bin/env python3
"""Generate a synthetic corpus of Kubernetes manifests for benchmarking `palisade scan`.

Deterministic for a given --seed: the same arguments always write the same bytes. Each file is
one "application" (a workload plus some of its Service, Ingress, ConfigMap, Secret,
ServiceAccount, RBAC and NetworkPolicy objects) or a Namespace (with or without PodSecurity
labels). Security contexts are drawn from profiles ranging from fully restricted to privileged,
so some objects are clean and some violate the Pod Security Standards and hardening checks.

Python 3 standard library only.

    scripts/gen-corpus.py --files 5000 --out bench-out/corpus
"""

import argparse
import json
import os
import random
import re
import shutil
import sys

# ---------------------------------------------------------------------------------------------
# A small block-style YAML writer (enough for manifests: maps, lists, strings, ints, bools).

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./:@=+-]*$")
_RESERVED = {
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
    "Y", "N", "Yes", "No", "On", "Off", "True", "False", "Null", "NULL",
    "YES", "NO", "ON", "OFF", "TRUE", "FALSE",
}


def scalar(v):
    """Render a scalar as YAML."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if v is None:
        return "null"
    s = str(v)
    if _PLAIN.match(s) and s not in _RESERVED and not s.endswith(":"):
        return s
    return json.dumps(s)


def to_yaml(v, indent=0):
    """Render a map or list as block YAML lines at the given indentation."""
    pad = " " * indent
    out = []
    if isinstance(v, dict):
        for k, val in v.items():
            key = scalar(k)
            if isinstance(val, dict) and val:
                out.append(f"{pad}{key}:")
                out.extend(to_yaml(val, indent + 2))
            elif isinstance(val, list) and val:
                out.append(f"{pad}{key}:")
                out.extend(to_yaml(val, indent))
            elif isinstance(val, dict):
                out.append(f"{pad}{key}: {{}}")
            elif isinstance(val, list):
                out.append(f"{pad}{key}: []")
            else:
                out.append(f"{pad}{key}: {scalar(val)}")
    elif isinstance(v, list):
        for item in v:
            if isinstance(item, (dict, list)) and item:
                lines = to_yaml(item, indent + 2)
                first = lines[0][indent + 2:]
                out.append(f"{pad}- {first}")
                out.extend(lines[1:])
            elif isinstance(item, dict):
                out.append(f"{pad}- {{}}")
            elif isinstance(item, list):
                out.append(f"{pad}- []")
            else:
                out.append(f"{pad}- {scalar(item)}")
    else:
        out.append(pad + scalar(v))
    return out


def document(obj):
    return "\n".join(to_yaml(obj)) + "\n"


# ---------------------------------------------------------------------------------------------
# Building blocks.

WORDS = (
    "alpha bravo cart checkout catalog search billing ledger auth session inventory orders "
    "payments shipping notify mailer report export import sync worker gateway proxy cache "
    "metrics audit profile media thumbs feed ranking pricing quota tenant admin portal api"
).split()
REGISTRIES = ["", "docker.io/library/", "ghcr.io/acme/", "registry.example.com/team/",
              "quay.io/acme/", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/"]
BASE_IMAGES = ["nginx", "redis", "postgres", "busybox", "python", "node", "golang", "envoy",
               "haproxy", "memcached", "rabbitmq", "app", "worker", "api"]
LEVELS = ["privileged", "baseline", "restricted"]
VERSIONS = ["latest", "v1.23", "v1.25", "v1.27", "v1.29", "v1.30", "v1.31", "v1.32", "v1.33"]
CAPS_BAD = ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE", "NET_RAW", "ALL", "SYS_MODULE", "BPF"]
CAPS_BASELINE = ["CHOWN", "NET_BIND_SERVICE", "SETUID", "SETGID", "KILL"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def chance(self, p):
        return self.r.random() < p

    def pick(self, seq):
        return self.r.choice(seq)

    def name(self):
        return f"{self.pick(WORDS)}-{self.pick(WORDS)}-{self.r.randrange(1000):03d}"

    def image(self):
        r = self.r.random()
        base = self.pick(REGISTRIES) + self.pick(BASE_IMAGES)
        if r < 0.15:
            return base
        if r < 0.35:
            return base + ":latest"
        tag = f"{self.r.randrange(1, 9)}.{self.r.randrange(30)}.{self.r.randrange(10)}"
        if r < 0.75:
            return f"{base}:{tag}"
        digest = "%064x" % self.r.getrandbits(256)
        return f"{base}:{tag}@sha256:{digest}"

    # Security contexts ---------------------------------------------------------------------

    def pod_security(self, profile):
        if profile == "restricted":
            sc = {"runAsNonRoot": True, "runAsUser": self.r.randrange(10000, 65000),
                  "runAsGroup": self.r.randrange(10000, 65000),
                  "seccompProfile": {"type": self.pick(["RuntimeDefault", "RuntimeDefault",
                                                        "Localhost"])}}
            if sc["seccompProfile"]["type"] == "Localhost":
                sc["seccompProfile"]["localhostProfile"] = "profiles/app.json"
            if self.chance(0.5):
                sc["fsGroup"] = sc["runAsGroup"]
            return sc
        if profile == "baseline":
            sc = {}
            if self.chance(0.5):
                sc["runAsUser"] = self.pick([0, 1000, 65534])
            if self.chance(0.3):
                sc["seccompProfile"] = {"type": "RuntimeDefault"}
            if self.chance(0.2):
                sc["sysctls"] = [{"name": self.pick(["net.ipv4.ip_local_port_range",
                                                     "kernel.shm_rmid_forced",
                                                     "net.ipv4.tcp_keepalive_time"]),
                                  "value": "1"}]
            return sc
        if profile == "privileged":
            sc = {"runAsUser": 0}
            if self.chance(0.3):
                sc["seccompProfile"] = {"type": "Unconfined"}
            if self.chance(0.2):
                sc["sysctls"] = [{"name": "kernel.msgmax", "value": "65536"}]
            if self.chance(0.2):
                sc["seLinuxOptions"] = {"type": "spc_t"}
            return sc
        return {}

    def container_security(self, profile):
        if profile == "restricted":
            sc = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
            if self.chance(0.7):
                sc["readOnlyRootFilesystem"] = True
            if self.chance(0.2):
                sc["capabilities"]["add"] = ["NET_BIND_SERVICE"]
            return sc
        if profile == "baseline":
            sc = {}
            if self.chance(0.5):
                sc["allowPrivilegeEscalation"] = self.chance(0.5)
            if self.chance(0.4):
                sc["capabilities"] = {"add": [self.pick(CAPS_BASELINE)]}
            if self.chance(0.3):
                sc["readOnlyRootFilesystem"] = self.chance(0.5)
            return sc
        if profile == "privileged":
            sc = {}
            if self.chance(0.6):
                sc["privileged"] = True
            if self.chance(0.5):
                sc["capabilities"] = {"add": self.r.sample(CAPS_BAD, self.r.randrange(1, 3))}
            if self.chance(0.3):
                sc["procMount"] = "Unmasked"
            if self.chance(0.3):
                sc["allowPrivilegeEscalation"] = True
            return sc
        return {}

    # Pod specs -----------------------------------------------------------------------------

    def container(self, name, profile, main=True):
        c = {"name": name, "image": self.image()}
        if self.chance(0.3):
            c["imagePullPolicy"] = self.pick(["Always", "IfNotPresent", "Never"])
        if main and self.chance(0.8):
            port = self.pick([80, 443, 8080, 8443, 9090, 3000, 5432, 6379])
            p = {"name": "http", "containerPort": port}
            if profile == "privileged" and self.chance(0.3):
                p["hostPort"] = port
            c["ports"] = [p]
        if self.chance(0.6):
            env = [{"name": "LOG_LEVEL", "value": self.pick(["info", "debug", "warn"])}]
            if self.chance(0.15):
                env.append({"name": self.pick(["DB_PASSWORD", "API_TOKEN", "AWS_SECRET_ACCESS_KEY"]),
                            "value": "s3cr3t-%06d" % self.r.randrange(10 ** 6)})
            if self.chance(0.3):
                env.append({"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {
                    "name": "db-credentials", "key": "password"}}})
            if self.chance(0.2):
                env.append({"name": "POD_NAME", "valueFrom": {"fieldRef": {
                    "fieldPath": "metadata.name"}}})
            c["env"] = env
        if self.chance(0.65):
            res = {"requests": {"cpu": self.pick(["50m", "100m", "250m", "1"]),
                                "memory": self.pick(["64Mi", "128Mi", "512Mi", "1Gi"])}}
            if self.chance(0.7):
                res["limits"] = {"memory": self.pick(["128Mi", "256Mi", "1Gi", "2Gi"])}
                if self.chance(0.6):
                    res["limits"]["cpu"] = self.pick(["200m", "500m", "2"])
            c["resources"] = res
        if main and self.chance(0.55):
            probe = self.pick([
                {"httpGet": {"path": "/healthz", "port": 8080}},
                {"tcpSocket": {"port": 8080}},
                {"exec": {"command": ["/bin/check", "--quick"]}},
            ])
            c["livenessProbe"] = dict(probe, periodSeconds=10)
            if self.chance(0.8):
                c["readinessProbe"] = dict(probe, periodSeconds=5)
        sc = self.container_security(profile)
        if sc or self.chance(0.1):
            c["securityContext"] = sc
        return c

    def pod_spec(self, profile, sa=None, restart=None):
        spec = {}
        if sa:
            spec["serviceAccountName"] = sa
        if self.chance(0.3):
            spec["automountServiceAccountToken"] = self.chance(0.3)
        if restart:
            spec["restartPolicy"] = restart
        psc = self.pod_security(profile)
        if psc:
            spec["securityContext"] = psc
        if profile == "privileged":
            for k in ("hostNetwork", "hostPID", "hostIPC"):
                if self.chance(0.25):
                    spec[k] = True
        if self.chance(0.1):
            spec["runtimeClassName"] = self.pick(["gvisor", "kata", "runc"])
        containers = []
        if self.chance(0.2):
            spec["initContainers"] = [self.container("init", profile, main=False)]
        n = 1 if self.chance(0.7) else self.r.randrange(2, 4)
        for i in range(n):
            containers.append(self.container("app" if i == 0 else f"sidecar-{i}", profile, i == 0))
        spec["containers"] = containers
        vols = []
        if self.chance(0.4):
            vols.append({"name": "tmp", "emptyDir": {}})
            for c in containers:
                c.setdefault("volumeMounts", []).append({"name": "tmp", "mountPath": "/tmp"})
        if self.chance(0.2):
            vols.append({"name": "config", "configMap": {"name": "app-config"}})
        if profile == "privileged" and self.chance(0.5):
            path = self.pick(["/var/log", "/var/run/docker.sock", "/run/containerd/containerd.sock",
                              "/", "/etc", "/var/lib/kubelet", "/proc"])
            vols.append({"name": "host", "hostPath": {"path": path}})
            containers[0].setdefault("volumeMounts", []).append(
                {"name": "host", "mountPath": "/host", "readOnly": self.chance(0.4)})
        if vols:
            spec["volumes"] = vols
        if self.chance(0.1):
            spec["tolerations"] = [{"operator": "Exists"}]
        return spec

    def profile(self):
        return self.r.choices(["restricted", "baseline", "privileged", "none"],
                              weights=[35, 25, 10, 30])[0]

    # Objects -------------------------------------------------------------------------------

    def meta(self, name, ns, labels=None, annotations=None):
        m = {"name": name}
        if ns is not None:
            m["namespace"] = ns
        if labels:
            m["labels"] = labels
        if annotations:
            m["annotations"] = annotations
        return m

    def workload(self, name, ns, labels, sa):
        kind = self.r.choices(["Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod"],
                              weights=[45, 12, 8, 10, 8, 17])[0]
        profile = self.profile()
        annotations = None
        if self.chance(0.05):
            annotations = {"palisade.dev/ignore": "hardening/*",
                           "palisade.dev/ignore-reason": "legacy workload, tracked in TICKET-1"}
        if kind == "Pod":
            return {"apiVersion": "v1", "kind": "Pod",
                    "metadata": self.meta(name, ns, labels, annotations),
                    "spec": self.pod_spec(profile, sa)}
        tmeta = {"labels": dict(labels)}
        if self.chance(0.1):
            tmeta["annotations"] = {
                "container.apparmor.security.beta.kubernetes.io/app":
                    self.pick(["runtime/default", "unconfined", "localhost/app"])}
        if kind in ("Job", "CronJob"):
            job = {"backoffLimit": self.r.randrange(0, 6),
                   "template": {"metadata": tmeta,
                                "spec": self.pod_spec(profile, sa, self.pick(["Never", "OnFailure"]))}}
            if kind == "Job":
                return {"apiVersion": "batch/v1", "kind": "Job",
                        "metadata": self.meta(name, ns, labels, annotations), "spec": job}
            return {"apiVersion": "batch/v1", "kind": "CronJob",
                    "metadata": self.meta(name, ns, labels, annotations),
                    "spec": {"schedule": f"{self.r.randrange(60)} */{self.r.randrange(1, 12)} * * *",
                             "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": job}}}
        spec = {"selector": {"matchLabels": dict(labels)},
                "template": {"metadata": tmeta, "spec": self.pod_spec(profile, sa)}}
        if kind != "DaemonSet":
            spec = {"replicas": self.r.randrange(1, 6), **spec}
        if kind == "StatefulSet":
            spec["serviceName"] = name
            if self.chance(0.5):
                spec["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}}}}]
        return {"apiVersion": "apps/v1", "kind": kind,
                "metadata": self.meta(name, ns, labels, annotations), "spec": spec}

    def service(self, name, ns, labels):
        t = self.r.choices(["ClusterIP", "NodePort", "LoadBalancer"], weights=[75, 12, 13])[0]
        spec = {"type": t, "selector": dict(labels),
                "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
        if self.chance(0.03):
            spec["externalIPs"] = ["203.0.113.%d" % self.r.randrange(1, 255)]
        return {"apiVersion": "v1", "kind": "Service", "metadata": self.meta(name, ns, labels),
                "spec": spec}

    def ingress(self, name, ns):
        host = f"{name}.example.com"
        spec = {"ingressClassName": "nginx",
                "rules": [{"host": host, "http": {"paths": [{
                    "path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}]}
        if self.chance(0.6):
            spec = {"tls": [{"hosts": [host], "secretName": f"{name}-tls"}], **spec}
        return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": self.meta(name, ns), "spec": spec}

    def configmap(self, name, ns):
        data = {"LOG_FORMAT": "json", "FEATURE_FLAGS": "a,b,c", "PORT": "8080"}
        if self.chance(0.15):
            data[self.pick(["DB_PASSWORD", "api_key", "SECRET_TOKEN"])] = "hunter2-%d" % self.r.randrange(999)
        if self.chance(0.3):
            data["app.properties"] = "server.port=8080\nlogging.level=INFO\n"
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": self.meta(f"{name}-config", ns),
                "data": data}

    def secret(self, name, ns):
        return {"apiVersion": "v1", "kind": "Secret", "metadata": self.meta(f"{name}-creds", ns),
                "type": "Opaque",
                "data": {"password": "c2VjcmV0LXBhc3N3b3Jk", "username": "YXBw"}}

    def service_account(self, name, ns):
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": self.meta(name, ns)}
        if self.chance(0.6):
            sa["automountServiceAccountToken"] = self.chance(0.3)
        return sa

    def rbac(self, name, ns, sa):
        cluster = self.chance(0.2)
        rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
        r = self.r.random()
        if r < 0.15:
            rules.append({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})
        elif r < 0.35:
            rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]})
        elif r < 0.45:
            rules.append({"apiGroups": [""], "resources": ["pods", "pods/exec"], "verbs": ["create"]})
        role_kind = "ClusterRole" if cluster else "Role"
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": role_kind,
                "metadata": self.meta(name, None if cluster else ns), "rules": rules}
        ref_name = name
        if self.chance(0.05):
            role_kind, ref_name = "ClusterRole", "cluster-admin"
        subjects = [{"kind": "ServiceAccount", "name": sa or "default", "namespace": ns}]
        if self.chance(0.02):
            subjects.append({"kind": "Group", "name": "system:unauthenticated",
                             "apiGroup": "rbac.authorization.k8s.io"})
        binding = {"apiVersion": "rbac.authorization.k8s.io/v1",
                   "kind": "ClusterRoleBinding" if cluster else "RoleBinding",
                   "metadata": self.meta(name, None if cluster else ns),
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                               "name": ref_name},
                   "subjects": subjects}
        return [role, binding]

    def netpol(self, name, ns, labels):
        if self.chance(0.3):
            return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": self.meta("default-deny", ns),
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": self.meta(name, ns),
                "spec": {"podSelector": {"matchLabels": dict(labels)},
                         "policyTypes": ["Ingress"],
                         "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}],
                                      "ports": [{"protocol": "TCP", "port": 8080}]}]}}

    def namespace(self, ns):
        labels = {"team": self.pick(WORDS)}
        if self.chance(0.7):
            for mode in ("enforce", "audit", "warn"):
                if mode == "enforce" or self.chance(0.5):
                    labels[f"pod-security.kubernetes.io/{mode}"] = self.pick(LEVELS)
                    if self.chance(0.6):
                        labels[f"pod-security.kubernetes.io/{mode}-version"] = self.pick(VERSIONS)
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": self.meta(ns, None, labels)}

    def app(self, ns):
        """One application file: a workload and some of its companions."""
        name = self.name()
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": ns}
        objs = []
        sa = None
        if self.chance(0.5):
            sa = name
            objs.append(self.service_account(name, ns))
        if self.chance(0.45):
            objs.append(self.configmap(name, ns))
        objs.append(self.workload(name, ns, labels, sa))
        if self.chance(0.6):
            objs.append(self.service(name, ns, labels))
        if self.chance(0.2):
            objs.append(self.ingress(name, ns))
        if self.chance(0.15):
            objs.append(self.secret(name, ns))
        if self.chance(0.2):
            objs.extend(self.rbac(name, ns, sa))
        if self.chance(0.25):
            objs.append(self.netpol(name, ns, labels))
        return objs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=5000, help="number of files (default 5000)")
    ap.add_argument("--out", default="bench-out/corpus", help="output directory (replaced)")
    ap.add_argument("--seed", type=int, default=20261123, help="random seed")
    ap.add_argument("--json-share", type=float, default=0.03,
                    help="fraction of app files written as JSON lists (default 0.03)")
    args = ap.parse_args()
    if args.files < 1:
        ap.error("--files must be at least 1")

    g = Gen(args.seed)
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    namespaces = [f"team-{i:03d}" for i in range(max(1, args.files // 40))]
    counts = {}
    files = 0
    objects = 0

    def write(path, objs, as_json=False):
        nonlocal files, objects
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            if as_json:
                json.dump({"apiVersion": "v1", "kind": "List", "items": objs}, f, indent=2)
                f.write("\n")
            else:
                f.write("---\n".join(document(o) for o in objs))
        files += 1
        objects += len(objs)
        for o in objs:
            counts[o["kind"]] = counts.get(o["kind"], 0) + 1

    for ns in namespaces:
        if files >= args.files:
            break
        write(os.path.join(args.out, ns, "namespace.yaml"), [g.namespace(ns)])
    i = 0
    while files < args.files:
        ns = g.pick(namespaces) if g.chance(0.97) else None
        objs = g.app(ns if ns else "default")
        if g.chance(0.2):
            objs.extend(g.app(ns if ns else "default"))
        if ns is None:
            for o in objs:
                o["metadata"].pop("namespace", None)
        as_json = g.chance(args.json_share)
        sub = ns or "unscoped"
        write(os.path.join(args.out, sub, f"app-{i:05d}." + ("json" if as_json else "yaml")),
              objs, as_json)
        i += 1

    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    print(f"gen-corpus: {files} files, {objects} objects in {args.out} ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
