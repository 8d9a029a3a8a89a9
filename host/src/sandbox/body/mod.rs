//! The bodies a call hands the plugin (the WIT's `body` interface): a put's [`Source`] and a
//! get's [`Sink`]. The plugin moves their bytes with wasi:io `splice`, which wasmtime carries
//! out host-side, or a whole answer's body with the sink's `fill`, so a body never enters the
//! sandbox's memory. The host only moves and hashes bytes; every decision (what to send, what
//! to check, when to retry) stays the plugin's.
//!
//! source.rs and sink.rs are the resources' own state (what the generated bindings name);
//! host.rs is the interface's host side, hasher.rs the digests a sink keeps, fill.rs a sink
//! filled from a response body in the host.

mod fill;
mod hasher;
pub mod host;
pub mod sink;
pub mod source;

pub use sink::Sink;
pub use source::Source;

#[cfg(test)]
mod tests;
