//! Nothing lost: writes and reads through the fault proxy in front of the server, one fault mode
//! at a time, at least 1000 writes each. Every write Coffer acknowledges is then read from the
//! server itself: with verifyAfterWrite on, none may be missing or different. The table of
//! figures is printed and written to target/coffer-figures/faults.md (kept in docs/faults.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_host::ErrorKind;
use coffer_tests::{Fault, FaultProxy, Rule, When, blob, in_parallel, note, proxied_tenant, server};

/// Writes per mode.
const WRITES: usize = 1000;
/// Calls in flight at once, as a mail server delivering to many mailboxes.
const CALLERS: usize = 8;

struct Mode {
    name: &'static str,
    rules: Vec<Rule>,
    /// Tenant settings besides `timeout = "1s"` and the default `maxRetries = 3`.
    /// verifyAfterWrite
    verify: bool,
}

fn modes() -> Vec<Mode> {
    let mode = |name, rules, verify| Mode { name, rules, verify };
    let all = |fault, ratio| vec![Rule::new(fault, "*", When::Ratio(ratio))];
    let gets = |fault, ratio| vec![Rule::new(fault, "GET", When::Ratio(ratio))];
    vec![
        mode("no fault", vec![], true),
        mode("lie: 200 to 20% of PUTs, bytes dropped", vec![Rule::new(Fault::Lie, "PUT", When::Ratio(0.2))], true),
        mode("lie: first 2 PUTs of every key dropped", vec![Rule::new(Fault::Lie, "PUT", When::FirstTriesOfKey(2))], true),
        mode("lie 20%, verifyAfterWrite = false", vec![Rule::new(Fault::Lie, "PUT", When::Ratio(0.2))], false),
        mode("503 SlowDown, 20%", all(Fault::SlowDown, 0.2), true),
        mode("500 InternalError, 20%", all(Fault::InternalError, 0.2), true),
        mode("429, 20%", all(Fault::TooManyRequests, 0.2), true),
        // S3 sends RequestTimeout when an upload's body is too slow to arrive: PUTs only (a HEAD's
        // answer has no body to name the code in).
        mode("400 RequestTimeout, 20% of PUTs", vec![Rule::new(Fault::RequestTimeout, "PUT", When::Ratio(0.2))], true),
        mode("reset before the answer, 20%", all(Fault::ResetBeforeResponse, 0.2), true),
        mode("reset mid-body, 20% of GETs", gets(Fault::ResetMidBody, 0.2), true),
        mode("stall past the timeout, 3%", all(Fault::Stall, 0.03), true),
        mode("trickle, 20%", all(Fault::Trickle, 0.2), true),
        mode("truncated body, 20% of GETs", gets(Fault::Truncate, 0.2), true),
        mode("a byte flipped, 20% of GETs", gets(Fault::FlipByte, 0.2), true),
        mode(
            "all of the above at 2% each (lie included)",
            [
                Fault::Lie,
                Fault::SlowDown,
                Fault::InternalError,
                Fault::TooManyRequests,
                Fault::RequestTimeout,
                Fault::ResetBeforeResponse,
                Fault::ResetMidBody,
                Fault::Stall,
                Fault::Trickle,
                Fault::Truncate,
                Fault::FlipByte,
            ]
            .into_iter()
            .map(|fault| {
                let method = if matches!(fault, Fault::Lie | Fault::RequestTimeout) { "PUT" } else { "*" };
                Rule::new(fault, method, When::Ratio(0.02))
            })
            .collect(),
            true,
        ),
    ]
}

