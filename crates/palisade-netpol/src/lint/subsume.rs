//! "Allows at least as much as": label selectors, peers, ports and rules compared without a
//! cluster. The answers are sound (never claim coverage that does not hold for every possible
//! set of labels) and deliberately incomplete.

use super::view::{Peer, PeerKind, Port, PortVal, Rule};
use ipnet::IpNet;
use palisade_model::selector::{LabelSelector, Operator, Requirement};
use std::collections::BTreeMap;

/// A selector as a list of requirements (`matchLabels` as `In [v]`).
fn requirements(s: &LabelSelector) -> Vec<Requirement> {
    let mut out: Vec<Requirement> = s
        .match_labels
        .iter()
        .map(|(k, v)| Requirement {
            key: k.clone(),
            operator: Operator::In,
            values: vec![v.clone()],
        })
        .collect();
    out.extend(s.match_expressions.iter().cloned());
    out
}

/// True when every label set satisfying `b` satisfies `a`.
fn implied_by(a: &Requirement, b: &Requirement) -> bool {
    if a.key != b.key {
        return false;
    }
    let subset = |x: &[String], y: &[String]| x.iter().all(|v| y.contains(v));
    match (a.operator, b.operator) {
        (Operator::In, Operator::In) => subset(&b.values, &a.values),
        (Operator::Exists, Operator::In | Operator::Exists) => true,
        (Operator::NotIn, Operator::In) => b.values.iter().all(|v| !a.values.contains(v)),
        (Operator::NotIn, Operator::NotIn) => subset(&a.values, &b.values),
        (Operator::NotIn | Operator::DoesNotExist, Operator::DoesNotExist) => true,
        _ => false,
    }
}

/// True when `wide` matches every label set `narrow` matches.
pub(crate) fn selector_covers(wide: &LabelSelector, narrow: &LabelSelector) -> bool {
    let nb = requirements(narrow);
    requirements(wide)
        .iter()
        .all(|a| nb.iter().any(|b| implied_by(a, b)))
}

/// True when both selectors match the same label sets (as far as this can tell).
pub(crate) fn selector_equal(a: &LabelSelector, b: &LabelSelector) -> bool {
    selector_covers(a, b) && selector_covers(b, a)
}

/// True when the peer `wide` admits every endpoint `narrow` admits. `own_ns` are the labels of
/// the policies' namespace (both rules belong to policies of the same namespace).
fn peer_covers(wide: &Peer<'_>, narrow: &Peer<'_>, own_ns: &BTreeMap<&str, &str>) -> bool {
    match (&wide.kind, &narrow.kind) {
        (
            PeerKind::Pods { ns: wn, pods: wp },
            PeerKind::Pods {
                ns: nn, pods: np, ..
            },
        ) => {
            let ns_ok = match (wn, nn) {
                (None, None) => true,
                (Some(w), Some(n)) => selector_covers(w, n),
                // The policy's own namespace against a namespaceSelector.
                (Some(w), None) => w.matches(own_ns),
                (None, Some(_)) => false,
            };
            let pods_ok = match (wp, np) {
                (None, _) => true,
                (Some(w), _) if w.is_empty() => true,
                (Some(_), None) => false,
                (Some(w), Some(n)) => selector_covers(w, n),
            };
            ns_ok && pods_ok
        }
        (
            PeerKind::Block {
                cidr: Some(wc),
                except: we,
            },
            PeerKind::Block {
                cidr: Some(nc),
                except: ne,
            },
        ) => {
            let (Ok(wc), Ok(nc)) = (wc.parse::<IpNet>(), nc.parse::<IpNet>()) else {
                return false;
            };
            let ne: Vec<IpNet> = ne.iter().filter_map(|e| e.parse().ok()).collect();
            wc.contains(&nc)
                && we.iter().all(|e| match e.parse::<IpNet>() {
                    // A hole in the wide block must be outside the narrow one or one of its holes.
                    Ok(e) => !overlaps(&e, &nc) || ne.iter().any(|h| h.contains(&e)),
                    Err(_) => false,
                })
        }
        _ => false,
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// True when the port `wide` admits every port `narrow` admits.
fn port_covers(wide: &Port<'_>, narrow: &Port<'_>) -> bool {
    if wide.proto.is_none() || wide.proto != narrow.proto {
        return false;
    }
    match (&wide.port, &narrow.port) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(PortVal::Name(w)), Some(PortVal::Name(n))) => w == n && narrow.end_port.is_none(),
        (Some(PortVal::Num(w)), Some(PortVal::Num(n))) => {
            let we = wide.end_port.unwrap_or(*w).max(*w);
            let ne = narrow.end_port.unwrap_or(*n).max(*n);
            w <= n && ne <= we
        }
        _ => false,
    }
}

/// True when the rule `wide` admits every connection `narrow` admits (both rules of the same
/// direction, in policies of one namespace whose labels are `own_ns`).
pub(crate) fn rule_covers(
    wide: &Rule<'_>,
    narrow: &Rule<'_>,
    own_ns: &BTreeMap<&str, &str>,
) -> bool {
    let peers_ok = match (&wide.peers, &narrow.peers) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(w), Some(n)) => n
            .iter()
            .all(|np| w.iter().any(|wp| peer_covers(wp, np, own_ns))),
    };
    let ports_ok = match (&wide.ports, &narrow.ports) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(w), Some(n)) => n.iter().all(|np| w.iter().any(|wp| port_covers(wp, np))),
    };
    peers_ok && ports_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::yaml::{Limits, parse_stream};

    fn sel(text: &str) -> LabelSelector {
        let doc = parse_stream(text, &Limits::default()).remove(0).unwrap();
        LabelSelector::parse(&doc.root.unwrap()).unwrap()
    }

    #[test]
    fn selector_coverage() {
        let app = sel("matchLabels: {app: web}");
        let app_tier = sel("matchLabels: {app: web, tier: front}");
        let all = LabelSelector::default();
        assert!(selector_covers(&app, &app_tier));
        assert!(!selector_covers(&app_tier, &app));
        assert!(selector_covers(&all, &app));
        assert!(!selector_covers(&app, &all));
        let in_two = sel("matchExpressions: [{key: app, operator: In, values: [web, api]}]");
        assert!(selector_covers(&in_two, &app));
        assert!(!selector_covers(&app, &in_two));
        let exists = sel("matchExpressions: [{key: app, operator: Exists}]");
        assert!(selector_covers(&exists, &in_two));
        let not_db = sel("matchExpressions: [{key: app, operator: NotIn, values: [db]}]");
        assert!(selector_covers(&not_db, &app));
        assert!(!selector_covers(&not_db, &exists));
        assert!(selector_equal(
            &app,
            &sel("matchExpressions: [{key: app, operator: In, values: [web]}]")
        ));
        assert!(!selector_equal(&app, &app_tier));
    }
}
