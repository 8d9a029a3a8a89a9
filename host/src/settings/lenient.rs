//! Settings that are numbers or booleans, read from TOML's own types or from strings, since a
//! mail server's settings store (Stalwart's, a C caller's key/value pairs) keeps every value as
//! a string: `maxRetries = 3` and `maxRetries = "3"` mean the same.

use serde::{Deserialize, Deserializer, de::Error as _};

#[derive(Deserialize)]
#[serde(untagged)]
enum Either<T> {
    Typed(T),
    Text(String),
}

/// An optional boolean: `true`, `false`, `"true"` or `"false"`.
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Either<bool>>::deserialize(d)? {
        None => Ok(None),
        Some(Either::Typed(value)) => Ok(Some(value)),
        Some(Either::Text(text)) => match text.trim() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            other => Err(D::Error::custom(format!("\"{other}\" is neither true nor false"))),
        },
    }
}

/// An optional whole number: `3` or `"3"`.
pub fn number<'de, D: Deserializer<'de>, T>(d: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de> + std::str::FromStr,
{
    match Option::<Either<T>>::deserialize(d)? {
        None => Ok(None),
        Some(Either::Typed(value)) => Ok(Some(value)),
        Some(Either::Text(text)) => {
            text.trim().parse().map(Some).map_err(|_| D::Error::custom(format!("\"{text}\" is not a whole number")))
        }
    }
}
