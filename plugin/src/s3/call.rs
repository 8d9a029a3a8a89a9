//! The one retry driver: a request for a key built step by step
//! (`client.call("PUT", key).header(..).payload(..).accept(..).send(&mut budget)`), signed afresh
//! for each attempt, and retried with backoff while the call's budget lasts.

use super::request::Payload;
use super::client::Client;
use super::platform::{Check, GetHow, HttpRequest, HttpResponse, Platform, Ranges};
use super::settings::{ChecksumMode, Dialect};
use crate::dialect;
use crate::error::{StoreError, parse_error_body};
use crate::retry;

/// The retries one request has used (`maxRetries` counts per request, as Stalwart's does): a
/// PUT's, which its re-sends after a failed verification share, a HEAD's, each part's.
#[derive(Default)]
pub(super) struct Budget {
    pub(super) retries: u32,
}

/// Looks at an answer that is not transient: `Err` refuses it (a damaged body), and the request
/// is sent again while retries remain.
pub(super) type Accept<'a> = &'a dyn Fn(&HttpResponse) -> Result<(), StoreError>;

/// One request being built.
pub(super) struct Call<'c, P: Platform> {
    client: &'c Client<P>,
    method: &'static str,
    key: &'c str,
    /// A request on the bucket itself (a listing), not on the object `key`.
    on_bucket: bool,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    payload: Payload<'c, P::Source>,
    /// Where a 200 or 206 answer's body goes (a GET's).
    into: Option<&'c P::Sink>,
    accept: Option<Accept<'c>>,
    /// The first attempt is sent once more when its answer has not begun after this long.
    hedge_after_us: Option<u64>,
    /// A GET into a sink, which may be read in ranges when its answer is long.
    ranged: bool,
}

impl<P: Platform> Client<P> {
    /// Starts a request of `method` for `key`: no query, no extra header, no body.
    pub(super) fn call<'c>(&'c self, method: &'static str, key: &'c str) -> Call<'c, P> {
        Call {
            client: self,
            method,
            key,
            on_bucket: false,
            query: Vec::new(),
            headers: Vec::new(),
            payload: Payload::empty(),
            into: None,
            accept: None,
            hedge_after_us: None,
            ranged: false,
        }
    }

    /// Starts a request of `method` on the bucket itself (ListObjectsV2).
    pub(super) fn bucket_call<'c>(&'c self, method: &'static str) -> Call<'c, P> {
        Call { on_bucket: true, ..self.call(method, "") }
    }

    /// Waits before the next retry (after `error`) and counts it; or, when the call's bound
    /// (`callTimeout`) would run out before that retry could start, ends the call with `error`.
    pub(super) fn retry_after(&self, budget: &mut Budget, retry_after: Option<&str>, error: StoreError) -> Result<(), StoreError> {
        let delay = self.delay_before(budget.retries, retry_after, error)?;
        self.platform.sleep_ms(delay);
        budget.retries += 1;
        Ok(())
    }

    /// The wait before retry `n` (0 for the first) after `error`: the backoff, or the server's
    /// `retry_after` when longer; the retry is counted. Or `error`, when the call's bound would
    /// run out before the retry could start.
    pub(super) fn delay_before(&self, n: u32, retry_after: Option<&str>, error: StoreError) -> Result<u64, StoreError> {
        let delay = retry::delay_ms(n, self.platform.random_u64(), retry_after);
        self.time_for(delay, error).map(|()| delay)
    }

    /// Ok when a retry after `delay_ms` would start within the call's bound (it is reported to
    /// the host as a retry then); else `error`, saying which bound ran out.
    pub(super) fn time_for(&self, delay_ms: u64, error: StoreError) -> Result<(), StoreError> {
        if delay_ms >= self.time_left_ms() {
            let bound = self.settings.call_timeout_ms as f64 / 1000.0;
            return Err(error.with_note(&format!("(callTimeout of {bound}s ran out before the next retry)")));
        }
        self.platform.retrying(&error);
        Ok(())
    }

    /// Starts the clock of a public call: `callTimeout` bounds everything it does from now.
    /// It also starts from what the tenant's calls have learned of the server so far.
    pub(super) fn begin_call(&self) {
        self.call_started_ms.store(self.platform.now_ms(), std::sync::atomic::Ordering::Relaxed);
        *self.dialect.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = self.platform.dialect();
    }

    /// What is left of the call's bound, in milliseconds.
    pub(super) fn time_left_ms(&self) -> u64 {
        let started = self.call_started_ms.load(std::sync::atomic::Ordering::Relaxed);
        let spent = self.platform.now_ms().saturating_sub(started);
        self.settings.call_timeout_ms.saturating_sub(spent)
    }

    /// The bound of the next attempt: the tenant's timeout, or what is left of the call's.
    pub(super) fn attempt_timeout_ms(&self) -> u64 {
        self.settings.timeout_ms.min(self.time_left_ms().max(1))
    }

    /// The server's clock minus the host's, when `response` refused a request for its date.
    fn skewed_by(&self, response: &HttpResponse) -> Option<i64> {
        if response.status != 403 {
            return None;
        }
        let code = parse_error_body(&response.body).code;
        let date = response.header("date");
        dialect::clock_offset(response.status, &code, date, self.platform.unix_time(), self.dialect().clock_offset_s)
    }

    /// The error an answer means when it is worth another try (503 SlowDown, 500, 429, 408, 400
    /// RequestTimeout...); `None` for a success or an answer that retrying will not change.
    pub(super) fn transient_failure(&self, response: &HttpResponse, what: impl FnOnce() -> String) -> Option<StoreError> {
        if response.status < 400 || response.status == 404 || response.status == 416 {
            return None;
        }
        let body = parse_error_body(&response.body);
        Some(crate::error::classify(response.status, &body, &what(), &self.settings.bucket)).filter(StoreError::is_transient)
    }
}

