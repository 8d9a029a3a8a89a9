use super::*;

fn egress() -> Egress {
    Egress {
        tenant: "acme".into(),
        endpoint: Endpoint::parse("http://127.0.0.1:3900").unwrap(),
        timeout: Duration::from_secs(5),
        transport: {
            let pools = crate::net::pools::Pools::new(Default::default(), None, None, None, None);
            let endpoint = Endpoint::parse("http://127.0.0.1:3900").unwrap();
            Arc::new(Transport::new("acme", &Default::default(), &endpoint, &pools))
        },
        sent: 0,
    }
}

#[test]
fn only_the_tenants_own_endpoint_is_reachable() {
    let e = egress();
    assert!(e.allows(&"http://127.0.0.1:3900/bucket/key".parse().unwrap()));
    for denied in [
        "https://127.0.0.1:3900/bucket/key",
        "http://127.0.0.1:3901/bucket/key",
        "http://127.0.0.2:3900/bucket/key",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1/bucket/key",
    ] {
        assert!(!e.allows(&denied.parse().unwrap()), "{denied}");
    }
    let aws = Egress { endpoint: Endpoint::parse("https://s3.eu-west-1.amazonaws.com").unwrap(), ..egress() };
    assert!(aws.allows(&"https://s3.eu-west-1.amazonaws.com/b/k".parse().unwrap()));
    assert!(!aws.allows(&"https://s3.eu-west-1.amazonaws.com:443/b/k".parse().unwrap()), "only the spelling handed over");
    assert!(!aws.allows(&"https://s3.eu-west-1.amazonaws.com:8443/b/k".parse().unwrap()));
}

#[test]
fn the_tenants_timeout_bounds_what_the_guest_asks() {
    let e = egress();
    let asked = RequestOptions {
        connect_timeout: Some(Duration::from_secs(60)),
        first_byte_timeout: Some(Duration::from_secs(1)),
        between_bytes_timeout: None,
    };
    let clamped = e.clamp(Some(asked));
    assert_eq!(clamped.connect_timeout, Some(Duration::from_secs(5)));
    assert_eq!(clamped.first_byte_timeout, Some(Duration::from_secs(1)));
    assert_eq!(clamped.between_bytes_timeout, Some(Duration::from_secs(5)));
    assert_eq!(e.clamp(None).connect_timeout, Some(Duration::from_secs(5)));
}
