//! The admission webhook: an HTTPS server for `admission.k8s.io/v1` AdmissionReviews that enforces
//! Pod Security Standards the way PodSecurity admission does (through `palisade-posture`) and OPA
//! Gatekeeper ConstraintTemplates (Rego, through `regorus`).
//!
//! - [`gatekeeper`]: ConstraintTemplates, Constraints, the Rego engine, `gator verify` suites.

pub mod gatekeeper;