impl<'c, P: Platform> Call<'c, P> {
    /// What the request is, for its errors: `PUT key "k"`, or a listing's `ListObjectsV2`.
    fn what(&self) -> String {
        match self.on_bucket {
            true => "ListObjectsV2".to_string(),
            false => format!("{} key \"{}\"", self.method, self.key),
        }
    }
    /// Whether the server refused this request for the checksum headers it carries, which
    /// `checksum = "auto"` lets it go without.
    fn refused_for_checksums(&self, response: &HttpResponse) -> bool {
        self.client.settings.checksum == ChecksumMode::Auto
            && self.headers.iter().any(|(name, _)| dialect::is_checksum_header(name))
            && dialect::refuses_checksum_headers(response.status, &response.body)
    }

    pub(super) fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    pub(super) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub(super) fn headers(mut self, headers: impl IntoIterator<Item = (String, String)>) -> Self {
        self.headers.extend(headers);
        self
    }

    pub(super) fn payload(mut self, payload: Payload<'c, P::Source>) -> Self {
        self.payload = payload;
        self
    }

    /// A 200 or 206 answer's body goes into `sink`, reset at each attempt.
    pub(super) fn sink(mut self, sink: &'c P::Sink) -> Self {
        self.into = Some(sink);
        self
    }

    /// A GET into a sink whose first attempt is sent once more when its answer has not begun
    /// after `after_us` (a put is never hedged: only reads are asked to be).
    pub(super) fn hedge(mut self, after_us: Option<u64>) -> Self {
        self.hedge_after_us = after_us;
        self
    }

    /// A GET whose answer, when longer than `rangedReadThreshold`, is read as ranged GETs at
    /// once (`rangeSize`, `rangeConcurrency`).
    pub(super) fn ranged(mut self) -> Self {
        self.ranged = true;
        self
    }

    pub(super) fn accept(mut self, accept: Accept<'c>) -> Self {
        self.accept = Some(accept);
        self
    }

