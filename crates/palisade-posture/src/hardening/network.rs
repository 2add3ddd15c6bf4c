//! Network exposure: Ingress TLS and Services reachable from outside the cluster.
//!
//! NetworkPolicy coverage (pods no policy selects, namespaces without a default deny, policies
//! selecting nothing) is reported by the `netpol/` lint of the `palisade-netpol` crate.

use super::Check;
use crate::sink::Sink;
use palisade_model::{CheckId, FieldPath, Node, Object, Severity};

const SVC_DOC: &str = "https://kubernetes.io/docs/concepts/services-networking/service/";

/// `hardening/ingress-tls-missing`.
pub static INGRESS_TLS_MISSING: Check = Check {
    id: CheckId::new("hardening/ingress-tls-missing"),
    title: "Ingress serves hosts without TLS",
    severity: Severity::Medium,
    category: "network",
    rationale: "Without a tls section the Ingress serves plain HTTP: credentials, session cookies and data cross the network readable and modifiable by anyone on the path.",
    remediation: "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\nspec:\n  tls:\n  - hosts: [shop.example.com]\n    secretName: shop-example-com-tls\n  rules:\n  - host: shop.example.com\n",
    references: &[
        "https://kubernetes.io/docs/concepts/services-networking/ingress/#tls",
        "https://attack.mitre.org/techniques/T1557/",
    ],
};

/// `hardening/service-type-node-port`.
pub static SERVICE_NODE_PORT: Check = Check {
    id: CheckId::new("hardening/service-type-node-port"),
    title: "Service of type NodePort",
    severity: Severity::Low,
    category: "network",
    rationale: "A NodePort Service opens the same port on every node's address, bypassing Ingress controllers, load-balancer firewalls and TLS termination. Node ports are easy to forget and are often reachable from wider networks than intended.",
    remediation: "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: ClusterIP\n",
    references: &[
        "https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport",
        "https://attack.mitre.org/techniques/T1190/",
    ],
};

/// `hardening/service-type-load-balancer`.
pub static SERVICE_LOAD_BALANCER: Check = Check {
    id: CheckId::new("hardening/service-type-load-balancer"),
    title: "LoadBalancer Service open to any source address",
    severity: Severity::Low,
    category: "network",
    rationale: "A LoadBalancer Service without loadBalancerSourceRanges is reachable from every address the cloud load balancer listens on, usually the whole internet. It also allocates node ports on every node unless allocateLoadBalancerNodePorts is false.",
    remediation: "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: LoadBalancer\n  loadBalancerSourceRanges:\n  - 203.0.113.0/24\n",
    references: &[
        "https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer",
        "https://attack.mitre.org/techniques/T1190/",
    ],
};

/// `hardening/service-external-ips`.
pub static SERVICE_EXTERNAL_IPS: Check = Check {
    id: CheckId::new("hardening/service-external-ips"),
    title: "Service sets externalIPs",
    severity: Severity::Medium,
    category: "network",
    rationale: "externalIPs make every node route traffic for arbitrary addresses to the Service. Anyone who can create Services can intercept traffic meant for other destinations (CVE-2020-8554); clusters should deny the field with the DenyServiceExternalIPs admission plugin.",
    remediation: "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: ClusterIP\n",
    references: &[
        SVC_DOC,
        "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#denyserviceexternalips",
        "https://attack.mitre.org/techniques/T1557/",
    ],
};

/// Runs the network checks.
pub fn run(sink: &mut Sink<'_>) {
    let inv = sink.inv;
    for ing in inv
        .of_kind("Ingress")
        .filter(|o| matches!(o.group(), "networking.k8s.io" | "extensions"))
    {
        ingress_tls(sink, ing);
    }
    for svc in inv.of_kind("Service").filter(|o| o.group().is_empty()) {
        services(sink, svc);
    }
}

fn ingress_tls(sink: &mut Sink<'_>, ing: &Object) {
    let Some(spec) = ing.node.get("spec") else {
        return;
    };
    let tls = spec.get("tls").map(Node::items).unwrap_or(&[]);
    let rules = spec.get("rules").map(Node::items).unwrap_or(&[]);
    if tls.is_empty() {
        let hosts: Vec<&str> = rules
            .iter()
            .filter_map(|r| r.get("host").and_then(Node::as_str))
            .collect();
        let what = if hosts.is_empty() {
            "all hosts".to_string()
        } else {
            hosts.join(", ")
        };
        INGRESS_TLS_MISSING.emit(
            sink,
            ing,
            &FieldPath::parse("spec.tls"),
            None,
            format!(
                "Ingress {} has no spec.tls; {what} served over plain HTTP",
                ing.id.name
            ),
        );
        return;
    }
    let covered: Vec<&str> = tls
        .iter()
        .flat_map(|t| t.get("hosts").map(Node::items).unwrap_or(&[]))
        .filter_map(Node::as_str)
        .collect();
    for (i, r) in rules.iter().enumerate() {
        let Some(host) = r.get("host").and_then(Node::as_str) else {
            continue;
        };
        let ok = covered.iter().any(|c| {
            *c == host
                || c.strip_prefix("*.")
                    .is_some_and(|d| host.split_once('.').is_some_and(|(_, rest)| rest == d))
        });
        if !ok {
            INGRESS_TLS_MISSING.emit(
                sink,
                ing,
                &FieldPath::parse("spec.rules").index(i).key("host"),
                None,
                format!("host {host} of Ingress {} is not listed in any spec.tls[].hosts; it is served over plain HTTP", ing.id.name),
            );
        }
    }
}

fn services(sink: &mut Sink<'_>, svc: &Object) {
    let Some(spec) = svc.node.get("spec") else {
        return;
    };
    let ty = spec
        .get("type")
        .and_then(Node::as_str)
        .unwrap_or("ClusterIP");
    let ports: Vec<String> = spec
        .get("ports")
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(|p| {
            p.get("nodePort")
                .or_else(|| p.get("port"))
                .and_then(Node::as_str)
                .map(str::to_owned)
        })
        .collect();
    match ty {
        "NodePort" => SERVICE_NODE_PORT.emit(
            sink,
            svc,
            &FieldPath::parse("spec.type"),
            None,
            format!("Service {} is of type NodePort and opens port(s) {} on every node", svc.id.name, if ports.is_empty() { "?".into() } else { ports.join(", ") }),
        ),
        "LoadBalancer" if spec.get("loadBalancerSourceRanges").is_none_or(|n| n.items().is_empty()) => SERVICE_LOAD_BALANCER.emit(
            sink,
            svc,
            &FieldPath::parse("spec.type"),
            None,
            format!("Service {} is of type LoadBalancer with no loadBalancerSourceRanges; any address can reach it", svc.id.name),
        ),
        _ => {}
    }
    let ips: Vec<&str> = spec
        .get("externalIPs")
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(Node::as_str)
        .collect();
    if !ips.is_empty() {
        SERVICE_EXTERNAL_IPS.emit(
            sink,
            svc,
            &FieldPath::parse("spec.externalIPs"),
            None,
            format!("Service {} claims externalIPs {}; nodes will route traffic for them to this Service", svc.id.name, ips.join(", ")),
        );
    }
}
