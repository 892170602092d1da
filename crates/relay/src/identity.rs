//! The network-asserted identity of an MM1 request (DESIGN.md §6): who sent it, from sources the
//! operator configured per listener, never from what the phone wrote.
//!
//! * Authentication proxy (TS 24.109 §6.3.2.3, TS 33.222): `X-3GPP-Asserted-Identity`
//!   (comma-separated, usually quoted URIs) from a trusted proxy network; the UA may pick one with
//!   `X-3GPP-Intended-Identity`.
//! * WAP gateway MSISDN enrichment: `X-MSISDN`, `X-WAP-Network-Client-MSISDN`, `X-Nokia-MSISDN`
//!   from a gateway network; the MSISDN's IMS public identities come from the subscriber table
//!   and, when configured, the HSS over Sh (TS 29.328, Data-Reference IMSPublicIdentity 10).
//! * RADIUS accounting (RFC 2866): the GGSN/PGW reports which MSISDN holds which IP address
//!   ([`spawn_radius`] stores each binding durably before answering); the request's peer address,
//!   or a trusted gateway's `X-Forwarded-For`, picks the binding.
//!
//! [`evidence`] (which source applies to a request) and [`sender_for`] (the From policy) are pure
//! functions; [`IdentitySources::authenticate`] does the lookups.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use diameter::sh_client::ShClient;
use mms_address::{Address, E164, Msisdn, ParseOptions};
use mms_pdu::FromAddress;
use mms_store::{NasKey, RadiusBinding, Store, StoreError, Timestamp};
use radius::AccountingEvent;
use radius::server::{
    AccountingHandler, AccountingListener, Client, HandlerError, ListenerConfig, Stats,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{IdentityConfig, RadiusConfig, canonical_ip, in_any};

/// `X-3GPP-Asserted-Identity` (TS 24.109 §6.3.2.3).
pub const ASSERTED_IDENTITY: &str = "x-3gpp-asserted-identity";
/// `X-3GPP-Intended-Identity` (TS 24.109 §6.3.2.4): the UA's choice among its identities.
pub const INTENDED_IDENTITY: &str = "x-3gpp-intended-identity";
/// MSISDN enrichment headers of WAP gateways, in the order they are believed.
pub const MSISDN_HEADERS: [&str; 3] = ["x-msisdn", "x-wap-network-client-msisdn", "x-nokia-msisdn"];
/// `X-Forwarded-For`, believed from a WAP gateway only.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// How the identity was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityMethod {
    /// A trusted authentication proxy asserted it.
    AuthProxy,
    /// A trusted WAP gateway enriched the request with the MSISDN.
    WapGateway,
    /// A RADIUS accounting binding of the client's IP address.
    Radius,
}

impl IdentityMethod {
    /// Short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthProxy => "auth-proxy",
            Self::WapGateway => "wap-gateway",
            Self::Radius => "radius",
        }
    }
}

/// A UA whose identity the network asserted (DESIGN.md §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUa {
    /// Every identity the UA may send as, preferred first (the intended one, if it chose a valid one).
    pub identities: Vec<Address>,
    /// The subscriber's MSISDN, when the source gave one.
    pub msisdn: Option<Msisdn>,
    /// Where the identity came from.
    pub method: IdentityMethod,
}

impl AuthenticatedUa {
    /// Whether `address` is one of this UA's identities (compared in normal form, so
    /// `tel:+49…` equals `sip:+49…@host;user=phone`).
    pub fn owns(&self, address: &Address) -> bool {
        self.identities.iter().any(|a| a == address)
    }

    /// The identity the relay inserts for `From: insert-address-token`.
    pub fn preferred(&self) -> Option<&Address> {
        self.identities.first()
    }
}

/// The headers and peer of one request, as the identity logic sees them (names lower-case).
#[derive(Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The TCP peer address.
    pub peer: IpAddr,
    /// Header lookup: the first value of a (lower-case) header name.
    pub header: &'a (dyn Fn(&str) -> Option<&'a str> + Sync),
}

