//! What a mail server sees of each call: one `coffer_host::call` event with tenant, op, key,
//! bytes, attempts, elapsed_ms and outcome, and the metrics (calls, errors by kind, retries,
//! verify-after-write failures, bytes in and out, latency), read from a recorder.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use coffer_tests::{Fault, FaultProxy, Persona, Rule, When, builder, coffer, server, unique_prefix};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tracing_subscriber::layer::SubscriberExt as _;

/// The fields of each `coffer_host::call` event.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let target = event.metadata().target();
        if target != "coffer_host::call" && target != "coffer_host::dialect" {
            return;
        }
        struct Fields<'a>(&'a mut BTreeMap<String, String>);
        impl tracing::field::Visit for Fields<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.insert(field.name().to_string(), format!("{value:?}"));
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                self.0.insert(field.name().to_string(), value.to_string());
            }
        }
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        fields.insert("target".into(), target.to_string());
        fields.insert("level".into(), event.metadata().level().to_string());
        // Only this test's tenants: the other tests' calls would only grow the list.
        if fields.get("tenant").is_some_and(|t| t.starts_with("telemetry-")) {
            self.0.lock().unwrap().push(fields);
        }
    }
}

/// The process's subscriber and recorder, installed once as the global ones (calls of other
/// tests land there too; each test looks at its own tenants only).
fn observed() -> &'static (Events, Snapshotter) {
    static OBSERVED: OnceLock<(Events, Snapshotter)> = OnceLock::new();
    OBSERVED.get_or_init(|| {
        let events = Events::default();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(events.clone()))
            .expect("no other global subscriber in the suite");
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::set_global_recorder(recorder).expect("no other global recorder in the suite");
        (events, snapshotter)
    })
}

/// The events of `tenant` so far.
fn events_of(tenant: &str) -> Vec<BTreeMap<String, String>> {
    logged_by("coffer_host::call", tenant)
}

/// The events of `target` (a module of the host) about `tenant`.
fn logged_by(target: &str, tenant: &str) -> Vec<BTreeMap<String, String>> {
    let all = observed().0 .0.lock().unwrap().clone();
    all.into_iter()
        .filter(|e| e.get("tenant").map(String::as_str) == Some(tenant) && e["target"] == target)
        .collect()
}

/// The metrics recorded since the last look (a snapshot takes the counts it reads).
struct Metrics(Vec<(metrics_util::CompositeKey, DebugValue)>);

impl Metrics {
    fn now() -> Metrics {
        Metrics(observed().1.snapshot().into_vec().into_iter().map(|(key, _, _, value)| (key, value)).collect())
    }

    /// The value of `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<&DebugValue> {
        self.0.iter().find_map(|(key, value)| {
            let key = key.key();
            let matches = key.name() == name
                && labels.iter().all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v));
            matches.then_some(value)
        })
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.value(name, labels) {
            Some(DebugValue::Counter(n)) => *n,
            None => 0,
            Some(other) => panic!("{name} is not a counter: {other:?}"),
        }
    }
}

