//! TS 23.040 §9.2.3.24.1: "the reference number shall remain constant for every short message
//! which makes up a particular concatenated short message" and differ between messages to one
//! recipient. A per-destination rotating counter, bounded in memory.

use std::collections::{HashMap, VecDeque};

use crate::udh::{ConcatReference, ReferenceWidth};

/// Hands out concatenation reference numbers that rotate per destination address.
///
/// Holds at most `capacity` destinations; the oldest is forgotten first. A destination seen for
/// the first time starts from a shared counter, so a forgotten destination does not restart at 0.
#[derive(Debug, Clone)]
pub struct ReferenceAllocator {
    next: HashMap<String, u16>,
    order: VecDeque<String>,
    capacity: usize,
    fresh: u16,
}

impl ReferenceAllocator {
    /// An allocator remembering at most `capacity` destinations (at least 1).
    pub fn new(capacity: usize) -> Self {
        ReferenceAllocator {
            next: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            fresh: 0,
        }
    }

    /// Number of destinations currently remembered.
    pub fn len(&self) -> usize {
        self.next.len()
    }

    /// True when no destination is remembered.
    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }

    fn next_raw(&mut self, destination: &str) -> u16 {
        if let Some(n) = self.next.get_mut(destination) {
            let r = *n;
            *n = n.wrapping_add(1);
            return r;
        }
        while self.next.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.next.remove(&old);
                }
                None => break,
            }
        }
        let r = self.fresh;
        self.fresh = self.fresh.wrapping_add(1);
        self.next.insert(destination.to_owned(), r.wrapping_add(1));
        self.order.push_back(destination.to_owned());
        r
    }

    /// The next UDH concatenation reference for `destination` (8-bit references wrap at 256).
    pub fn next(&mut self, destination: &str, width: ReferenceWidth) -> ConcatReference {
        let r = self.next_raw(destination);
        match width {
            ReferenceWidth::Eight => ConcatReference::Eight(r as u8),
            ReferenceWidth::Sixteen => ConcatReference::Sixteen(r),
        }
    }

    /// The next sar_msg_ref_num (SMPP 3.4 §5.3.2.22) for `destination`.
    pub fn next_sar(&mut self, destination: &str) -> u16 {
        self.next_raw(destination)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_rotate_per_destination_and_wrap_at_256() {
        let mut a = ReferenceAllocator::new(8);
        let first = a.next("+491", ReferenceWidth::Eight);
        let second = a.next("+491", ReferenceWidth::Eight);
        assert_ne!(first, second);
        let other = a.next("+492", ReferenceWidth::Eight);
        assert_ne!(other, first);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..256 {
            seen.insert(a.next("+493", ReferenceWidth::Eight));
        }
        assert_eq!(seen.len(), 256);
    }

    #[test]
    fn allocator_is_bounded_and_forgotten_destinations_do_not_restart_at_zero() {
        let mut a = ReferenceAllocator::new(2);
        let r1 = a.next_sar("a");
        a.next_sar("b");
        a.next_sar("c");
        assert_eq!(a.len(), 2);
        let again = a.next_sar("a");
        assert_ne!(again, r1);
    }
}
