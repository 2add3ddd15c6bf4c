//! Levels, policy versions, policies and the API-server options that change PodSecurity's
//! behaviour.

use std::fmt;
use std::str::FromStr;

/// The newest policy minor version this build knows (`v1.37`); `latest` means this one.
pub const NEWEST_MINOR: u64 = 37;

/// Errors parsing levels, policy versions and server versions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PssError {
    /// Not `privileged`, `baseline` or `restricted`.
    #[error("invalid Pod Security level {0:?}: must be one of privileged, baseline, restricted")]
    Level(String),
    /// Not `latest` or `v1.N`.
    #[error("invalid Pod Security version {0:?}: must be \"latest\" or \"v1.x\"")]
    Version(String),
    /// Not a Kubernetes minor version such as `1.30` or `v1.30.2`.
    #[error("invalid Kubernetes version {0:?}: expected 1.N (e.g. 1.30)")]
    KubeVersion(String),
}

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// No restrictions.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Current pod hardening best practices.
    Restricted,
}

impl Level {
    /// The label value (`privileged`, `baseline`, `restricted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }

    /// Parses a level exactly (case-sensitive, as PodSecurity does).
    pub fn parse(s: &str) -> Result<Level, PssError> {
        match s {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(PssError::Level(s.to_owned())),
        }
    }
}

