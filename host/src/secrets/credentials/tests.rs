use super::*;

const FILE: &str = "# shared credentials\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n\n[mail]\naws_access_key_id=AKIDMAIL\naws_secret_access_key=mail-secret\naws_session_token = mail-token\n";

fn env_with(file: &std::path::Path, extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let mut vars: BTreeMap<String, String> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    vars.insert("AWS_SHARED_CREDENTIALS_FILE".into(), file.display().to_string());
    move |name| vars.get(name).cloned()
}

#[test]
fn profiles_are_read_from_the_shared_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    std::fs::write(&path, FILE).unwrap();
    let env = env_with(&path, &[]);
    let mail = from_profile("mail", &env).unwrap();
    assert_eq!(mail.access_key_id.expose(), "AKIDMAIL");
    assert_eq!(mail.secret_access_key.expose(), "mail-secret");
    assert_eq!(mail.session_token.as_ref().unwrap().expose(), "mail-token");
    assert_eq!(from_profile("default", &env).unwrap().session_token, None);
    let missing = from_profile("nope", &env).unwrap_err();
    assert!(missing.contains("[nope]") && missing.contains("credentials"), "{missing}");
    assert!(!format!("{mail:?}").contains("mail-secret"));
}

#[test]
fn environment_credentials_need_both_keys_and_aws_profile_picks_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    let env = env_with(&path, &[("AWS_ACCESS_KEY_ID", "AKIDENV")]);
    assert!(from_environment(&env).is_none());
    let env = env_with(&path, &[("AWS_ACCESS_KEY_ID", "AKIDENV"), ("AWS_SECRET_ACCESS_KEY", "env-secret")]);
    assert_eq!(from_environment(&env).unwrap().access_key_id.expose(), "AKIDENV");
    assert_eq!(default_profile(&env), "default");
    assert_eq!(default_profile(&env_with(&path, &[("AWS_PROFILE", "mail")])), "mail");
}
