//! One line of the doctor's report, and how it came out.

use std::time::{Duration, SystemTime};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
pub struct Check {
    pub verdict: Verdict,
    pub name: &'static str,
    pub detail: String,
    pub fix: Option<String>,
    pub took: Duration,
}

pub fn ok(name: &'static str, detail: String, took: Duration) -> Check {
    Check { verdict: Verdict::Ok, name, detail, fix: None, took }
}

pub fn fail(name: &'static str, detail: String, fix: &str, took: Duration) -> Check {
    Check { verdict: Verdict::Fail, name, detail, fix: Some(fix.to_string()), took }
}

/// Seconds since 1970, by this host's clock.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
