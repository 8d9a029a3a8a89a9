use super::*;
use std::time::Duration;

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
    assert_eq!((t.bucket(), t.region(), t.key_prefix()), ("mail", "garage", "acme/"));
    assert_eq!((t.scheme(), t.authority()), ("http", "127.0.0.1:3900"));
    assert_eq!(t.timeout(), Duration::from_secs(30));
    assert_eq!(t.max_retries(), 3);
    assert!(t.verify_after_write());
    assert!(!t.virtual_hosted_style() && !t.trust().allow_invalid_certs && t.trust().ca_certs.is_empty());
    assert_eq!(t.request_authority(), "127.0.0.1:3900");
    assert!(!format!("{t:?}").contains("inline-secret-value"), "Debug redacts secrets");
}

#[test]
fn without_an_endpoint_the_region_names_the_aws_endpoint() {
    let text = "[tenants.a]\nbucket = \"b\"\nregion = \"eu-west-1\"\naccessKey = \"k\"\nsecretKey = \"s\"\n";
    let t = Config::parse(text, "f").unwrap().tenant(Some("a")).unwrap();
    assert_eq!(t.endpoint(), "https://s3.eu-west-1.amazonaws.com");
}

#[test]
fn errors_name_the_file_tenant_and_field() {
    let unknown = Config::parse(&GOOD.replace("keyPrefix", "keyPrefx"), "coffer.toml").unwrap_err().to_string();
    assert!(unknown.contains("coffer.toml") && unknown.contains("keyPrefx"), "{unknown}");
    assert!(unknown.contains("did you mean \"keyPrefix\""), "{unknown}");

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
    assert_eq!(config.tenant(Some("beta")).unwrap().bucket(), "b");
}

fn parse_with_env(text: &str, vars: &[(&str, &str)]) -> Result<TenantSettings, ConfigError> {
    let vars: std::collections::BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let env = move |name: &str| vars.get(name).cloned();
    let config = Config::parse(text, "c.toml").unwrap();
    let (name, tenant) = config.tenants.iter().next().unwrap();
    validate("c.toml", Path::new(""), name, tenant, &env)
}

#[test]
fn an_unknown_aws_region_suggests_the_nearest_and_any_name_goes_with_an_endpoint() {
    let e = Config::parse("[tenants.a]\nbucket = \"b\"\nregion = \"us-est-1\"\naccessKey = \"k\"\nsecretKey = \"s\"\n", "c")
        .unwrap()
        .tenant(None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("region") && e.contains("\"us-east-1\""), "{e}");
    assert_eq!(Config::parse(GOOD, "c").unwrap().tenant(None).unwrap().region(), "garage");
    let r2 = GOOD.replace("\"garage\"", "\"auto\"");
    assert_eq!(Config::parse(&r2, "c").unwrap().tenant(None).unwrap().region(), "auto");
}

