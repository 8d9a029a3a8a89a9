//! `coffer doctor`: checks one tenant before mail goes there, a line per check with `ok`, `warn`
//! or `FAIL`, its detail and its time, and for each that is not ok, the fix. The network checks
//! (name, TCP, TLS, the server's clock) are made here with the tenant's own TLS trust; the rest
//! go through the library as every call does. docs/operations.md.
//!
//! check.rs is a line of the report, network.rs the network checks.

mod check;
mod network;

use std::time::{Duration, Instant};

use coffer_host::{Checksum, ErrorKind, EtagFormula, StoreError, Tenant, TenantSettings};

use check::{Check, Verdict, fail, ok, unix_now};
use network::network;

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
