//! RFC 3207 STARTTLS configuration helpers: a rustls server configuration from PEM files.

use std::io;
use std::sync::Arc;

/// Builds a rustls server configuration from a PEM certificate chain and a PEM private key
/// (PKCS#8, PKCS#1 or SEC1), using the process's default crypto provider.
pub fn server_config_from_pem(
    cert_chain: &[u8],
    private_key: &[u8],
) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs = rustls_pemfile::certs(&mut &cert_chain[..]).collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no certificate in PEM",
        ));
    }
    let key = rustls_pemfile::private_key(&mut &private_key[..])?
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no private key in PEM"))?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Arc::new(config))
}
