#[test]
fn amz_dates_are_read_as_unix_seconds() {
    assert_eq!(super::unix_of_amz_date("20130524T000000Z"), Some(1_369_353_600));
    assert_eq!(super::unix_of_amz_date("19700101T000001Z"), Some(1));
    assert_eq!(super::unix_of_amz_date("garbage"), None);
}
