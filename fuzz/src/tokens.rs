//! Tokens the stable driver inserts into inputs, per target: the keywords and shapes of each
//! format, so that random mutation reaches past the first syntax check.

/// YAML and Kubernetes manifest structure (`load`, and the start of the other YAML targets).
#[rustfmt::skip]
pub const YAML: &[&[u8]] = &[
    b"\n---\n", b"\n...\n", b"- ", b": ", b"{", b"}", b"[", b"]", b",", b"&a ", b"*a", b"<<: *a\n", b"? ",
    b"!!str ", b"!!int ", b"!!binary ", b"!!map ", b"!custom ", b"|\n  ", b">-\n  ", b"\"", b"'", b"#",
    b"\t", b"\\u0000", "\u{feff}".as_bytes(), b"~", b"null", b"yes", b"no", b"on", b"0x1F", b"0o17", b"1e999",
    b"-9223372036854775809", b"18446744073709551616", b".inf", b".nan", b"2024-01-01",
    b"apiVersion: v1\n", b"apiVersion: apps/v1\n", b"kind: Pod\n", b"kind: List\nitems:\n",
    b"kind: Deployment\n", b"kind: CronJob\n", b"kind: Namespace\n", b"kind: NetworkPolicy\n",
    b"kind: ClusterRoleBinding\n", b"metadata:\n  name: x\n  namespace: y\n",
    b"metadata: {annotations: {palisade.dev/ignore: 'pss/*'}}\n", b"spec:\n", b"template:\n",
    b"jobTemplate:\n", b"containers:\n- name: c\n  image: i\n", b"initContainers:\n",
    b"ephemeralContainers:\n", b"securityContext:\n", b"privileged: true", b"runAsUser: 0",
    b"runAsNonRoot: false", b"capabilities: {add: [ALL], drop: []}", b"hostPath: {path: /}",
    b"hostNetwork: true", b"seccompProfile: {type: Unconfined}", b"volumes:\n", b"env:\n",
    b"- name: PASSWORD\n  value: x\n", b"valueFrom: {secretKeyRef: {name: s, key: k}}",
    b"pod-security.kubernetes.io/enforce: restricted", b"pod-security.kubernetes.io/enforce-version: v1.",
    b"labels: {", b"matchExpressions: [{key: a, operator: In, values: [b]}]", b"podSelector: {}",
    b"policyTypes: [Ingress, Egress]", b"rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]",
    b"roleRef: {kind: ClusterRole, name: cluster-admin}", b"image: a@sha256:", b"image: :latest",
    b"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"containers\":[{}]}}",
];

/// AdmissionReview JSON.
#[rustfmt::skip]
pub const REVIEW: &[&[u8]] = &[
    b"{", b"}", b"[", b"]", b",", b":", b"\"", b"null", b"true", b"false", b"0", b"-1", b"1e999",
    b"\\u0000", b"\\ud800", b"\"uid\":\"u\"", b"\"operation\":\"CREATE\"", b"\"operation\":\"UPDATE\"",
    b"\"operation\":\"DELETE\"", b"\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"}",
    b"\"object\":", b"\"oldObject\":", b"\"request\":", b"\"apiVersion\":\"admission.k8s.io/v1\"",
    b"\"kind\":\"AdmissionReview\"", b"\"subResource\":\"status\"", b"\"userInfo\":{\"username\":\"admin\"}",
    b"\"securityContext\":{\"privileged\":true}", b"\"containers\":[{\"name\":\"c\",\"image\":\"app\"}]",
    b"\"hostPID\":true", b"\"runtimeClassName\":\"kata\"", b"\"namespace\":\"ns\"",
];

/// Falco rules files.
#[rustfmt::skip]
pub const RULES: &[&[u8]] = &[
    b"- rule: r\n", b"- macro: m\n", b"- list: l\n", b"- required_engine_version: 0.10.0\n",
    b"- required_plugin_versions: []\n", b"  desc: d\n", b"  condition: ", b"  output: ", b"  priority: ",
    b"  items: [", b"  enabled: false\n", b"  tags: [a]\n", b"  source: syscall\n", b"  append: true\n",
    b"  override:\n    condition: append\n", b"  override: {items: replace}\n", b"  exceptions:\n",
    b"  - name: e\n    fields: [proc.name, fd.name]\n    comps: [=, startswith]\n    values: [[a, b]]\n",
    b"  skip-if-unknown-filter: true\n", b"  warn_evttypes: false\n", b"m", b"l", b"(l)", b"EMERGENCY",
    b"critical", b"notice", b"debug",
    b" and ", b" or ", b"not ", b"(", b")", b"evt.type = execve", b"evt.type in (open, openat)",
    b"proc.name", b"fd.name", b"%proc.name", b"%evt.args", b" startswith ", b" pmatch ", b" glob ",
    b" regex ", b"\"", b"'", b"\\", b",", b":", b"\n", b"  ",
];

