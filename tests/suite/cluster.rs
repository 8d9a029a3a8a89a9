//! Real distributed engines failing: a three-node Garage cluster (replication factor 3) and a
//! Ceph cluster of three OSDs (pools of size 3, min_size 2), each started for its test, a write
//! loop against it, and one node killed (SIGKILL) in the middle; on Ceph also with the OSD
//! started again later (a memstore OSD comes back empty and is refilled from its peers). Writes
//! must go on, and every write Coffer acknowledged, before or after the kill, must be readable.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use coffer_host::TenantSettings;
use coffer_tests::{blob, coffer, in_parallel, note};

const WRITES: usize = 1000;
const CALLERS: usize = 8;
/// The node is killed once this many writes are acknowledged.
const KILL_AFTER: usize = 300;
/// With a restart, the node is started again once this many are.
const RESTART_AFTER: usize = 650;

/// A cluster started by one of the project's scripts, stopped by its partner when dropped.
struct Cluster {
    vars: Vec<(String, String)>,
    /// The script that stops it, and the variable naming its folder.
    down: (&'static str, &'static str),
    /// What it is, for the figure.
    what: &'static str,
}

impl Cluster {
    fn var(&self, name: &str) -> &str {
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no {name} exported"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(scripts().join(self.down.0)).arg(self.var(self.down.1)).status();
    }
}

fn scripts() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts")
}

