//! Secrets and credentials: a value whose Debug redacts it, where it comes from (inline, the
//! environment, a file), and AWS-style profiles and environment credentials.

pub mod credentials;
pub mod env;
pub mod secret;
