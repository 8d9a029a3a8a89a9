//! Empty: it makes cargo resolve this crate's build-dependencies (Cargo.toml says why).
fn main() {}
