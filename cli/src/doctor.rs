//! `coffer doctor`: checks one tenant before mail goes there, a line per check with `ok`, `warn`
//! or `FAIL`, its detail and its time, and for each that is not ok, the fix. The network checks
//! (name, TCP, TLS, the server's clock) are made here with the tenant's own TLS trust; the rest
//! go through the library as every call does. docs/operations.md.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use coffer_host::{Checksum, ErrorKind, EtagFormula, StoreError, Tenant, TenantSettings};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
pub struct Check {
    pub verdict: Verdict,
    pub name: &'static str,
    pub detail: String,
    pub fix: Option<String>,
    pub took: Duration,
}

/// Runs every check on `tenant` (whose settings are `settings`), printing each line as it ends;
/// whether none failed.
pub async fn run(tenant: &Tenant, settings: &TenantSettings) -> bool {
    let mut failed = false;
    let mut print = |check: Check| {
        let verdict = match check.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        match check.took.is_zero() {
            true => println!("{verdict}  {:<12} {}", check.name, check.detail),
            false => println!("{verdict}  {:<12} {} ({:.0?})", check.name, check.detail, check.took),
        }
        if let Some(fix) = &check.fix {
            println!("      fix: {fix}");
        }
        failed |= check.verdict == Verdict::Fail;
        check.verdict != Verdict::Fail
    };
    for check in network(settings).await {
        if !print(check) {
            return false;
        }
    }
    if !print(access(tenant, settings).await) {
        return false;
    }
    for check in probe(tenant).await {
        print(check);
    }
    print(dialect(tenant, settings));
    print(multipart(tenant, settings).await);
    print(uploads(tenant).await);
    if settings.virtual_hosted_style() {
        print(Check {
            verdict: Verdict::Ok,
            name: "addressing",
            detail: format!("virtual-hosted style: requests go to {}", settings.request_authority()),
            fix: None,
            took: Duration::ZERO,
        });
    }
    !failed
}

/// The name, TCP, TLS and the server's clock, in that order; the first that fails ends them.
async fn network(settings: &TenantSettings) -> Vec<Check> {
    let endpoint = settings.endpoint();
    let uri: http::Uri = match endpoint.parse() {
        Ok(uri) => uri,
        Err(e) => return vec![fail("endpoint", format!("{endpoint} is not a URL: {e}"), "fix the tenant's endpoint", Duration::ZERO)],
    };
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let timeout = settings.timeout();
    let mut checks = Vec::new();
    let Some(resolved) = passed(resolve(&host, port, timeout).await, &mut checks) else { return checks };
    let Some(tcp) = passed(connect(&host, port, &resolved, timeout).await, &mut checks) else { return checks };
    let started = Instant::now();
    let date = if https {
        let Some(tls) = passed(handshake(settings, &host, tcp, timeout).await, &mut checks) else { return checks };
        let started = Instant::now();
        (server_date(tls, &host, timeout).await, started)
    } else {
        (server_date(tcp, &host, timeout).await, started)
    };
    checks.push(Check { took: date.1.elapsed(), ..clock(date.0) });
    checks
}

/// A step's check kept, and what it gave when it passed.
fn passed<T>(step: Result<(T, Check), Check>, checks: &mut Vec<Check>) -> Option<T> {
    match step {
        Ok((value, check)) => {
            checks.push(check);
            Some(value)
        }
        Err(check) => {
            checks.push(check);
            None
        }
    }
}

/// The endpoint's name resolved: its addresses, and the check that says so.
async fn resolve(host: &str, port: u16, timeout: Duration) -> Result<(Vec<SocketAddr>, Check), Check> {
    let started = Instant::now();
    let resolved: Vec<SocketAddr> = match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(e)) => {
            let fix = "check the endpoint's host name and this host's DNS";
            return Err(fail("name", format!("cannot resolve {host}: {e}"), fix, started.elapsed()));
        }
        Err(_) => return Err(fail("name", format!("resolving {host} took over {timeout:?}"), "check this host's DNS", started.elapsed())),
    };
    let addrs = resolved.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>().join(", ");
    let check = ok("name", format!("{host} is {addrs}"), started.elapsed());
    Ok((resolved, check))
}

