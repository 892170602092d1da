//! Feature `peer`: the Sh client of DESIGN.md §4. `msisdn_for(IMPU)` sends a UDR with User-Identity
//! {Public-Identity} and Data-Reference MSISDN (17); `public_identities_for(MSISDN)` sends one with
//! User-Identity {MSISDN (TBCD)} and Data-Reference IMSPublicIdentity (10) (TS 29.328 §7.6, TS 29.329 §6.1.1).
//! Answers are cached for a TTL, and DIAMETER_ERROR_USER_UNKNOWN (5001) is cached negatively.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::base::{Identity, ParseError};
use crate::codes::APP_SH;
use crate::peer::{PeerPool, PeerSettings, PoolError};
use crate::result::ResultError;
use crate::sh::{DataReference, UserDataAnswer, UserDataRequest, UserIdentity};

/// Sh client configuration; embeds in the relay's TOML as `[sh]`. Durations are written `"2s"`, `"500ms"`,
/// `"5m"` or as whole seconds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShConfig {
    /// HSS peers as `host:port` (port 3868 when omitted), in priority order; later ones are failover.
    pub peers: Vec<String>,
    /// Our Origin-Host.
    pub origin_host: String,
    /// Our Origin-Realm.
    pub origin_realm: String,
    /// Destination-Realm of UDRs (the HSS realm).
    pub destination_realm: String,
    /// Destination-Host of UDRs, when one HSS must be addressed.
    pub destination_host: Option<String>,
    /// Time a lookup may wait for its answer, failover included.
    #[serde(with = "duration_text")]
    pub request_timeout: Duration,
    /// Tw of the watchdog (RFC 3539 §3.4.1).
    #[serde(with = "duration_text")]
    pub watchdog_interval: Duration,
    /// TCP connect and CEA/DPA timeout.
    #[serde(with = "duration_text")]
    pub connect_timeout: Duration,
    /// Largest delay between reconnect attempts.
    #[serde(with = "duration_text")]
    pub reconnect_backoff_max: Duration,
    /// How long an answer (IMPU→MSISDN, MSISDN→IMPUs) is reused.
    #[serde(with = "duration_text")]
    pub cache_ttl: Duration,
    /// How long "user unknown" is reused.
    #[serde(with = "duration_text")]
    pub negative_cache_ttl: Duration,
    /// Most cache entries kept.
    pub cache_capacity: usize,
}

impl Default for ShConfig {
    fn default() -> Self {
        Self {
            peers: Vec::new(),
            origin_host: "mmsrelay.localdomain".into(),
            origin_realm: "localdomain".into(),
            destination_realm: "localdomain".into(),
            destination_host: None,
            request_timeout: Duration::from_secs(2),
            watchdog_interval: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(3),
            reconnect_backoff_max: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(300),
            negative_cache_ttl: Duration::from_secs(60),
            cache_capacity: 100_000,
        }
    }
}

mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        if d.subsec_millis() == 0 {
            s.serialize_str(&format!("{}s", d.as_secs()))
        } else {
            s.serialize_str(&format!("{}ms", d.as_millis()))
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Seconds(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Text::deserialize(d)? {
            Text::Seconds(s) => Ok(Duration::from_secs(s)),
            Text::Text(t) => {
                parse(&t).ok_or_else(|| D::Error::custom(format!("invalid duration {t:?}")))
            }
        }
    }

    pub(super) fn parse(t: &str) -> Option<Duration> {
        let t = t.trim();
        let split = t.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = t.split_at(split);
        let n: u64 = n.parse().ok()?;
        match unit.trim() {
            "ms" => Some(Duration::from_millis(n)),
            "s" => Some(Duration::from_secs(n)),
            "m" => Some(Duration::from_secs(n.checked_mul(60)?)),
            "h" => Some(Duration::from_secs(n.checked_mul(3600)?)),
            _ => None,
        }
    }
}

