//! The CLI's progress bar: for a transfer past a few MiB, when standard error is a terminal, a
//! bar of the body bytes the tenant has moved (retries included), drawn on standard error.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coffer_host::Tenant;
use indicatif::{ProgressBar, ProgressStyle};

/// Transfers smaller than this show no bar.
const SHOWN_FROM: u64 = 4 << 20;

/// Which way the bytes go.
#[derive(Clone, Copy)]
pub enum Direction {
    Up,
    Down,
}

/// Watches a tenant's transfer until dropped.
pub struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: Arc<Mutex<Option<ProgressBar>>>,
}

impl Progress {
    /// Starts watching; `total` is the size when known (a put).
    pub fn watch(tenant: &Tenant, direction: Direction, total: Option<u64>) -> Progress {
        if !std::io::stderr().is_terminal() || total.is_some_and(|t| t < SHOWN_FROM) {
            return Progress { task: None, bar: Arc::default() };
        }
        let tenant = tenant.clone();
        let moved = move || {
            let stats = tenant.stats();
            let (sent, received) = (stats.bytes_sent, stats.bytes_received);
            match direction {
                Direction::Up => sent,
                Direction::Down => received,
            }
        };
        let start = moved();
        let bar: Arc<Mutex<Option<ProgressBar>>> = Arc::default();
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let done = moved() - start;
                let mut shown = shown.lock().unwrap();
                if shown.is_none() && done >= SHOWN_FROM.min(total.unwrap_or(SHOWN_FROM)) {
                    *shown = Some(new_bar(total));
                }
                if let Some(bar) = shown.as_ref() {
                    bar.set_position(total.map_or(done, |t| done.min(t)));
                }
            }
        });
        Progress { task: Some(task), bar }
    }
}

fn new_bar(total: Option<u64>) -> ProgressBar {
    match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}").expect("a valid template"),
        ),
        None => ProgressBar::new_spinner()
            .with_style(ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}").expect("a valid template")),
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(bar) = self.bar.lock().unwrap().take() {
            bar.finish_and_clear();
        }
    }
}
