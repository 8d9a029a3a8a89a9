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