/// A TCP connection to one of the addresses.
async fn connect(host: &str, port: u16, resolved: &[SocketAddr], timeout: Duration) -> Result<(tokio::net::TcpStream, Check), Check> {
    let started = Instant::now();
    let tcp = match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(resolved)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => {
            let fix = "check the endpoint's port, that the server runs, and the firewalls between";
            return Err(fail("tcp", format!("cannot connect to {host}:{port}: {e}"), fix, started.elapsed()));
        }
        Err(_) => {
            let fix = "check that the server runs and that no firewall drops the packets";
            return Err(fail("tcp", format!("no answer from {host}:{port} within {timeout:?}"), fix, started.elapsed()));
        }
    };
    let check = ok("tcp", format!("connected to {}", tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default()), started.elapsed());
    Ok((tcp, check))
}

/// The TLS handshake with the tenant's trust, and the certificate's subject and expiry.
async fn handshake(
    settings: &TenantSettings,
    host: &str,
    tcp: tokio::net::TcpStream,
    timeout: Duration,
) -> Result<(tokio_rustls::client::TlsStream<tokio::net::TcpStream>, Check), Check> {
    let started = Instant::now();
    let config = Arc::new(coffer_host::tls::client_config(settings.trust()));
    let Ok(name) = rustls::pki_types::ServerName::try_from(host.to_string()) else {
        return Err(fail("tls", format!("{host} is not a name TLS can check"), "fix the endpoint", started.elapsed()));
    };
    let tls = match tokio::time::timeout(timeout, tokio_rustls::TlsConnector::from(config).connect(name, tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            let fix = "if the server's certificate comes from a private CA, or is self-signed, put that CA (or the \
                       certificate) in the tenant's caFile";
            return Err(fail("tls", format!("the server's certificate is not trusted: {e}"), fix, started.elapsed()));
        }
        Err(_) => return Err(fail("tls", format!("no TLS handshake within {timeout:?}"), "check that the endpoint speaks TLS", started.elapsed())),
    };
    let certificate = tls.get_ref().1.peer_certificates().and_then(|chain| chain.first()).map(|c| c.as_ref().to_vec());
    let check = certificate_check(certificate.as_deref(), settings.allow_invalid_certs(), started.elapsed());
    Ok((tls, check))
}

/// The server certificate's subject and expiry.
fn certificate_check(der: Option<&[u8]>, any_certificate: bool, took: Duration) -> Check {
    let Some(der) = der else { return ok("tls", "the server sent no certificate".into(), took) };
    let Ok((_, certificate)) = x509_parser::parse_x509_certificate(der) else {
        return ok("tls", "trusted (its certificate could not be read for its details)".into(), took);
    };
    let subject = certificate.subject().to_string();
    let not_after = certificate.validity().not_after;
    let left = not_after.timestamp() - unix_now();
    let expires = not_after.to_rfc2822().unwrap_or_else(|_| not_after.to_string());
    let trusted = if any_certificate { "accepted (allowInvalidCerts)" } else { "trusted" };
    let detail = format!("{trusted}: {subject}, expires {expires}");
    match left {
        left if left < 0 => Check { verdict: Verdict::Warn, ..fail("tls", format!("{detail}: EXPIRED"), "renew the server's certificate", took) },
        left if left < 14 * 86_400 => Check {
            verdict: Verdict::Warn,
            ..fail("tls", format!("{detail}, in {} days", left / 86_400), "renew the server's certificate soon", took)
        },
        _ => ok("tls", detail, took),
    }
}

/// The server's `Date` from a plain `HEAD /` on the connection.
async fn server_date<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, host: &str, timeout: Duration) -> Result<i64, String> {
    let ask = async {
        let request = format!("HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
            let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&head);
        let date = text
            .lines()
            .find_map(|line| line.split_once(':').filter(|(name, _)| name.trim().eq_ignore_ascii_case("date")).map(|(_, v)| v.trim().to_string()))
            .ok_or("the server's answer has no Date header")?;
        let time = httpdate::parse_http_date(&date).map_err(|_| format!("the server's Date \"{date}\" is not an HTTP date"))?;
        Ok(time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64))
    };
    tokio::time::timeout(timeout, ask).await.unwrap_or_else(|_| Err("no answer to a HEAD within the timeout".into()))
}

/// The host's clock against the server's: SigV4 is refused past 15 minutes.
fn clock(server: Result<i64, String>) -> Check {
    let server = match server {
        Ok(server) => server,
        Err(why) => return Check { verdict: Verdict::Warn, ..fail("clock", format!("cannot tell: {why}"), "none needed if the probe below passes", Duration::ZERO) },
    };
    let skew = server - unix_now();
    let detail = format!("the server's clock is {skew:+} s from this host's");
    let fix = "set this host's clock right (NTP); Coffer signs with the server's time after a refusal, but other clients will not";
    match skew.abs() {
        s if s > 15 * 60 => fail("clock", format!("{detail}: past the 15 minutes SigV4 allows"), fix, Duration::ZERO),
        s if s > 60 => Check { verdict: Verdict::Warn, ..fail("clock", detail, fix, Duration::ZERO) },
        _ => ok("clock", detail, Duration::ZERO),
    }
}

