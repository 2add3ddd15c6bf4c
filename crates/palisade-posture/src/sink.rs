//! Where checks put what they find: builds [`Finding`]s with locations, applies the
//! configuration (disabled checks, severity overrides) and suppressions.

use crate::config::Config;
use palisade_model::{
    CheckId, FieldPath, Finding, Inventory, Location, Object, Severity, SuppressedBy, Suppression,
};

/// Annotation listing check ids (comma-separated, `family/*` globs allowed) to ignore on an
/// object (or its pod template).
pub const IGNORE_ANNOTATION: &str = "palisade.dev/ignore";
/// Annotation giving the reason for [`IGNORE_ANNOTATION`].
pub const IGNORE_REASON_ANNOTATION: &str = "palisade.dev/ignore-reason";

/// Collects findings for one scan.
pub struct Sink<'a> {
    /// The inventory being scanned.
    pub inv: &'a Inventory,
    /// The configuration in force.
    pub cfg: &'a Config,
    findings: Vec<Finding>,
    /// Objects (by address) that carry an ignore annotation, with the ignored ids and reason.
    ignores: std::collections::HashMap<*const Object, Vec<(&'a str, Option<&'a str>)>>,
}

fn ignore_list(obj: &Object) -> impl Iterator<Item = (&str, Option<&str>)> {
    let template_meta = palisade_model::pod_template(obj)
        .filter(|t| !t.is_pod)
        .and_then(|t| t.meta);
    let sources = [obj.node.get("metadata"), template_meta];
    sources.into_iter().flatten().flat_map(|meta| {
        let reason = meta
            .at(&["annotations", IGNORE_REASON_ANNOTATION])
            .and_then(|n| n.as_str());
        meta.at(&["annotations", IGNORE_ANNOTATION])
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(move |id| (id, reason))
    })
}

impl<'a> Sink<'a> {
    /// A new, empty sink.
    pub fn new(inv: &'a Inventory, cfg: &'a Config) -> Self {
        // Read the annotations once, not for every finding.
        let ignores = inv
            .objects
            .iter()
            .filter_map(|o| {
                let list: Vec<_> = ignore_list(o).collect();
                (!list.is_empty()).then_some((o as *const Object, list))
            })
            .collect();
        Sink {
            inv,
            cfg,
            findings: Vec::new(),
            ignores,
        }
    }

    /// True when the check runs (not disabled in the configuration).
    pub fn enabled(&self, id: &CheckId) -> bool {
        !self.cfg.is_disabled(id)
    }

    /// Records a finding about `obj` at `path` (relative to the object root).
    pub fn emit(
        &mut self,
        id: &CheckId,
        severity: Severity,
        obj: &Object,
        path: &FieldPath,
        container: Option<&str>,
        message: String,
    ) {
        if !self.enabled(id) {
            return;
        }
        let mut suppressed = self
            .ignores
            .get(&(obj as *const Object))
            .and_then(|list| {
                list.iter()
                    .find(|(pat, _)| crate::config::id_matches(pat, id))
            })
            .map(|(_, reason)| Suppression {
                by: SuppressedBy::Annotation,
                reason: reason.map(str::to_owned),
            });
        if suppressed.is_none() {
            suppressed = self
                .cfg
                .exemption_for(id, &obj.id, container)
                .map(|ex| Suppression {
                    by: SuppressedBy::Config,
                    reason: ex.reason.clone(),
                });
        }
        self.findings.push(Finding {
            check: id.clone(),
            severity: self.cfg.severity_for(id, severity),
            message,
            object: obj.id.clone(),
            container: container.filter(|c| !c.is_empty()).map(str::to_owned),
            location: Location::of(self.inv, obj, path),
            suppressed,
        });
    }

    /// Records a finding another analyzer built about `obj` (the RBAC analysis), applying the
    /// configuration and suppressions as [`Sink::emit`] does.
    pub fn adopt(&mut self, obj: &Object, f: Finding) {
        if !self.enabled(&f.check) {
            return;
        }
        let container = f.container.as_deref();
        let mut suppressed = self
            .ignores
            .get(&(obj as *const Object))
            .and_then(|list| {
                list.iter()
                    .find(|(pat, _)| crate::config::id_matches(pat, &f.check))
            })
            .map(|(_, reason)| Suppression {
                by: SuppressedBy::Annotation,
                reason: reason.map(str::to_owned),
            });
        if suppressed.is_none() {
            suppressed = self
                .cfg
                .exemption_for(&f.check, &obj.id, container)
                .map(|ex| Suppression {
                    by: SuppressedBy::Config,
                    reason: ex.reason.clone(),
                });
        }
        let severity = self.cfg.severity_for(&f.check, f.severity);
        self.findings.push(Finding {
            severity,
            suppressed,
            ..f
        });
    }

    /// The findings collected so far.
    pub fn into_findings(self) -> Vec<Finding> {
        self.findings
    }
}

/// Applies the configuration (disabled checks, severity overrides, exemptions) and
/// `palisade.dev/ignore` annotations to findings built outside this crate. A finding whose
/// object is not in the inventory is kept as is.
pub fn apply_config(inv: &Inventory, cfg: &Config, findings: Vec<Finding>) -> Vec<Finding> {
    let mut by_id: std::collections::HashMap<(&palisade_model::ObjectRef, &str), &Object> =
        std::collections::HashMap::new();
    for o in &inv.objects {
        by_id.entry((&o.id, inv.file_of(o))).or_insert(o);
    }
    let mut sink = Sink::new(inv, cfg);
    let mut orphans = Vec::new();
    for f in findings {
        match by_id.get(&(&f.object, f.location.file.as_str())) {
            Some(obj) => sink.adopt(obj, f),
            None if !cfg.is_disabled(&f.check) => orphans.push(f),
            None => {}
        }
    }
    let mut out = sink.into_findings();
    out.append(&mut orphans);
    out
}