impl std::fmt::Debug for RequestFacts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestFacts")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// What a request offers as identity, before any lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Evidence {
    /// A trusted proxy asserted these identities; `intended` is the UA's valid choice among them.
    Asserted {
        /// Asserted identities in header order.
        identities: Vec<Address>,
        /// `X-3GPP-Intended-Identity`, when it names one of `identities`.
        intended: Option<Address>,
    },
    /// A trusted gateway gave the MSISDN.
    GatewayMsisdn(Msisdn),
    /// Look up the RADIUS binding of this client address.
    RadiusClient(IpAddr),
    /// Nothing usable.
    None,
}

/// Which configured source applies to a request (pure; DESIGN.md §6). Identity headers from a
/// peer outside the trusted networks are ignored and logged.
pub fn evidence(
    config: &IdentityConfig,
    facts: &RequestFacts<'_>,
    opts: &ParseOptions,
) -> Evidence {
    let peer = canonical_ip(facts.peer);
    let header = facts.header;
    let from_proxy = config.auth_proxy && in_any(&config.trusted_proxies, peer);
    let from_gateway = config.wap_gateway && in_any(&config.wap_gateways, peer);

    if let Some(value) = header(ASSERTED_IDENTITY) {
        if from_proxy {
            let identities = parse_asserted_identities(value, opts);
            if identities.is_empty() {
                tracing::warn!(%peer, value, "X-3GPP-Asserted-Identity holds no valid identity");
            } else {
                let intended = header(INTENDED_IDENTITY)
                    .and_then(|v| parse_one_identity(v, opts))
                    .filter(|a| identities.contains(a));
                return Evidence::Asserted {
                    identities,
                    intended,
                };
            }
        } else {
            tracing::warn!(%peer, "X-3GPP-Asserted-Identity from an untrusted address ignored");
        }
    }

    for name in MSISDN_HEADERS {
        if let Some(value) = header(name) {
            if !from_gateway {
                tracing::warn!(%peer, header = name, "MSISDN header from an untrusted address ignored");
                continue;
            }
            match parse_msisdn(value) {
                Some(m) => return Evidence::GatewayMsisdn(m),
                None => {
                    tracing::warn!(%peer, header = name, value, "MSISDN header is not a number")
                }
            }
        }
    }

    if config.radius {
        let forwarded = header(FORWARDED_FOR);
        let client = match forwarded {
            Some(v) if from_gateway => forwarded_client(v).unwrap_or(peer),
            Some(_) => {
                tracing::debug!(%peer, "X-Forwarded-For from an untrusted address ignored");
                peer
            }
            None => peer,
        };
        return Evidence::RadiusClient(client);
    }
    Evidence::None
}

/// The address a trusted gateway appended last to `X-Forwarded-For` (the client it served).
pub fn forwarded_client(value: &str) -> Option<IpAddr> {
    let last = value.rsplit(',').next()?.trim();
    let last = last
        .strip_prefix('[')
        .and_then(|s| s.split_once(']'))
        .map_or(last, |(ip, _)| ip);
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical_ip)
}

/// The identities of an `X-3GPP-Asserted-Identity` value: comma-separated, each optionally
/// quoted and/or in angle brackets. Entries that do not parse are skipped.
pub fn parse_asserted_identities(value: &str, opts: &ParseOptions) -> Vec<Address> {
    let mut out = Vec::new();
    for item in split_unquoted_commas(value) {
        match parse_one_identity(item, opts) {
            Some(a) if !out.contains(&a) => out.push(a),
            Some(_) => {}
            None => tracing::debug!(item, "asserted identity entry skipped"),
        }
    }
    out
}

fn parse_one_identity(item: &str, opts: &ParseOptions) -> Option<Address> {
    let item = item.trim();
    let item = item
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(item);
    let address = Address::parse_with(item, opts).ok()?;
    matches!(address, Address::Sip(_) | Address::Tel(_)).then_some(address)
}

