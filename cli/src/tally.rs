//! What a run of `cp` or `rewrap` did, object by object: the progress bar, the lines of
//! `--verbose`, and the summary.

use std::io::IsTerminal;

use coffer_host::Listed;
use indicatif::{ProgressBar, ProgressStyle};

/// Failures the summary lists one by one; the rest are counted.
pub(crate) const FAILURES_LISTED: usize = 20;

/// What a run did.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) copied: u64,
    pub(crate) copied_bytes: u64,
    pub(crate) skipped: u64,
    pub(crate) failures: Vec<(String, String)>,
}

/// An object, and what became of it.
pub(crate) type Outcome = (Listed, Result<Done, String>);

/// What became of an object.
pub(crate) enum Done {
    Copied,
    Skipped,
}

/// A copy task's object and outcome.
pub(crate) fn joined(done: Option<Result<Outcome, tokio::task::JoinError>>) -> Outcome {
    match done.expect("a copy in flight") {
        Ok(done) => done,
        Err(failed) => std::panic::resume_unwind(failed.into_panic()),
    }
}

pub(crate) fn settle(tally: &mut Tally, bar: &ProgressBar, verbose: bool, object: Listed, done: Result<Done, String>) {
    match done {
        Ok(Done::Copied) => {
            tally.copied += 1;
            tally.copied_bytes += object.size;
            if verbose {
                say(bar, format!("copied {} ({} bytes)", object.key, object.size));
            }
        }
        Ok(Done::Skipped) => {
            tally.skipped += 1;
            if verbose {
                say(bar, format!("skipped {} ({} bytes, already there)", object.key, object.size));
            }
        }
        Err(reason) => {
            bar.suspend(|| eprintln!("coffer: cp \"{}\": {reason}", object.key));
            tally.failures.push((object.key, reason));
        }
    }
    bar.inc(1);
    bar.set_message(format!(
        "{} copied ({}), {} skipped, {} failed",
        tally.copied,
        bytes(tally.copied_bytes),
        tally.skipped,
        tally.failures.len()
    ));
}

/// A line on standard output, above the bar when there is one.
pub(crate) fn say(bar: &ProgressBar, line: String) {
    match bar.is_hidden() {
        true => println!("{line}"),
        false => bar.println(line),
    }
}

pub(crate) fn summary(tally: &Tally) -> String {
    let mut text = format!(
        "copied {} objects ({}), skipped {} already there, failed {}\n",
        tally.copied,
        bytes(tally.copied_bytes),
        tally.skipped,
        tally.failures.len()
    );
    for (key, reason) in tally.failures.iter().take(FAILURES_LISTED) {
        text += &format!("  failed \"{key}\": {reason}\n");
    }
    if tally.failures.len() > FAILURES_LISTED {
        text += &format!("  and {} more\n", tally.failures.len() - FAILURES_LISTED);
    }
    text
}

pub(crate) fn bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

pub(crate) fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner()
        .with_style(ProgressStyle::with_template("{spinner} {pos} objects: {msg}").expect("a valid template"));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