/// Falco condition expressions and output templates.
#[rustfmt::skip]
pub const CONDITION: &[&[u8]] = &[
    b" and ", b" or ", b"not ", b"(", b")", b" = ", b" != ", b" < ", b" <= ", b" > ", b" >= ", b" in ",
    b" intersects ", b" contains ", b" icontains ", b" bcontains ", b" startswith ", b" bstartswith ",
    b" endswith ", b" glob ", b" iglob ", b" pmatch ", b" regex ", b" exists", b" anyof ", b" allof ",
    b" oneof ", b"evt.type", b"evt.dir", b"evt.arg.pathname", b"evt.arg[0]", b"evt.rawarg.flags",
    b"evt.args", b"evt.res", b"evt.num", b"evt.time", b"proc.name", b"proc.pname", b"proc.aname[2]",
    b"proc.aname", b"proc.apid[1]", b"proc.args", b"proc.cmdline", b"proc.env[HOME]", b"proc.exepath",
    b"fd.name", b"fd.directory", b"fd.filename", b"fd.sip", b"fd.cip", b"fd.sport", b"fd.typechar",
    b"fd.sip.name", b"fd.net", b"fd.types", b"container.id", b"container.image.repository",
    b"k8s.ns.name", b"user.name", b"user.uid", b"group.gid", b"spawned", b"opened", b"shells",
    b"(shells)", b"tolower(", b"toupper(", b"b64(", b"basename(", b"len(", b"val(", b"concat(",
    b"join(", b"\"", b"'", b"\\", b",", b"/etc/", b"10.0.0.0/8", b"::1/128", b"0", b"-1",
    b"18446744073709551616", b"%", b"%proc.name", b"%fd.name[", b"[", b"]",
];

/// Capture files: the magic, a header, record lengths and extreme integers.
#[rustfmt::skip]
pub const CAPTURE: &[&[u8]] = &[
    b"PALCAP\0\x01", b"\x02\0\0\0{}", b"\0\0\0\0", b"\xff\xff\xff\xff", b"\xff\xff\xff\x7f",
    b"\0\0\0\x01", b"\x01\0\0\0", b"\xff\xff\xff\xff\xff\xff\xff\xff", b"\0\0\0\0\0\0\0\x80",
    b"\x3b\0", b"\x01\x01", b"\x02\0", b"\x39\0", b"\xe7\0", b"\x2a\0", b"\x2b\0", b"\x03\0\0\0",
    b"\x04\0\0\0", b"\x05\0\0\0", b"/bin/sh", b"\xc3\x28",
];

/// `--trace`/`--scope`/`--events` values.
#[rustfmt::skip]
pub const FILTER: &[&[u8]] = &[
    b"\n", b"trace ", b"filter ", b"scope ", b"events ", b"-e ", b"=", b"!=", b"<", b">", b"<=", b">=",
    b",", b"!", b".", b"-", b"*", b"pid", b"p", b"uid", b"u", b"comm", b"uts", b"mntns", b"pidns",
    b"tree", b"container", b"c", b"not-container", b"executable", b"exec", b"follow", b"event", b"e",
    b"set", b"s", b"tag", b"new", b"host", b"openat", b"execve", b"connect", b"sched_process_exec",
    b".args.pathname", b".retval", b".context.container", b".context.comm", b".context.pid",
    b"fs", b"net", b"proc", b"default", b"0", b"-1", b"4294967296", b"170141183460469231731687303715884105728",
    b"/etc/*", b"*passwd", b"mnt:", b"pid:",
];

/// ConstraintTemplates and Constraints.
#[rustfmt::skip]
pub const GATEKEEPER: &[&[u8]] = &[
    b"\n---\n", b"apiVersion: templates.gatekeeper.sh/v1\n", b"kind: ConstraintTemplate\n",
    b"apiVersion: constraints.gatekeeper.sh/v1beta1\n", b"kind: FuzzLabels\n", b"metadata: {name: c}\n",
    b"spec:\n", b"  parameters:\n", b"    labels: [a, b]\n", b"    max: 3\n", b"  enforcementAction: ",
    b"deny", b"warn", b"dryrun", b"scoped", b"  scopedEnforcementActions:\n  - action: warn\n    enforcementPoints: [{name: \"*\"}]\n",
    b"  match:\n", b"    kinds: [{apiGroups: [\"\"], kinds: [Pod]}]\n", b"    scope: Namespaced\n",
    b"    namespaces: [a*]\n", b"    excludedNamespaces: [\"*x*\"]\n",
    b"    labelSelector: {matchExpressions: [{key: a, operator: NotIn, values: [b]}]}\n",
    b"    namespaceSelector: {matchLabels: {a: b}}\n", b"    name: \"x*\"\n",
    b"  crd:\n    spec:\n      names: {kind: K}\n", b"      validation:\n        openAPIV3Schema:\n",
    b"type: object", b"type: array", b"type: string", b"type: integer", b"properties:", b"items:",
    b"required: [a]", b"enum: [a, 1]", b"pattern: \"^a+$\"", b"minimum: 0", b"maxLength: 2",
    b"additionalProperties: false", b"anyOf: [{type: string}]", b"x-kubernetes-int-or-string: true",
    b"  targets:\n  - target: admission.k8s.gatekeeper.sh\n    rego: |\n", b"package k\n",
    b"violation[{\"msg\": msg}] {\n", b"  msg := sprintf(\"%v %d %s\", [input.parameters])\n", b"}\n",
    b"    libs:\n    - |\n      package lib.x\n", b"    code:\n    - engine: Rego\n      source:\n        version: v1\n",
    b"data.inventory", b"input.review.object", b"{", b"}", b"[", b"]", b": ", b"- ", b"\"", b"'",
];

