//! Names to addresses for the pools' connectors: the system's resolver (or the embedder's),
//! `localhost` answered locally, and every answer filtered by the operator's egress policy.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use tower_service::Service;

use crate::net::egress::{EgressPolicy, NameResolver};

/// The system resolver, except that `localhost` and every name under it is the loopback
/// address without asking anyone (RFC 6761, section 6.3); its answers filtered by the host's
/// egress policy. A name all of whose addresses are refused fails to connect with the refusal.
#[derive(Clone)]
pub(crate) struct Resolver {
    system: GaiResolver,
    own: Option<NameResolver>,
    policy: Arc<EgressPolicy>,
}

impl Resolver {
    pub(crate) fn new(system: GaiResolver, own: Option<NameResolver>, policy: Arc<EgressPolicy>) -> Resolver {
        Resolver { system, own, policy }
    }
}

type Addrs = std::vec::IntoIter<SocketAddr>;
type Resolving = Pin<Box<dyn Future<Output = Result<Addrs, std::io::Error>> + Send>>;

impl Service<Name> for Resolver {
    type Response = Addrs;
    type Error = std::io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.system.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy.clone();
        let resolving: Resolving = match (is_localhost(name.as_str()), &self.own) {
            (true, _) => Box::pin(async move { Ok(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))].into_iter()) }),
            (false, Some(own)) => {
                let addrs = (own.0)(name.as_str()).map(|ips| ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect::<Vec<_>>());
                Box::pin(async move { Ok(addrs?.into_iter()) })
            }
            (false, None) => {
                let resolving = self.system.call(name.clone());
                Box::pin(async move { Ok(resolving.await?.collect::<Vec<_>>().into_iter()) })
            }
        };
        Box::pin(async move { Ok(allowed(&policy, name.as_str(), resolving.await?.collect())?.into_iter()) })
    }
}

/// The addresses of `name` the policy allows; the first refusal when it allows none (the
/// request's failure is then logged under its tenant's name, by `Transport::classify`).
fn allowed(policy: &EgressPolicy, name: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, std::io::Error> {
    let mut first_refusal = None;
    let mut kept = Vec::with_capacity(addrs.len());
    for addr in addrs {
        match policy.check(addr.ip()) {
            Ok(()) => kept.push(addr),
            Err(refused) => {
                tracing::warn!(target: "coffer_host::transport", name, "outgoing connection denied: {name} resolves to {refused}");
                first_refusal.get_or_insert(refused);
            }
        }
    }
    match (kept.is_empty(), first_refusal) {
        (true, Some(refused)) => Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, refused)),
        _ => Ok(kept),
    }
}

fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests;