#[test]
fn credentials_come_from_the_tenant_and_from_the_host_only_when_it_opts_in() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    std::fs::write(&file, "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = sd\n[mail]\naws_access_key_id = AKIDMAIL\naws_secret_access_key = sm\naws_session_token = tm\n").unwrap();
    let file = file.display().to_string();
    let bare = "[tenants.a]\nbucket = \"b\"\nregion = \"garage\"\nendpoint = \"http://127.0.0.1:3900\"\n";
    let ambient = format!("{bare}ambientCredentials = true\n");
    let env_keys = [("AWS_SHARED_CREDENTIALS_FILE", file.as_str()), ("AWS_ACCESS_KEY_ID", "AKIDENV"), ("AWS_SECRET_ACCESS_KEY", "se")];
    let access = |t: &TenantSettings| t.credentials().access_key_id.expose().to_string();

    // 1. The tenant's own keys win over everything.
    let t = parse_with_env(GOOD, &env_keys).unwrap();
    assert_eq!(access(&t), "GK123");
    // 2. A profile the tenant names wins over the environment.
    let t = parse_with_env(&format!("{bare}profile = \"mail\"\n"), &env_keys).unwrap();
    assert_eq!((access(&t).as_str(), t.credentials().session_token.as_ref().unwrap().expose()), ("AKIDMAIL", "tm"));
    // A token set in the config wins over the profile's.
    let t = parse_with_env(&format!("{bare}profile = \"mail\"\nsessionToken = \"cfg\"\nsecurityToken = \"other\"\n"), &env_keys).unwrap();
    assert_eq!(t.credentials().session_token.as_ref().unwrap().expose(), "cfg");
    // 3. Without keys or a profile, the host's AWS_* and default profile are never borrowed...
    let only_file = [("AWS_SHARED_CREDENTIALS_FILE", file.as_str())];
    for env in [&env_keys[..], &only_file[..]] {
        let e = parse_with_env(bare, env).unwrap_err();
        assert_eq!(e.field(), Some("accessKey"), "{e}");
        assert!(e.to_string().contains("ambientCredentials = true") && e.to_string().contains("\"a\""), "{e}");
    }
    // ...unless the tenant opts in: then the environment, then AWS_PROFILE, else default.
    assert_eq!(access(&parse_with_env(&ambient, &env_keys).unwrap()), "AKIDENV");
    assert_eq!(access(&parse_with_env(&ambient, &only_file).unwrap()), "AKIDDEFAULT");
    let with_profile = [("AWS_SHARED_CREDENTIALS_FILE", file.as_str()), ("AWS_PROFILE", "mail")];
    assert_eq!(access(&parse_with_env(&ambient, &with_profile).unwrap()), "AKIDMAIL");
    // Nothing anywhere: the error names the field and where it looked, never a value.
    let e = parse_with_env(&ambient, &[("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds")]).unwrap_err().to_string();
    assert!(e.contains("ambientCredentials") && e.contains("/nonexistent/creds"), "{e}");
    let e = parse_with_env(&format!("{bare}profile = \"nope\"\n"), &only_file).unwrap_err().to_string();
    assert!(e.contains("profile") && e.contains("[nope]"), "{e}");
    let half = format!("{bare}accessKey = \"k\"\n");
    assert!(parse_with_env(&half, &[]).unwrap_err().to_string().contains("secretKey"));
}

#[test]
fn relative_paths_are_taken_from_the_config_files_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/key"), "from-the-file\n").unwrap();
    let text = GOOD.replace("\"inline-secret-value\"", "{ file = \"secrets/key\" }") + "caFile = \"missing-ca.pem\"\n";
    std::fs::write(dir.path().join("coffer.toml"), &text).unwrap();
    // Loaded from elsewhere: the CA path is looked for beside the file, not in the current folder.
    let e = Config::load(&dir.path().join("coffer.toml")).unwrap().tenant(None).unwrap_err().to_string();
    assert!(e.contains(&dir.path().join("missing-ca.pem").display().to_string()), "{e}");
    std::fs::write(dir.path().join("coffer.toml"), text.replace("caFile = \"missing-ca.pem\"\n", "")).unwrap();
    let t = Config::load(&dir.path().join("coffer.toml")).unwrap().tenant(None).unwrap();
    assert_eq!(t.credentials().secret_access_key.expose(), "from-the-file");
}

