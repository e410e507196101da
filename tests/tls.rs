//! The function's HTTP clients' TLS against a real rustls server on 127.0.0.1: the reqwest
//! client completes a handshake and an HTTP/1.1 exchange with a certificate the roots it is
//! given vouch for, and both it and the AWS SDK's client, as the function builds them, refuse a
//! certificate from an authority they do not know.

use std::sync::Arc;

use alpaca_lambda_bot::http;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A certificate authority of the test's own and a `localhost` certificate it signed.
struct TestPki {
    ca: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    leaf_key: PrivateKeyDer<'static>,
}

fn test_pki() -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    TestPki {
        ca: ca.der().clone(),
        leaf: leaf.der().clone(),
        leaf_key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()).into(),
    }
}

/// Serves one HTTPS `200 ok` per connection with the given certificate; returns its port.
async fn https_server(pki: &TestPki) -> u16 {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![pki.leaf.clone()], pki.leaf_key.clone_key())
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake ends here: that is the case under test.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = [0u8; 4096];
                let _ = tls.read(&mut request).await;
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn a_certificate_the_roots_vouch_for_is_accepted() {
    let pki = test_pki();
    let port = https_server(&pki).await;
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let client = http::client_trusting(roots).unwrap();

    let response = client
        .get(format!("https://localhost:{port}/v2/clock"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn the_production_client_refuses_a_certificate_from_an_unknown_authority() {
    let pki = test_pki();
    let port = https_server(&pki).await;
    let client = http::client().unwrap();

    let err = client
        .get(format!("https://localhost:{port}/v2/clock"))
        .send()
        .await
        .unwrap_err();
    let chain = alpaca_lambda_bot::http::error_chain(&err.without_url());
    assert!(
        chain.contains("UnknownIssuer") || chain.contains("unknown issuer"),
        "{chain}"
    );
}

#[tokio::test]
async fn the_aws_sdk_client_refuses_a_certificate_from_an_unknown_authority() {
    let pki = test_pki();
    let port = https_server(&pki).await;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http::aws_sdk_client().unwrap())
        .endpoint_url(format!("https://localhost:{port}"))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let err = aws_sdk_secretsmanager::Client::new(&aws)
        .get_secret_value()
        .secret_id("alpaca-bot")
        .send()
        .await
        .unwrap_err();
    let chain = aws_sdk_secretsmanager::error::DisplayErrorContext(&err).to_string();
    assert!(
        chain.contains("UnknownIssuer") || chain.contains("unknown issuer"),
        "{chain}"
    );
}
