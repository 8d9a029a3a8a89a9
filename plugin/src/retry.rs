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
mod tests {
    use super::*;

    #[test]
    fn only_transient_errors_are_retried_and_only_while_retries_remain() {
        let busy = StoreError::unavailable("503");
        assert!(should_retry(&busy, 0, 3));
        assert!(should_retry(&busy, 2, 3));
        assert!(!should_retry(&busy, 3, 3));
        assert!(!should_retry(&busy, 0, 0));
        assert!(should_retry(&StoreError::timeout("t"), 0, 1));
        for error in [
            StoreError::access_denied("403"),
            StoreError::invalid_key("k"),
            StoreError::invalid_config("c"),
            StoreError::integrity("i"),
            StoreError::other("o"),
        ] {
            assert!(!should_retry(&error, 0, 3), "{error:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        assert_eq!(delay_ms(0, 0, Some("2")), 2_000);
        assert_eq!(delay_ms(0, 0, Some(" 1 ")), 1_000);
        assert_eq!(delay_ms(0, 0, Some("3600")), MAX_DELAY_MS, "a server cannot pin us for an hour");
        assert_eq!(delay_ms(3, 800, Some("0")), 800, "never shorter than the backoff");
        assert_eq!(delay_ms(0, 50, Some("Wed, 21 Oct 2015 07:28:00 GMT")), 50);
        assert_eq!(delay_ms(0, 50, None), 50);
    }

    #[test]
    fn backoff_grows_then_is_capped_and_jitters_from_zero() {
        assert_eq!(backoff_ms(0, u64::MAX - 1), (u64::MAX - 1) % (BASE_DELAY_MS + 1));
        assert_eq!(backoff_ms(0, BASE_DELAY_MS), BASE_DELAY_MS);
        assert_eq!(backoff_ms(3, 8 * BASE_DELAY_MS), 8 * BASE_DELAY_MS);
        assert_eq!(backoff_ms(30, MAX_DELAY_MS), MAX_DELAY_MS);
        assert!(backoff_ms(63, u64::MAX) <= MAX_DELAY_MS);
        assert_eq!(backoff_ms(5, 0), 0);
    }
}