#[test]
fn doc_examples_are_valid_configs() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut docs = String::new();
    for page in ["README.md", "docs/configuration.md", "docs/embedding.md", "docs/encryption.md"] {
        docs += &std::fs::read_to_string(format!("{root}/{page}")).unwrap_or_else(|e| panic!("{page}: {e}"));
    }
    let mut blocks = 0;
    let mut rest = docs.as_str();
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("a closed toml block");
        let text = &body[..end];
        rest = &body[end + 3..];
        if text.starts_with("[dependencies]") {
            continue; // a Cargo.toml snippet, not a Coffer config
        }
        let config = Config::parse(text, "README.md").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(!config.tenants.is_empty(), "a documented example has no tenant:\n{text}");
        // Secrets from env and files, and profiles, are stood in for: the shape is what is checked.
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        std::fs::write(&creds, "[mail]\naws_access_key_id = a\naws_secret_access_key = b\n").unwrap();
        let creds = creds.display().to_string();
        let env = move |name: &str| match name {
            "AWS_SHARED_CREDENTIALS_FILE" => Some(creds.clone()),
            _ => Some("stand-in".to_string()),
        };
        for (name, tenant) in &config.tenants {
            let mut tenant = tenant.clone();
            // A CA file named in an example is the reader's own; its loading is tested elsewhere.
            tenant.remove("caFile");
            for key in ["accessKey", "secretKey"] {
                if let Some(keys::Read::Secret(crate::secrets::secret::SecretSource::File { .. })) = tenant.get(key) {
                    tenant.read(key, &toml::Value::String("stand-in".into())).unwrap();
                }
            }
            let key = toml::Value::String("ab".repeat(32));
            if tenant.get("encryption.key").is_some() {
                tenant.read("encryption.key", &key).unwrap();
            }
            if let Some(keys::Read::Secrets(old)) = tenant.get("encryption.oldKeys") {
                let old: toml::Table = old.keys().map(|id| (id.clone(), key.clone())).collect();
                tenant.read("encryption.oldKeys", &toml::Value::Table(old)).unwrap();
            }
            validate("README.md", Path::new(""), name, &tenant, &env).unwrap_or_else(|e| panic!("{e}\n{text}"));
        }
        config.egress().unwrap_or_else(|e| panic!("{e}\n{text}"));
        blocks += 1;
    }
    assert!(blocks >= 8, "the documented examples were not found ({blocks})");
}

#[test]
fn a_bad_tenant_does_not_stop_the_others() {
    let text = format!("{GOOD}\n[tenants.broken]\nbucket = \"b\"\nregion = \"us-est-1\"\naccessKey = \"k\"\nsecretKey = \"s\"\n");
    let tenants = Config::parse(&text, "c.toml").unwrap().tenants();
    assert_eq!(tenants["acme"].as_ref().unwrap().bucket(), "mail");
    let broken = tenants["broken"].as_ref().unwrap_err().to_string();
    assert!(broken.contains("\"broken\"") && broken.contains("region"), "{broken}");
}

#[test]
fn virtual_hosted_style_puts_the_bucket_in_the_host_and_needs_a_host_name_bucket() {
    let t = Config::parse(&format!("{GOOD}virtualHostedStyle = true\n"), "c").unwrap().tenant(None).unwrap();
    assert_eq!(t.request_authority(), "mail.127.0.0.1:3900");
    let bad = GOOD.replace("\"mail\"", "\"Mail_Box\"") + "virtualHostedStyle = true\n";
    let e = Config::parse(&bad, "c").unwrap().tenant(None).unwrap_err().to_string();
    assert!(e.contains("virtualHostedStyle") && e.contains("Mail_Box"), "{e}");
    let path_style = GOOD.replace("\"mail\"", "\"Mail_Box\"");
    assert!(Config::parse(&path_style, "c").unwrap().tenant(None).is_ok(), "path style takes any bucket name");
}

#[test]
fn tls_trust_is_read_and_checked_at_load() {
    let t = Config::parse(&format!("{GOOD}allowInvalidCerts = true\n"), "c").unwrap().tenant(None).unwrap();
    assert!(t.trust().allow_invalid_certs);
    let e = Config::parse(&format!("{GOOD}caFile = \"/nonexistent/ca.pem\"\n"), "c")
        .unwrap()
        .tenant(None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"acme\"") && e.contains("caFile") && e.contains("/nonexistent/ca.pem"), "{e}");
    let e = Config::parse(&format!("{GOOD}allowInvalidCerts = \"yes\"\n"), "c").unwrap_err().to_string();
    assert!(e.contains("allowInvalidCerts") || e.contains("bool"), "{e}");
}

