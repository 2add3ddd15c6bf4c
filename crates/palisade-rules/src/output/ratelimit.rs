//! Per-rule rate limiting: one token bucket per rule, refilled on event time so a replay is
//! limited exactly as the live run was.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// A rate: `count` alerts per `per_ns`, with bursts of up to `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Alerts allowed per period.
    pub count: u32,
    /// Period in nanoseconds.
    pub per_ns: u64,
    /// Bucket size (alerts allowed back to back).
    pub burst: u32,
}

/// Error of [`RateLimit::from_str`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad rate limit '{0}': expected COUNT/UNIT[:BURST] with UNIT s, m or h (e.g. 10/s, 100/m:20)"
)]
pub struct BadRateLimit(pub String);

impl FromStr for RateLimit {
    type Err = BadRateLimit;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadRateLimit(s.to_string());
        let (rate, burst) = match s.split_once(':') {
            Some((r, b)) => (r, Some(b.trim().parse::<u32>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let (count, unit) = rate.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per_ns = match unit.trim() {
            "s" | "sec" | "second" => 1_000_000_000,
            "m" | "min" | "minute" => 60_000_000_000,
            "h" | "hour" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        let burst = burst.unwrap_or(count);
        if count == 0 || burst == 0 {
            return Err(bad());
        }
        Ok(RateLimit {
            count,
            per_ns,
            burst,
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per_ns {
            1_000_000_000 => "s",
            60_000_000_000 => "m",
            _ => "h",
        };
        write!(f, "{}/{unit}:{}", self.count, self.burst)
    }
}

#[derive(Debug)]
struct Bucket {
    /// Tokens scaled by `per_ns` (integer arithmetic, no drift).
    scaled: u128,
    last_ns: u64,
    suppressed: u64,
}

/// Token buckets by rule name.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: HashMap<String, Bucket>,
}

impl RateLimiter {
    /// A limiter applying `limit` to every rule separately.
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// The limit.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Whether an alert of `rule` at `time_ns` may go out; counts it as suppressed otherwise.
    pub fn allow(&mut self, rule: &str, time_ns: u64) -> bool {
        let l = self.limit;
        let full = l.burst as u128 * l.per_ns as u128;
        let b = match self.buckets.get_mut(rule) {
            Some(b) => b,
            None => self.buckets.entry(rule.to_string()).or_insert(Bucket {
                scaled: full,
                last_ns: time_ns,
                suppressed: 0,
            }),
        };
        let elapsed = time_ns.saturating_sub(b.last_ns) as u128;
        b.last_ns = b.last_ns.max(time_ns);
        b.scaled = (b.scaled + elapsed * l.count as u128).min(full);
        if b.scaled >= l.per_ns as u128 {
            b.scaled -= l.per_ns as u128;
            true
        } else {
            b.suppressed += 1;
            false
        }
    }

    /// Suppressed alerts per rule (rules with none are left out), sorted by rule name.
    pub fn suppressed(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .buckets
            .iter()
            .filter(|(_, b)| b.suppressed > 0)
            .map(|(r, b)| (r.clone(), b.suppressed))
            .collect();
        v.sort();
        v
    }

    /// Total suppressed alerts.
    pub fn suppressed_total(&self) -> u64 {
        self.buckets.values().map(|b| b.suppressed).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn parses() {
        assert_eq!(
            "10/s".parse::<RateLimit>(),
            Ok(RateLimit {
                count: 10,
                per_ns: S,
                burst: 10
            })
        );
        assert_eq!("100/m:20".parse::<RateLimit>().unwrap().burst, 20);
        assert_eq!("5/h".parse::<RateLimit>().unwrap().per_ns, 3600 * S);
        for bad in ["", "10", "10/d", "0/s", "x/s", "1/s:0", "1/s:x"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
        assert_eq!(
            "100/m:20".parse::<RateLimit>().unwrap().to_string(),
            "100/m:20"
        );
    }

    #[test]
    fn burst_then_refill_per_rule() {
        let mut rl = RateLimiter::new("2/s".parse().unwrap());
        let t0 = 1_000 * S;
        assert!(rl.allow("a", t0));
        assert!(rl.allow("a", t0));
        assert!(!rl.allow("a", t0));
        assert!(!rl.allow("a", t0 + S / 4));
        // Another rule has its own bucket.
        assert!(rl.allow("b", t0));
        // Half a second refills one token.
        assert!(rl.allow("a", t0 + S / 2));
        assert!(!rl.allow("a", t0 + S / 2));
        // A long pause refills only up to the burst.
        assert!(rl.allow("a", t0 + 100 * S));
        assert!(rl.allow("a", t0 + 100 * S));
        assert!(!rl.allow("a", t0 + 100 * S));
        assert_eq!(rl.suppressed(), vec![("a".to_string(), 4)]);
        assert_eq!(rl.suppressed_total(), 4);
    }

    #[test]
    fn out_of_order_times_do_not_refill() {
        let mut rl = RateLimiter::new("1/s".parse().unwrap());
        assert!(rl.allow("a", 10 * S));
        assert!(!rl.allow("a", 5 * S));
        assert!(!rl.allow("a", 10 * S));
        assert!(rl.allow("a", 11 * S));
    }
}
