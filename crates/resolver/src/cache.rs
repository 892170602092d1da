//! Answer cache over any [`DnsLookup`] (DESIGN.md §3.5): positive answers for their TTL clamped
//! to configured bounds, NXDOMAIN/NODATA for the SOA minimum (RFC 2308 §5), nothing for
//! transient failures; concurrent questions for one name share one upstream query
//! (single-flight); bounded size; hit/miss counters through the `metrics` crate.

use crate::config::CacheConfig;
use crate::lookup::{DnsLookup, Lookup, LookupError, RecordKind};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

type SharedLookup = Shared<BoxFuture<'static, Lookup>>;

enum Slot {
    Ready { lookup: Lookup, expires: Instant },
    Pending(SharedLookup),
}

/// Counters of a [`CachingLookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Questions answered from a live cache entry.
    pub hits: u64,
    /// Questions that started an upstream query.
    pub misses: u64,
    /// Questions that joined a query already in flight.
    pub coalesced: u64,
    /// Entries held now (answers and queries in flight).
    pub entries: usize,
}

/// A [`DnsLookup`] that caches another one.
pub struct CachingLookup<L> {
    inner: Arc<L>,
    config: CacheConfig,
    /// One map per [`RecordKind`], keyed by lower-case name; each holds at most
    /// `config.max_entries`.
    maps: [Mutex<HashMap<String, Slot>>; 4],
    hits: AtomicU64,
    misses: AtomicU64,
    coalesced: AtomicU64,
    hit_counter: metrics::Counter,
    miss_counter: metrics::Counter,
    coalesced_counter: metrics::Counter,
    cache_source: Arc<str>,
}

impl<L: DnsLookup + 'static> CachingLookup<L> {
    /// A cache over `inner` with the given bounds. Counters register with the `metrics`
    /// recorder installed at this moment.
    pub fn new(inner: L, config: CacheConfig) -> Self {
        Self {
            inner: Arc::new(inner),
            config,
            maps: Default::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            hit_counter: metrics::counter!("mms_resolver_cache_hits_total"),
            miss_counter: metrics::counter!("mms_resolver_cache_misses_total"),
            coalesced_counter: metrics::counter!("mms_resolver_cache_coalesced_total"),
            cache_source: Arc::from("cache"),
        }
    }

    /// The lookup underneath.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// Counters so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            entries: self.maps.iter().map(|m| lock(m).len()).sum(),
        }
    }

    /// How long `lookup` may be kept, or `None` if it must not be cached.
    fn lifetime(&self, lookup: &Lookup) -> Option<Duration> {
        let secs = match &lookup.result {
            Ok(answer) => answer.ttl.clamp(
                self.config.min_ttl_secs,
                self.config.max_ttl_secs.max(self.config.min_ttl_secs),
            ),
            Err(e @ (LookupError::NxDomain { .. } | LookupError::NoData { .. })) => {
                // RFC 2308 §5: the SOA minimum; without an SOA a negative answer is not cached.
                e.negative_ttl()?.min(self.config.max_negative_ttl_secs)
            }
            Err(_) => return None,
        };
        (secs > 0).then(|| Duration::from_secs(u64::from(secs)))
    }

    fn store(&self, map: &mut HashMap<String, Slot>, name: String, slot: Slot, now: Instant) {
        if map.len() >= self.config.max_entries && !map.contains_key(&name) {
            map.retain(|_, s| match s {
                Slot::Ready { expires, .. } => *expires > now,
                Slot::Pending(_) => true,
            });
            let excess = (map.len() + 1).saturating_sub(self.config.max_entries.max(1));
            if excess > 0 {
                let victims: Vec<String> = map
                    .iter()
                    .filter(|(_, s)| matches!(s, Slot::Ready { .. }))
                    .map(|(k, _)| k.clone())
                    .take(excess)
                    .collect();
                for k in victims {
                    map.remove(&k);
                }
            }
        }
        map.insert(name, slot);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn normalise(name: &str) -> Cow<'_, str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

impl<L: DnsLookup + 'static> DnsLookup for CachingLookup<L> {
    async fn lookup(&self, name: &str, kind: RecordKind) -> Lookup {
        let name = normalise(name);
        let map = &self.maps[kind.index()];
        let now = Instant::now();
        let flight = {
            let mut guard = lock(map);
            match guard.get(name.as_ref()) {
                Some(Slot::Ready { lookup, expires }) if *expires > now => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    self.hit_counter.increment(1);
                    return Lookup {
                        result: lookup.result.clone(),
                        source: self.cache_source.clone(),
                        cached: true,
                    };
                }
                Some(Slot::Pending(flight)) => {
                    self.coalesced.fetch_add(1, Ordering::Relaxed);
                    self.coalesced_counter.increment(1);
                    flight.clone()
                }
                _ => {
                    self.misses.fetch_add(1, Ordering::Relaxed);
                    self.miss_counter.increment(1);
                    let inner = self.inner.clone();
                    let owned = name.clone().into_owned();
                    let flight = async move { inner.lookup(&owned, kind).await }
                        .boxed()
                        .shared();
                    self.store(
                        &mut guard,
                        name.clone().into_owned(),
                        Slot::Pending(flight.clone()),
                        now,
                    );
                    flight
                }
            }
        };
        let lookup = flight.clone().await;
        let mut guard = lock(map);
        if let Some(Slot::Pending(current)) = guard.get(name.as_ref())
            && current.ptr_eq(&flight)
        {
            match self.lifetime(&lookup) {
                Some(ttl) => {
                    let slot = Slot::Ready {
                        lookup: lookup.clone(),
                        expires: Instant::now() + ttl,
                    };
                    guard.insert(name.into_owned(), slot);
                }
                None => {
                    guard.remove(name.as_ref());
                }
            }
        }
        lookup
    }
}
