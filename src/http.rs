//! The function's HTTP clients: one for Alpaca (trading and market data) and Discord, one for
//! the AWS SDK (Secrets Manager).
//!
//! Both speak TLS with rustls over aws-lc-rs, so the package carries one TLS implementation,
//! and both trust the same anchors: Mozilla's root certificates, compiled in
//! (`webpki-root-certs`). A cold start then reads no CA bundle from disk, which cost about 4 ms
//! per load here with rustls and tens of milliseconds with OpenSSL. Rebuilding with a newer
//! `webpki-root-certs` updates the roots.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::RootCertStore;
use rustls::crypto::aws_lc_rs;
use webpki_root_certs::TLS_SERVER_ROOT_CERTS;

/// Bounds the TCP and TLS set-up; each call also runs under the cycle's own timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The client for Alpaca and Discord. Built once per cold start; clones share its pool.
pub fn client() -> Result<reqwest::Client, HttpClientError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(TLS_SERVER_ROOT_CERTS.iter().cloned());
    client_trusting(roots)
}

/// [`client`] with other trust anchors (tests use their own certificate authority).
pub fn client_trusting(roots: RootCertStore) -> Result<reqwest::Client, HttpClientError> {
    let mut tls =
        rustls::ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    // The client speaks HTTP/1.1 only (reqwest is built without HTTP/2).
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()?)
}

/// The AWS SDK's own HTTPS client with the same roots in place of the system store, which it
/// would otherwise load while the function initialises.
pub fn aws_sdk_client() -> Result<SharedHttpClient, HttpClientError> {
    let trust = TrustStore::empty().with_pem_certificate(roots_pem());
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| HttpClientError::AwsSdk(e.to_string()))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

/// The roots as PEM, the only form the SDK's trust store takes.
fn roots_pem() -> String {
    let mut pem = String::with_capacity(TLS_SERVER_ROOT_CERTS.len() * 2200);
    for cert in TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in STANDARD.encode(cert.as_ref()).as_bytes().chunks(64) {
            // Base64 output is ASCII.
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem
}

/// "outer: inner: root", so a log line says why a connection failed.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("TLS set-up failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("HTTP client set-up failed: {0}")]
    Client(#[from] reqwest::Error),
    #[error("AWS SDK HTTP client set-up failed: {0}")]
    AwsSdk(String),
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    use super::*;

    /// The SDK's trust store panics on a root it cannot parse: every one must parse, in both
    /// forms, so a `webpki-root-certs` update that broke this fails here, not in Lambda.
    #[test]
    fn every_root_parses_and_the_pem_round_trips() {
        let mut store = RootCertStore::empty();
        let (added, ignored) =
            store.add_parsable_certificates(TLS_SERVER_ROOT_CERTS.iter().cloned());
        assert!(added > 100, "{added} roots");
        assert_eq!(ignored, 0);

        let pem = roots_pem();
        let decoded = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(decoded.as_slice(), TLS_SERVER_ROOT_CERTS);
    }

    #[test]
    fn both_clients_build() {
        client().unwrap();
        aws_sdk_client().unwrap();
    }
}