fn split_unquoted_commas(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut angle = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                parts.push(value.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value.get(start..).unwrap_or_default());
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// An MSISDN from an enrichment header or `Calling-Station-Id`: digits with an optional `+`
/// (visual separators and a `tel:` prefix tolerated).
pub fn parse_msisdn(value: &str) -> Option<Msisdn> {
    let v = value.trim();
    let v = v.strip_prefix("tel:").unwrap_or(v);
    let digits: String = v
        .chars()
        .filter(|c| !matches!(c, '+' | '-' | '.' | ' ' | '(' | ')'))
        .collect();
    Msisdn::parse(&digits).ok()
}

/// Why a sender cannot be accepted (MMS ENC §7.3.21 From, DESIGN.md §6 policy).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SenderError {
    /// No identity source vouched for the request.
    #[error("the sender is not authenticated")]
    NotAuthenticated,
    /// The From address is none of the asserted identities (or not an address at all).
    #[error("From {from:?} is not an identity of the sender")]
    NotOwned {
        /// The From text as written.
        from: String,
    },
}

/// The From policy of DESIGN.md §6 (pure): insert-address-token → the UA's preferred identity;
/// a present From must be one of its identities after normalisation.
pub fn sender_for(
    ua: Option<&AuthenticatedUa>,
    from: &FromAddress,
    opts: &ParseOptions,
) -> Result<Address, SenderError> {
    let ua = ua.ok_or(SenderError::NotAuthenticated)?;
    match from {
        FromAddress::InsertAddressToken => {
            ua.preferred().cloned().ok_or(SenderError::NotAuthenticated)
        }
        FromAddress::Present(text) => {
            let text = text.text();
            match Address::parse_with(&text, opts) {
                Ok(a) if ua.owns(&a) => Ok(a),
                _ => Err(SenderError::NotOwned { from: text }),
            }
        }
    }
}

/// The identity lookups of one MM1 listener: its configuration, the store (subscribers, RADIUS
/// bindings) and the HSS when configured.
pub struct IdentitySources<S: Store> {
    config: IdentityConfig,
    opts: ParseOptions,
    store: S,
    hss: Option<Arc<ShClient>>,
}

