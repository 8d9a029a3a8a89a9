//! Where a tenant's requests go, parsed once from its settings: scheme, host and port, and the
//! key its connections are pooled by. The settings, the sandbox's egress check, the transport
//! and the pools all read this one value; nothing joins and parses it again.

/// A tenant's endpoint: `http` or `https`, a host (lowercase; an IPv6 address in brackets) and
/// a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: &'static str,
    host: String,
    port: u16,
    /// `host[:port]`, the port left out when it is the scheme's default.
    authority: String,
}

impl Endpoint {
    /// `scheme://host[:port]`, nothing more (no path, query or user); the error says why not.
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        let url = url::Url::parse(text).map_err(|e| format!("\"{text}\" is not a URL ({e})"))?;
        let scheme = match url.scheme() {
            "http" => "http",
            "https" => "https",
            _ => return Err(format!("\"{text}\": the scheme must be http or https")),
        };
        if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
            return Err(format!("\"{text}\": give only scheme://host[:port], no path, query or user"));
        }
        let host = url.host_str().ok_or_else(|| format!("\"{text}\" has no host"))?.to_ascii_lowercase();
        // Url::port() is None for the scheme's default port.
        let port = url.port().unwrap_or(default_port(scheme));
        Ok(Endpoint::new(scheme, host, port))
    }

    fn new(scheme: &'static str, host: String, port: u16) -> Endpoint {
        let authority = match port == default_port(scheme) {
            true => host.clone(),
            false => format!("{host}:{port}"),
        };
        Endpoint { scheme, host, port, authority }
    }

    /// The same endpoint with the bucket in front of its host, for virtual-hosted style.
    pub fn with_bucket(&self, bucket: &str) -> Endpoint {
        Endpoint::new(self.scheme, format!("{bucket}.{}", self.host).to_ascii_lowercase(), self.port)
    }

    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, the scheme's default spelled out.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host[:port]` without the scheme's default port: what the plugin writes in its
    /// requests, and what the sandbox lets them go to.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// What connections to it are pooled by.
    pub fn pool_key(&self) -> String {
        pool_key(self.scheme, &self.host, self.port)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

/// The port a scheme's URLs leave out.
pub fn default_port(scheme: &str) -> u16 {
    if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 }
}

/// `scheme://host:port`, lowercase, the port spelled out: the one spelling of a pool's key,
/// for an [`Endpoint`] and for the URI a connector is handed.
pub(crate) fn pool_key(scheme: &str, host: &str, port: u16) -> String {
    format!("{scheme}://{host}:{port}").to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
