//! Property test: on randomized small clusters (NetworkPolicies with every kind of peer and
//! port, admin and baseline policies, host-network pods, IPv4 and IPv6 blocks), the
//! class-based `connectivity` lists exactly what the pair-by-pair reference lists, and
//! `evaluate` agrees with both on sampled connections.

use ipnet::IpNet;
use palisade_model::FieldPath;
use palisade_model::selector::{LabelSelector, Operator, Requirement};
use palisade_netpol::output;
use palisade_netpol::{
    Action, AdminPeer, AdminPolicy, AdminPort, AdminRule, Cluster, Connection, Endpoint, NamedPort,
    Peer, Policy, PolicyTypes, PortSpec, Protocol, Rule, Workload, connectivity,
    connectivity_pairwise, evaluate,
};
use std::collections::BTreeMap;

/// xorshift64*: small, deterministic, good enough to shuffle test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

const KEYS: &[&str] = &["app", "tier", "env"];
const VALUES: &[&str] = &["a", "b", "c"];
const PORT_NAMES: &[&str] = &["http", "dns", "metrics"];
const PROTOS: &[Protocol] = &[Protocol::TCP, Protocol::UDP, Protocol::SCTP];
const NETS: &[&str] = &[
    "10.0.0.0/8",
    "10.1.0.0/16",
    "10.1.2.0/24",
    "192.168.0.0/16",
    "0.0.0.0/0",
    "172.16.5.4/32",
    "2001:db8::/32",
    "2001:db8:1::/48",
];

fn labels(r: &mut Rng) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for k in KEYS {
        if r.chance(60) {
            m.insert(k.to_string(), r.pick(VALUES).to_string());
        }
    }
    m
}

fn selector(r: &mut Rng) -> LabelSelector {
    let mut s = LabelSelector::default();
    let n = r.below(3);
    for _ in 0..n {
        let key = r.pick(KEYS).to_string();
        if r.chance(50) {
            s.match_labels.push((key, r.pick(VALUES).to_string()));
        } else {
            let operator = *r.pick(&[
                Operator::In,
                Operator::NotIn,
                Operator::Exists,
                Operator::DoesNotExist,
            ]);
            let values = match operator {
                Operator::In | Operator::NotIn => {
                    vec![r.pick(VALUES).to_string(), r.pick(VALUES).to_string()]
                }
                _ => Vec::new(),
            };
            s.match_expressions.push(Requirement {
                key,
                operator,
                values,
            });
        }
    }
    s
}

fn net(r: &mut Rng) -> IpNet {
    r.pick(NETS).parse().expect("test CIDR")
}

fn np_peer(r: &mut Rng) -> Peer {
    match r.below(4) {
        0 => Peer::IpBlock {
            cidr: net(r),
            except: (0..r.below(2)).map(|_| net(r)).collect(),
        },
        1 => Peer::Pods {
            namespace_selector: None,
            pod_selector: Some(selector(r)),
        },
        2 => Peer::Pods {
            namespace_selector: Some(selector(r)),
            pod_selector: None,
        },
        _ => Peer::Pods {
            namespace_selector: Some(selector(r)),
            pod_selector: Some(selector(r)),
        },
    }
}

fn port_spec(r: &mut Rng) -> PortSpec {
    let protocol = *r.pick(PROTOS);
    match r.below(4) {
        0 => PortSpec::AllOfProtocol(protocol),
        1 => PortSpec::Named {
            protocol,
            name: r.pick(PORT_NAMES).to_string(),
        },
        2 => {
            let port = 50 + r.below(60) as u16;
            PortSpec::Number {
                protocol,
                port,
                end_port: Some(port + r.below(40) as u16),
            }
        }
        _ => PortSpec::Number {
            protocol,
            port: 50 + r.below(60) as u16,
            end_port: None,
        },
    }
}

fn rules(r: &mut Rng, dir: &str) -> Vec<Rule> {
    (0..r.below(3))
        .map(|i| Rule {
            peers: if r.chance(20) {
                None
            } else {
                Some((0..1 + r.below(2)).map(|_| np_peer(r)).collect())
            },
            ports: if r.chance(30) {
                None
            } else {
                Some((0..1 + r.below(2)).map(|_| port_spec(r)).collect())
            },
            path: FieldPath::parse("spec").key(dir).index(i),
            line: 1,
        })
        .collect()
}

fn admin_peer(r: &mut Rng, egress: bool) -> AdminPeer {
    match r.below(if egress { 3 } else { 2 }) {
        0 => AdminPeer::Namespaces(selector(r)),
        1 => AdminPeer::Pods {
            namespace_selector: selector(r),
            pod_selector: selector(r),
        },
        _ => AdminPeer::Networks((0..1 + r.below(2)).map(|_| net(r)).collect()),
    }
}

