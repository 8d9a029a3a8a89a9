//! The network checks, made here with the tenant's own TLS trust: the endpoint's name, TCP,
//! TLS (the certificate's subject and expiry) and the server's clock.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use coffer_host::TenantSettings;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::check::{Check, Verdict, fail, ok, unix_now};

/// The name, TCP, TLS and the server's clock, in that order; the first that fails ends them.
pub async fn network(settings: &TenantSettings) -> Vec<Check> {
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