/// Runs `script` with `args` and reads the `export` lines it prints.
fn exported(script: &str, args: &[&str]) -> Vec<(String, String)> {
    let output = Command::new(scripts().join(script)).args(args).output().unwrap();
    assert!(output.status.success(), "{script} {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// A three-node Garage, or `None` when there is no Garage binary here.
fn garage_cluster() -> Option<Cluster> {
    let found = Command::new(scripts().join("install-garage")).arg("--check").output().unwrap();
    if !found.status.success() {
        assert!(
            std::env::var_os("COFFER_TEST_GARAGE_DIR").is_none(),
            "Garage is running for this suite but scripts/install-garage --check finds no binary"
        );
        return None;
    }
    let port = std::env::var("COFFER_TEST_CLUSTER_PORT").unwrap_or_else(|_| "3960".into());
    let dir = tempfile::Builder::new().prefix("coffer-cluster-").tempdir().unwrap().keep();
    let vars = exported("garage-up", &["--nodes", "3", "--port", &port, "--dir", dir.to_str().unwrap()]);
    Some(Cluster { vars, down: ("garage-down", "COFFER_TEST_GARAGE_DIR"), what: "3-node Garage, replication 3" })
}

/// A Ceph cluster of three OSDs, or `None` when Ceph is not installed here.
fn ceph_cluster() -> Option<Cluster> {
    let installed = Command::new("sh").args(["-c", "command -v radosgw && command -v ceph-osd"]).output().unwrap();
    if !installed.status.success() {
        assert!(
            std::env::var_os("COFFER_TEST_CEPH_DIR").is_none(),
            "Ceph RGW is running for this suite but radosgw or ceph-osd is not on PATH"
        );
        return None;
    }
    let vars = exported("ceph-up", &["--osds", "3"]);
    Some(Cluster { vars, down: ("ceph-down", "COFFER_TEST_CEPH_DIR"), what: "Ceph RGW, 3 memstore OSDs, size 3, min_size 2" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_go_on_and_nothing_acknowledged_is_lost_when_a_node_dies() {
    let Some(cluster) = garage_cluster() else {
        note("cluster: garage", "SKIPPED: no Garage binary (scripts/install-garage builds one; CI has it)");
        return;
    };
    kill_one_during_writes(&cluster, "COFFER_TEST_GARAGE_PIDS", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_when_a_ceph_osd_dies_or_comes_back_empty() {
    for restart in [false, true] {
        let Some(cluster) = ceph_cluster() else {
            note("cluster: ceph", "SKIPPED: Ceph is not installed (scripts/ceph-up installs it as root; CI has it)");
            return;
        };
        let restart = restart.then(|| -> Box<dyn FnOnce() + Send> {
            let dir = cluster.var("COFFER_TEST_CEPH_DIR").to_string();
            let conf = cluster.var("CEPH_CONF").to_string();
            Box::new(move || {
                let keyring = format!("{dir}/osd2/keyring");
                let status = Command::new("ceph-osd").args(["-c", &conf, "-i", "2", "--keyring", &keyring]).status().unwrap();
                assert!(status.success(), "ceph-osd -i 2 did not start again");
            })
        });
        kill_one_during_writes(&cluster, "COFFER_TEST_CEPH_OSD_PIDS", restart).await;
    }
}

/// Writes [`WRITES`] blobs, [`CALLERS`] at a time, killing the cluster's third node after
/// [`KILL_AFTER`] are acknowledged (and starting it again with `restart` after
/// [`RESTART_AFTER`]); then reads every acknowledged one back and reports the counts.
async fn kill_one_during_writes(cluster: &Cluster, pids_var: &str, restart: Option<Box<dyn FnOnce() + Send>>) {
    let settings = TenantSettings::builder("cluster")
        .bucket(cluster.var("COFFER_TEST_S3_BUCKET"))
        .region(cluster.var("COFFER_TEST_S3_REGION"))
        .endpoint(cluster.var("COFFER_TEST_S3_ENDPOINT"))
        .access_key(cluster.var("COFFER_TEST_S3_ACCESS_KEY"))
        .secret_key(cluster.var("COFFER_TEST_S3_SECRET_KEY"))
        // Ceph holds writes until the monitor marks the OSD down (its heartbeat grace).
        .timeout(Duration::from_secs(15));
    let store = Arc::new(coffer().tenant(settings.build().unwrap()));
    let pids: Vec<String> = cluster.var(pids_var).split_whitespace().map(str::to_string).collect();
    assert_eq!(pids.len(), 3);
    let (victim, restarted) = (pids[2].clone(), restart.is_some());
    let restart = Arc::new(std::sync::Mutex::new(restart));

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let killed_at = Arc::new(std::sync::Mutex::new(None::<usize>));
    let started = Instant::now();
    let writes = {
        let (store, acknowledged, killed_at) = (store.clone(), acknowledged.clone(), killed_at.clone());
        in_parallel(WRITES, CALLERS, move |i| {
            let (store, acknowledged, killed_at, victim, restart) =
                (store.clone(), acknowledged.clone(), killed_at.clone(), victim.clone(), restart.clone());
            async move {
                let acked = acknowledged.load(Ordering::SeqCst);
                if acked >= KILL_AFTER {
                    let mut killed = killed_at.lock().unwrap();
                    if killed.is_none() {
                        let status = Command::new("kill").args(["-9", &victim]).status().unwrap();
                        assert!(status.success(), "kill -9 {victim}");
                        *killed = Some(i);
                    }
                }
                if acked >= RESTART_AFTER {
                    if let Some(start_again) = restart.lock().unwrap().take() {
                        start_again();
                    }
                }
                let begun = Instant::now();
                let ok = store.put(&format!("n{i}"), &blob(4096, i as u64)).await.is_ok();
                if ok {
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                }
                (ok, begun.elapsed())
            }
        })
        .await
    };
    let took = started.elapsed();
    let killed_at = killed_at.lock().unwrap().expect("the node was killed during the loop");

    // Every acknowledged write, read back (with the node still down, or back and refilling).
    let found = {
        let store = store.clone();
        in_parallel(WRITES, CALLERS, move |i| {
            let store = store.clone();
            async move { store.get(&format!("n{i}"), ..).await.ok().flatten() == Some(blob(4096, i as u64)) }
        })
        .await
    };
    let lost: Vec<usize> = (0..WRITES).filter(|&i| writes[i].0 && !found[i]).collect();
    let acked = writes.iter().filter(|(ok, _)| *ok).count();
    let acked_after = writes[killed_at..].iter().filter(|(ok, _)| *ok).count();
    let mut latencies: Vec<Duration> = writes.iter().map(|(_, took)| *took).collect();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let again = if restarted { format!(", started again after write {RESTART_AFTER}") } else { String::new() };
    note(
        "figure: killed node",
        &format!(
            "{}, node 3 killed (SIGKILL) after write {killed_at}{again}: {WRITES} writes, {acked} acknowledged \
             ({acked_after} of {} after the kill), {} acknowledged but lost, p50 {:.1} ms, max {:.1} ms, {:.1} s in all",
            cluster.what,
            WRITES - killed_at,
            lost.len(),
            ms(latencies[latencies.len() / 2]),
            ms(*latencies.last().unwrap()),
            took.as_secs_f64()
        ),
    );
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert!(acked_after * 100 >= (WRITES - killed_at) * 99, "writes did not go on after the kill: {acked_after} acknowledged");
}