/// A lookup failed. [`ShError::is_transient`] says whether retrying later can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShError {
    /// 5001 DIAMETER_ERROR_USER_UNKNOWN: the HSS does not know the identity (permanent).
    #[error("user unknown to the HSS")]
    UserUnknown,
    /// The HSS answered success without the requested data (permanent: no MSISDN / IMPU on record).
    #[error("the HSS has no {0} for this user")]
    NoData(&'static str),
    /// The MSISDN given is not digits TBCD can carry (permanent).
    #[error("invalid MSISDN")]
    InvalidMsisdn,
    /// Another Result-Code or Experimental-Result-Code.
    #[error(transparent)]
    Rejected(ResultError),
    /// No answer within the request timeout (transient).
    #[error("HSS did not answer in time")]
    Timeout,
    /// No HSS connection is up (transient).
    #[error("no HSS peer is connected")]
    PeerDown,
    /// The answer could not be read (transient: another HSS may answer properly).
    #[error("invalid UDA: {0}")]
    InvalidAnswer(ParseError),
}

impl ShError {
    /// True when the lookup may succeed later (timeouts, peer down, busy/unavailable answers).
    pub fn is_transient(&self) -> bool {
        match self {
            ShError::Timeout | ShError::PeerDown | ShError::InvalidAnswer(_) => true,
            ShError::Rejected(e) => e.is_transient(),
            ShError::UserUnknown | ShError::NoData(_) | ShError::InvalidMsisdn => false,
        }
    }
}

impl From<PoolError> for ShError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Timeout => ShError::Timeout,
            PoolError::NoPeer => ShError::PeerDown,
        }
    }
}

impl From<ResultError> for ShError {
    fn from(e: ResultError) -> Self {
        match e {
            ResultError::UserUnknown => ShError::UserUnknown,
            other => ShError::Rejected(other),
        }
    }
}

/// Which table of the cache an identity belongs to.
#[derive(Clone, Copy)]
enum Kind {
    Impu,
    Msisdn,
}

type Table = HashMap<String, (Instant, Cached)>;

#[derive(Clone)]
enum Cached {
    Msisdn(String),
    Impus(Vec<String>),
    Unknown,
}

/// Counters of what the client did (for metrics and tests).
#[derive(Debug, Default)]
pub struct ShStats {
    /// Lookups answered from the cache.
    pub cache_hits: AtomicU64,
    /// UDRs sent.
    pub requests: AtomicU64,
}

/// Callers waiting for the lookup in flight for an identity.
type Waiters = HashMap<String, Vec<oneshot::Sender<Result<Cached, ShError>>>>;

/// The leader of a lookup in flight; dropping it unfinished (cancelled) releases the followers to retry.
struct Flight<'a> {
    client: &'a ShClient,
    key: (Kind, String),
    finished: bool,
}

impl Flight<'_> {
    fn take_waiters(&self) -> Vec<oneshot::Sender<Result<Cached, ShError>>> {
        self.client
            .inflight
            .lock()
            .ok()
            .and_then(|mut f| f[self.key.0 as usize].remove(&self.key.1))
            .unwrap_or_default()
    }

    fn finish(mut self, result: &Result<Cached, ShError>) {
        self.finished = true;
        for waiter in self.take_waiters() {
            let _ = waiter.send(result.clone());
        }
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if !self.finished {
            drop(self.take_waiters());
        }
    }
}

/// The Sh client (see the module doc). Cheap to share behind an `Arc`.
pub struct ShClient {
    pool: PeerPool,
    config: ShConfig,
    /// IMPU → answer and MSISDN → answer, each entry with its expiry.
    cache: Mutex<[Table; 2]>,
    /// Lookups in flight, by the same two kinds.
    inflight: Mutex<[Waiters; 2]>,
    session_high: u32,
    session_low: AtomicU64,
    stats: ShStats,
}

impl ShClient {
    /// Starts connecting to the configured HSS peers (inside a tokio runtime) and returns at once.
    pub fn start(config: ShConfig) -> Self {
        let settings = PeerSettings {
            identity: Identity {
                host: config.origin_host.clone(),
                realm: config.origin_realm.clone(),
            },
            product_name: "mmsrelay".into(),
            required_application: Some(APP_SH),
            watchdog_interval: config.watchdog_interval,
            request_timeout: config.request_timeout,
            connect_timeout: config.connect_timeout,
            reconnect_initial: Duration::from_millis(50),
            reconnect_max: config.reconnect_backoff_max,
        };
        let pool = PeerPool::start(&config.peers, settings);
        let session_high = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        Self {
            pool,
            config,
            cache: Mutex::new([Table::new(), Table::new()]),
            inflight: Mutex::new([Waiters::new(), Waiters::new()]),
            session_high,
            session_low: AtomicU64::new(0),
            stats: ShStats::default(),
        }
    }

