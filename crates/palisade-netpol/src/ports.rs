//! Sets of (protocol, port) pairs: what a connection may carry.

use crate::model::Protocol;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The lowest and highest port a policy can name.
const MIN_PORT: u16 = 1;
const MAX_PORT: u16 = 65535;

/// A set of ports per protocol, as sorted, disjoint, non-adjacent inclusive ranges.
///
/// The universe is TCP, UDP and SCTP ports 1-65535; [`PortSet::all`] is all of it and prints as
/// `All Connections`. Otherwise the set prints as `SCTP 1-65535,TCP 80,8000-8080,UDP 53`
/// (protocols in alphabetical order, the way netpol-analyzer writes connections).
///
/// The ranges are shared: cloning a set (one per listed connection) does not copy them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSet {
    /// Ranges per protocol, indexed by [`Protocol::index`].
    ranges: Arc<Ranges>,
}

type Ranges = [Vec<(u16, u16)>; 3];

impl Default for PortSet {
    fn default() -> Self {
        PortSet::empty()
    }
}

impl PortSet {
    fn from_ranges(ranges: Ranges) -> Self {
        if ranges.iter().all(Vec::is_empty) {
            return PortSet::empty();
        }
        if ranges
            .iter()
            .all(|r| r.as_slice() == [(MIN_PORT, MAX_PORT)])
        {
            return PortSet::all();
        }
        PortSet {
            ranges: Arc::new(ranges),
        }
    }

    /// The empty set.
    pub fn empty() -> Self {
        static EMPTY: OnceLock<PortSet> = OnceLock::new();
        EMPTY
            .get_or_init(|| PortSet {
                ranges: Arc::new([Vec::new(), Vec::new(), Vec::new()]),
            })
            .clone()
    }

    /// Every port of every protocol.
    pub fn all() -> Self {
        static ALL: OnceLock<PortSet> = OnceLock::new();
        ALL.get_or_init(|| {
            let full = vec![(MIN_PORT, MAX_PORT)];
            PortSet {
                ranges: Arc::new([full.clone(), full.clone(), full]),
            }
        })
        .clone()
    }

    /// Every port of one protocol.
    pub fn protocol(p: Protocol) -> Self {
        PortSet::range(p, MIN_PORT, MAX_PORT)
    }

    /// One port.
    pub fn single(p: Protocol, port: u16) -> Self {
        PortSet::range(p, port, port)
    }

    /// The ports `lo..=hi` of a protocol (empty when `lo > hi`; port 0 is left out).
    pub fn range(p: Protocol, lo: u16, hi: u16) -> Self {
        let mut r: Ranges = Default::default();
        let lo = lo.max(MIN_PORT);
        if lo <= hi {
            r[p.index()].push((lo, hi));
        }
        PortSet::from_ranges(r)
    }

    /// True when the set holds every port of every protocol.
    pub fn is_all(&self) -> bool {
        self.ranges
            .iter()
            .all(|r| r.as_slice() == [(MIN_PORT, MAX_PORT)])
    }

    /// True when the set holds nothing.
    pub fn is_empty(&self) -> bool {
        self.ranges.iter().all(Vec::is_empty)
    }

    /// True when the set holds `port` of protocol `p`.
    pub fn contains(&self, p: Protocol, port: u16) -> bool {
        let r = &self.ranges[p.index()];
        let i = r.partition_point(|&(_, hi)| hi < port);
        i < r.len() && r[i].0 <= port
    }

    /// The ranges of one protocol.
    pub fn ranges(&self, p: Protocol) -> &[(u16, u16)] {
        &self.ranges[p.index()]
    }

    /// Ports in either set.
    pub fn union(&self, other: &PortSet) -> PortSet {
        if self.is_empty() || other.is_all() {
            return other.clone();
        }
        if other.is_empty() || self.is_all() {
            return self.clone();
        }
        let mut out: Ranges = Default::default();
        for (i, o) in out.iter_mut().enumerate() {
            let mut all: Vec<(u16, u16)> = self.ranges[i]
                .iter()
                .chain(&other.ranges[i])
                .copied()
                .collect();
            all.sort_unstable();
            *o = normalize(all);
        }
        PortSet::from_ranges(out)
    }

    /// Adds the ports of `other` to this set.
    pub fn add(&mut self, other: &PortSet) {
        if other.is_empty() {
            return;
        }
        *self = self.union(other);
    }