impl FromStr for Level {
    type Err = PssError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::parse(s)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy version: `latest` or `v1.N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// The newest version the evaluator knows.
    Latest,
    /// `v1.N` (any minor, even one newer than this build knows; it is clamped when evaluated).
    Minor(u64),
}

impl Version {
    /// Parses `latest` or `v1.N` with PodSecurity's rules (`^v1\.(0|[1-9][0-9]*)$`, and the
    /// minor must fit a Go `int`).
    pub fn parse(s: &str) -> Result<Version, PssError> {
        if s == "latest" {
            return Ok(Version::Latest);
        }
        let err = || PssError::Version(s.to_owned());
        let digits = s.strip_prefix("v1.").ok_or_else(err)?;
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.len() > 1 && digits.starts_with('0'))
        {
            return Err(err());
        }
        let n: u64 = digits.parse().map_err(|_| err())?;
        if n > i64::MAX as u64 {
            return Err(err());
        }
        Ok(Version::Minor(n))
    }

    /// The minor version evaluated for this version when the evaluator knows policies up to
    /// `max_minor`.
    pub fn effective_minor(self, max_minor: u64) -> u64 {
        match self {
            Version::Latest => max_minor,
            Version::Minor(n) => n.min(max_minor),
        }
    }
}

impl FromStr for Version {
    type Err = PssError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::Minor(n) => write!(f, "v1.{n}"),
        }
    }
}

/// A level at a version, e.g. `restricted:latest` or `baseline:v1.29`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// The level.
    pub level: Level,
    /// The version.
    pub version: Version,
}

impl Policy {
    /// A policy from a level and version.
    pub const fn new(level: Level, version: Version) -> Self {
        Policy { level, version }
    }

    /// `privileged:latest`, PodSecurity's default for every mode.
    pub const fn privileged() -> Self {
        Policy::new(Level::Privileged, Version::Latest)
    }

    /// True when both policies evaluate the same (both privileged, or equal level and version),
    /// like PodSecurity's `LevelVersion.Equivalent`.
    pub fn equivalent(&self, other: &Policy) -> bool {
        (self.level == Level::Privileged && other.level == Level::Privileged) || self == other
    }
}

impl FromStr for Policy {
    type Err = PssError;
    /// Parses `level:version` (`restricted:v1.30`) or a bare level (version `latest`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (level, version) = s.split_once(':').unwrap_or((s, "latest"));
        Ok(Policy::new(Level::parse(level)?, Version::parse(version)?))
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

/// The Kubernetes API server minor version whose PodSecurity admission is modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    /// Minor version (`30` for 1.30).
    pub minor: u64,
}

impl Default for KubeVersion {
    fn default() -> Self {
        KubeVersion {
            minor: NEWEST_MINOR,
        }
    }
}

impl KubeVersion {
    /// A server version from its minor number.
    pub const fn new(minor: u64) -> Self {
        KubeVersion { minor }
    }

    /// Parses `1.30`, `v1.30`, `1.30.2` or `v1.30.2-gke.1`.
    pub fn parse(s: &str) -> Result<KubeVersion, PssError> {
        let err = || PssError::KubeVersion(s.to_owned());
        let rest = s.trim();
        let rest = rest.strip_prefix('v').unwrap_or(rest);
        let rest = rest.strip_prefix("1.").ok_or_else(err)?;
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, tail) = rest.split_at(end);
        if digits.is_empty() || !(tail.is_empty() || tail.starts_with(['.', '-', '+'])) {
            return Err(err());
        }
        digits.parse().map(KubeVersion::new).map_err(|_| err())
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.minor)
    }
}

/// Options describing the API server whose PodSecurity admission is modelled. Some behaviour
/// depends on the server (the PodSecurity code it ships), not on the policy version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PssOptions {
    /// The server version (default: the newest known, 1.37). It also caps the policy
    /// versions: a 1.30 server evaluates `latest` and `v1.35` as `v1.30`.
    pub server: KubeVersion,
    /// Whether the alpha `UserNamespacesPodSecurityStandards` feature gate is on. Only
    /// 1.29–1.34 servers read it: there it relaxes `runAsNonRoot`, `runAsUser` (1.29+) and
    /// `procMount` (1.31+) for `hostUsers: false` pods at every policy version.
    pub user_namespaces_gate: bool,
    /// The minor version the server emulates (`--emulated-version`), if lower than its own:
    /// it caps the policy versions evaluated without changing the server build's behaviour.
    pub emulated_minor: Option<u64>,
}

impl PssOptions {
    /// Options for a server version, other settings default.
    pub fn for_server(server: KubeVersion) -> Self {
        PssOptions {
            server,
            ..Default::default()
        }
    }

    /// The newest policy minor the modelled server evaluates.
    pub fn max_policy_minor(&self) -> u64 {
        let max = self.server.minor.min(NEWEST_MINOR);
        self.emulated_minor.map_or(max, |e| e.min(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_like_psa() {
        assert_eq!(Version::parse("latest"), Ok(Version::Latest));
        assert_eq!(Version::parse("v1.0"), Ok(Version::Minor(0)));
        assert_eq!(Version::parse("v1.25"), Ok(Version::Minor(25)));
        assert_eq!(Version::parse("v1.99"), Ok(Version::Minor(99)));
        for bad in [
            "",
            "v1",
            "v1.",
            "1.25",
            "v1.025",
            "v2.0",
            "v1.2a",
            "Latest",
            "v1.-1",
            " v1.2",
            "v1.99999999999999999999",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Version::Minor(40).effective_minor(37), 37);
        assert_eq!(Version::Latest.effective_minor(30), 30);
        assert_eq!(Version::Minor(3).to_string(), "v1.3");
    }

    #[test]
    fn levels_and_policies() {
        assert_eq!(Level::parse("baseline"), Ok(Level::Baseline));
        assert!(Level::parse("Baseline").is_err());
        let p = Policy::new(Level::Restricted, Version::Latest);
        assert_eq!(p.to_string(), "restricted:latest");
        assert!(
            Policy::new(Level::Privileged, Version::Minor(3)).equivalent(&Policy::privileged())
        );
        assert!(!p.equivalent(&Policy::new(Level::Restricted, Version::Minor(37))));
        assert_eq!("restricted".parse::<Policy>(), Ok(p));
        assert_eq!(
            "baseline:v1.30".parse::<Policy>(),
            Ok(Policy::new(Level::Baseline, Version::Minor(30)))
        );
        assert!("baseline:1.30".parse::<Policy>().is_err());
    }

    #[test]
    fn kube_versions() {
        assert_eq!(KubeVersion::parse("1.30"), Ok(KubeVersion::new(30)));
        assert_eq!(KubeVersion::parse("v1.29"), Ok(KubeVersion::new(29)));
        assert_eq!(
            KubeVersion::parse("v1.31.2-gke.100"),
            Ok(KubeVersion::new(31))
        );
        assert!(KubeVersion::parse("2.1").is_err());
        assert!(KubeVersion::parse("1.x").is_err());
        assert!(KubeVersion::parse("1.30x").is_err());
        assert_eq!(
            PssOptions::for_server(KubeVersion::new(40)).max_policy_minor(),
            37
        );
        assert_eq!(PssOptions::default().max_policy_minor(), 37);
        let emulating = PssOptions {
            emulated_minor: Some(33),
            ..Default::default()
        };
        assert_eq!(emulating.max_policy_minor(), 33);
    }
}