#[tokio::test]
async fn each_call_is_one_event_and_the_metrics_count_what_happened() {
    observed();
    let t = format!("telemetry-{}", std::process::id());
    let t = t.as_str();
    // The first PUT of each key is answered 503 SlowDown, then the next goes through.
    let busy = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::SlowDown, "PUT", When::FirstTriesOfKey(1))]);
    let store = coffer().tenant(builder(t, &busy.endpoint, &unique_prefix("telemetry")).build().unwrap());
    store.put("mail-1", &[7; 1000]).await.unwrap();
    assert_eq!(store.get("mail-1", ..).await.unwrap().map(|d| d.len()), Some(1000));
    assert_eq!(store.get("mail-1", 10..20).await.unwrap().map(|d| d.len()), Some(10));
    assert_eq!(store.get("missing", ..).await.unwrap(), None);

    let seen = events_of(t);
    assert_eq!(seen.len(), 4, "one event per call: {seen:?}");
    let put = &seen[0];
    for (field, value) in [("op", "put"), ("key", "mail-1"), ("bytes", "1000"), ("outcome", "ok")] {
        assert_eq!(put.get(field).map(String::as_str), Some(value), "{field} in {put:?}");
    }
    // PUT refused, PUT again, the verifying HEAD.
    assert_eq!(put.get("attempts").map(String::as_str), Some("3"), "{put:?}");
    assert!(put.get("elapsed_ms").and_then(|ms| ms.parse::<f64>().ok()).is_some_and(|ms| ms > 0.0), "{put:?}");
    assert_eq!((seen[1]["op"].as_str(), seen[1]["bytes"].as_str(), seen[1]["attempts"].as_str()), ("get", "1000", "1"));
    assert_eq!(seen[2]["bytes"], "10");
    assert_eq!((seen[3]["key"].as_str(), seen[3]["outcome"].as_str()), ("missing", "not_found"));

    let m = Metrics::now();
    assert_eq!(m.counter("coffer_calls_total", &[("tenant", t), ("op", "put"), ("outcome", "ok")]), 1);
    assert_eq!(m.counter("coffer_calls_total", &[("tenant", t), ("op", "get"), ("outcome", "ok")]), 2);
    assert_eq!(m.counter("coffer_calls_total", &[("tenant", t), ("op", "get"), ("outcome", "not_found")]), 1);
    assert_eq!(m.counter("coffer_retries_total", &[("tenant", t), ("op", "put")]), 1);
    assert_eq!(m.counter("coffer_bytes_out_total", &[("tenant", t)]), 1000);
    assert_eq!(m.counter("coffer_bytes_in_total", &[("tenant", t)]), 1010);
    match m.value("coffer_call_duration_seconds", &[("tenant", t), ("op", "get")]) {
        Some(DebugValue::Histogram(samples)) => assert_eq!(samples.len(), 3),
        other => panic!("no latency histogram: {other:?}"),
    }

    // A backend that drops the first PUT of each key: verify-after-write catches it, and the
    // PUT sent again is a retry.
    let liar = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::Lie, "PUT", When::FirstTriesOfKey(1))]);
    let lied_to = coffer().tenant(builder(t, &liar.endpoint, &unique_prefix("telemetry-lie")).build().unwrap());
    lied_to.put("mail-2", b"kept at last").await.unwrap();
    let m = Metrics::now();
    assert_eq!(m.counter("coffer_verify_failures_total", &[("tenant", t)]), 1);
    assert_eq!(m.counter("coffer_retries_total", &[("tenant", t), ("op", "put")]), 1);

    // A refused secret: an error of its kind.
    let denied = coffer().tenant(builder(t, &server().endpoint, "").secret_key("wrong").build().unwrap());
    denied.get("k", ..).await.unwrap_err();
    let m = Metrics::now();
    assert_eq!(m.counter("coffer_errors_total", &[("tenant", t), ("op", "get"), ("kind", "access_denied")]), 1);
    assert_eq!(m.counter("coffer_calls_total", &[("tenant", t), ("op", "get"), ("outcome", "access_denied")]), 1);
    assert_eq!(events_of(t).last().unwrap()["outcome"], "access_denied");
}

#[tokio::test]
async fn what_a_tenant_learns_of_its_server_is_logged_once_at_warn() {
    observed();
    let t = "telemetry-dialect";
    let proxy = FaultProxy::start_as(&server().endpoint, Persona::B2, vec![]);
    let store = coffer().tenant(builder(t, &proxy.endpoint, &unique_prefix(t)).build().unwrap());
    for i in 0..5 {
        store.put(&format!("k{i}"), b"mail").await.unwrap();
        store.get(&format!("k{i}"), ..).await.unwrap().unwrap();
    }
    let warnings = logged_by("coffer_host::dialect", t);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["level"], "WARN");
    assert!(warnings[0]["message"].contains("refused an x-amz-checksum-* header"), "{warnings:?}");
}
