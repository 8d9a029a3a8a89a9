//! Property tests of the host's parsers: the config file (its text, and values of every type in
//! every field), the networks of the egress policy and the ranges callers pass. Any input ends
//! in a value or in an error that names what was wrong, never in a panic. CI runs proptest's
//! default 256 cases per property; the long pass sets `PROPTEST_CASES` (docs/testing.md).

use proptest::prelude::*;

use super::*;
use crate::net::egress::Network;

/// Every key of a tenant's table, by its file name (a dotted key names one inside a table).
fn fields() -> Vec<&'static str> {
    super::keys::KEYS.iter().map(|key| key.name).collect()
}

/// A TOML value of any type: what an operator (or a tenant who brings its own config) may
/// write in any field.
fn toml_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<String>().prop_map(|s| format!("{s:?}").replace("\\u{", "\\u{").replace('\'', "")),
        "[a-z0-9./:_ -]{0,20}".prop_map(|s| format!("\"{s}\"")),
        Just("\"30s\"".to_string()),
        Just("\"5MiB\"".to_string()),
        Just("{ env = \"COFFER_FUZZ_UNSET\" }".to_string()),
        Just("{ file = \"/nonexistent/coffer\" }".to_string()),
        Just("{ other = 1 }".to_string()),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| proptest::collection::vec(inner, 0..4).prop_map(|v| format!("[{}]", v.join(", "))))
}

/// GOOD with pieces of text put in, taken out or swapped.
fn mutated_config() -> impl Strategy<Value = String> {
    (0..GOOD.len(), 0..GOOD.len(), any::<String>()).prop_map(|(a, b, insert)| {
        let (a, b) = (a.min(b), a.max(b));
        let bytes = GOOD.as_bytes();
        String::from_utf8_lossy(&[&bytes[..a], insert.as_bytes(), &bytes[b..]].concat()).into_owned()
    })
}

fn every_tenant_validates_or_names_its_field(config: &Config) -> Result<(), TestCaseError> {
    let env = |_: &str| None;
    for (name, tenant) in &config.tenants {
        if let Err(error) = validate(&config.origin, Path::new(""), name, tenant, &env) {
            let shown = error.to_string();
            prop_assert!(shown.starts_with("t.toml: "), "{shown}");
        }
    }
    let _ = config.egress();
    Ok(())
}

proptest! {
    #[test]
    fn fuzz_config_text(text in prop_oneof![any::<String>(), mutated_config()]) {
        match Config::parse(&text, "t.toml") {
            Ok(config) => every_tenant_validates_or_names_its_field(&config)?,
            Err(error) => prop_assert!(error.to_string().starts_with("t.toml: "), "{error}"),
        }
    }

    /// A value of any type in any field: accepted, or refused by an error that names the field
    /// (or, for a key inside a table, one of that table's: `encryption.keyId` alone is refused
    /// for the `encryption.key` it lacks).
    #[test]
    fn fuzz_config_values_name_their_field(field in proptest::sample::select(fields()), value in toml_value()) {
        let named = field.rsplit_once('.').map_or(field, |(table, _)| table);
        let text = format!("[tenants.acme]\nbucket = \"mail\"\nregion = \"garage\"\nendpoint = \"http://127.0.0.1:3900\"\naccessKey = \"a\"\nsecretKey = \"s\"\n{field} = {value}\n");
        match Config::parse(&text, "t.toml") {
            Ok(config) => {
                let env = |_: &str| None;
                if let Err(error) = validate("t.toml", Path::new(""), "acme", &config.tenants["acme"], &env) {
                    let shown = error.to_string();
                    prop_assert!(shown.contains(named) || shown.contains("credentials"), "{field} = {value}: {shown}");
                }
            }
            Err(error) => {
                let shown = error.to_string();
                prop_assert!(shown.contains(named) || shown.contains("duplicate key"), "{field} = {value}: {shown}");
            }
        }
    }

    #[test]
    fn fuzz_networks(text in prop_oneof![any::<String>(), "[0-9a-f.:]{0,40}(/[0-9]{0,4})?"]) {
        if let Err(message) = text.parse::<Network>() {
            prop_assert!(message.contains(&text), "{message}");
        }
    }

    #[test]
    fn fuzz_ranges(start in any::<u64>(), end in any::<u64>(), shape in 0u8..5) {
        use std::ops::Bound::*;
        let bounds = match shape {
            0 => (Included(start), Excluded(end)),
            1 => (Included(start), Included(end)),
            2 => (Included(start), Unbounded),
            3 => (Excluded(start), Excluded(end)),
            _ => (Unbounded, Included(end)),
        };
        let range = crate::api::tenant::byte_range(&bounds).map(|r| (r.start, r.end));
        if shape == 0 {
            // `a..b` is [a, b): the whole object for 0..u64::MAX, to the end for a..u64::MAX.
            let expected = match (start, end) {
                (0, u64::MAX) => None,
                (start, u64::MAX) => Some((start, None)),
                (start, end) => Some((start, Some(end))),
            };
            prop_assert_eq!(range, expected);
        }
    }
}
