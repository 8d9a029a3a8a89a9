//! The host's environment, read where a secret or a credential names a variable: the one
//! place the host reads it, so that tests can stand in for it.

/// Reads a variable of the host's environment (or a test's stand-in for it).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
