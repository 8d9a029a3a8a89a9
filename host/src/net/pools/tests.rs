use super::*;

#[test]
fn endpoints_are_keyed_with_their_port_spelled_out() {
    let key = |uri: &str| endpoint_key(&uri.parse().unwrap());
    assert_eq!(key("https://S3.Example.com/b/k"), "https://s3.example.com:443");
    assert_eq!(key("https://s3.example.com:443/"), "https://s3.example.com:443");
    assert_eq!(key("http://127.0.0.1:3900/b"), "http://127.0.0.1:3900");
    assert_ne!(key("http://h/"), key("https://h/"));
}

#[test]
fn tenants_share_a_client_only_with_the_same_trust() {
    let pools = Pools::new(Arc::default(), None, None, None, None);
    let roots = tls::Trust::default();
    let any = tls::Trust { allow_invalid_certs: true, ..Default::default() };
    let (a, a_end) = pools.client_for(&roots, "http://127.0.0.1:3900");
    let (b, b_end) = pools.client_for(&roots, "http://127.0.0.1:3900");
    let (c, c_end) = pools.client_for(&any, "http://127.0.0.1:3900");
    assert!(Arc::ptr_eq(&a, &b) && Arc::ptr_eq(&a_end, &b_end));
    assert!(!Arc::ptr_eq(&a, &c) && !Arc::ptr_eq(&a_end, &c_end));
    let cert = rustls::pki_types::CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
    let private = tls::Trust { ca_certs: vec![cert], ..Default::default() };
    let (d, _) = pools.client_for(&private, "http://127.0.0.1:3900");
    assert!(!Arc::ptr_eq(&a, &d), "a caFile is a trust of its own");
    // A client no tenant holds is let go.
    drop((c, c_end));
    assert_eq!(pools.clients.lock().unwrap().values().filter(|w| w.strong_count() > 0).count(), 2);
}