fn admin_rules(r: &mut Rng, baseline: bool, egress: bool) -> Vec<AdminRule> {
    (0..r.below(3))
        .map(|i| AdminRule {
            name: format!("r{i}"),
            action: if baseline {
                *r.pick(&[Action::Allow, Action::Deny])
            } else {
                *r.pick(&[Action::Allow, Action::Deny, Action::Pass])
            },
            peers: (0..1 + r.below(2)).map(|_| admin_peer(r, egress)).collect(),
            ports: if r.chance(40) {
                None
            } else {
                Some(
                    (0..1 + r.below(2))
                        .map(|_| match r.below(3) {
                            0 => AdminPort::Named(r.pick(PORT_NAMES).to_string()),
                            1 => AdminPort::Number {
                                protocol: *r.pick(PROTOS),
                                port: 50 + r.below(60) as u16,
                            },
                            _ => {
                                let start = 50 + r.below(60) as u16;
                                AdminPort::Range {
                                    protocol: *r.pick(PROTOS),
                                    start,
                                    end: start + r.below(30) as u16,
                                }
                            }
                        })
                        .collect(),
                )
            },
            path: FieldPath::parse("spec")
                .key(if egress { "egress" } else { "ingress" })
                .index(i),
            line: 1,
        })
        .collect()
}

fn admin(r: &mut Rng, name: &str, baseline: bool) -> AdminPolicy {
    let subject = if r.chance(50) {
        AdminPeer::Namespaces(selector(r))
    } else {
        AdminPeer::Pods {
            namespace_selector: selector(r),
            pod_selector: selector(r),
        }
    };
    AdminPolicy {
        name: name.into(),
        object: 0,
        baseline,
        priority: r.below(4) as i64,
        subject,
        ingress: admin_rules(r, baseline, false),
        egress: admin_rules(r, baseline, true),
        file: "random".into(),
        line: 1,
    }
}

fn cluster(r: &mut Rng) -> Cluster {
    let mut c = Cluster::default();
    let nss: Vec<String> = (0..1 + r.below(3)).map(|i| format!("ns{i}")).collect();
    for ns in &nss {
        let mut l = labels(r);
        l.insert("kubernetes.io/metadata.name".into(), ns.clone());
        c.namespaces.insert(ns.clone(), l);
    }
    for i in 0..2 + r.below(7) {
        let ports = (0..r.below(3))
            .map(|_| NamedPort {
                name: r.pick(PORT_NAMES).to_string(),
                port: 50 + r.below(60) as u16,
                protocol: *r.pick(PROTOS),
            })
            .collect();
        c.workloads.push(Workload {
            namespace: r.pick(&nss).clone(),
            name: format!("w{i}"),
            kind: "Pod".into(),
            labels: labels(r),
            ports,
            host_network: r.chance(10),
            object: i,
        });
    }
    for i in 0..r.below(5) {
        let ingress_t = r.chance(70);
        let egress_t = r.chance(50);
        c.policies.push(Policy {
            namespace: r.pick(&nss).clone(),
            name: format!("p{i}"),
            object: 0,
            pod_selector: selector(r),
            ingress: ingress_t.then(|| rules(r, "ingress")),
            egress: egress_t.then(|| rules(r, "egress")),
            policy_types: PolicyTypes {
                ingress: ingress_t,
                egress: egress_t,
                explicit: true,
            },
            file: "random".into(),
            line: 1,
        });
    }
    for i in 0..r.below(3) {
        c.admin_policies.push(admin(r, &format!("anp{i}"), false));
    }
    if r.chance(40) {
        c.baseline = Some(admin(r, "default", true));
    }
    c
}

fn listing(c: &Cluster, conns: &[Connection]) -> Vec<String> {
    output::lines(c, conns)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn classes_equal_pairwise_on_random_clusters() {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut nontrivial = 0;
    for round in 0..400 {
        let c = cluster(&mut r);
        let classes = connectivity(&c);
        let pairwise = connectivity_pairwise(&c);
        let (a, b) = (listing(&c, &classes), listing(&c, &pairwise));
        assert_eq!(a, b, "round {round}: classes vs pairwise differ on {c:#?}");
        if a.iter().any(|l| !l.ends_with("All Connections")) {
            nontrivial += 1;
        }
        // evaluate agrees on sampled workload pairs and ports.
        for _ in 0..10 {
            let s = r.below(c.workloads.len());
            let d = r.below(c.workloads.len());
            if s == d {
                continue;
            }
            let proto = *r.pick(PROTOS);
            let port = 45 + r.below(100) as u16;
            let v = evaluate(
                &c,
                &Endpoint::Workload(s),
                &Endpoint::Workload(d),
                proto,
                port,
            );
            let listed = pairwise.iter().any(|x| {
                x.src == Endpoint::Workload(s)
                    && x.dst == Endpoint::Workload(d)
                    && x.ports.contains(proto, port)
            });
            assert_eq!(
                v.allowed, listed,
                "round {round}: {s}->{d} {proto} {port}: {v:#?}"
            );
        }
    }
    // The generator is not degenerate: most clusters restrict something.
    assert!(
        nontrivial > 120,
        "only {nontrivial} clusters with restrictions"
    );
}
