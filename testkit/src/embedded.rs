//! An S3-compatible server in-process (s3s + s3s-fs over a temp dir), for `coffer demo` and for
//! the test suite when no other server is given. It speaks real HTTP on 127.0.0.1 and checks
//! SigV4 signatures like any S3 service. It answers path-style requests on its address, and
//! virtual-hosted-style ones on `BUCKET.s3.localhost:PORT`.

use std::net::SocketAddr;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::S3Result;
use s3s::auth::SimpleAuth;
use s3s::host::{S3Host, VirtualHost};
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running embedded server. Dropping it stops the server and removes its files.
pub struct EmbeddedS3 {
    pub endpoint: String,
    /// The endpoint for virtual-hosted-style requests: `http://s3.localhost:PORT`.
    pub virtual_host_endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    addr: SocketAddr,
    task: JoinHandle<()>,
    _root: tempfile::TempDir,
}

impl EmbeddedS3 {
    /// Starts a server on a free port of 127.0.0.1 with one bucket, `bucket`.
    pub async fn start(bucket: &str) -> anyhow::Result<EmbeddedS3> {
        sweep_stale_roots();
        let root = tempfile::Builder::new().prefix(&format!("{ROOT_PREFIX}{}-", std::process::id())).tempdir()?;
        std::fs::create_dir(root.path().join(bucket))?;
        let access_key = "coffer-demo-access".to_string();
        let secret_key = format!("coffer-demo-{:016x}", rand_seed());
        let fs = s3s_fs::FileSystem::new(root.path()).map_err(|e| anyhow::anyhow!("s3s-fs: {e:?}"))?;
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(access_key.clone(), secret_key.clone()));
        builder.set_host(BucketSubdomains);
        let service = builder.build();

        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            while let Ok((socket, _)) = listener.accept().await {
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        Ok(EmbeddedS3 {
            endpoint: format!("http://{addr}"),
            virtual_host_endpoint: format!("http://{VIRTUAL_HOST_DOMAIN}:{}", addr.port()),
            region: "us-east-1".into(),
            bucket: bucket.into(),
            access_key,
            secret_key,
            addr,
            task,
            _root: root,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The domain whose subdomains name buckets (`*.localhost` is loopback, RFC 6761).
pub const VIRTUAL_HOST_DOMAIN: &str = "s3.localhost";

/// `BUCKET.s3.localhost[:port]` names the bucket; any other Host is path style.
struct BucketSubdomains;

impl S3Host for BucketSubdomains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = host.rsplit_once(':').map_or(host, |(name, _port)| name);
        match name.strip_suffix(VIRTUAL_HOST_DOMAIN).and_then(|rest| rest.strip_suffix('.')) {
            Some(bucket) if !bucket.is_empty() => Ok(VirtualHost::new(host).with_bucket(bucket)),
            _ => Ok(VirtualHost::new(host)),
        }
    }
}

fn rand_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The start of the name of a server's folder in the temporary directory, before its process id.
const ROOT_PREFIX: &str = "coffer-s3s-";

/// Removes the folders that servers of processes no longer running left behind. A server held
/// in a static (as the test suite's is) is never dropped, so its folder outlives its process;
/// without this each run of the suite would leave its objects, hundreds of MiB, in the
/// temporary directory.
fn sweep_stale_roots() {
    // Whether a process runs is read from /proc, which only Linux has.
    if !cfg!(target_os = "linux") {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(ROOT_PREFIX)).and_then(|rest| rest.split('-').next()) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

