//! The clients measured: Coffer (plain and sealed), rust-s3 (with and without a HEAD after
//! each put), and the plain-HTTP ceiling, hyper sending the same signed requests, with and
//! without the check of every body that Coffer makes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use coffer_host::Tenant;
use coffer_host::quickack::QuickAckConnector;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use md5::Digest as _;

use crate::hosts::Server;

/// One result row.
#[derive(Debug, Clone)]
pub struct Row {
    pub case: String,
    pub client: &'static str,
    pub ops_per_s: f64,
    pub mib_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

pub(crate) enum Client {
    Coffer(Tenant),
    /// The same tenant with client-side encryption (`coffer-bench --encrypted`).
    Sealed(Tenant),
    RustS3(Box<s3::Bucket>),
    /// rust-s3's PUT followed by a HEAD: what Stalwart does with `verifyAfterWrite = true`.
    RustS3Verify(Box<s3::Bucket>),
    Ceiling(Box<Ceiling>),
}

impl Client {
    pub(crate) fn name(&self, verify: bool) -> &'static str {
        match (self, verify) {
            (Client::Coffer(_), true) => "coffer",
            (Client::Coffer(_), false) => "coffer-noverify",
            (Client::Sealed(_), _) => "coffer-encrypted",
            (Client::RustS3(_), _) => "rust-s3",
            (Client::RustS3Verify(_), _) => "rust-s3+verify",
            (Client::Ceiling(ceiling), _) if ceiling.check => "ceiling+check",
            (Client::Ceiling(_), _) => "ceiling",
        }
    }

    /// GETs Coffer sent once more because the first was late (hedged reads), and of those the
    /// ones that answered first; 0 for the others.
    pub(crate) fn hedged_gets(&self) -> (u64, u64) {
        match self {
            Client::Coffer(tenant) | Client::Sealed(tenant) => {
                let stats = tenant.stats();
                (stats.hedged_gets, stats.hedges_won)
            }
            _ => (0, 0),
        }
    }

    pub(crate) async fn put(&self, key: &str, data: Vec<u8>) -> anyhow::Result<()> {
        match self {
            Client::Coffer(tenant) | Client::Sealed(tenant) => Ok(tenant.put(key, &data).await?),
            Client::RustS3(bucket) | Client::RustS3Verify(bucket) => {
                let response = bucket.put_object(key, &data).await?;
                anyhow::ensure!(response.status_code() == 200, "rust-s3 put: HTTP {}", response.status_code());
                if matches!(self, Client::RustS3Verify(_)) {
                    let (head, status) = bucket.head_object(key).await?;
                    anyhow::ensure!(status == 200, "rust-s3 head: HTTP {status}");
                    anyhow::ensure!(head.content_length == Some(data.len() as i64), "rust-s3 head: size {:?}", head.content_length);
                }
                Ok(())
            }
            Client::Ceiling(ceiling) => ceiling.put(key, data).await,
        }
    }

    pub(crate) async fn get(&self, key: &str) -> anyhow::Result<usize> {
        match self {
            Client::Coffer(tenant) | Client::Sealed(tenant) => Ok(tenant.get(key, ..).await?.map_or(0, |d| d.len())),
            Client::RustS3(bucket) | Client::RustS3Verify(bucket) => {
                let response = bucket.get_object(key).await?;
                anyhow::ensure!(response.status_code() == 200, "rust-s3 get: HTTP {}", response.status_code());
                Ok(response.bytes().len())
            }
            Client::Ceiling(ceiling) => ceiling.get(key).await,
        }
    }
}

/// The ceiling: a pooled hyper client sending what the plugin sends (path style, signed
/// payload, Content-MD5), signed by the plugin's SigV4 code compiled natively.
pub(crate) struct Ceiling {
    http: HyperClient<QuickAckConnector<HttpConnector>, Full<Bytes>>,
    server: Arc<Server>,
    authority: String,
    /// Whether a get checks the body as Coffer does (`ceiling+check`): it asks for the
    /// object's checksum and compares the CRC-32 of the body with it, or the MD5 with a
    /// single-part ETag where the server keeps no checksum.
    pub(crate) check: bool,
}

impl Ceiling {
    /// The ceiling that checks nothing.
    pub(crate) fn new(server: Arc<Server>) -> anyhow::Result<Ceiling> {
        Ceiling::build(server, false)
    }

