//! The S3 server under test: the one COFFER_TEST_S3_* names, or the embedded s3s-fs server,
//! started once for the whole run; and which tests it cannot show.

use std::io::Write;
use std::sync::OnceLock;

use coffer_testkit::EmbeddedS3;

/// The S3 server under test.
#[derive(Debug, Clone)]
pub struct Server {
    /// What it is, for the run's output: "external (…)" or "embedded s3s-fs".
    pub kind: String,
    pub endpoint: String,
    /// Where the server answers virtual-hosted-style requests (`http://s3.localhost:PORT`):
    /// COFFER_TEST_S3_VIRTUAL_HOST_ENDPOINT, or the embedded server's; `None` when not given.
    pub virtual_host_endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    /// Whether this is the embedded s3s-fs server, whose known quirks some tests note.
    pub embedded: bool,
    /// Which server it is, for the tests that some servers cannot show ([`skip_on`]).
    pub family: Family,
}

/// The servers the project's scripts start, by what they cannot show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// The embedded s3s-fs server.
    Embedded,
    Garage,
    LocalStack,
    CephRgw,
    /// Any other server COFFER_TEST_S3_* names.
    Other,
}

/// Whether `test` is skipped on this run's server, one of `servers`, for `why`: the skip is
/// printed past the test runner's capture as `SKIPPED`, so the run's output shows every one.
pub fn skip_on(servers: &[Family], test: &str, why: &str) -> bool {
    let skipped = servers.contains(&server().family);
    if skipped {
        let _ = writeln!(std::io::stderr(), "coffer-tests: SKIPPED on {:?}: {test}: {why}", server().family);
    }
    skipped
}

/// The server for this run, found or started once.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = from_env().unwrap_or_else(start_embedded);
        // Written past the test runner's capture, so every run says which server it used.
        let _ = writeln!(std::io::stderr(), "coffer-tests: S3 server: {} at {}", server.kind, server.endpoint);
        server
    })
}

/// Which server the project's scripts started, by the variable each sets (LocalStack's is
/// checked first: CI starts it after Garage, whose variable stays set; Ceph's before both).
fn external_kind() -> (&'static str, Family) {
    let set = |var: &str| std::env::var_os(var).is_some();
    if set("COFFER_TEST_CEPH_DIR") {
        ("Ceph RGW", Family::CephRgw)
    } else if set("COFFER_TEST_LOCALSTACK_DIR") {
        ("LocalStack", Family::LocalStack)
    } else if set("COFFER_TEST_GARAGE_DIR") {
        ("Garage", Family::Garage)
    } else {
        ("COFFER_TEST_S3_ENDPOINT", Family::Other)
    }
}

fn from_env() -> Option<Server> {
    let var = |name: &str| std::env::var(format!("COFFER_TEST_S3_{name}")).ok().filter(|v| !v.is_empty());
    match (var("ENDPOINT"), var("ACCESS_KEY"), var("SECRET_KEY")) {
        (Some(endpoint), Some(access_key), Some(secret_key)) => Some(Server {
            kind: format!("external ({})", external_kind().0),
            family: external_kind().1,
            endpoint,
            virtual_host_endpoint: var("VIRTUAL_HOST_ENDPOINT"),
            region: var("REGION").unwrap_or_else(|| "us-east-1".into()),
            bucket: var("BUCKET").unwrap_or_else(|| "coffer-test".into()),
            access_key,
            secret_key,
            embedded: false,
        }),
        _ => {
            assert!(
                std::env::var_os("COFFER_TEST_REQUIRE_S3").is_none(),
                "COFFER_TEST_REQUIRE_S3 is set but COFFER_TEST_S3_ENDPOINT/_ACCESS_KEY/_SECRET_KEY are not"
            );
            None
        }
    }
}

/// Starts the embedded server on a thread of its own, with a runtime that lives for the whole
/// run (each test has its own runtime, which would otherwise take the server down with it).
fn start_embedded() -> Server {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime for the embedded server");
        runtime.block_on(async move {
            let s3 = EmbeddedS3::start("coffer-test").await.expect("the embedded s3s-fs server starts");
            tx.send(Server {
                kind: "embedded s3s-fs (set COFFER_TEST_S3_* to test a real server)".into(),
                endpoint: s3.endpoint.clone(),
                virtual_host_endpoint: Some(s3.virtual_host_endpoint.clone()),
                region: s3.region.clone(),
                bucket: s3.bucket.clone(),
                access_key: s3.access_key.clone(),
                secret_key: s3.secret_key.clone(),
                embedded: true,
                family: Family::Embedded,
            })
            .unwrap();
            std::future::pending::<()>().await;
            drop(s3);
        });
    });
    rx.recv().expect("the embedded server reports its address")
}
