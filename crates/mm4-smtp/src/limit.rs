//! Connections per client address: the bound that keeps one address (a flood of idle
//! connections from one host) from taking every slot of a listener while legitimate clients wait.
//! Used by the MM4 SMTP server and by the relay's HTTP listeners (MM1, admin).
//!
//! An IPv4 client is counted by its address; an IPv6 client by its /64 prefix (one subscriber's
//! or host's allocation, RFC 6177 §3 / RFC 4291 §2.5.1), so it cannot escape the limit by
//! taking another address of its own prefix. An IPv4-mapped IPv6 address counts as its IPv4.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

/// Counts the connections open per client address, up to a limit.
#[derive(Debug)]
pub struct PerAddress {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; its slot is given back when dropped.
#[derive(Debug)]
pub struct AddressPermit {
    slots: Arc<PerAddress>,
    key: IpAddr,
}

impl PerAddress {
    /// At most `max` connections open at once per client address (at least 1).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Admits one more connection from `ip`, or `None` when it has `max` open already.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<AddressPermit> {
        let key = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(key).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(AddressPermit {
            slots: self.clone(),
            key,
        })
    }

    /// Connections open now from `ip` (counted as [`Self::try_acquire`] counts them).
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&client_key(ip)).copied().unwrap_or(0)
    }
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// What a client is counted by: its IPv4 address, or its IPv6 /64 prefix.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_address_gets_max_and_its_slots_come_back_on_drop() {
        let slots = PerAddress::new(2);
        let a1 = slots.try_acquire(ip("127.0.0.2")).unwrap();
        let _a2 = slots.try_acquire(ip("127.0.0.2")).unwrap();
        assert!(slots.try_acquire(ip("127.0.0.2")).is_none());
        // Another address is not affected.
        let _b = slots.try_acquire(ip("127.0.0.1")).unwrap();
        drop(a1);
        assert_eq!(slots.open(ip("127.0.0.2")), 1);
        assert!(slots.try_acquire(ip("127.0.0.2")).is_some());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let slots = PerAddress::new(1);
        let _a = slots.try_acquire(ip("2001:db8:1:2::1")).unwrap();
        assert!(slots.try_acquire(ip("2001:db8:1:2:ffff::9")).is_none());
        assert!(slots.try_acquire(ip("2001:db8:1:3::1")).is_some());
        let _v4 = slots.try_acquire(ip("192.0.2.7")).unwrap();
        assert!(slots.try_acquire(ip("::ffff:192.0.2.7")).is_none());
        assert!(slots.open.lock().unwrap().len() <= 3);
    }
}