    /// The ceiling whose gets check every body, as Coffer's do: what the sandbox costs, apart
    /// from what the check costs.
    pub(crate) fn checking(server: Arc<Server>) -> anyhow::Result<Ceiling> {
        Ceiling::build(server, true)
    }

    fn build(server: Arc<Server>, check: bool) -> anyhow::Result<Ceiling> {
        let authority = server.endpoint.split_once("://").map(|(_, a)| a.trim_end_matches('/').to_string()).unwrap_or_default();
        anyhow::ensure!(server.endpoint.starts_with("http://"), "the ceiling client speaks plain HTTP only");
        // The same socket treatment as Coffer's transport (no Nagle delay, prompt ACKs), so that
        // the ceiling stays a ceiling.
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = HyperClient::builder(TokioExecutor::new()).build(QuickAckConnector(connector));
        Ok(Ceiling { http, server, authority, check })
    }

    pub(crate) fn request(&self, method: &'static str, key: &str, body: Vec<u8>) -> http::Request<Full<Bytes>> {
        use coffer_plugin::sigv4;
        let path = format!("/{}/{key}", self.server.bucket);
        let sha256 = if body.is_empty() { sigv4::EMPTY_PAYLOAD_SHA256.to_string() } else { sigv4::sha256_hex(&body) };
        let mut headers = vec![("host".to_string(), self.authority.clone())];
        if method == "GET" && self.check {
            headers.push(("x-amz-checksum-mode".into(), "ENABLED".into()));
        }
        if method == "PUT" {
            headers.push(("content-length".into(), body.len().to_string()));
            headers.push(("content-md5".into(), base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body))));
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let amz_date = sigv4::amz_date(now);
        let scope = sigv4::SigningScope { amz_date: &amz_date, region: &self.server.region, service: "s3" };
        let keys = sigv4::SigningKeys {
            access_key_id: &self.server.access_key,
            secret_access_key: &self.server.secret_key,
            session_token: None,
        };
        let canonical_uri = sigv4::uri_encode(&path, true);
        let request = sigv4::S3Request { method, canonical_uri: &canonical_uri, canonical_query: "", payload_sha256: &sha256 };
        sigv4::sign_s3(&request, &mut headers, &keys, &scope);
        let uri = format!("http://{}{canonical_uri}", self.authority);
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        builder.body(Full::new(Bytes::from(body))).expect("a valid request")
    }

    pub(crate) async fn put(&self, key: &str, data: Vec<u8>) -> anyhow::Result<()> {
        let response = self.http.request(self.request("PUT", key, data)).await?;
        let status = response.status();
        response.into_body().collect().await?;
        anyhow::ensure!(status.is_success(), "ceiling put: HTTP {status}");
        Ok(())
    }

    pub(crate) async fn get(&self, key: &str) -> anyhow::Result<usize> {
        let response = self.http.request(self.request("GET", key, Vec::new())).await?;
        let status = response.status();
        // Only the checking ceiling keeps the headers: the plain one does no more than it must.
        let headers = self.check.then(|| response.headers().clone());
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::ensure!(status.is_success(), "ceiling get: HTTP {status}");
        if let Some(headers) = headers {
            check_body(&headers, &body).map_err(|e| anyhow::anyhow!("ceiling+check get of \"{key}\": {e}"))?;
        }
        Ok(body.len())
    }
}

/// Checks `body` against the object's full CRC-32 from `headers`, or else its MD5 against a
/// single-part ETag: the checks Coffer makes of such objects.
fn check_body(headers: &http::HeaderMap, body: &[u8]) -> anyhow::Result<()> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(crc) = header("x-amz-checksum-crc32") {
        let got = base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(body).to_be_bytes());
        anyhow::ensure!(got == crc, "the body's CRC-32 is {got}, the object's {crc}");
        return Ok(());
    }
    let etag = header("etag").unwrap_or_default().trim_matches('"');
    anyhow::ensure!(!etag.is_empty() && !etag.contains('-'), "no CRC-32 and no single-part ETag to check the body against");
    let got: String = md5::Md5::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    anyhow::ensure!(got == etag, "the body's MD5 is {got}, the ETag {etag}");
    Ok(())
}
