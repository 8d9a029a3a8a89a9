//! `coffer uploads`: the tenant's multipart uploads left in progress (by a host killed during a
//! put, say), whose parts are stored and billed until they are aborted. It lists those older
//! than `--older-than` and, with `--abort`, aborts them (a dry run without). docs/operations.md.

use std::time::{Duration, SystemTime};

use coffer_host::{Tenant, Upload};

use crate::failure::Failure;

/// How old an upload must be before it counts as left behind, by default: no put of a mail
/// server's takes a day, so one that old is no put in progress.
pub const DEFAULT_OLDER_THAN: Duration = Duration::from_secs(24 * 3600);

/// Lists the uploads under `prefix` older than `older_than` (and those of unknown age), and
/// aborts them when `abort`. A line each on standard output; the summary on standard error.
pub async fn run(tenant: &Tenant, prefix: &str, older_than: Duration, abort: bool) -> Result<(), Failure> {
    let left = left_behind(tenant, prefix, older_than).await?;
    let mut failed = 0;
    for upload in &left {
        let age = upload.age(SystemTime::now()).map_or("age unknown".to_string(), |age| format!("{} old", humantime::format_duration(whole_minutes(age))));
        println!("{}  {}  {}  {age}", upload.initiated.as_deref().unwrap_or("-"), upload.upload_id, upload.key);
        if abort {
            if let Err(e) = tenant.abort_upload(&upload.key, &upload.upload_id).await {
                eprintln!("coffer: aborting the upload of {}: {e}", upload.key);
                failed += 1;
            }
        }
    }
    let older = humantime::format_duration(older_than);
    match (abort, left.len()) {
        (_, 0) => eprintln!("no upload in progress older than {older}"),
        (false, n) => eprintln!("{n} uploads in progress older than {older}; run again with --abort to abort them"),
        (true, n) => eprintln!("aborted {} of {n} uploads in progress older than {older}", n - failed),
    }
    match failed {
        0 => Ok(()),
        n => Err(Failure::Other(format!("uploads: {n} could not be aborted (see above)"))),
    }
}

/// The uploads in progress under `prefix` started more than `older_than` ago, or at a time the
/// server did not say.
pub async fn left_behind(tenant: &Tenant, prefix: &str, older_than: Duration) -> Result<Vec<Upload>, Failure> {
    let now = SystemTime::now();
    let all = tenant.uploads_all(prefix).collect().await?;
    Ok(all.into_iter().filter(|u| u.age(now).is_none_or(|age| age >= older_than)).collect())
}

fn whole_minutes(age: Duration) -> Duration {
    Duration::from_secs(age.as_secs() / 60 * 60)
}
