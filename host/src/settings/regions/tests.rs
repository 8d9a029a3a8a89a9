use super::*;

#[test]
fn typos_find_their_region() {
    assert_eq!(nearest("us-est-1"), "us-east-1");
    assert_eq!(nearest("eu-west1"), "eu-west-1");
    assert_eq!(nearest("ap-southeast-02"), "ap-southeast-2");
    assert!(is_known("eu-central-1") && !is_known("garage"));
}

#[test]
fn china_has_its_own_domain() {
    assert_eq!(aws_endpoint("cn-north-1"), "https://s3.cn-north-1.amazonaws.com.cn");
    assert_eq!(aws_endpoint("eu-west-1"), "https://s3.eu-west-1.amazonaws.com");
}