/// What one mode did.
struct Figures {
    mode: &'static str,
    writes: usize,
    acknowledged: usize,
    /// Acknowledged, then missing or different on the server itself.
    lost: usize,
    /// Requests beyond one PUT (and one HEAD with verifyAfterWrite) per write: retries and
    /// PUTs sent again.
    extra_requests: usize,
    faults: usize,
    p50: Duration,
    max: Duration,
    reads: usize,
    read_failures: usize,
    /// Reads through the faults that returned bytes other than those written: must be 0.
    wrong_reads: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_write_is_lost_under_any_fault() {
    // Warm the server up first, so that the first mode's latencies are not its cold start.
    run(&Mode { name: "warm-up", rules: vec![], verify: true }, 200).await;
    let mut table = Vec::new();
    for mode in modes() {
        let figures = run(&mode, WRITES).await;
        let verify = mode.verify;
        assert_eq!(figures.wrong_reads, 0, "{}: a read returned wrong bytes as data", mode.name);
        assert!(figures.acknowledged * 100 >= figures.writes * 97, "{}: only {} acknowledged", mode.name, figures.acknowledged);
        if !mode.rules.is_empty() {
            assert!(figures.faults > 0, "{}: no fault was injected", mode.name);
        }
        if verify {
            assert_eq!(figures.lost, 0, "{}: acknowledged writes lost", mode.name);
        } else {
            assert!(figures.lost > 0, "{}: the lying backend's loss must show without verification", mode.name);
        }
        table.push(figures);
    }
    let table = render(&table);
    note("figure: faults", &format!("\n{table}"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/coffer-figures");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("faults.md"), table).unwrap();
}

async fn run(mode: &Mode, count: usize) -> Figures {
    let proxy = FaultProxy::start(&server().endpoint, mode.rules.clone());
    let test = format!("faults-{}", mode.name.split(|c: char| !c.is_ascii_alphanumeric()).collect::<Vec<_>>().join(""));
    let (store, direct) =
        proxied_tenant(&proxy.endpoint, &test, |b| b.timeout(Duration::from_secs(1)).verify_after_write(mode.verify));
    let verify = store.settings().verify_after_write();
    let data = |i: usize| blob(2048 + i % 512, i as u64 + 1);
    let key = |i: usize| format!("w{i}");

    let store = Arc::new(store);
    let writes = {
        let store = store.clone();
        in_parallel(count, CALLERS, move |i| {
            let store = store.clone();
            async move {
                let started = Instant::now();
                let acknowledged = store.put(&key(i), &data(i)).await.is_ok();
                (acknowledged, started.elapsed())
            }
        })
        .await
    };
    let write_requests = proxy.requests("*");
    let acknowledged: Vec<usize> = (0..writes.len()).filter(|&i| writes[i].0).collect();

    // The truth: every acknowledged write, read from the server itself.
    let direct = Arc::new(direct);
    let truth = {
        let (direct, acknowledged) = (direct.clone(), acknowledged.clone());
        in_parallel(acknowledged.len(), CALLERS, move |n| {
            let (direct, i) = (direct.clone(), acknowledged[n]);
            async move { direct.get(&key(i), ..).await.ok().flatten() == Some(data(i)) }
        })
        .await
    };

    // Reads through the faults: an error is allowed, wrong bytes are not.
    let reads = {
        let (store, acknowledged) = (store.clone(), acknowledged.clone());
        in_parallel(acknowledged.len(), CALLERS, move |n| {
            let (store, i) = (store.clone(), acknowledged[n]);
            async move {
                match store.get(&key(i), ..).await {
                    Ok(Some(bytes)) => Some(bytes == data(i)),
                    Ok(None) | Err(_) => None,
                }
            }
        })
        .await
    };

    let faults = proxy.injected_total();
    let mut latencies: Vec<Duration> = writes.iter().map(|(_, took)| *took).collect();
    latencies.sort();
    let ideal = writes.len() * if verify { 2 } else { 1 };
    Figures {
        mode: mode.name,
        writes: writes.len(),
        acknowledged: acknowledged.len(),
        lost: truth.iter().filter(|found| !**found).count(),
        extra_requests: write_requests.saturating_sub(ideal),
        faults,
        p50: latencies[latencies.len() / 2],
        max: *latencies.last().unwrap(),
        reads: reads.len(),
        read_failures: reads.iter().filter(|r| r.is_none()).count(),
        wrong_reads: reads.iter().filter(|r| **r == Some(false)).count(),
    }
}

fn render(rows: &[Figures]) -> String {
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    let mut out = String::from(
        "| fault mode | writes | acknowledged | acknowledged but lost | extra requests | faults injected | write p50 ms | write max ms | reads | reads failed | wrong bytes returned |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for f in rows {
        out += &format!(
            "| {} | {} | {} | **{}** | {} | {} | {} | {} | {} | {} | {} |\n",
            f.mode,
            f.writes,
            f.acknowledged,
            f.lost,
            f.extra_requests,
            f.faults,
            ms(f.p50),
            ms(f.max),
            f.reads,
            f.read_failures,
            f.wrong_reads
        );
    }
    out
}

#[tokio::test]
async fn a_whole_call_is_bounded_by_its_attempts_and_the_backoff_cap() {
    // Every request stalls: three attempts of 400 ms, and two backoffs of at most 100 and 200 ms.
    let stall = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::Stall, "*", When::Always)]);
    let (store, _) = proxied_tenant(&stall.endpoint, "bounds", |b| b.timeout(Duration::from_millis(400)).max_retries(2));
    let started = Instant::now();
    let error = store.put("k", &blob(1000, 1)).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert_eq!(stall.requests("PUT"), 3, "maxRetries = 2: three attempts");
    assert!(took >= Duration::from_millis(3 * 400), "{took:?}");
    assert!(took <= Duration::from_millis(3 * 400 + 300 + 700), "{took:?}");

    // Every PUT dropped: a put makes at most maxRetries + 1 attempts of PUT then HEAD.
    let liar = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::Lie, "PUT", When::Always)]);
    let (store, _) = proxied_tenant(&liar.endpoint, "bounds", |b| b.max_retries(2));
    // (The stalled PUTs above did reach the server: a key of its own.)
    let error = store.put("dropped", &blob(1000, 1)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Integrity, "{error}");
    assert_eq!((liar.requests("PUT"), liar.requests("HEAD")), (3, 3));

    // A server that trickles (256 bytes every 10 ms, far inside any gap limit) cannot stretch an
    // attempt past its timeout: 40 KiB would take 1.6 s; each attempt ends at 500 ms.
    let (_, direct) = proxied_tenant(&server().endpoint, "bounds", |b| b);
    direct.put("large", &blob(40_960, 2)).await.unwrap();
    let trickle = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::Trickle, "GET", When::Always)]);
    let (store, _) = proxied_tenant(&trickle.endpoint, "bounds", |b| b.timeout(Duration::from_millis(500)).max_retries(1));
    let started = Instant::now();
    let error = store.get("large", ..).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert_eq!(trickle.requests("GET"), 2);
    assert!(took <= Duration::from_millis(2 * 500 + 100 + 600), "{took:?}");

    // Retry-After is honoured: 1 s asked, where the backoff alone would wait at most 100 ms.
    let busy = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::SlowDownRetryAfter(1), "*", When::First(1))]);
    let (store, _) = proxied_tenant(&busy.endpoint, "bounds", |b| b.max_retries(1));
    let started = Instant::now();
    assert_eq!(store.stat("absent").await.unwrap(), None);
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(busy.requests("HEAD"), 2);
}