#[test]
fn limits_have_defaults_and_errors_name_the_field() {
    let t = Config::parse(GOOD, "c").unwrap().tenant(None).unwrap();
    assert_eq!(t.limits(), crate::sandbox::limits::Limits::default());
    let text = format!("{GOOD}\n[tenants.acme.limits]\nmemory = \"64MiB\"\ncpuTime = \"2s\"\nconcurrency = 8\n");
    let t = Config::parse(&text, "c").unwrap().tenant(None).unwrap();
    assert_eq!((t.limits().memory, t.limits().cpu_time, t.limits().concurrency), (64 << 20, Duration::from_secs(2), 8));
    for (bad, field) in [
        ("memory = \"lots\"", "limits.memory"),
        ("memory = \"1MiB\"", "limits.memory"),
        ("cpuTime = \"forever\"", "limits.cpuTime"),
        ("concurrency = 0", "limits.concurrency"),
    ] {
        let text = format!("{GOOD}\n[tenants.acme.limits]\n{bad}\n");
        let e = Config::parse(&text, "c").unwrap().tenant(None).unwrap_err().to_string();
        assert!(e.contains(field) && e.contains("\"acme\""), "{bad}: {e}");
    }
    let e = Config::parse(&format!("{GOOD}\n[tenants.acme.limits]\nmemroy = \"1GiB\"\n"), "c").unwrap_err().to_string();
    assert!(e.contains("memroy"), "{e}");
}

#[test]
fn multipart_settings_have_defaults_and_stay_within_s3_bounds() {
    let t = Config::parse(GOOD, "c").unwrap().tenant(None).unwrap();
    assert_eq!((t.multipart_threshold(), t.part_size(), t.part_concurrency()), (16 << 20, 8 << 20, 4));
    let text = format!("{GOOD}multipartThreshold = \"64MiB\"\npartSize = \"32MiB\"\npartConcurrency = 8\n");
    let t = Config::parse(&text, "c").unwrap().tenant(None).unwrap();
    assert_eq!((t.multipart_threshold(), t.part_size(), t.part_concurrency()), (64 << 20, 32 << 20, 8));
    for (bad, field) in [
        ("multipartThreshold = \"big\"", "multipartThreshold"),
        ("multipartThreshold = \"6GiB\"", "multipartThreshold"),
        ("partSize = \"1MiB\"", "partSize"),
        ("partConcurrency = 0", "partConcurrency"),
        ("partConcurrency = 1000", "partConcurrency"),
    ] {
        let e = Config::parse(&format!("{GOOD}{bad}\n"), "c").unwrap().tenant(None).unwrap_err().to_string();
        assert!(e.contains(field) && e.contains("\"acme\""), "{bad}: {e}");
    }
}