/// Credentials accepted and the bucket there: a GET of a key that does not exist (a HEAD's
/// 404 would not tell a missing key from a missing bucket), then a listing of one key, since
/// some servers (s3s-fs) answer that GET with NoSuchKey in a bucket that does not exist. A
/// key without the right to list is not a failure: its GET said enough.
async fn access(tenant: &Tenant, settings: &TenantSettings) -> Check {
    let started = Instant::now();
    let absent = format!(".coffer-doctor/absent-{}", unix_now());
    let listed = async {
        match tenant.list(".coffer-doctor/", None, 1).await {
            Err(e) if e.kind() == ErrorKind::AccessDenied => Ok(()),
            listed => listed.map(|_| ()),
        }
    };
    let answered = match tenant.get(&absent, ..).await {
        Ok(_) => listed.await,
        Err(e) => Err(e),
    };
    match answered {
        Ok(_) => ok("access", format!("credentials accepted, bucket \"{}\" there", settings.bucket()), started.elapsed()),
        Err(e) if e.s3_code() == Some("NoSuchBucket") || e.message().contains("NoSuchBucket") => fail(
            "bucket",
            format!("bucket \"{}\" does not exist: {e}", settings.bucket()),
            "create the bucket, or fix the tenant's bucket name (and region)",
            started.elapsed(),
        ),
        Err(e) if e.kind() == ErrorKind::AccessDenied => fail(
            "credentials",
            format!("the server refused the credentials: {e}"),
            "check accessKey and secretKey (and that the key may read and write the bucket)",
            started.elapsed(),
        ),
        Err(e) => fail("access", e.to_string(), fix_for(&e), started.elapsed()),
    }
}

