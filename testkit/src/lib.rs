//! Coffer's S3 test kit: an S3 server in-process, and the proxies and servers the suite puts
//! in front of a real one to make it misbehave. Each speaks real HTTP on 127.0.0.1.
//!
//! - [`EmbeddedS3`] (embedded.rs): s3s with s3s-fs over a temporary folder, checking SigV4 like
//!   any S3 service. `coffer demo` runs on it, and so does the suite when no other server is given.
//! - [`FaultProxy`] (faults.rs): forwards to a real server, and injects what backends and
//!   networks do wrong (errors, resets, stalls, trickles, bodies cut short or damaged), by rules.
//! - [`Persona`] (personas.rs): the fault proxy playing another provider in front of Garage:
//!   it refuses what that provider refuses (docs/providers.md).
//! - [`HostileServer`] (hostile_server.rs): an S3 server that stores nothing and answers each
//!   request with one kind of lie or abuse, on a raw socket. The hostile *plugin*, which attacks
//!   the host from inside the sandbox, is another thing: the crate in `tests/hostile-plugin/`.
//! - [`StallProxy`] (stall.rs): forwards every request and never an answer.
//! - [`RateProxy`] (rate.rs): caps each connection's rate from the server, as a provider does.
//! - [`TlsProxy`] (tls_proxy.rs): TLS in front of a plain-HTTP server, with a CA of its own.
//!
//! pieces.rs is the response body the proxies answer with; listen.rs their listener.

mod embedded;
mod faults;
mod hostile_server;
mod listen;
mod personas;
mod pieces;
mod rate;
mod stall;
mod tls_proxy;

pub use embedded::EmbeddedS3;
pub use faults::{Fault, FaultProxy, Rule, When};
pub use hostile_server::{Abuse, HostileServer};
pub use listen::accept_on_own_thread;
pub use personas::Persona;
pub use rate::RateProxy;
pub use stall::StallProxy;
pub use tls_proxy::TlsProxy;