#[test]
fn the_host_table_sets_the_egress_policy_and_names_bad_fields() {
    use crate::net::egress::{EgressPolicy, PrivateEndpoints};
    let tenant = "[tenants.a]\nbucket = \"b\"\nregion = \"garage\"\nendpoint = \"http://127.0.0.1:3900\"\n";
    let config = Config::parse(tenant, "t.toml").unwrap();
    assert_eq!(config.egress().unwrap(), EgressPolicy::default(), "allow without a [host] table");

    let text = format!("[host]\nprivateEndpoints = \"deny\"\nallowNetworks = [\"10.0.5.0/24\", \"::1\"]\n{tenant}");
    let policy = Config::parse(&text, "t.toml").unwrap().egress().unwrap();
    assert_eq!(policy.private_endpoints, PrivateEndpoints::Deny);
    assert_eq!(policy.allow_networks.iter().map(ToString::to_string).collect::<Vec<_>>(), ["10.0.5.0/24", "::1/128"]);

    let error = Config::parse(&format!("[host]\nprivateEndpoints = \"no\"\n{tenant}"), "t.toml").unwrap().egress().unwrap_err();
    assert_eq!(error.field(), Some("privateEndpoints"));
    assert!(error.to_string().starts_with("t.toml: [host]: privateEndpoints: \"no\" is neither"), "{error}");
    let error = Config::parse(&format!("[host]\nallowNetworks = [\"10.0.0.0/40\"]\n{tenant}"), "t.toml").unwrap().egress().unwrap_err();
    assert!(error.to_string().contains("allowNetworks: \"10.0.0.0/40\": the prefix length must be 0 to 32"), "{error}");
    assert!(Config::parse(&format!("[host]\nprivate = 1\n{tenant}"), "t.toml").is_err(), "unknown fields are refused");

    // The connection caps.
    let options = config.host_options().unwrap();
    assert_eq!((options.max_connections_per_endpoint, options.max_connections), (None, None), "the defaults");
    let text = format!("[host]\nmaxConnectionsPerEndpoint = 16\nmaxConnections = 100\n{tenant}");
    let options = Config::parse(&text, "t.toml").unwrap().host_options().unwrap();
    assert_eq!((options.max_connections_per_endpoint, options.max_connections), (Some(16), Some(100)));
    let text = format!("[host]\nmaxConnections = 0\n{tenant}");
    let error = Config::parse(&text, "t.toml").unwrap().host_options().unwrap_err();
    assert_eq!(error.to_string(), "t.toml: [host]: maxConnections: must be at least 1");
}

#[cfg(unix)]
#[test]
fn a_config_file_with_inline_secrets_that_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coffer.toml");
    std::fs::write(&path, GOOD).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warnings = Config::load(&path).unwrap().warnings;
    assert!(warnings.len() == 1 && warnings[0].contains("readable by other users (mode 644)"), "{warnings:?}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(Config::load(&path).unwrap().warnings.is_empty());
    // No inline secret, nothing to warn about.
    let from_env = GOOD.replace("accessKey = \"GK123\"", "accessKey = { env = \"K\" }").replace("secretKey = \"inline-secret-value\"", "secretKey = { env = \"S\" }");
    std::fs::write(&path, from_env).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(Config::load(&path).unwrap().warnings.is_empty());
}

#[test]
fn values_of_the_wrong_type_name_their_tenant_and_field() {
    for (line, named) in [
        ("maxRetries = -4", "tenant \"acme\": maxRetries: "),
        ("timeout = 30", "tenant \"acme\": timeout: "),
        ("verifyAfterWrite = \"yes\"", "tenant \"acme\": verifyAfterWrite: "),
    ] {
        let text = GOOD.replace("keyPrefix = \"acme/\"", &format!("keyPrefix = \"acme/\"\n{line}"));
        let error = Config::parse(&text, "coffer.toml").unwrap_err().to_string();
        assert!(error.starts_with(&format!("coffer.toml: {named}")) && error.contains("(line 9)"), "{line}: {error}");
    }
    let dotted = GOOD.replace("keyPrefix = \"acme/\"", "keyPrefix = \"acme/\"\nlimits.concurrency = -1");
    let error = Config::parse(&dotted, "coffer.toml").unwrap_err().to_string();
    assert!(error.starts_with("coffer.toml: tenant \"acme\": limits.concurrency: ") && error.contains("(line 9)"), "{error}");
    let dotted = GOOD.replace("keyPrefix = \"acme/\"", "keyPrefix = \"acme/\"\nlimits.concurrency = \"7\"");
    assert_eq!(Config::parse(&dotted, "c").unwrap().tenant(None).unwrap().limits().concurrency, 7);
    let limits = format!("{GOOD}\n[tenants.acme.limits]\nconcurrency = \"many\"\n");
    let error = Config::parse(&limits, "coffer.toml").unwrap_err().to_string();
    assert!(error.starts_with("coffer.toml: tenant \"acme\": limits.concurrency: "), "{error}");
    let host = format!("[host]\nallowNetworks = \"10.0.0.0/8\"\n{GOOD}");
    let error = Config::parse(&host, "coffer.toml").unwrap_err().to_string();
    assert!(error.starts_with("coffer.toml: [host]: allowNetworks: "), "{error}");
}