/// A probe object under a key of its own: written (and verified), read, read ranged, deleted.
async fn probe(tenant: &Tenant) -> Vec<Check> {
    let key = format!(".coffer-doctor/probe-{}-{}", std::process::id(), unix_now());
    let data: Vec<u8> = (0..65_536u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut checks = Vec::new();
    let started = Instant::now();
    if let Err(e) = tenant.put(&key, &data).await {
        checks.push(fail("write", format!("a 64 KiB probe: {e}"), fix_for(&e), started.elapsed()));
        return checks;
    }
    checks.push(ok("write", format!("a 64 KiB probe written and verified, {key}"), started.elapsed()));
    let started = Instant::now();
    checks.push(match tenant.get(&key, ..).await {
        Ok(Some(read)) if read == data => ok("read", "the probe read back whole".into(), started.elapsed()),
        Ok(Some(_)) => fail("read", "the probe read back different".into(), "the server does not keep what it acknowledges", started.elapsed()),
        Ok(None) => fail("read", "the probe is gone after it was written".into(), "the server does not keep what it acknowledges", started.elapsed()),
        Err(e) => fail("read", e.to_string(), fix_for(&e), started.elapsed()),
    });
    let started = Instant::now();
    checks.push(match tenant.get(&key, 1000..5000).await {
        Ok(Some(read)) if read == data[1000..5000] => ok("read range", "bytes 1000..5000 read back".into(), started.elapsed()),
        Ok(_) => fail("read range", "the range read back wrong".into(), "the server mishandles Range requests", started.elapsed()),
        Err(e) => fail("read range", e.to_string(), fix_for(&e), started.elapsed()),
    });
    let started = Instant::now();
    checks.push(match tenant.delete(&key).await {
        Ok(true) => match tenant.stat(&key).await {
            Ok(None) => ok("delete", "the probe deleted, nothing left behind".into(), started.elapsed()),
            _ => fail("delete", "the probe is still there after its delete".into(), "delete .coffer-doctor/ by hand", started.elapsed()),
        },
        Ok(false) => fail("delete", "the probe was gone before its delete".into(), "the server does not keep what it acknowledges", started.elapsed()),
        Err(e) => fail("delete", e.to_string(), fix_for(&e), started.elapsed()),
    });
    checks
}

/// What the calls learned of the server's checksum dialect.
fn dialect(tenant: &Tenant, settings: &TenantSettings) -> Check {
    let learned = tenant.server_dialect();
    match settings.checksum() {
        Checksum::None => ok("checksums", "not sent (checksum = \"none\"): integrity rests on Content-MD5 and MD5 ETags".into(), Duration::ZERO),
        _ if learned.refuses_checksum_headers => Check {
            verdict: Verdict::Warn,
            ..fail(
                "checksums",
                "the server refuses x-amz-checksum-* headers: \"auto\" goes without them (integrity rests on Content-MD5 and MD5 ETags)".into(),
                "set checksum = \"none\" for this tenant, so that its first request is not refused",
                Duration::ZERO,
            )
        },
        _ => ok("checksums", "the server takes CRC-32 checksums: puts carry them, reads check them".into(), Duration::ZERO),
    }
}

/// A probe one byte over the tenant's multipart threshold, uploaded in parts and verified: how
/// the server forms multipart ETags, and so what a whole read of a multipart object is checked
/// against.
async fn multipart(tenant: &Tenant, settings: &TenantSettings) -> Check {
    let size = settings.multipart_threshold() + 1;
    let warn = |detail: String, fix: &str| Check { verdict: Verdict::Warn, ..fail("multipart", detail, fix, Duration::ZERO) };
    if size > 64 << 20 {
        return warn(format!("not probed: multipartThreshold is {size} bytes"), "none needed; lower multipartThreshold to probe it");
    }
    let key = format!(".coffer-doctor/multipart-{}-{}", std::process::id(), unix_now());
    let started = Instant::now();
    let written = tenant.put(&key, &vec![0x5a; size as usize]).await;
    let _ = tenant.delete(&key).await;
    if let Err(e) = written {
        return fail("multipart", format!("a probe of {size} bytes in parts: {e}"), fix_for(&e), started.elapsed());
    }
    let took = started.elapsed();
    match tenant.server_dialect().multipart_etag {
        EtagFormula::Aws => ok("multipart", "ETags of AWS's formula: whole reads of multipart objects are checked against them, or their full-object CRC-32".into(), took),
        EtagFormula::Other => Check {
            took,
            ..warn(
                "ETags of another formula than AWS's: multipart objects are checked against their full-object CRC-32 where the server keeps one, else their size".into(),
                "none needed; keep checksum on (the default) where the server keeps checksums",
            )
        },
        _ => warn("not learned: verifyAfterWrite is off, so no upload was checked".into(), "none needed"),
    }
}

/// The tenant's multipart uploads left in progress for more than a day: their parts are stored
/// and billed until aborted.
async fn uploads(tenant: &Tenant) -> Check {
    let started = Instant::now();
    match crate::uploads::left_behind(tenant, "", crate::uploads::DEFAULT_OLDER_THAN).await {
        Ok(left) if left.is_empty() => ok("uploads", "no multipart upload left in progress for over a day".into(), started.elapsed()),
        Ok(left) => Check {
            verdict: Verdict::Warn,
            ..fail(
                "uploads",
                format!("{} multipart uploads left in progress for over a day: their parts are stored and billed", left.len()),
                "coffer uploads --abort; or set the bucket's lifecycle rule AbortIncompleteMultipartUpload (docs/operations.md)",
                started.elapsed(),
            )
        },
        Err(crate::failure::Failure::Config(e) | crate::failure::Failure::Missing(e) | crate::failure::Failure::Other(e)) => Check {
            verdict: Verdict::Warn,
            ..fail("uploads", format!("cannot list the uploads in progress: {e}"), "none needed to store mail; a key that may list uploads can check", started.elapsed())
        },
    }
}

/// The fix for an error a call ended with.
fn fix_for(error: &StoreError) -> &'static str {
    match error.kind() {
        ErrorKind::AccessDenied => "check the key's permissions on the bucket (read, write, delete)",
        ErrorKind::InvalidConfig => "fix the tenant's settings as the message says",
        ErrorKind::Timeout | ErrorKind::Unavailable => "the server or the network is failing: try again, or raise timeout",
        ErrorKind::Integrity => "the server does not keep what it acknowledges: do not store mail there",
        _ => "see the message",
    }
}

fn ok(name: &'static str, detail: String, took: Duration) -> Check {
    Check { verdict: Verdict::Ok, name, detail, fix: None, took }
}

fn fail(name: &'static str, detail: String, fix: &str, took: Duration) -> Check {
    Check { verdict: Verdict::Fail, name, detail, fix: Some(fix.to_string()), took }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
