//! OPA Gatekeeper ConstraintTemplates and Constraints (to be written).
