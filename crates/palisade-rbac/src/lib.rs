//! The Kubernetes RBAC authorizer, offline.
//!
//! [`objects::RbacStore`] reads Roles, ClusterRoles, bindings, ServiceAccounts and pods from an
//! inventory; [`rule`] holds the exact matching of the API server's RBAC authorizer.

pub mod aggregate;
pub mod analysis;
pub mod authorizer;
pub mod bootstrap;
pub mod cani;
pub mod compare;
pub mod discovery;
pub mod objects;
pub mod reconcile;
pub mod rule;
pub mod whocan;

pub use authorizer::{Authorizer, Decision, Grant, UserInfo};
pub use compare::covers;
pub use objects::{Binding, Origin, RbacStore, Role, RoleKind, RoleRef, Subject, SubjectKind};
pub use rule::{PolicyRule, Request, ResourceAttributes};
