use super::*;
use std::time::Duration;

/// A tenant built in code, as a mail server does from its own store.
fn garage() -> TenantSettingsBuilder {
    TenantSettings::builder("acme")
        .bucket("mail")
        .region("garage")
        .endpoint("http://127.0.0.1:3900")
        .access_key("GK123")
        .secret_key("inline-secret-value")
}

/// An environment where the host's own credentials are set: a tenant must not take them.
fn host_env(name: &str) -> Option<String> {
    match name {
        "AWS_ACCESS_KEY_ID" => Some("AKIDHOST".into()),
        "AWS_SECRET_ACCESS_KEY" => Some("host-secret".into()),
        _ => None,
    }
}

#[test]
fn built_in_code_with_defaults_and_derived_values_computed_once() {
    let t = garage().key_prefix("acme/").build_with_env(&|_| None).unwrap();
    assert_eq!((t.name(), t.bucket(), t.region(), t.key_prefix()), ("acme", "mail", "garage", "acme/"));
    assert_eq!((t.scheme(), t.authority(), t.request_authority()), ("http", "127.0.0.1:3900", "127.0.0.1:3900"));
    assert_eq!((t.timeout(), t.max_retries(), t.verify_after_write()), (Duration::from_secs(30), 3, true));
    assert_eq!(t.checksum(), Checksum::Auto);
    assert_eq!(t.credentials_source(), "the settings");
    assert!(!format!("{t:?}").contains("inline-secret-value"), "Debug redacts secrets");

    // Default ports are dropped here, and only here; the virtual-host name is the bucket's.
    let t = garage().endpoint("HTTPS://S3.Example.com:443").virtual_hosted_style(true).build().unwrap();
    assert_eq!((t.scheme(), t.authority(), t.request_authority()), ("https", "s3.example.com", "mail.s3.example.com"));
    assert_eq!(t.endpoint(), "https://s3.example.com");
    let aws = TenantSettings::builder("a").bucket("b").region("eu-west-1").access_key("k").secret_key("s");
    assert_eq!(aws.build().unwrap().endpoint(), "https://s3.eu-west-1.amazonaws.com");
}

#[test]
fn every_check_of_the_file_is_made_by_build_naming_the_field() {
    let cases: Vec<(TenantSettingsBuilder, &str)> = vec![
        (garage().bucket(""), "bucket"),
        (TenantSettings::builder("acme").region("garage").endpoint("http://h"), "bucket"),
        (garage().endpoint("127.0.0.1:3900/x"), "endpoint"),
        (garage().endpoint("ftp://h"), "endpoint"),
        (garage().endpoint("http://h/path"), "endpoint"),
        (TenantSettings::builder("acme").bucket("b").region("us-est-1"), "region"),
        (garage().timeout(Duration::ZERO), "timeout"),
        (garage().part_size(1 << 20), "partSize"),
        (garage().multipart_threshold(6 << 30), "multipartThreshold"),
        (garage().part_concurrency(0), "partConcurrency"),
        (garage().limits(Limits { memory: 1 << 20, ..Limits::default() }), "limits.memory"),
        (garage().limits(Limits { cpu_time: Duration::from_millis(1), ..Limits::default() }), "limits.cpuTime"),
        (garage().limits(Limits { concurrency: 0, ..Limits::default() }), "limits.concurrency"),
        (garage().bucket("Mail_Box").virtual_hosted_style(true), "virtualHostedStyle"),
        (garage().ca_file("/nonexistent/ca.pem"), "caFile"),
        (garage().ca_pem("not a certificate"), "caPem"),
        (TenantSettings::builder("acme").bucket("b").region("garage").endpoint("http://h").access_key("k"), "secretKey"),
    ];
    for (builder, field) in cases {
        let e = builder.build_with_env(&|_| None).unwrap_err();
        assert_eq!(e.field(), Some(field), "{e}");
        let shown = e.to_string();
        assert!(shown.contains("tenant \"acme\"") && shown.contains(field) && !shown.contains('\n'), "{shown}");
    }
}

#[test]
fn a_tenant_without_keys_never_borrows_the_hosts_credentials() {
    let keyless = || TenantSettings::builder("acme").bucket("operators-bucket").region("garage").endpoint("http://h");
    let e = keyless().build_with_env(&host_env).unwrap_err();
    assert_eq!(e.field(), Some("accessKey"));
    assert!(e.to_string().contains("ambientCredentials"), "{e}");
    assert!(!e.to_string().contains("AKIDHOST"), "{e}");

    let opted_in = keyless().ambient_credentials(true).build_with_env(&host_env).unwrap();
    assert_eq!(opted_in.credentials().access_key_id.expose(), "AKIDHOST");
    assert!(opted_in.credentials_source().contains("AWS_"), "{}", opted_in.credentials_source());

    // Its own keys win, opted in or not.
    let own = garage().ambient_credentials(true).build_with_env(&host_env).unwrap();
    assert_eq!(own.credentials().access_key_id.expose(), "GK123");
}

#[test]
fn a_session_token_set_in_code_is_sent() {
    let t = garage().session_token("token-value").build_with_env(&|_| None).unwrap();
    assert_eq!(t.credentials().session_token.as_ref().map(|s| s.expose()), Some("token-value"));
    assert!(!format!("{t:?}").contains("token-value"));
}
