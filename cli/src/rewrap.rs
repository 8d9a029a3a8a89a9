//! `coffer rewrap [PREFIX]`: the streamed copy of `cp`, from an encrypted tenant to itself, so
//! that objects sealed with an older key are sealed again with the current one.

use std::sync::Arc;

use coffer_host::Tenant;
use tokio::task::JoinSet;

use crate::copy::{Cursor, copy_one};
use crate::failure::Failure;
use crate::tally::{Done, FAILURES_LISTED, Outcome, Tally, bytes, joined, progress_bar, settle};

/// `coffer rewrap [PREFIX]`: every object of an encrypted tenant that is sealed with an older
/// key (one in `oldKeys`) is read and sealed again with `keyId`, `jobs` at a time, each streamed
/// as `cp` streams it (the new object's last bytes held back until the old one has been read
/// and opened whole). Objects already under `keyId` are skipped after reading their header.
pub async fn rewrap(tenant: &Tenant, prefix: &str, jobs: usize, verbose: bool) -> Result<(), Failure> {
    let Some(keys) = tenant.settings().encryption() else {
        return Err(Failure::Config(format!("rewrap: tenant \"{}\" has no [encryption]", tenant.settings().name())));
    };
    let current = keys.current_id().to_string();
    let bar = progress_bar();
    let mut tally = Tally::default();
    let mut objects = Cursor::new(tenant.list_all(prefix));
    let mut jobs_in_flight: JoinSet<Outcome> = JoinSet::new();
    let tenant = Arc::new(tenant.clone());
    let listing_failed = loop {
        let object = match objects.next().await {
            Ok(Some(object)) => object,
            Ok(None) => break None,
            Err(e) => break Some(format!("listing: {e}")),
        };
        while jobs_in_flight.len() >= jobs.max(1) {
            let (object, done) = joined(jobs_in_flight.join_next().await);
            settle(&mut tally, &bar, verbose, object, done);
        }
        let (tenant, current) = (tenant.clone(), current.clone());
        jobs_in_flight.spawn(async move {
            let done = match tenant.sealed_with(&object.key).await {
                Ok(Some(id)) if id == current => Ok(Done::Skipped),
                Ok(Some(_)) => copy_one(&tenant, &tenant, &object).await.map(|()| Done::Copied),
                Ok(None) => Err("deleted during the run".to_string()),
                Err(e) => Err(e.to_string()),
            };
            (object, done)
        });
    };
    while !jobs_in_flight.is_empty() {
        let (object, done) = joined(jobs_in_flight.join_next().await);
        settle(&mut tally, &bar, verbose, object, done);
    }
    bar.finish_and_clear();
    eprintln!(
        "rewrapped {} objects ({}) with key \"{current}\", skipped {} already under it, failed {}",
        tally.copied,
        bytes(tally.copied_bytes),
        tally.skipped,
        tally.failures.len()
    );
    for (key, reason) in tally.failures.iter().take(FAILURES_LISTED) {
        eprintln!("  failed \"{key}\": {reason}");
    }
    match (listing_failed, tally.failures.len()) {
        (Some(cause), _) => Err(Failure::Other(format!("rewrap stopped: {cause}"))),
        (None, 0) => Ok(()),
        (None, failed) => Err(Failure::Other(format!("rewrap: {failed} objects failed (see above)"))),
    }
}
