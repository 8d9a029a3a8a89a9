//! What the host tells the world about each call: one `tracing` event (target
//! `coffer_host::call`) and counters and a histogram through the `metrics` facade. Without a
//! subscriber or a recorder installed, both cost next to nothing.
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | `coffer_calls_total` | counter | tenant, op, outcome | calls finished (`ok`, `not_found`, or the error kind) |
//! | `coffer_errors_total` | counter | tenant, op, kind | calls that failed, by [`ErrorKind`] |
//! | `coffer_retries_total` | counter | tenant, op | requests sent again after a transient failure |
//! | `coffer_verify_failures_total` | counter | tenant | verify-after-write finding an object not as sent |
//! | `coffer_hedged_total` | counter | tenant | GETs sent once more because the first was late (`hedgeReads`) |
//! | `coffer_hedges_won_total` | counter | tenant | of those, the ones whose answer began first |
//! | `coffer_bytes_out_total` | counter | tenant | bytes of the blobs put |
//! | `coffer_bytes_in_total` | counter | tenant | bytes of the blobs (or ranges) got |
//! | `coffer_call_duration_seconds` | histogram | tenant, op | a call's time, admission included |

use std::sync::Arc;
use std::time::Duration;

use crate::api::error::ErrorKind;

/// The store operation a call made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    Put,
    Delete,
    Stat,
    List,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::Delete => "delete",
            Op::Stat => "stat",
            Op::List => "list",
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The object was not there (get and stat answer `None`, delete `false`).
    NotFound,
    Failed(ErrorKind),
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::NotFound => "not_found",
            Outcome::Failed(kind) => kind.as_str(),
        }
    }
}

/// What one call counted on its way, in its instance's Store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallCounts {
    /// HTTP requests the plugin sent (each attempt, each verifying HEAD, each part).
    pub attempts: u32,
    /// Requests sent again after a transient failure (the plugin reports each).
    pub retries: u32,
    /// Verify-after-write finding the object not as sent (the plugin reports each).
    pub verify_failures: u32,
    /// GETs sent once more because the first was late (the plugin reports each).
    pub hedged: u32,
    /// Of those, the ones whose answer began before the first's.
    pub hedges_won: u32,
}

impl CallCounts {
    /// Adds the counts of another call made for the same one (an encrypted object's header).
    pub fn add(&mut self, other: &CallCounts) {
        self.attempts += other.attempts;
        self.retries += other.retries;
        self.verify_failures += other.verify_failures;
        self.hedged += other.hedged;
        self.hedges_won += other.hedges_won;
    }
}

/// The event and the metrics of one finished call. `tenant` is shared so that each label costs
/// a reference count, not a copy of the name.
pub fn record(tenant: &Arc<str>, op: Op, key: &str, bytes: u64, counts: CallCounts, elapsed: Duration, outcome: Outcome) {
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    let (op_name, outcome_name) = (op.as_str(), outcome.as_str());
    let attempts = counts.attempts;
    match outcome {
        Outcome::Failed(_) => tracing::warn!(
            target: "coffer_host::call", tenant = &**tenant, op = op_name, key, bytes, attempts, elapsed_ms, outcome = outcome_name, "call failed"
        ),
        _ => tracing::debug!(
            target: "coffer_host::call", tenant = &**tenant, op = op_name, key, bytes, attempts, elapsed_ms, outcome = outcome_name, "call"
        ),
    }

    metrics::counter!("coffer_calls_total", "tenant" => tenant.clone(), "op" => op_name, "outcome" => outcome_name)
        .increment(1);
    if let Outcome::Failed(kind) = outcome {
        metrics::counter!("coffer_errors_total", "tenant" => tenant.clone(), "op" => op_name, "kind" => kind.as_str())
            .increment(1);
    }
    if counts.retries > 0 {
        metrics::counter!("coffer_retries_total", "tenant" => tenant.clone(), "op" => op_name)
            .increment(u64::from(counts.retries));
    }
    if counts.hedged > 0 {
        metrics::counter!("coffer_hedged_total", "tenant" => tenant.clone()).increment(u64::from(counts.hedged));
    }
    if counts.hedges_won > 0 {
        metrics::counter!("coffer_hedges_won_total", "tenant" => tenant.clone()).increment(u64::from(counts.hedges_won));
    }
    if counts.verify_failures > 0 {
        metrics::counter!("coffer_verify_failures_total", "tenant" => tenant.clone())
            .increment(u64::from(counts.verify_failures));
    }
    match (op, outcome) {
        (Op::Put, Outcome::Ok) => metrics::counter!("coffer_bytes_out_total", "tenant" => tenant.clone()).increment(bytes),
        (Op::Get, Outcome::Ok) => metrics::counter!("coffer_bytes_in_total", "tenant" => tenant.clone()).increment(bytes),
        _ => {}
    }
    metrics::histogram!("coffer_call_duration_seconds", "tenant" => tenant.clone(), "op" => op_name).record(elapsed.as_secs_f64());
}
