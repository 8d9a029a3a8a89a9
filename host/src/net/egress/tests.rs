use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn the_metadata_addresses_are_refused_whatever_the_policy() {
    let open = EgressPolicy { allow_networks: vec!["169.254.0.0/16".parse().unwrap()], ..Default::default() };
    for addr in ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"] {
        let refused = open.check(ip(addr)).unwrap_err();
        assert!(refused.always && refused.to_string().contains("cloud metadata"), "{addr}: {refused}");
    }
    assert!(open.check(ip("169.254.1.1")).is_ok(), "allow: other link-local addresses pass");
}

#[test]
fn deny_refuses_every_private_class_and_allow_networks_carve_out() {
    let deny = EgressPolicy {
        private_endpoints: PrivateEndpoints::Deny,
        allow_networks: vec!["10.0.5.0/24".parse().unwrap(), "fd12:3456::1".parse().unwrap()],
    };
    for (addr, class) in [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.255", "CGNAT"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::2", "unique-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:10.0.0.5", "private"),
        ("0.1.2.3", "this network"),
    ] {
        let refused = deny.check(ip(addr)).unwrap_err();
        assert!(!refused.always && refused.class.contains(class), "{addr}: {refused}");
        assert!(refused.to_string().contains("privateEndpoints"), "{refused}");
    }
    for addr in ["10.0.5.7", "::ffff:10.0.5.7", "fd12:3456::1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1"] {
        assert!(deny.check(ip(addr)).is_ok(), "{addr}");
    }
    assert!(EgressPolicy::default().check(ip("10.0.0.5")).is_ok(), "allow is the default");
}

#[test]
fn networks_parse_and_bad_ones_are_named() {
    assert_eq!("10.0.5.0/24".parse::<Network>().unwrap().to_string(), "10.0.5.0/24");
    assert_eq!("::1".parse::<Network>().unwrap().to_string(), "::1/128");
    assert!("0.0.0.0/0".parse::<Network>().unwrap().contains(ip("10.1.2.3")));
    assert!("10.0.0.0/33".parse::<Network>().unwrap_err().contains("0 to 32"));
    assert!("ten/8".parse::<Network>().unwrap_err().contains("\"ten/8\" is not a network"));
}
