//! Image references: tags, digests, pull policy and the registry allow-list. These checks look
//! at every container (init, regular, ephemeral).

use super::Check;
use super::util::{cname, describe, workloads};
use crate::sink::Sink;
use palisade_model::{CheckId, Node, Severity};

const IMAGES_DOC: &str = "https://kubernetes.io/docs/concepts/containers/images/";
const IMPLANT: &str = "https://attack.mitre.org/techniques/T1525/";

/// `hardening/image-tag-missing`.
pub static TAG_MISSING: Check = Check {
    id: CheckId::new("hardening/image-tag-missing"),
    title: "Image has neither tag nor digest",
    severity: Severity::Medium,
    category: "supply-chain",
    rationale: "An image without tag or digest means :latest. Which code runs then depends on when each node pulled it, rollbacks are impossible and a pushed image reaches production without review.",
    remediation: "spec:\n  containers:\n  - name: app\n    image: registry.example.com/team/app:1.4.2@sha256:4f2e...\n",
    references: &[IMAGES_DOC, IMPLANT],
};

/// `hardening/image-tag-latest`.
pub static TAG_LATEST: Check = Check {
    id: CheckId::new("hardening/image-tag-latest"),
    title: "Image uses the :latest tag",
    severity: Severity::Medium,
    category: "supply-chain",
    rationale: "The latest tag moves with every push. Pods of one workload can run different code, a compromised registry account ships straight to the cluster, and there is no way to tell which version ran.",
    remediation: "spec:\n  containers:\n  - name: app\n    image: registry.example.com/team/app:1.4.2\n",
    references: &[
        IMAGES_DOC,
        "https://kubernetes.io/docs/concepts/configuration/overview/#container-images",
        IMPLANT,
    ],
};

/// `hardening/image-digest-missing`.
pub static DIGEST_MISSING: Check = Check {
    id: CheckId::new("hardening/image-digest-missing"),
    title: "Image is not pinned by digest",
    severity: Severity::Low,
    category: "supply-chain",
    rationale: "Tags are mutable: whoever can push to the repository can change what a tag points to. Only a digest (@sha256:...) guarantees that the image that was reviewed and scanned is the one that runs.",
    remediation: "spec:\n  containers:\n  - name: app\n    image: registry.example.com/team/app:1.4.2@sha256:9b2a0c7d5e...\n",
    references: &[IMAGES_DOC, "CIS Kubernetes Benchmark v1.9 §5.5.1", IMPLANT],
};

/// `hardening/image-registry-not-allowed`.
pub static REGISTRY_NOT_ALLOWED: Check = Check {
    id: CheckId::new("hardening/image-registry-not-allowed"),
    title: "Image comes from a registry outside the allow-list",
    severity: Severity::High,
    category: "supply-chain",
    rationale: "Images from unvetted registries bypass the organisation's scanning, signing and retention controls. Pulling only from approved registries (allowedRegistries in .palisade.yaml) keeps untrusted code off the nodes. The check is off while the allow-list is empty.",
    remediation: "spec:\n  containers:\n  - name: app\n    image: registry.example.com/mirror/nginx:1.27\n",
    references: &[
        IMAGES_DOC,
        "CIS Kubernetes Benchmark v1.9 §5.5.1",
        IMPLANT,
        "https://attack.mitre.org/techniques/T1610/",
    ],
};

/// `hardening/image-pull-policy-not-always`.
pub static PULL_POLICY_NOT_ALWAYS: Check = Check {
    id: CheckId::new("hardening/image-pull-policy-not-always"),
    title: "Mutable image tag without imagePullPolicy: Always",
    severity: Severity::Low,
    category: "supply-chain",
    rationale: "With a tag that is not pinned by digest and a pull policy other than Always, each node runs whatever it cached under that tag: nodes can disagree, and a pod can start from an image left on the node by someone else without the registry checking its pull credentials.",
    remediation: "spec:\n  containers:\n  - name: app\n    image: registry.example.com/team/app:1.4.2\n    imagePullPolicy: Always\n",
    references: &[
        "https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy",
        "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#alwayspullimages",
    ],
};

