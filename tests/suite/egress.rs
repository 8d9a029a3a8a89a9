//! The operator's egress policy end to end, with loopback addresses only (the private and
//! metadata ranges are tested on the address classifier, host/src/egress.rs): with
//! `privateEndpoints = "deny"` an endpoint on the loopback is refused whether written as an
//! address (IPv4 or IPv6) or as a name that resolves there, before anything is sent; an
//! allow-listed network passes; a name whose answer changes between lookups is refused at the
//! lookup that answers a refused address (DNS rebinding).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coffer_host::{Coffer, EgressPolicy, ErrorKind, HostOptions, NameResolver, PrivateEndpoints, Tenant};
use coffer_tests::{FaultProxy, builder, server, unique_prefix};

fn host(allow: &[&str], resolver: Option<NameResolver>) -> Coffer {
    let egress = EgressPolicy {
        private_endpoints: PrivateEndpoints::Deny,
        allow_networks: allow.iter().map(|n| n.parse().unwrap()).collect(),
    };
    Coffer::with_options(HostOptions { egress, resolver, ..Default::default() }).unwrap()
}

fn tenant_at(coffer: &Coffer, endpoint: &str) -> Tenant {
    let settings = builder("egress", endpoint, &unique_prefix("egress")).max_retries(3).timeout(Duration::from_secs(2));
    coffer.tenant(settings.build().unwrap())
}

/// The put is refused at once (no retries) as the host's egress policy.
async fn refused(tenant: &Tenant) {
    let started = Instant::now();
    let error = tenant.put("k", b"x").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidConfig, "{error}");
    assert!(error.message().contains("egress policy"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(1), "refused at once, not retried: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_refuses_loopback_endpoints_by_address_and_by_name_before_sending() {
    let proxy = FaultProxy::start(&server().endpoint, vec![]);
    let port = proxy.endpoint.rsplit(':').next().unwrap().to_string();
    let coffer = host(&[], None);
    for endpoint in [
        format!("http://127.0.0.1:{port}"),
        format!("http://127.0.0.7:{port}"),
        format!("http://[::1]:{port}"),
        format!("http://localhost:{port}"),
        format!("http://s3.localhost:{port}"),
    ] {
        refused(&tenant_at(&coffer, &endpoint)).await;
    }
    assert_eq!(proxy.requests("*"), 0, "nothing reached the endpoint");

    // An allow-listed network passes; the rest of the loopback is still refused.
    let coffer = host(&["127.0.0.1/32"], None);
    let tenant = tenant_at(&coffer, &proxy.endpoint);
    tenant.put("k", b"allowed").await.unwrap();
    assert_eq!(tenant.get("k", ..).await.unwrap().as_deref(), Some(&b"allowed"[..]));
    refused(&tenant_at(&coffer, &format!("http://[::1]:{port}"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_rebinds_to_a_refused_address_is_refused_at_that_lookup() {
    let why = "RGW takes a host name other than its own (rgw dns name) for a bucket's name: mail.example.test addresses bucket mail.example.test";
    if coffer_tests::skip_on(&[coffer_tests::Family::CephRgw], "rebinding", why) {
        return;
    }
    let proxy = FaultProxy::start(&server().endpoint, vec![]);
    let port = proxy.endpoint.rsplit(':').next().unwrap().to_string();
    // mail.example.test answers 127.0.0.1 (allowed) until `rebound`, then 127.0.0.2 (refused).
    let rebound = Arc::new(AtomicBool::new(false));
    let flag = rebound.clone();
    let resolver = NameResolver(Arc::new(move |name: &str| {
        assert_eq!(name, "mail.example.test", "only the tenant's endpoint is looked up");
        let last = if flag.load(Ordering::SeqCst) { 2 } else { 1 };
        Ok(vec![IpAddr::from([127, 0, 0, last])])
    }));
    let coffer = host(&["127.0.0.1/32"], Some(resolver));
    let endpoint = format!("http://mail.example.test:{port}");
    let first = tenant_at(&coffer, &endpoint);
    first.put("k", b"before").await.unwrap();

    rebound.store(true, Ordering::SeqCst);
    // A new connection looks the name up again: refused. (A tenant of another trust has
    // connections of its own, so it needs a new one.)
    let requests = proxy.requests("*");
    let other_trust = builder("egress", &endpoint, &unique_prefix("egress")).max_retries(3).allow_invalid_certs(true);
    refused(&coffer.tenant(other_trust.timeout(Duration::from_secs(2)).build().unwrap())).await;
    assert_eq!(proxy.requests("*"), requests, "nothing more reached the endpoint");
    // A tenant of the first one's trust rides its kept-alive connection, to the address that
    // was allowed when it was made (127.0.0.1), never to the one the name now gives.
    let same_trust = tenant_at(&coffer, &endpoint);
    same_trust.put("k", b"on the allowed connection").await.unwrap();
    assert_eq!(same_trust.stats().connections_opened, 1, "no new connection, no new lookup");
}
