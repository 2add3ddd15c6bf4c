//! Names for `fd.cip.name` / `fd.sip.name` / `fd.lip.name` / `fd.rip.name`, the way Falco's DNS
//! manager gives them: the domain names the rules compare these fields with are resolved
//! forward, in the background, and an address maps back to the name that resolved to it.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Address -> name table kept current by a background thread.
#[derive(Debug)]
pub struct DnsNames {
    map: Arc<RwLock<HashMap<IpAddr, String>>>,
    stop: Arc<AtomicBool>,
}

impl DnsNames {
    /// Starts resolving `names` now and every `refresh`.
    pub fn start(names: BTreeSet<String>, refresh: Duration) -> DnsNames {
        let map = Arc::new(RwLock::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (map.clone(), stop.clone());
        let spawned = std::thread::Builder::new()
            .name("rules-dns".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    let mut fresh = HashMap::new();
                    for n in &names {
                        if let Ok(addrs) = (n.as_str(), 0).to_socket_addrs() {
                            for a in addrs {
                                fresh.entry(a.ip()).or_insert_with(|| n.clone());
                            }
                        }
                    }
                    if let Ok(mut w) = m.write() {
                        *w = fresh;
                    }
                    // Sleep in slices so a stop is seen quickly.
                    let mut left = refresh;
                    while !left.is_zero() && !s.load(Ordering::Relaxed) {
                        let step = left.min(Duration::from_millis(200));
                        std::thread::sleep(step);
                        left -= step;
                    }
                }
            });
        if spawned.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        DnsNames { map, stop }
    }

    /// The name an address resolved from, if any.
    pub fn name_of(&self, ip: &IpAddr) -> Option<String> {
        self.map.read().ok()?.get(ip).cloned()
    }
}

impl Drop for DnsNames {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
