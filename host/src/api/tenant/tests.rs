use super::byte_range;

#[test]
fn ranges_map_to_the_wit_and_whole_reads_are_plain() {
    let r = |range: Option<crate::sandbox::bindings::store::ByteRange>| range.map(|r| (r.start, r.end));
    assert_eq!(r(byte_range(&..)), None);
    assert_eq!(r(byte_range(&(0..u64::MAX))), None, "Stalwart's whole blob is one plain GET");
    assert_eq!(r(byte_range(&(0..))), None);
    assert_eq!(r(byte_range(&(11..57))), Some((11, Some(57))));
    assert_eq!(r(byte_range(&(11..=56))), Some((11, Some(57))));
    assert_eq!(r(byte_range(&(1000..))), Some((1000, None)));
    assert_eq!(r(byte_range(&(5..u64::MAX))), Some((5, None)));
    assert_eq!(r(byte_range(&(..10))), Some((0, Some(10))));
}
