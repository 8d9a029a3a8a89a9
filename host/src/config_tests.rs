use super::*;

const GOOD: &str = r#"
[tenants.acme]
bucket = "mail"
region = "garage"
endpoint = "http://127.0.0.1:3900"
accessKey = "GK123"
secretKey = "inline-secret-value"
keyPrefix = "acme/"
"#;

#[test]
fn a_good_tenant_gets_its_defaults() {
    let t = Config::parse(GOOD, "coffer.toml").unwrap().tenant(None).unwrap();
    assert_eq!((t.bucket.as_str(), t.region.as_str(), t.key_prefix.as_str()), ("mail", "garage", "acme/"));
    assert_eq!((t.scheme.as_str(), t.authority.as_str()), ("http", "127.0.0.1:3900"));
    assert_eq!(t.timeout, Duration::from_secs(30));
    assert_eq!(t.max_retries, 3);
    assert!(t.verify_after_write);
    assert!(!format!("{t:?}").contains("inline-secret-value"), "Debug redacts secrets");
}

#[test]
fn without_an_endpoint_the_region_names_the_aws_endpoint() {
    let text = "[tenants.a]\nbucket = \"b\"\nregion = \"eu-west-1\"\naccessKey = \"k\"\nsecretKey = \"s\"\n";
    let t = Config::parse(text, "f").unwrap().tenant(Some("a")).unwrap();
    assert_eq!(t.endpoint, "https://s3.eu-west-1.amazonaws.com");
}

#[test]
fn errors_name_the_file_tenant_and_field() {
    let unknown = Config::parse(&GOOD.replace("keyPrefix", "keyPrefx"), "coffer.toml").unwrap_err().to_string();
    assert!(unknown.contains("coffer.toml") && unknown.contains("keyPrefx"), "{unknown}");

    let bad_timeout = format!("{GOOD}timeout = \"soon\"\n");
    let e = Config::parse(&bad_timeout, "c.toml").unwrap().tenant(None).unwrap_err().to_string();
    assert!(e.contains("\"acme\"") && e.contains("timeout") && e.contains("soon"), "{e}");

    let bad_url = GOOD.replace("http://127.0.0.1:3900", "127.0.0.1:3900/x");
    let e = Config::parse(&bad_url, "c.toml").unwrap().tenant(None).unwrap_err().to_string();
    assert!(e.contains("endpoint"), "{e}");

    let env = GOOD.replace("\"inline-secret-value\"", "{ env = \"COFFER_TEST_UNSET_SECRET_VAR\" }");
    let e = Config::parse(&env, "c.toml").unwrap().tenant(None).unwrap_err().to_string();
    assert!(e.contains("secretKey") && e.contains("COFFER_TEST_UNSET_SECRET_VAR"), "{e}");

    let missing = GOOD.replace("bucket = \"mail\"\n", "");
    let e = Config::parse(&missing, "c.toml").unwrap_err().to_string();
    assert!(e.contains("bucket"), "{e}");
}

#[test]
fn the_default_tenant_is_the_only_one_else_they_are_listed() {
    let two = format!("{GOOD}\n[tenants.beta]\nbucket = \"b\"\naccessKey = \"k\"\nsecretKey = \"s\"\n");
    let config = Config::parse(&two, "c.toml").unwrap();
    let e = config.tenant(None).unwrap_err().to_string();
    assert!(e.contains("acme, beta"), "{e}");
    let e = config.tenant(Some("gamma")).unwrap_err().to_string();
    assert!(e.contains("gamma") && e.contains("acme, beta"), "{e}");
    assert_eq!(config.tenant(Some("beta")).unwrap().bucket, "b");
}
