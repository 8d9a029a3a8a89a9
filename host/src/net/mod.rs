//! The network: a tenant's transport (transport.rs), the connection pools tenants share
//! (pools.rs), names resolved through the operator's egress policy (resolver.rs, egress.rs),
//! TLS trust, the quick-ACK connector, and the embedder's interceptor (interceptor.rs).

pub mod egress;
pub mod interceptor;
pub mod pools;
pub mod quickack;
pub mod resolver;
pub mod tls;
pub mod transport;
