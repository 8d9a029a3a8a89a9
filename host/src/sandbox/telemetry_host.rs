//! The host side of the WIT's `telemetry` interface: what the plugin reports of a call in
//! progress (its retries, its verify failures, its hedged GETs, reads it could not check), counted for the call's
//! event and logged under the tenant's name. Its own context, as wasi's interfaces have theirs.

use std::sync::Arc;

use wasmtime::component::HasData;

use crate::api::telemetry::CallCounts;
use crate::sandbox::bindings::telemetry;

/// What the `telemetry` interface counts, for the tenant named `tenant`.
pub struct TelemetryCtx {
    pub(crate) tenant: Arc<str>,
    /// What the plugin reported of the call in progress.
    pub(crate) reported: CallCounts,
}

/// Names [`TelemetryCtx`] to the linker.
pub struct TelemetryData;

impl HasData for TelemetryData {
    type Data<'a> = &'a mut TelemetryCtx;
}

impl telemetry::Host for TelemetryCtx {
    fn retrying(&mut self, reason: String) {
        self.reported.retries += 1;
        tracing::debug!(target: "coffer_host::sandbox", tenant = %self.tenant, "retrying: {reason}");
    }

    fn verify_failed(&mut self, problem: String) {
        self.reported.verify_failures += 1;
        tracing::warn!(target: "coffer_host::sandbox", tenant = %self.tenant, "verify-after-write: {problem}");
    }

    fn hedged(&mut self, won: bool) {
        self.reported.hedged += 1;
        self.reported.hedges_won += u32::from(won);
        tracing::debug!(target: "coffer_host::sandbox", tenant = %self.tenant, won, "a GET was late: sent once more");
    }

    fn unchecked(&mut self, reason: String) {
        tracing::info!(target: "coffer_host::sandbox", tenant = %self.tenant, "{reason}");
    }
}