/// `gator verify` Suite files (the target's directory holds template.yaml, constraint.yaml,
/// allowed.yaml, denied.yaml, inventory.yaml, review.yaml, two.yaml).
#[rustfmt::skip]
pub const SUITE: &[&[u8]] = &[
    b"kind: Suite\n", b"apiVersion: test.gatekeeper.sh/v1alpha1\n", b"tests:\n", b"- name: t\n",
    b"  template: template.yaml\n", b"  constraint: constraint.yaml\n", b"  cases:\n",
    b"  - name: c\n", b"    object: allowed.yaml\n", b"    object: denied.yaml\n", b"    object: review.yaml\n",
    b"    object: two.yaml\n", b"    inventory: [inventory.yaml]\n", b"    assertions:\n",
    b"    - violations: no\n", b"    - violations: yes\n", b"    - violations: 1\n", b"    - violations: -1\n",
    b"      message: \"x+\"\n", b"      message: \"(\"\n", b"    skip: true\n", b"  invalid: true\n",
    b"  expansion: {}\n", b"template.yaml", b"constraint.yaml", b"allowed.yaml", b"denied.yaml", b"/",
    b"\n---\n", b": ", b"- ", b"{", b"}", b"[", b"]",
];

/// RBAC objects and NetworkPolicies.
#[rustfmt::skip]
pub const RBAC_NETPOL: &[&[u8]] = &[
    b"\n---\n", b"apiVersion: rbac.authorization.k8s.io/v1\n", b"kind: ClusterRole\n", b"kind: Role\n",
    b"kind: RoleBinding\n", b"kind: ClusterRoleBinding\n", b"kind: ServiceAccount\n", b"kind: Pod\n",
    b"metadata: {name: a, namespace: n, labels: {app: a}}\n", b"rules:\n",
    b"- apiGroups: [\"\", apps]\n  resources: [pods, pods/exec, \"*\"]\n  verbs: [get, \"*\"]\n",
    b"  resourceNames: [x]\n", b"- nonResourceURLs: [\"/healthz\", \"/api/*\"]\n  verbs: [get]\n",
    b"aggregationRule: {clusterRoleSelectors: [{matchLabels: {a: b}}]}\n",
    b"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: a}\n",
    b"subjects: [{kind: ServiceAccount, name: a, namespace: n}, {kind: Group, name: \"system:masters\"}]\n",
    b"spec: {serviceAccountName: a, automountServiceAccountToken: false, containers: [{name: c, image: i}]}\n",
    b"apiVersion: networking.k8s.io/v1\n", b"kind: NetworkPolicy\n",
    b"apiVersion: policy.networking.k8s.io/v1alpha1\n", b"kind: AdminNetworkPolicy\n",
    b"kind: BaselineAdminNetworkPolicy\n", b"spec:\n", b"  podSelector: {}\n",
    b"  policyTypes: [Ingress, Egress]\n", b"  ingress:\n", b"  egress:\n", b"  - from:\n", b"  - to:\n",
    b"    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n", b"    - ipBlock: {cidr: \"::/0\"}\n",
    b"    - namespaceSelector: {matchLabels: {a: b}}\n", b"      podSelector: {matchExpressions: [{key: a, operator: Exists}]}\n",
    b"    ports: [{protocol: TCP, port: 80, endPort: 90}, {port: http}, {protocol: SCTP}]\n",
    b"  priority: 10\n", b"  subject: {namespaces: {}}\n", b"  action: Deny\n", b"  action: Pass\n",
    b"65535", b"65536", b"-1", b"0", b"0.0.0.0/0", b"256.0.0.0/8", b"1.2.3.4/33",
];

/// Rego for the `memo_reads` target.
#[rustfmt::skip]
pub const REGO: &[&[u8]] = &[
    b"package fuzz.pkg\n", b"import data.lib.x\n", b"input", b"input.review", b"input.review.object",
    b".spec", b".containers", b"[_]", b"[\"name\"]", b"[x]", b"(", b")", b"{", b"}", b"[", b"]", b",",
    b"f(", b"f(x) {", b"f(_, y) = z {", b"} else = 1 {", b"object.get(", b"object.get(input, \"parameters\", {})",
    b"[\"a\", \"b\"]", b"data.inventory", b"data.fuzz.pkg.r", b"time.now_ns()", b"with input as {}",
    b"violation[{\"msg\": msg}] {", b"not ", b"some ", b" in ", b":=", b"=", b"\n---\n", b"# c\n", b"\"s\"",
    b"`raw`", b"\n",
];
