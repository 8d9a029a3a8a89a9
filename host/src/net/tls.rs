//! Which TLS servers a tenant trusts: the built-in web roots, plus the CAs of its `caFile`, or
//! (with `allowInvalidCerts`) any certificate at all. A certificate of `caFile` that the server
//! presents itself is trusted too: the self-signed certificate `openssl req -x509` makes is its
//! own CA, which WebPKI refuses as a server's certificate (`CaUsedAsEndEntity`), while curl and
//! OpenSSL accept it. Each tenant gets its own rustls config, so
//! one tenant's choice never loosens another's.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// A tenant's TLS trust, as its settings give it.
#[derive(Clone, Default)]
pub struct Trust {
    /// Accept any server certificate (`allowInvalidCerts`). The handshake's signatures are
    /// still checked; who signed the certificate and for which name are not.
    pub allow_invalid_certs: bool,
    /// Where `ca_certs` came from (`caFile`).
    pub ca_file: Option<PathBuf>,
    /// Certificates trusted as roots besides the built-in ones.
    pub ca_certs: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("allow_invalid_certs", &self.allow_invalid_certs)
            .field("ca_file", &self.ca_file)
            .field("ca_certs", &self.ca_certs.len())
            .finish()
    }
}

/// The certificates of a PEM file, each checked to be usable as a trust anchor.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_ca_pem(&bytes, &path.display().to_string())
}

/// The certificates of PEM text (`shown` names it in errors), each checked to be usable as a
/// trust anchor.
pub fn parse_ca_pem(bytes: &[u8], shown: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{shown} is not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
    }
    let mut roots = RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        roots.add(cert.clone()).map_err(|e| format!("{shown}: certificate {} cannot be a trust anchor: {e}", i + 1))?;
    }
    Ok(certs)
}

/// The rustls client config for a tenant's trust.
pub fn client_config(trust: &Trust) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    for cert in &trust.ca_certs {
        // Checked when the settings were loaded (load_ca_file).
        let _ = roots.add(cert.clone());
    }
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .expect("the built-in roots are usable");
    let verifier = TenantVerifier { any_certificate: trust.allow_invalid_certs, pinned: trust.ca_certs.clone(), webpki };
    builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier)).with_no_client_auth()
}

/// A tenant's check of the server's certificate: WebPKI against the built-in roots and its
/// `caFile`; a certificate of `caFile` presented by the server itself (a self-signed one),
/// trusted when it is valid for the name asked for; or, with `allowInvalidCerts`, any
/// certificate for any name. The handshake's signatures are checked in every case.
#[derive(Debug)]
struct TenantVerifier {
    any_certificate: bool,
    pinned: Vec<CertificateDer<'static>>,
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
}

impl ServerCertVerifier for TenantVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.any_certificate {
            return Ok(ServerCertVerified::assertion());
        }
        if self.pinned.iter().any(|pinned| pinned.as_ref() == end_entity.as_ref()) {
            let cert = webpki::EndEntityCert::try_from(end_entity)
                .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?;
            cert.verify_is_valid_for_subject_name(server_name)
                .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))?;
            return Ok(ServerCertVerified::assertion());
        }
        self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests;
