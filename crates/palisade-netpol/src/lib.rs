//! NetworkPolicy engine of Palisade: the cluster model built from manifests
//! ([`Cluster::from_inventory`]), exact reachability under networking.k8s.io/v1
//! NetworkPolicies and the AdminNetworkPolicy / BaselineAdminNetworkPolicy tiers
//! ([`connectivity`]), and explanations of single connections ([`evaluate`]).
//!
//! ```
//! use palisade_model::{Inventory, LoadOptions};
//! use palisade_netpol::{Cluster, Endpoint, Protocol, evaluate};
//! let mut inv = Inventory::new();
//! inv.add_text("m.yaml", concat!(
//!     "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {app: a}}\nspec: {containers: [{name: c}]}\n---\n",
//!     "apiVersion: v1\nkind: Pod\nmetadata: {name: b, labels: {app: b}}\nspec: {containers: [{name: c}]}\n---\n",
//!     "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}}\n",
//! ), &LoadOptions::default());
//! let (c, _) = Cluster::from_inventory(&inv);
//! let v = evaluate(&c, &Endpoint::Workload(0), &Endpoint::Workload(1), Protocol::TCP, 80);
//! assert!(!v.allowed);
//! ```

pub mod anp;
pub mod diff;
pub mod engine;
pub mod lint;
pub mod model;
pub mod output;
pub mod ports;

pub use anp::{Action, AdminPeer, AdminPolicy, AdminPort, AdminRule};
pub use engine::{
    DecidedBy, Direction, RuleRef, SideExplanation, Verdict, connectivity, connectivity_pairwise,
    endpoint_name, evaluate,
};
pub use model::{
    Cluster, Connection, Endpoint, NamedPort, Peer, Policy, PolicyTypes, PortSpec, Protocol, Rule,
    Workload, resolve_ports,
};
pub use ports::PortSet;