impl<S: Store> IdentitySources<S> {
    /// Sources with the listener's `config`, address options, store and optional Sh client.
    pub fn new(
        config: IdentityConfig,
        opts: ParseOptions,
        store: S,
        hss: Option<Arc<ShClient>>,
    ) -> Self {
        Self {
            config,
            opts,
            store,
            hss,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }

    /// Authenticates a request; `Ok(None)` when no source vouches for it.
    pub async fn authenticate(
        &self,
        facts: &RequestFacts<'_>,
    ) -> Result<Option<AuthenticatedUa>, StoreError> {
        match evidence(&self.config, facts, &self.opts) {
            Evidence::Asserted {
                mut identities,
                intended,
            } => {
                if let Some(choice) = intended {
                    identities.retain(|a| a != &choice);
                    identities.insert(0, choice);
                }
                let msisdn = identities
                    .iter()
                    .find_map(Address::as_e164)
                    .map(Msisdn::from);
                Ok(Some(AuthenticatedUa {
                    identities,
                    msisdn,
                    method: IdentityMethod::AuthProxy,
                }))
            }
            Evidence::GatewayMsisdn(msisdn) => Ok(Some(
                self.for_msisdn(msisdn, IdentityMethod::WapGateway).await?,
            )),
            Evidence::RadiusClient(ip) => {
                let Some(binding) = self.store.radius_binding(&ip.to_string()).await? else {
                    return Ok(None);
                };
                let Some(msisdn) = parse_msisdn(&binding.msisdn) else {
                    tracing::warn!(%ip, "RADIUS binding holds no valid MSISDN");
                    return Ok(None);
                };
                Ok(Some(self.for_msisdn(msisdn, IdentityMethod::Radius).await?))
            }
            Evidence::None => Ok(None),
        }
    }

    /// The identities of an MSISDN: its IMPUs (subscriber table, then the HSS), then `tel:+MSISDN`.
    async fn for_msisdn(
        &self,
        msisdn: Msisdn,
        method: IdentityMethod,
    ) -> Result<AuthenticatedUa, StoreError> {
        let mut impus = self.store.impus_for_msisdn(msisdn.as_str()).await?;
        if let Some(hss) = &self.hss {
            match hss.public_identities_for(msisdn.as_str()).await {
                Ok(more) => impus.extend(more),
                Err(e) => {
                    tracing::warn!(%msisdn, error = %e, "Sh lookup of the MSISDN's identities failed")
                }
            }
        }
        let mut identities: Vec<Address> = Vec::new();
        for impu in impus {
            match Address::parse_with(&impu, &self.opts) {
                Ok(a) if !identities.contains(&a) => identities.push(a),
                Ok(_) => {}
                Err(e) => tracing::warn!(impu, error = %e, "IMPU is not an address"),
            }
        }
        let tel = Address::Tel(E164::from(msisdn.clone()));
        if !identities.contains(&tel) {
            identities.push(tel);
        }
        Ok(AuthenticatedUa {
            identities,
            msisdn: Some(msisdn),
            method,
        })
    }
}

/// Applies RADIUS accounting events to the store: Start/Interim bind the framed IP to the
/// MSISDN (recording the NAS), Stop removes the binding, Accounting-On/Off removes every binding
/// of that NAS (RFC 2866 §5.1). Each is committed before the listener answers.
pub struct StoreAccounting<S: Store> {
    store: S,
}

impl<S: Store> StoreAccounting<S> {
    /// A handler writing to `store`.
    pub fn new(store: S) -> Self {
        Self { store }
    }
}

impl<S: Store> AccountingHandler for StoreAccounting<S> {
    async fn apply(&self, event: AccountingEvent, from: SocketAddr) -> Result<(), HandlerError> {
        let store_err = |e: StoreError| HandlerError(e.to_string());
        match event {
            AccountingEvent::Start(info) | AccountingEvent::Interim(info) => {
                let (Some(ip), Some(raw)) = (info.ip, info.msisdn.as_deref()) else {
                    tracing::warn!(%from, "accounting Start/Interim without Framed-IP-Address or Calling-Station-Id: not bound");
                    return Ok(());
                };
                let Some(msisdn) = parse_msisdn(raw) else {
                    tracing::warn!(%from, calling_station_id = raw, "Calling-Station-Id is not an MSISDN: not bound");
                    return Ok(());
                };
                let binding = RadiusBinding {
                    ip: ip.to_string(),
                    msisdn: msisdn.as_str().to_owned(),
                    session_id: info.session_id.unwrap_or_default(),
                    updated_at: Timestamp::now(),
                    nas: Some(nas_key(from, info.nas, info.nas_identifier)),
                };
                self.store.radius_start(binding).await.map_err(store_err)?;
                tracing::debug!(%ip, %msisdn, "RADIUS binding stored");
                Ok(())
            }
            AccountingEvent::Stop(info) => {
                if let Some(ip) = info.ip {
                    let session = info.session_id.unwrap_or_default();
                    let removed = self
                        .store
                        .radius_stop(&ip.to_string(), &session)
                        .await
                        .map_err(store_err)?;
                    tracing::debug!(%ip, removed, "RADIUS Stop");
                }
                Ok(())
            }
            AccountingEvent::AccountingOn {
                nas,
                nas_identifier,
            }
            | AccountingEvent::AccountingOff {
                nas,
                nas_identifier,
            } => {
                // The NAS restarted or goes down: every session it had is over, and its addresses
                // will be handed to other subscribers. Clear before answering.
                let key = nas_key(from, nas, nas_identifier);
                let removed = self.store.radius_nas_reset(&key).await.map_err(store_err)?;
                tracing::info!(%from, %nas, nas_identifier = ?key.identifier, removed, "RADIUS Accounting-On/Off: the NAS's bindings cleared");
                Ok(())
            }
            other => {
                tracing::info!(%from, event = ?other, "RADIUS accounting event without a binding change");
                Ok(())
            }
        }
    }
}

/// The store's key of the NAS behind an Accounting-Request from `from` (RFC 2865 §5.4, §5.32).
fn nas_key(from: SocketAddr, nas: IpAddr, identifier: Option<String>) -> NasKey {
    NasKey {
        client: canonical_ip(from.ip()).to_string(),
        ip: canonical_ip(nas).to_string(),
        identifier,
    }
}

/// A running RADIUS accounting listener.
pub struct RadiusHandle {
    /// The bound UDP address.
    pub local_addr: SocketAddr,
    /// The listener's counters.
    pub stats: Arc<Stats>,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl RadiusHandle {
    /// Stops the listener and waits for it.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.shutdown.cancel();
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Why the RADIUS listener did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RadiusStartError {
    /// `[radius] listen` is not set.
    #[error("no [radius] listen address configured")]
    NotConfigured,
    /// Binding the UDP socket failed.
    #[error("binding the RADIUS listener: {0}")]
    Bind(#[from] std::io::Error),
}

/// Binds the RADIUS accounting listener of `config` and serves it on a task, storing bindings in `store`.
pub async fn spawn_radius<S: Store>(
    config: &RadiusConfig,
    store: S,
) -> Result<RadiusHandle, RadiusStartError> {
    let listen = config.listen.ok_or(RadiusStartError::NotConfigured)?;
    let clients = config
        .clients
        .iter()
        .map(|c| Client {
            net: c.cidr.0,
            secret: c.secret.as_bytes().to_vec(),
        })
        .collect();
    let mut listener_config = ListenerConfig::new(clients);
    if let Some(secs) = config.duplicate_window_secs {
        listener_config.duplicate_window = std::time::Duration::from_secs(secs);
    }
    let listener = AccountingListener::bind(listen, listener_config).await?;
    let local_addr = listener.local_addr()?;
    let stats = listener.stats();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let handler = Arc::new(StoreAccounting::new(store));
    let task = tokio::spawn(async move { listener.run(handler, stop.cancelled_owned()).await });
    tracing::info!(%local_addr, "RADIUS accounting listener started");
    Ok(RadiusHandle {
        local_addr,
        stats,
        shutdown,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Cidr;
    use mms_pdu::EncodedString;
    use std::collections::HashMap;

    fn config() -> IdentityConfig {
        IdentityConfig {
            auth_proxy: true,
            trusted_proxies: vec!["10.0.0.1".parse().unwrap()],
            wap_gateway: true,
            wap_gateways: vec!["10.0.1.0/24".parse::<Cidr>().unwrap()],
            radius: true,
        }
    }

    fn facts_eval(peer: &str, headers: &[(&str, &str)]) -> Evidence {
        let map: HashMap<String, String> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
            .collect();
        let lookup = |name: &str| map.get(name).map(String::as_str);
        let facts = RequestFacts {
            peer: peer.parse().unwrap(),
            header: &lookup,
        };
        evidence(&config(), &facts, &ParseOptions::default())
    }

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    #[test]
    fn asserted_identity_from_trusted_proxy_is_believed_ts24109() {
        let e = facts_eval(
            "10.0.0.1",
            &[(
                ASSERTED_IDENTITY,
                "\"sip:alice@a.example\", \"tel:+441234567890\"",
            )],
        );
        assert_eq!(
            e,
            Evidence::Asserted {
                identities: vec![addr("sip:alice@a.example"), addr("tel:+441234567890")],
                intended: None
            }
        );
    }

    #[test]
    fn intended_identity_is_taken_only_when_asserted_ts24109() {
        let h = [
            (
                ASSERTED_IDENTITY,
                "<sip:alice@a.example>, <tel:+441234567890>",
            ),
            (INTENDED_IDENTITY, "\"tel:+441234567890\""),
        ];
        match facts_eval("10.0.0.1", &h) {
            Evidence::Asserted { intended, .. } => {
                assert_eq!(intended, Some(addr("tel:+441234567890")))
            }
            other => panic!("{other:?}"),
        }
        let h = [
            (ASSERTED_IDENTITY, "sip:alice@a.example"),
            (INTENDED_IDENTITY, "sip:mallory@a.example"),
        ];
        match facts_eval("10.0.0.1", &h) {
            Evidence::Asserted { intended, .. } => assert_eq!(intended, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn identity_headers_from_untrusted_peer_are_ignored() {
        let e = facts_eval(
            "192.0.2.9",
            &[
                (ASSERTED_IDENTITY, "sip:alice@a.example"),
                ("x-msisdn", "441234567890"),
            ],
        );
        // Falls through to the RADIUS binding of the peer itself.
        assert_eq!(e, Evidence::RadiusClient("192.0.2.9".parse().unwrap()));
    }

    #[test]
    fn gateway_msisdn_headers_are_believed_from_gateway_networks() {
        for h in MSISDN_HEADERS {
            let e = facts_eval("10.0.1.7", &[(h, "+44 1234 567890")]);
            assert_eq!(
                e,
                Evidence::GatewayMsisdn(Msisdn::parse("441234567890").unwrap()),
                "{h}"
            );
        }
        // A proxy that is not a gateway cannot enrich.
        let e = facts_eval("10.0.0.1", &[("x-msisdn", "441234567890")]);
        assert_eq!(e, Evidence::RadiusClient("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn forwarded_for_picks_radius_client_only_from_gateway() {
        let e = facts_eval("10.0.1.7", &[(FORWARDED_FOR, "203.0.113.5, 100.64.0.9")]);
        assert_eq!(e, Evidence::RadiusClient("100.64.0.9".parse().unwrap()));
        let e = facts_eval("192.0.2.9", &[(FORWARDED_FOR, "100.64.0.9")]);
        assert_eq!(e, Evidence::RadiusClient("192.0.2.9".parse().unwrap()));
        assert_eq!(
            forwarded_client("[2001:db8::1]:4711"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            forwarded_client("::ffff:10.1.1.1"),
            Some("10.1.1.1".parse().unwrap())
        );
        assert_eq!(forwarded_client("garbage"), None);
    }

    #[test]
    fn nothing_when_radius_disabled_and_no_trusted_header() {
        let map: HashMap<String, String> = HashMap::new();
        let lookup = |name: &str| map.get(name).map(String::as_str);
        let facts = RequestFacts {
            peer: "10.0.0.1".parse().unwrap(),
            header: &lookup,
        };
        let cfg = IdentityConfig {
            radius: false,
            ..config()
        };
        assert_eq!(
            evidence(&cfg, &facts, &ParseOptions::default()),
            Evidence::None
        );
    }

    #[test]
    fn asserted_identity_list_handles_quotes_brackets_and_junk() {
        let ids = parse_asserted_identities(
            "\"Alice, A\" <sip:alice@A.example>, junk, <sip:+441234567890@a.example;user=phone>, tel:+441234567890",
            &ParseOptions::default(),
        );
        assert_eq!(
            ids,
            vec![addr("sip:alice@a.example"), addr("tel:+441234567890")]
        );
    }

    fn ua() -> AuthenticatedUa {
        AuthenticatedUa {
            identities: vec![addr("sip:alice@a.example"), addr("tel:+441234567890")],
            msisdn: Some(Msisdn::parse("441234567890").unwrap()),
            method: IdentityMethod::AuthProxy,
        }
    }

    #[test]
    fn insert_address_token_gets_preferred_identity_mms_enc_7_3_21() {
        let got = sender_for(
            Some(&ua()),
            &FromAddress::InsertAddressToken,
            &ParseOptions::default(),
        );
        assert_eq!(got, Ok(addr("sip:alice@a.example")));
    }

    #[test]
    fn present_from_must_be_an_asserted_identity_after_normalisation() {
        let opts = ParseOptions::default();
        for ok in [
            "+441234567890/TYPE=PLMN",
            "sip:+441234567890@a.example;user=phone",
            "<sip:alice@A.EXAMPLE>",
        ] {
            let from = FromAddress::Present(EncodedString::plain(ok));
            assert!(sender_for(Some(&ua()), &from, &opts).is_ok(), "{ok}");
        }
        for bad in ["sip:bob@a.example", "+449999/TYPE=PLMN", "not an address"] {
            let from = FromAddress::Present(EncodedString::plain(bad));
            assert!(
                matches!(
                    sender_for(Some(&ua()), &from, &opts),
                    Err(SenderError::NotOwned { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn no_identity_is_not_authenticated() {
        let got = sender_for(
            None,
            &FromAddress::InsertAddressToken,
            &ParseOptions::default(),
        );
        assert_eq!(got, Err(SenderError::NotAuthenticated));
    }

    #[test]
    fn msisdn_forms_are_normalised() {
        assert_eq!(
            parse_msisdn("+44-1234-567890").unwrap().as_str(),
            "441234567890"
        );
        assert_eq!(
            parse_msisdn("tel:+441234567890").unwrap().as_str(),
            "441234567890"
        );
        assert!(parse_msisdn("abc").is_none());
        assert!(parse_msisdn("").is_none());
    }
}
