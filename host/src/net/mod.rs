//! The network: a tenant's transport (transport.rs), the connection pools tenants share
//! (pools.rs), names resolved through the operator's egress policy (resolver.rs, egress.rs),
//! TLS trust, the quick-ACK connector, the embedder's interceptor (interceptor.rs), and when a
//! late read is sent again (hedge.rs).

pub mod egress;
pub(crate) mod hedge;
pub mod interceptor;
pub mod pools;
pub mod quickack;
pub mod resolver;
pub mod tls;
pub mod transport;
