//! The Kubernetes object model of Palisade.
//!
//! Sources (files, directories, standard input) are parsed into [`Node`] trees that keep the
//! line and column of every key and value, split into [`Object`]s (with `kind: List` expanded
//! and namespaces defaulted), and collected in an [`Inventory`]. [`pod_template`] finds the pod
//! spec inside Pods, workloads and custom kinds. The [`finding`] module is the vocabulary all
//! analyzers report in.
//!
//! ```
//! use palisade_model::{Inventory, LoadOptions, pod_template};
//! let mut inv = Inventory::new();
//! inv.add_text("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: nginx\n", &LoadOptions::default());
//! let pod = pod_template(&inv.objects[0]).unwrap();
//! let c = pod.containers().next().unwrap();
//! assert_eq!((c.name, c.node.get("image").unwrap().pos.line), ("app", 7));
//! ```

pub mod diag;
pub mod finding;
pub mod load;
pub mod node;
pub mod object;
pub mod path;
pub mod pod;
pub mod selector;
pub mod validate;
pub mod yaml;

pub use diag::{DiagCode, DiagLevel, Diagnostic};
pub use finding::{CheckId, CheckMeta, Finding, Location, Severity, SuppressedBy, Suppression};
pub use load::{Input, collect_inputs};
pub use node::{Entry, Node, NodeType, Pos, Scalar, Value};
pub use object::{
    Inventory, LoadOptions, Object, ObjectId, ObjectRef, SourceId, is_cluster_scoped,
};
pub use path::{FieldPath, Seg};
pub use pod::{ContainerKind, ContainerRef, PodTemplate, containers, pod_template};
pub use yaml::Limits;