    /// The peer pool (to wait for a connection or see which peers are open).
    pub fn pool(&self) -> &PeerPool {
        &self.pool
    }

    /// What the client did so far.
    pub fn stats(&self) -> &ShStats {
        &self.stats
    }

    /// The MSISDN (digits, no `+`) of an IMS public identity (`sip:` or `tel:` URI).
    ///
    /// Concurrent lookups of one identity share one UDR.
    pub async fn msisdn_for(&self, public_identity: &str) -> Result<String, ShError> {
        match self.lookup((Kind::Impu, public_identity)).await? {
            Cached::Msisdn(m) => Ok(m),
            Cached::Impus(_) => Err(ShError::NoData("MSISDN")),
            Cached::Unknown => Err(ShError::UserUnknown),
        }
    }

    /// The IMS public identities registered for an MSISDN (digits, an optional leading `+` is ignored).
    ///
    /// Concurrent lookups of one MSISDN share one UDR.
    pub async fn public_identities_for(&self, msisdn: &str) -> Result<Vec<String>, ShError> {
        let digits = msisdn.strip_prefix('+').unwrap_or(msisdn);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ShError::InvalidMsisdn);
        }
        match self.lookup((Kind::Msisdn, digits)).await? {
            Cached::Impus(v) => Ok(v),
            Cached::Msisdn(_) => Err(ShError::NoData("IMS public identity")),
            Cached::Unknown => Err(ShError::UserUnknown),
        }
    }

    /// Cache, else join the lookup in flight for this identity, else lead one.
    async fn lookup(&self, key: (Kind, &str)) -> Result<Cached, ShError> {
        loop {
            if let Some(hit) = self.cached(key) {
                return Ok(hit);
            }
            let waiter = {
                let Ok(mut inflight) = self.inflight.lock() else {
                    return self.fetch(key).await;
                };
                match inflight[key.0 as usize].get_mut(key.1) {
                    Some(waiters) => {
                        let (tx, rx) = oneshot::channel();
                        waiters.push(tx);
                        Some(rx)
                    }
                    None => {
                        inflight[key.0 as usize].insert(key.1.to_owned(), Vec::new());
                        None
                    }
                }
            };
            match waiter {
                // The leader finished: its result is ours. If it was cancelled, try again (maybe as leader).
                Some(rx) => {
                    if let Ok(result) = rx.await {
                        return result;
                    }
                }
                None => {
                    let flight = Flight {
                        client: self,
                        key: (key.0, key.1.to_owned()),
                        finished: false,
                    };
                    let result = self.fetch(key).await;
                    flight.finish(&result);
                    return result;
                }
            }
        }
    }

    /// One UDR for `key`, its answer stored in the cache.
    async fn fetch(&self, key: (Kind, &str)) -> Result<Cached, ShError> {
        let (identity, reference) = match key.0 {
            Kind::Impu => (
                UserIdentity::PublicIdentity(key.1.to_owned()),
                DataReference::Msisdn,
            ),
            Kind::Msisdn => (
                UserIdentity::Msisdn(key.1.to_owned()),
                DataReference::ImsPublicIdentity,
            ),
        };
        let data = self
            .user_data(identity, reference, key)
            .await?
            .user_data
            .unwrap_or_default();
        let value = match key.0 {
            Kind::Impu => {
                let msisdn = data
                    .msisdns
                    .into_iter()
                    .find(|m| !m.is_empty())
                    .ok_or(ShError::NoData("MSISDN"))?;
                Cached::Msisdn(msisdn.trim_start_matches('+').to_owned())
            }
            Kind::Msisdn => {
                if data.public_identities.is_empty() {
                    return Err(ShError::NoData("IMS public identity"));
                }
                Cached::Impus(data.public_identities)
            }
        };
        self.store(key, value.clone(), self.config.cache_ttl);
        Ok(value)
    }

    /// Forgets every cached answer.
    pub fn clear_cache(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.iter_mut().for_each(Table::clear);
        }
    }

    /// Sends DPR to the connected peers and stops (RFC 6733 §5.4).
    pub async fn shutdown(&self) {
        self.pool.shutdown().await;
    }

    fn cached(&self, (kind, identity): (Kind, &str)) -> Option<Cached> {
        let cache = self.cache.lock().ok()?;
        let (expires, value) = cache[kind as usize].get(identity)?;
        if *expires > Instant::now() {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            Some(value.clone())
        } else {
            None
        }
    }

    fn store(&self, (kind, identity): (Kind, &str), value: Cached, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        let now = Instant::now();
        let len = |c: &[Table; 2]| c[0].len() + c[1].len();
        if len(&cache) >= self.config.cache_capacity {
            for table in cache.iter_mut() {
                table.retain(|_, (expires, _)| *expires > now);
            }
        }
        if len(&cache) < self.config.cache_capacity {
            cache[kind as usize].insert(identity.to_owned(), (now + ttl, value));
        }
    }

    async fn user_data(
        &self,
        user_identity: UserIdentity,
        reference: DataReference,
        key: (Kind, &str),
    ) -> Result<UserDataAnswer, ShError> {
        let request = UserDataRequest {
            session_id: format!(
                "{};{};{}",
                self.config.origin_host,
                self.session_high,
                self.session_low.fetch_add(1, Ordering::Relaxed)
            ),
            origin: Identity {
                host: self.config.origin_host.clone(),
                realm: self.config.origin_realm.clone(),
            },
            destination_host: self.config.destination_host.clone(),
            destination_realm: self.config.destination_realm.clone(),
            user_identity,
            data_references: vec![reference],
        }
        .to_message()
        .map_err(|_| ShError::InvalidMsisdn)?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let answer = self.pool.request(request).await?;
        let answer = UserDataAnswer::from_message(&answer).map_err(ShError::InvalidAnswer)?;
        match answer.result.check().map_err(ShError::from) {
            Ok(()) => Ok(answer),
            Err(ShError::UserUnknown) => {
                self.store(key, Cached::Unknown, self.config.negative_cache_ttl);
                Err(ShError::UserUnknown)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_as_seconds() {
        assert_eq!(
            duration_text::parse("500ms"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(duration_text::parse("2s"), Some(Duration::from_secs(2)));
        assert_eq!(duration_text::parse("5m"), Some(Duration::from_secs(300)));
        assert_eq!(duration_text::parse("5 parsecs"), None);
        assert_eq!(duration_text::parse("s"), None);
    }

    #[test]
    fn user_unknown_is_permanent_and_peer_trouble_is_transient() {
        assert!(!ShError::UserUnknown.is_transient());
        assert!(ShError::Timeout.is_transient());
        assert!(ShError::PeerDown.is_transient());
        assert!(ShError::Rejected(ResultError::Transient(3004)).is_transient());
        assert!(!ShError::Rejected(ResultError::ShPermanent(5102)).is_transient());
        assert_eq!(
            ShError::from(ResultError::UserUnknown),
            ShError::UserUnknown
        );
    }

    #[test]
    fn config_reads_from_toml_and_rejects_unknown_fields() {
        let cfg: ShConfig = toml::from_str(
            r#"
            peers = ["hss1.example", "127.0.0.1:3870"]
            origin_host = "relay.example"
            request_timeout = "750ms"
            cache_ttl = 60
            "#,
        )
        .unwrap();
        assert_eq!(cfg.request_timeout, Duration::from_millis(750));
        assert_eq!(cfg.cache_ttl, Duration::from_secs(60));
        assert_eq!(cfg.origin_realm, ShConfig::default().origin_realm);
        assert!(toml::from_str::<ShConfig>("peer = []").is_err());
        let text = toml::to_string(&cfg).unwrap();
        assert_eq!(toml::from_str::<ShConfig>(&text).unwrap(), cfg);
    }
}
