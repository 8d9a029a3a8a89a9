//! One tenant's sandbox state: the Store data a call runs with, and nothing but a composition
//! of contexts, one per interface, each with its own view: an empty WASI context (no
//! environment, no files, no stdin), wasi-http's with the egress policy every outgoing request
//! passes, and the tenant's own `config` (its settings and secrets, nothing of any other
//! tenant's), `telemetry` and `body`.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use crate::sandbox::body::host::BodyView;
use crate::sandbox::config_host::ConfigCtx;
use crate::sandbox::telemetry_host::TelemetryCtx;
use crate::api::dialect::Learned;
use crate::settings::endpoint::Endpoint;
use crate::settings::TenantSettings;
use crate::api::telemetry::CallCounts;
use crate::sandbox::guest_log::GuestLog;
use crate::sandbox::limits::Meter;
use crate::net::transport::Transport;

/// The data of a tenant's Store.
pub struct TenantState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    egress: Egress,
    /// The host side of the WIT's `config`: the tenant's settings and learned dialect.
    config: ConfigCtx,
    /// The host side of the WIT's `telemetry`: what the plugin reported of the call.
    telemetry: TelemetryCtx,
    /// This call's memory and CPU against the tenant's limits.
    pub meter: Meter,
}

impl TenantState {
    pub fn new(settings: Arc<TenantSettings>, transport: Arc<Transport>, learned: Arc<Learned>) -> Self {
        let egress = Egress {
            tenant: settings.name().to_string(),
            endpoint: settings.request_endpoint().clone(),
            timeout: settings.timeout(),
            transport,
            sent: 0,
        };
        // No environment, no preopened directory, no stdin; stdout and stderr to the log.
        let wasi = WasiCtxBuilder::new()
            .stdout(GuestLog::new(settings.name(), "stdout"))
            .stderr(GuestLog::new(settings.name(), "stderr"))
            .build();
        TenantState {
            meter: Meter::new(settings.limits()),
            telemetry: TelemetryCtx { tenant: Arc::from(settings.name()), reported: CallCounts::default() },
            config: ConfigCtx { settings, learned },
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            egress,
        }
    }
}

impl TenantState {
    /// The instance's resources (the call's source or sink among them).
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// What the host side of the WIT's `body` interface sees of this state.
    pub(crate) fn body(&mut self) -> BodyView<'_> {
        BodyView { table: &mut self.table, meter: &self.meter }
    }

    /// What the host side of the WIT's `config` interface sees of this state.
    pub(crate) fn config(&mut self) -> &mut ConfigCtx {
        &mut self.config
    }

    /// What the host side of the WIT's `telemetry` interface sees of this state.
    pub(crate) fn telemetry(&mut self) -> &mut TelemetryCtx {
        &mut self.telemetry
    }

    /// What the call that just ended counted, and a fresh count for the next.
    pub fn take_counts(&mut self) -> CallCounts {
        let mut counts = std::mem::take(&mut self.telemetry.reported);
        counts.attempts = std::mem::take(&mut self.egress.sent);
        counts
    }
}

impl WasiView for TenantState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for TenantState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.egress }
    }
}

/// The tenant's egress policy: only its own endpoint (scheme, host and port) is reachable, and
/// every attempt is bounded by its timeout whatever the guest asked for. What passes goes out
/// through the tenant's own transport (its TLS trust, its pooled connections).
struct Egress {
    tenant: String,
    /// Where the tenant's requests go (its endpoint, with the bucket in virtual-hosted style).
    endpoint: Endpoint,
    timeout: Duration,
    transport: Arc<Transport>,
    /// Requests let through in the call in progress.
    sent: u32,
}

type SendFuture = Box<
    dyn Future<Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>), HttpError>>
        + Send,
>;

impl Egress {
    /// Only the authority the settings computed (no default port: the plugin sends what it was
    /// handed, so a request with another spelling of the same place is refused, never guessed at).
    fn allows(&self, uri: &http::Uri) -> bool {
        let scheme = uri.scheme_str().unwrap_or_default();
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        scheme.eq_ignore_ascii_case(self.endpoint.scheme()) && authority.eq_ignore_ascii_case(self.endpoint.authority())
    }

    fn clamp(&self, options: Option<RequestOptions>) -> RequestOptions {
        let bound = |asked: Option<Duration>| Some(asked.map_or(self.timeout, |a| a.min(self.timeout)));
        let asked = options.unwrap_or_default();
        RequestOptions {
            connect_timeout: bound(asked.connect_timeout),
            first_byte_timeout: bound(asked.first_byte_timeout),
            between_bytes_timeout: bound(asked.between_bytes_timeout),
        }
    }
}

impl WasiHttpHooks for Egress {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        drop(fut);
        if !self.allows(request.uri()) {
            tracing::warn!(target: "coffer_host::sandbox", tenant = %self.tenant, uri = %request.uri(), "outgoing request denied: not the tenant's endpoint");
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        self.sent += 1;
        // Connecting is bounded by the tenant's timeout in the transport itself.
        let options = self.clamp(options);
        // The tenant's timeout bounds the whole attempt, to the last byte of the answer.
        let attempt = options.first_byte_timeout.unwrap_or(self.timeout);
        let between_bytes = options.between_bytes_timeout.unwrap_or(self.timeout);
        let transport = self.transport.clone();
        Box::new(async move {
            let response = transport.send(request, attempt, between_bytes).await?;
            // The pool drives the connection; there is no per-request I/O future to hand back.
            let io: Box<dyn Future<Output = Result<(), HttpError>> + Send> = Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

#[cfg(test)]
mod tests;
