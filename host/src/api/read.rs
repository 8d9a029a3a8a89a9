//! The one read core, under get and get_stream: the encryption layer plans what to fetch
//! (sealed.rs), and the output fetches it (fetch.rs): into memory, or on to the caller's writer.

use super::error::StoreError;
use super::fetch::Output;
use super::sealed::{self, ReadPlan};
use super::telemetry::CallCounts;
use crate::sandbox::bindings::store::ByteRange;
use crate::sandbox::runner::Runner;

/// The object's bytes, or those of `range`, into `output`; `None` when it does not exist.
pub(super) async fn read<O: Output>(runner: &Runner, key: &str, range: Option<ByteRange>, output: O) -> (Result<Option<O::Got>, StoreError>, CallCounts) {
    let (plan, mut counts) = sealed::plan_read(runner, key, range).await;
    let (stored, opener) = match plan {
        Ok(ReadPlan::Fetch { stored, opener }) => (stored, opener),
        Ok(ReadPlan::Nothing) => return (Ok(Some(output.nothing())), counts),
        Ok(ReadPlan::Missing) => return (Ok(None), counts),
        Err(e) => return (Err(e), counts),
    };
    let (got, more) = output.fetch(runner, key, stored, opener).await;
    counts.add(&more);
    (got, counts)
}