/// An image reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (`docker.io` when implicit).
    pub registry: String,
    /// Repository path (`library/nginx` for an implicit Docker Hub official image).
    pub repository: String,
    /// Tag, if written.
    pub tag: Option<String>,
    /// Digest (`sha256:...`), if written.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses an image reference the way container runtimes complete it: the first path
    /// component is a registry only if it contains `.` or `:` or is `localhost`; otherwise
    /// the registry is `docker.io`, and single-component names are under `library/`.
    pub fn parse(image: &str) -> ImageRef {
        let image = image.trim();
        let (name, digest) = match image.split_once('@') {
            Some((n, d)) => (n, Some(d.to_string())),
            None => (image, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (
                &name[..last_slash + i],
                Some(name[last_slash + i + 1..].to_string()),
            ),
            None => (name, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (normalize_registry(first), rest.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        ImageRef {
            registry,
            repository,
            tag,
            digest,
        }
    }

    /// `registry/repository`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// True when an allow-list entry (`registry`, `registry/path`, Docker Hub names with or
    /// without `docker.io/`) covers this image.
    pub fn allowed_by(&self, entry: &str) -> bool {
        let entry = entry
            .trim()
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        if entry.is_empty() {
            return false;
        }
        let (first, rest) = match entry.split_once('/') {
            Some((f, r)) => (f, Some(r)),
            None => (entry, None),
        };
        let prefix = if first.contains(['.', ':']) || first == "localhost" {
            match rest {
                Some(r) => format!("{}/{r}", normalize_registry(first)),
                None => normalize_registry(first),
            }
        } else {
            // `library/nginx` or `myorg`: a Docker Hub path.
            format!("docker.io/{entry}")
        };
        let full = self.full_name();
        full == prefix || full.starts_with(&format!("{prefix}/"))
    }
}

fn normalize_registry(host: &str) -> String {
    let h = host.to_ascii_lowercase();
    match h.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        _ => h,
    }
}

/// Runs the image checks.
pub fn run(sink: &mut Sink<'_>) {
    let inv = sink.inv;
    let allowed = sink.cfg.allowed_registries.clone();
    for (obj, t) in workloads(inv) {
        for c in t.containers() {
            let Some(image) = c
                .node
                .get("image")
                .and_then(Node::as_str)
                .filter(|s| !s.trim().is_empty())
            else {
                continue;
            };
            let r = ImageRef::parse(image);
            let path = c.field(&["image"]);
            let who = describe(&c);
            match (&r.tag, &r.digest) {
                (None, None) => TAG_MISSING.emit(
                    sink,
                    obj,
                    &path,
                    cname(&c),
                    format!("{who} uses image {image:?} without a tag, which means :latest"),
                ),
                (Some(tag), None) if tag == "latest" => TAG_LATEST.emit(
                    sink,
                    obj,
                    &path,
                    cname(&c),
                    format!("{who} uses image {image:?} with the mutable :latest tag"),
                ),
                _ => {}
            }
            if r.digest.is_none() {
                DIGEST_MISSING.emit(
                    sink,
                    obj,
                    &path,
                    cname(&c),
                    format!("{who} uses image {image:?}, not pinned by @sha256 digest"),
                );
                let explicit = c.node.get("imagePullPolicy").and_then(Node::as_str);
                let default = if matches!(r.tag.as_deref(), None | Some("latest")) {
                    "Always"
                } else {
                    "IfNotPresent"
                };
                let policy = explicit.unwrap_or(default);
                if policy != "Always" {
                    let how = if explicit.is_some() {
                        "sets"
                    } else {
                        "defaults to"
                    };
                    PULL_POLICY_NOT_ALWAYS.emit(
                        sink,
                        obj,
                        &c.field(&["imagePullPolicy"]),
                        cname(&c),
                        format!("{who} {how} imagePullPolicy {policy} for mutable image {image:?}; nodes may run a stale or unverified cached image"),
                    );
                }
            }
            if !allowed.is_empty() && !allowed.iter().any(|a| r.allowed_by(a)) {
                REGISTRY_NOT_ALLOWED.emit(
                    sink,
                    obj,
                    &path,
                    cname(&c),
                    format!("{who} pulls {image:?} from {} (resolved to {}), which is not in allowedRegistries [{}]", r.registry, r.full_name(), allowed.join(", ")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let r = ImageRef::parse("nginx");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag, r.digest),
            ("docker.io", "library/nginx", None, None)
        );
        let r = ImageRef::parse("localhost:5000/app:1.0");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("localhost:5000", "app", Some("1.0"))
        );
        let r = ImageRef::parse("ghcr.io/acme/api:v2@sha256:abcd");
        assert_eq!(
            (
                r.registry.as_str(),
                r.repository.as_str(),
                r.tag.as_deref(),
                r.digest.as_deref()
            ),
            ("ghcr.io", "acme/api", Some("v2"), Some("sha256:abcd"))
        );
        let r = ImageRef::parse("bitnami/redis@sha256:ff");
        assert_eq!(
            (r.repository.as_str(), r.tag, r.digest.as_deref()),
            ("bitnami/redis", None, Some("sha256:ff"))
        );
        let r = ImageRef::parse("index.docker.io/library/nginx:1");
        assert_eq!(r.full_name(), "docker.io/library/nginx");
    }

    #[test]
    fn allow_list_matching() {
        let nginx = ImageRef::parse("nginx:1.27");
        assert!(nginx.allowed_by("docker.io"));
        assert!(nginx.allowed_by("docker.io/library"));
        assert!(nginx.allowed_by("library"));
        assert!(nginx.allowed_by("index.docker.io/library/nginx"));
        assert!(!nginx.allowed_by("ghcr.io"));
        let acme = ImageRef::parse("ghcr.io/acme/api:1");
        assert!(acme.allowed_by("ghcr.io/acme"));
        assert!(acme.allowed_by("https://ghcr.io/acme/"));
        assert!(!acme.allowed_by("ghcr.io/acm"));
        assert!(!acme.allowed_by("ghcr.io/other"));
        assert!(!acme.allowed_by(""));
    }
}
