//! When to try again and how long to wait first: pure functions, no clock, no I/O.

use crate::error::StoreError;

/// The first backoff step, in milliseconds.
pub const BASE_DELAY_MS: u64 = 100;
/// No single wait is longer than this, in milliseconds.
pub const MAX_DELAY_MS: u64 = 5_000;

/// Whether `error`, seen on attempt `attempt` (0 for the first), deserves another attempt when
/// `max_retries` retries are allowed. Only transient failures are retried: a refused signature,
/// a bad key or a missing bucket never are.
pub fn should_retry(error: &StoreError, attempt: u32, max_retries: u32) -> bool {
    attempt < max_retries && error.is_transient()
}

/// Exponential backoff with full jitter: a wait drawn uniformly from
/// `[0, min(MAX_DELAY_MS, BASE_DELAY_MS * 2^attempt)]`, from the random value `random`.
pub fn backoff_ms(attempt: u32, random: u64) -> u64 {
    let ceiling = BASE_DELAY_MS.saturating_mul(1u64 << attempt.min(20)).min(MAX_DELAY_MS);
    random % (ceiling + 1)
}

/// The wait before retry `attempt`: the backoff, or what the server's Retry-After asked for
/// when that is longer. Retry-After in seconds is honoured up to [`MAX_DELAY_MS`], so that a
/// call stays bounded by its attempts plus the backoff cap; the HTTP-date form falls back to the
/// backoff.
pub fn delay_ms(attempt: u32, random: u64, retry_after: Option<&str>) -> u64 {
    let backoff = backoff_ms(attempt, random);
    let asked = retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|seconds| seconds.saturating_mul(1000).min(MAX_DELAY_MS));
    asked.map_or(backoff, |asked| asked.max(backoff))
}

#[cfg(test)]
mod tests;
