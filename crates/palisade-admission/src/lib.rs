//! The admission webhook: an HTTPS server for `admission.k8s.io/v1` AdmissionReviews that enforces
//! Pod Security Standards the way PodSecurity admission does (through `palisade-posture`, the same
//! code `palisade scan` runs) and OPA Gatekeeper ConstraintTemplates (Rego, through `regorus`), and
//! fills safe defaults into pod specs on request.
//!
//! - [`review`]: AdmissionReview parsing and responses.
//! - [`pss`]: PodSecurity admission's request handling (pods enforced, templates warned and
//!   audited, namespaces' labels validated, exemptions, update rules, messages).
//! - [`gatekeeper`]: ConstraintTemplates, Constraints, the Rego engine, `gator verify` suites.
//! - [`mutate`]: JSONPatch defaults.
//! - [`engine`]: the decision for a review from all of the above and the known cluster state.
//! - [`server`], [`tls`], [`metrics`]: HTTPS serving, certificates, Prometheus metrics.
//! - [`audit`]: every policy over existing objects, as findings.
//! - [`config`]: the server's configuration file.
//! - [`live`]: Namespaces (and Pods, inventory kinds) watched from the API server with `kube`.

pub mod audit;
pub mod config;
pub mod engine;
pub mod gatekeeper;
pub mod live;
pub mod metrics;
pub mod mutate;
pub mod object;
pub mod pss;
pub mod review;
pub mod server;
pub mod tls;

pub use config::ServerConfig;
pub use engine::{Admission, Endpoint};
