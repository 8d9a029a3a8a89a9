//! The network: a tenant's transport (transport.rs), the connection pools tenants share
//! (pools.rs), TLS trust, the operator's egress policy, and the quick-ACK connector.

pub mod egress;
pub mod pools;
pub mod quickack;
pub mod tls;
pub mod transport;