    /// One attempt of `request`: hedged when asked (the first only), and a body that broke off
    /// gone on with from where it stopped (resume.rs).
    fn attempt(&mut self, request: &HttpRequest<'_, P::Source>, path: &str, budget: &mut Budget) -> Result<HttpResponse, StoreError> {
        let client = self.client;
        let hedge_after_us = self.hedge_after_us.take();
        let settings = &client.settings;
        let sent = match self.into {
            Some(sink) if hedge_after_us.is_some() || self.ranged => {
                let headers = &self.headers;
                let ranged = |start: u64, end: u64, etag: &str| {
                    let mut asked: Vec<(String, String)> =
                        headers.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("range")).cloned().collect();
                    asked.push(("range".into(), format!("bytes={start}-{end}")));
                    asked.push(("if-match".into(), etag.to_string()));
                    client.request("GET", path, &[], &asked, &Payload::empty())
                };
                // A range is retried as a request is: after a backoff, within the call's bound.
                let pause = |n: u32, retry_after: Option<&str>, error: StoreError| client.delay_before(n, retry_after, error);
                let ranges = (self.ranged && settings.ranged_read_threshold > 0).then_some(Ranges {
                    threshold: settings.ranged_read_threshold,
                    size: settings.range_size,
                    concurrency: settings.range_concurrency,
                    retries: settings.max_retries,
                    pause: &pause,
                    request: &ranged,
                });
                client.platform.send_get(request, sink, client.attempt_timeout_ms(), &GetHow { hedge_after_us, ranges })
            }
            _ => client.platform.send(request, self.into, client.attempt_timeout_ms()),
        };
        match (sent, self.into) {
            (Ok(broken), Some(sink)) if broken.cut.is_some() => client.resume(self.key, &self.headers, sink, broken, budget),
            (sent, _) => sent,
        }
    }

    /// Sends the request, retrying with backoff while `budget` lasts: transient failures
    /// (network errors, timeouts, 5xx, 408, 429, SlowDown, RequestTimeout, InternalError...)
    /// and answers `accept` refuses. Returns the response otherwise, whatever its status.
    ///
    /// Two refusals are the dialect's, not failures, and are mended once each without spending
    /// a retry: a server that refuses checksum headers (with `checksum = "auto"`) is sent the
    /// request again without them, and a 403 for the host's clock is signed again with the
    /// server's time. The tenant's later calls start from what was learned.
    pub(super) fn send(mut self, budget: &mut Budget) -> Result<HttpResponse, StoreError> {
        let client = self.client;
        let max_retries = client.settings.max_retries;
        let path = match self.on_bucket {
            true => client.bucket_path(),
            false => client.object_path(self.key)?,
        };
        let (mut checksums_dropped, mut clock_corrected) = (false, false);
        loop {
            // 1. Sign for now (a retry may cross a second, or a day).
            let request = client.request(self.method, &path, &self.query, &self.headers, &self.payload);
            // 2. Send, and 3. judge the answer.
            let sent = self.attempt(&request, &path, budget);
            drop(request);
            if let Ok(response) = &sent {
                if !checksums_dropped && self.refused_for_checksums(response) {
                    checksums_dropped = true;
                    self.headers.retain(|(name, _)| !dialect::is_checksum_header(name));
                    client.learn(Dialect { refuses_checksum_headers: true, ..client.dialect() });
                    continue;
                }
                if !clock_corrected && let Some(offset) = client.skewed_by(response) {
                    clock_corrected = true;
                    client.learn(Dialect { clock_offset_s: offset, ..client.dialect() });
                    continue;
                }
            }
            let (error, retry_after, retry) = match sent {
                Ok(response) => match client.transient_failure(&response, || self.what()) {
                    Some(error) => {
                        let retry_after = response.header("retry-after").map(str::to_string);
                        let retry = retry::should_retry(&error, budget.retries, max_retries);
                        (error, retry_after, retry)
                    }
                    None => match self.accept.map_or(Ok(()), |accept| accept(&response)) {
                        Ok(()) => return Ok(response),
                        Err(refused) => (refused, None, budget.retries < max_retries),
                    },
                },
                // The network failed (refused, reset, timed out): as transient as a 503.
                Err(error) => {
                    let retry = retry::should_retry(&error, budget.retries, max_retries);
                    (error, None, retry)
                }
            };
            if !retry {
                return Err(error);
            }
            // A sink that streams to the caller and has written some of this answer cannot
            // take it back: the call ends with what went wrong (a cut body went on from where
            // it stopped instead, unless the object changed meanwhile).
            if let Some(sink) = self.into
                && let Err(cannot) = client.platform.reset(sink, Check::None)
            {
                return Err(error.with_note(&format!("({})", cannot.message())));
            }
            // 4. Wait, and go again.
            client.retry_after(budget, retry_after.as_deref(), error)?;
        }
    }
}