mod fuzz;

#[test]
fn call_timeout_is_read_and_must_hold_one_whole_attempt() {
    let text = GOOD.replace("keyPrefix = \"acme/\"", "keyPrefix = \"acme/\"\ncallTimeout = \"5m\"");
    assert_eq!(parse_with_env(&text, &[]).unwrap().call_timeout(), Duration::from_secs(300));
    assert_eq!(parse_with_env(GOOD, &[]).unwrap().call_timeout(), Duration::from_secs(120), "2m by default");
    let short = GOOD.replace("keyPrefix = \"acme/\"", "keyPrefix = \"acme/\"\ntimeout = \"30s\"\ncallTimeout = \"10s\"");
    let error = parse_with_env(&short, &[]).unwrap_err();
    assert_eq!(error.field(), Some("callTimeout"));
    assert!(error.to_string().contains("10s is shorter than timeout (30s)"), "{error}");
}

#[test]
fn encryption_keys_come_in_any_secret_form_and_errors_name_the_field() {
    let hex_key = "11".repeat(32);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme.key");
    std::fs::write(&file, "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=\n").unwrap();
    let text = format!(
        "{GOOD}\n[tenants.acme.encryption]\nkey = {{ file = \"{}\" }}\nkeyId = \"2026-11\"\noldKeys = {{ \"2026-05\" = {{ env = \"ACME_OLD_KEY\" }} }}\n",
        file.display()
    );
    let t = parse_with_env(&text, &[("ACME_OLD_KEY", &hex_key)]).unwrap();
    let keys = t.encryption().unwrap();
    assert_eq!(keys.current_id(), "2026-11");
    let debug = format!("{t:?}");
    assert!(debug.contains("2026-05") && !debug.contains(&hex_key) && !debug.contains("IiIi"), "{debug}");
    // What each mistake says: the field, and never the key.
    let failed = |text: String, vars: &[(&str, &str)]| parse_with_env(&text, vars).unwrap_err();
    let e = failed(text.clone(), &[]);
    assert_eq!(e.field(), Some("encryption.oldKeys"));
    assert!(e.to_string().contains("ACME_OLD_KEY"), "{e}");
    let e = failed(text.clone(), &[("ACME_OLD_KEY", "c2hvcnQ=")]);
    assert!(e.to_string().contains("\"2026-05\" is 5 bytes") && !e.to_string().contains("c2hvcnQ"), "{e}");
    let e = failed(text.replace("2026-11", "twenty six"), &[("ACME_OLD_KEY", &hex_key)]);
    assert_eq!(e.field(), Some("encryption.keyId"));
    let e = failed(format!("{GOOD}\n[tenants.acme.encryption]\nkey = \"{}\"\nkeyId = \"k\"\n", &hex_key[..60]), &[]);
    assert_eq!(e.field(), Some("encryption.key"), "{e}");
    assert!(e.to_string().contains("30 bytes") && !e.to_string().contains(&hex_key[..60]), "{e}");
    let e = failed(format!("{GOOD}\n[tenants.acme.encryption]\nkey = \"{hex_key}\"\n"), &[]);
    assert_eq!(e.field(), Some("encryption.keyId"), "{e}");
    let e = failed(format!("{GOOD}\n[tenants.acme.encryption]\nkeyId = \"k\"\n"), &[]);
    assert_eq!(e.field(), Some("encryption.key"), "{e}");
    let e = failed(format!("{GOOD}\n[tenants.acme.encryption]\nkey = \"{hex_key}\"\nkeyId = \"a\"\noldKeys = {{ a = \"{hex_key}\" }}\n"), &[]);
    assert_eq!(e.field(), Some("encryption.oldKeys"));
}
