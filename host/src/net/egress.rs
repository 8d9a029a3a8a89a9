//! The operator's egress policy: which addresses a tenant's endpoint may resolve to. It is
//! checked on every address the transport would connect to (after each name lookup, so a name
//! that resolves to a public address first and a private one later is refused then), and on
//! an endpoint written as an address. The cloud metadata addresses are refused whatever the
//! policy says.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Whether tenant endpoints may be private addresses (loopback, private, link-local, CGNAT,
/// unique-local, unspecified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrivateEndpoints {
    /// The default: self-hosted Garage or MinIO on a LAN is the common case.
    #[default]
    Allow,
    /// For hosts whose tenants bring their own config: only public addresses, and the
    /// networks of [`EgressPolicy::allow_networks`].
    Deny,
}

/// Where tenants' requests may go, for the whole host (`HostOptions::egress`, the config
/// file's `[host]` table).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    pub private_endpoints: PrivateEndpoints,
    /// Networks allowed even with `PrivateEndpoints::Deny` (never the metadata addresses).
    pub allow_networks: Vec<Network>,
}

/// A network: an address and a prefix length (`10.0.5.0/24`, `fd12::/16`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Network, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| format!("\"{text}\" is not a network (e.g. \"10.0.5.0/24\")"))?;
        let addr = canonical(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.trim().parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(|| {
                format!("\"{text}\": the prefix length must be 0 to {max}")
            })?,
        };
        Ok(Network { addr, prefix })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A name resolver of the embedder's own, used instead of the system's (`getaddrinfo`) for
/// every tenant: the addresses of a host name. It is called on the async runtime, so it must
/// answer without blocking (from a cache, a table, or a resolver of its own that is). Its
/// answers pass the egress policy like the system's.
#[derive(Clone)]
pub struct NameResolver(pub std::sync::Arc<Resolve>);

/// What a [`NameResolver`] calls: the addresses of a host name.
pub type Resolve = dyn Fn(&str) -> std::io::Result<Vec<IpAddr>> + Send + Sync;

impl fmt::Debug for NameResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NameResolver(..)")
    }
}

/// Why an address is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub addr: IpAddr,
    pub class: &'static str,
    /// Refused whatever the policy says (a metadata address).
    pub always: bool,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.always {
            true => write!(f, "{} is {}, which no tenant may reach", self.addr, self.class),
            false => write!(
                f,
                "{} is {}, and the host's egress policy refuses private endpoints \
                 (privateEndpoints = \"deny\"; allowNetworks lists exceptions)",
                self.addr, self.class
            ),
        }
    }
}

impl std::error::Error for Refused {}

impl EgressPolicy {
    /// Whether a tenant may connect to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        let ip = canonical(ip);
        if is_metadata(ip) {
            return Err(Refused { addr: ip, class: "a cloud metadata address", always: true });
        }
        if self.private_endpoints == PrivateEndpoints::Allow || self.allow_networks.iter().any(|n| n.contains(ip)) {
            return Ok(());
        }
        match private_class(ip) {
            Some(class) => Err(Refused { addr: ip, class, always: false }),
            None => Ok(()),
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn is_metadata(ip: IpAddr) -> bool {
    const AWS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    ip == IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)) || ip == IpAddr::V6(AWS_V6)
}

/// The kind of private address `ip` is, or `None` for a public one.
fn private_class(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_unspecified() {
                Some("the unspecified address")
            } else if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_private() {
                Some("a private address")
            } else if v4.is_link_local() {
                Some("a link-local address")
            } else if a == 100 && (64..128).contains(&b) {
                Some("a CGNAT address")
            } else if a == 0 {
                Some("an address of this network (0.0.0.0/8)")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_unspecified() {
                Some("the unspecified address")
            } else if v6.is_loopback() {
                Some("a loopback address")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a unique-local address")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
