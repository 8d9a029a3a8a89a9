use super::*;

#[test]
fn the_default_port_is_left_out_of_the_authority_and_spelled_out_in_the_pool_key() {
    let e = Endpoint::parse("HTTPS://S3.Example.com:443").unwrap();
    assert_eq!((e.scheme(), e.host(), e.port(), e.authority()), ("https", "s3.example.com", 443, "s3.example.com"));
    assert_eq!(e.pool_key(), "https://s3.example.com:443");
    assert_eq!(e.to_string(), "https://s3.example.com");
    let garage = Endpoint::parse("http://127.0.0.1:3900").unwrap();
    assert_eq!((garage.authority(), garage.pool_key().as_str()), ("127.0.0.1:3900", "http://127.0.0.1:3900"));
    let v6 = Endpoint::parse("http://[::1]:9000").unwrap();
    assert_eq!((v6.host(), v6.authority()), ("[::1]", "[::1]:9000"));
    assert_eq!(e.with_bucket("Mail").authority(), "mail.s3.example.com");
}

#[test]
fn a_connectors_uri_has_the_pool_key_of_its_endpoint() {
    for text in ["http://127.0.0.1:3900", "https://s3.example.com", "http://[::1]:9000", "http://h:80"] {
        let endpoint = Endpoint::parse(text).unwrap();
        let uri: http::Uri = format!("{endpoint}/b/k?x=1").parse().unwrap();
        let port = uri.port_u16().unwrap_or(default_port(uri.scheme_str().unwrap()));
        assert_eq!(pool_key(uri.scheme_str().unwrap(), uri.host().unwrap(), port), endpoint.pool_key(), "{text}");
    }
}

#[test]
fn anything_but_scheme_host_and_port_is_refused_with_the_reason() {
    for (text, why) in [
        ("ftp://h", "scheme"),
        ("http://h/path", "no path"),
        ("http://u@h", "no path, query or user"),
        ("127.0.0.1:3900/x", "not a URL"),
    ] {
        let error = Endpoint::parse(text).unwrap_err();
        assert!(error.contains(why), "{text}: {error}");
    }
}
