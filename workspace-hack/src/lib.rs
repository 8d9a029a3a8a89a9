//! No code: this crate only turns on features, so that the demo, the tests and the C library
//! share one build of their dependencies. Cargo.toml says why.
