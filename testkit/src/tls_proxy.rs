//! A TLS-terminating proxy in front of the real server: a private CA (made fresh for each proxy)
//! signs a certificate for 127.0.0.1 and localhost, the proxy answers TLS with it on 127.0.0.1
//! and passes the plain bytes both ways to the server. Nothing trusts that CA unless told to,
//! which is what `allowInvalidCerts` and `caFile` are tested with.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct TlsProxy {
    /// `https://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The PEM file of the CA that signed the proxy's certificate.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
    handshakes: Arc<AtomicUsize>,
}

impl TlsProxy {
    /// Starts a proxy for `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> TlsProxy {
        TlsProxy::with_certificates(upstream, certificates())
    }

    /// Starts a proxy whose certificate is its own CA, as `openssl req -x509` makes one: the
    /// usual recipe for a self-hosted server. `ca_file` holds that certificate.
    pub fn start_self_signed(upstream: &str) -> TlsProxy {
        TlsProxy::with_certificates(upstream, self_signed())
    }

    fn with_certificates(
        upstream: &str,
        (ca_pem, chain, key): (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
    ) -> TlsProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("coffer-test-ca.pem");
        std::fs::write(&ca_file, ca_pem).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counter = handshakes.clone();
        let addr = crate::listen::accept_on_own_thread(move |socket| {
            let (acceptor, upstream, counter) = (acceptor.clone(), upstream.clone(), counter.clone());
            async move {
                // A client that refuses the certificate ends the handshake here.
                let Ok(mut tls) = acceptor.accept(socket).await else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
            }
        });
        let endpoint = format!("https://{addr}");
        TlsProxy { endpoint, ca_file, _dir: dir, handshakes }
    }

    /// TLS handshakes completed so far: one per connection a client accepted.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

/// A CA's PEM, and a certificate chain and key for 127.0.0.1 and localhost signed by it.
fn certificates() -> (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Coffer test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();

    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    let leaf = params.signed_by(&key, &ca, &ca_key).unwrap();

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (ca.pem(), vec![leaf.der().clone(), ca.der().clone()], key)
}

/// A certificate for 127.0.0.1 and localhost that is its own CA (basicConstraints CA:TRUE,
/// self-signed), its PEM, and its key.
fn self_signed() -> (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, "garage.example.internal");
    let cert = params.self_signed(&key).unwrap();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (cert.pem(), vec![cert.der().clone()], key_der)
}