    /// Ports in both sets.
    pub fn intersection(&self, other: &PortSet) -> PortSet {
        if self.is_empty() || other.is_all() {
            return self.clone();
        }
        if other.is_empty() || self.is_all() {
            return other.clone();
        }
        let mut out: Ranges = Default::default();
        for (i, o) in out.iter_mut().enumerate() {
            let (a, b) = (&self.ranges[i], &other.ranges[i]);
            let (mut x, mut y) = (0, 0);
            while x < a.len() && y < b.len() {
                let lo = a[x].0.max(b[y].0);
                let hi = a[x].1.min(b[y].1);
                if lo <= hi {
                    o.push((lo, hi));
                }
                if a[x].1 < b[y].1 {
                    x += 1;
                } else {
                    y += 1;
                }
            }
        }
        PortSet::from_ranges(out)
    }

    /// Ports in this set and not in `other`.
    pub fn difference(&self, other: &PortSet) -> PortSet {
        if self.is_empty() || other.is_empty() {
            return self.clone();
        }
        if other.is_all() {
            return PortSet::empty();
        }
        let mut out: Ranges = Default::default();
        for (i, o) in out.iter_mut().enumerate() {
            for &(lo, hi) in &self.ranges[i] {
                let mut cur = lo;
                let mut done = false;
                for &(olo, ohi) in &other.ranges[i] {
                    if ohi < cur || olo > hi {
                        continue;
                    }
                    if olo > cur {
                        o.push((cur, olo - 1));
                    }
                    if ohi >= hi {
                        done = true;
                        break;
                    }
                    cur = ohi + 1;
                }
                if !done {
                    o.push((cur, hi));
                }
            }
        }
        PortSet::from_ranges(out)
    }

    /// True when every port of `other` is in this set.
    pub fn covers(&self, other: &PortSet) -> bool {
        other.difference(self).is_empty()
    }
}

/// Merges sorted ranges into disjoint, non-adjacent ones.
fn normalize(sorted: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::with_capacity(sorted.len());
    for (lo, hi) in sorted {
        match out.last_mut() {
            Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All Connections");
        }
        if self.is_empty() {
            return f.write_str("No Connections");
        }
        let mut first = true;
        for p in [Protocol::SCTP, Protocol::TCP, Protocol::UDP] {
            let r = &self.ranges[p.index()];
            if r.is_empty() {
                continue;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{p} ")?;
            for (i, &(lo, hi)) in r.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if lo == hi {
                    write!(f, "{lo}")?;
                } else {
                    write!(f, "{lo}-{hi}")?;
                }
            }
        }
        Ok(())
    }
}

impl serde::Serialize for PortSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Protocol::*;

    #[test]
    fn union_intersection_difference() {
        let a = PortSet::range(TCP, 80, 90).union(&PortSet::single(UDP, 53));
        let b = PortSet::range(TCP, 85, 100).union(&PortSet::single(TCP, 91));
        assert_eq!(a.union(&b).to_string(), "TCP 80-100,UDP 53");
        assert_eq!(a.intersection(&b).to_string(), "TCP 85-90");
        assert_eq!(a.difference(&b).to_string(), "TCP 80-84,UDP 53");
        assert_eq!(
            PortSet::all()
                .difference(&PortSet::single(TCP, 1))
                .to_string(),
            "SCTP 1-65535,TCP 2-65535,UDP 1-65535"
        );
        assert!(PortSet::all().is_all());
        assert!(
            PortSet::protocol(TCP)
                .union(&PortSet::protocol(UDP))
                .union(&PortSet::protocol(SCTP))
                .is_all()
        );
        assert!(a.contains(TCP, 85) && !a.contains(TCP, 91) && a.contains(UDP, 53));
        assert!(a.intersection(&PortSet::empty()).is_empty());
        assert!(PortSet::all().covers(&a) && !a.covers(&b));
        assert_eq!(PortSet::range(TCP, 9, 3), PortSet::empty());
        assert_eq!(PortSet::range(TCP, 0, 0), PortSet::empty());
    }

    #[test]
    fn difference_of_split_ranges() {
        let a = PortSet::range(TCP, 1, 100);
        let b = PortSet::range(TCP, 10, 20).union(&PortSet::range(TCP, 30, 40));
        assert_eq!(a.difference(&b).to_string(), "TCP 1-9,21-29,41-100");
        assert_eq!(b.difference(&a), PortSet::empty());
        let c = PortSet::range(TCP, 65535, 65535);
        assert_eq!(
            PortSet::protocol(TCP).difference(&c).to_string(),
            "TCP 1-65534"
        );
    }
}
