//! Originating resolution (DESIGN.md §3): a recipient [`mms_address::Address`] -> the
//! [`Route`] to its MMS Relay/Server, local delivery or a peer over MM4.
//!
//! [`Resolver`] is the decision logic over a [`DnsLookup`]; [`HickoryLookup`] asks the
//! network (hickory-resolver), [`CachingLookup`] caches any lookup (TTL, RFC 2308 negative
//! caching, single-flight). [`DnsResolver`] is the three together, built from a
//! [`ResolverConfig`] by [`dns_resolver`].
#![forbid(unsafe_code)]

mod cache;
mod config;
mod hickory;
mod lookup;
mod resolve;

pub use cache::{CacheStats, CachingLookup};
pub use config::{CacheConfig, ConfigError, NumberRangeConfig, PeerConfig, ResolverConfig};
pub use hickory::{HickoryLookup, LookupSetupError};
pub use lookup::{
    Answer, DnsLookup, Lookup, LookupError, MxRecord, NaptrRecord, RecordKind, Records,
};
pub use resolve::{Resolution, ResolveError, Resolver, Route, Step};

/// The resolver the relay runs: decision logic over a cache over the network.
pub type DnsResolver = Resolver<CachingLookup<HickoryLookup>>;

/// Builds the relay's resolver from its configuration (needs a tokio runtime to run lookups).
pub fn dns_resolver(config: ResolverConfig) -> Result<DnsResolver, LookupSetupError> {
    let network = HickoryLookup::new(&config)?;
    let cache = CachingLookup::new(network, config.cache.clone());
    Ok(Resolver::new(config, cache))
}
