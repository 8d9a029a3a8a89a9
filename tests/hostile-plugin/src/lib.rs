//! A hostile plugin: it exports Coffer's store from the same WIT as the real plugin, and `get`
//! does whatever its key asks, each an attempt to get out of the sandbox or to bring the host
//! down. The sandbox tests (tests/suite/sandbox.rs) check that each is contained.
//!
//! | key | what it tries |
//! |---|---|
//! | `fetch:URL` | a request to URL (another host, a private address, another tenant's endpoint) |
//! | `read-file:PATH` | reading a file of the host (feature `filesystem`: imports wasi:filesystem) |
//! | `tcp-connect:IP:PORT` | a raw TCP connect (feature `sockets`: imports wasi:sockets) |
//! | `lookup:NAME` | a name lookup (feature `sockets`) |
//! | `read-env` | reading the host's environment (answers the variables it sees) |
//! | `config` | what the config interface tells it (answers settings and credentials) |
//! | `spin` | an endless loop |
//! | `memory-bomb` | allocating until memory runs out |
//! | `panic` | a panic (the message goes to stderr) |
//! | `huge-response` | a write into the sink of a list claiming 3 GiB that its memory does not hold |
//! | `print` | a line to stdout, then an ordinary answer |
//! | `count` | answers how many `count` calls its instance has served (state kept between calls) |
//! | `grow` | grows its memory by 32 MiB and keeps it |

#[cfg(target_arch = "wasm32")]
mod bindings {
    // Its own wasi bindings (generate_all), where the real plugin maps them to the wasip2 crate.
    wit_bindgen::generate!({ path: "../../wit", world: "plugin", generate_all });
}

#[cfg(target_arch = "wasm32")]
mod hostile {
    use crate::bindings::coffer::blobstore::body::{Sink, Source};
    use crate::bindings::coffer::blobstore::config;
    use crate::bindings::coffer::blobstore::types::{Check, Page, UploadPage};
    use crate::bindings::exports::coffer::blobstore::store::{ByteRange, Error, ErrorKind, Guest, ObjectInfo};
    use crate::bindings::wasi::http::outgoing_handler;
    use crate::bindings::wasi::http::types::{Fields, OutgoingRequest, Scheme};

    struct Hostile;

    impl Guest for Hostile {
        fn get(key: String, _range: Option<ByteRange>, into: &Sink, _hedge_after_us: Option<u64>) -> Result<bool, Error> {
            match attack(&key, into)? {
                Some(bytes) => answer(into, &bytes).map(|()| true),
                None => Ok(false),
            }
        }

        fn put(_key: String, _body: &Source) -> Result<(), Error> {
            Ok(())
        }

        fn delete(_key: String) -> Result<bool, Error> {
            Ok(false)
        }

        fn stat(_key: String) -> Result<Option<ObjectInfo>, Error> {
            Ok(None)
        }

        fn list(_prefix: String, _start_after: Option<String>, _max: u32) -> Result<Page, Error> {
            Ok(Page { objects: Vec::new(), next: None })
        }

        fn list_uploads(_prefix: String, _after: Option<(String, String)>) -> Result<UploadPage, Error> {
            Ok(UploadPage { uploads: Vec::new(), next: None })
        }

        fn abort_upload(_key: String, _upload_id: String) -> Result<(), Error> {
            Ok(())
        }
    }

    /// Writes `bytes` into the sink, as a get answers.
    fn answer(into: &Sink, bytes: &[u8]) -> Result<(), Error> {
        into.reset(Check::None)?;
        let out = into.write();
        for chunk in bytes.chunks(4096) {
            out.blocking_write_and_flush(chunk).map_err(|e| other(format!("{e:?}")))?;
        }
        Ok(())
    }

    /// What the key asks for: the bytes to answer, `None` for "no such object".
    fn attack(key: &str, into: &Sink) -> Result<Option<Vec<u8>>, Error> {
        let (what, arg) = key.split_once(':').unwrap_or((key, ""));
        escape(what, arg).or_else(|| abuse(what, into)).unwrap_or_else(|| plain(what))
    }

    /// An attempt to reach what the sandbox keeps out: another host, a file, a socket, the
    /// host's environment, another tenant's settings; `None` when `what` is none of them.
    fn escape(what: &str, arg: &str) -> Option<Result<Option<Vec<u8>>, Error>> {
        Some(match what {
            "fetch" => fetch(arg).map(|status| Some(status.into_bytes())).map_err(other),
            #[cfg(feature = "filesystem")]
            "read-file" => match std::fs::read(arg) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) => Err(other(format!("read {arg}: {e}"))),
            },
            #[cfg(feature = "sockets")]
            "tcp-connect" => crate::sockets::connect(arg).map(|s| Some(s.into_bytes())).map_err(other),
            #[cfg(feature = "sockets")]
            "lookup" => crate::sockets::lookup(arg).map(|s| Some(s.into_bytes())).map_err(other),
            "read-env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
                Ok(Some(vars.join("\n").into_bytes()))
            }
            "config" => {
                let s = config::get_settings();
                let c = config::get_credentials();
                let seen = format!(
                    "bucket={} endpoint={}://{} region={} prefix={} access={} secret={} token={:?}",
                    s.bucket, s.scheme, s.authority, s.region, s.key_prefix, c.access_key_id, c.secret_access_key, c.session_token
                );
                Ok(Some(seen.into_bytes()))
            }
            _ => return None,
        })
    }

    /// An abuse of the instance's limits: CPU, memory, a panic, a lie about a list's length.
    fn abuse(what: &str, into: &Sink) -> Option<Result<Option<Vec<u8>>, Error>> {
        Some(match what {
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory-bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![0xAB; 16 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("hostile plugin panics on purpose"),
            "huge-response" => {
                // A list whose length runs far past the end of this instance's memory: the
                // host must refuse to read it, not read the host's own memory.
                let claimed = 3usize << 30;
                let small = std::mem::ManuallyDrop::new(vec![0u8; 16]);
                let lie = unsafe { std::slice::from_raw_parts(small.as_ptr(), claimed) };
                let _ = into.reset(Check::None);
                let _ = into.write().write(lie);
                Ok(Some(Vec::new()))
            }
            _ => return None,
        })
    }

    /// What shows an instance's life: the calls it served, memory kept, its output.
    fn plain(what: &str) -> Result<Option<Vec<u8>>, Error> {
        match what {
            "count" => {
                // State kept by the instance: it shows which calls an instance served.
                static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                Ok(Some(n.to_string().into_bytes()))
            }
            "grow" => {
                // Grow the instance's memory by 32 MiB and keep it.
                // black_box: else the optimiser drops an allocation nobody reads.
                let hoard = Box::leak(std::hint::black_box(vec![1u8; 32 << 20]).into_boxed_slice());
                Ok(Some(vec![std::hint::black_box(&*hoard)[hoard.len() - 1]]))
            }
            "print" => {
                println!("hostile plugin says hello on stdout");
                // Unbuffered stderr writes each argument on its own: the log has one line.
                eprintln!("hostile plugin counts {} {} {} on stderr", 1, 2, 3);
                Ok(Some(b"printed".to_vec()))
            }
            _ => Ok(None),
        }
    }

    fn other(message: String) -> Error {
        Error { kind: ErrorKind::Other, message, status: None, s3_code: None }
    }

    /// Sends a GET to `url` (`http://host[:port]/path`); the status, or the error code.
    fn fetch(url: &str) -> Result<String, String> {
        let (scheme, rest) = url.split_once("://").ok_or("fetch:URL")?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let request = OutgoingRequest::new(Fields::new());
        let _ = request.set_scheme(Some(&if scheme == "https" { Scheme::Https } else { Scheme::Http }));
        let _ = request.set_authority(Some(authority));
        let _ = request.set_path_with_query(Some(if path.is_empty() { "/" } else { path }));
        let pending = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
        pending.subscribe().block();
        match pending.get() {
            Some(Ok(Ok(response))) => Ok(format!("status {}", response.status())),
            Some(Ok(Err(e))) => Err(format!("{e:?}")),
            _ => Err("no response".into()),
        }
    }

    crate::bindings::export!(Hostile with_types_in crate::bindings);
}

/// Raw sockets, outside wasi:http and its egress check.
#[cfg(all(target_arch = "wasm32", feature = "sockets"))]
mod sockets {
    use wasip2::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
    use wasip2::sockets::{instance_network, ip_name_lookup, tcp_create_socket};

    /// A TCP connect to `127.0.0.1:PORT`-style `arg`.
    pub fn connect(arg: &str) -> Result<String, String> {
        let (ip, port) = arg.rsplit_once(':').ok_or("tcp-connect:IP:PORT")?;
        let octets: Vec<u8> = ip.split('.').filter_map(|o| o.parse().ok()).collect();
        let [a, b, c, d] = octets[..] else { return Err("an IPv4 address".into()) };
        let port = port.parse().map_err(|_| "a port")?;
        let network = instance_network::instance_network();
        let socket = tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4).map_err(|e| format!("{e:?}"))?;
        let to = IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address: (a, b, c, d) });
        socket.start_connect(&network, to).map_err(|e| format!("{e:?}"))?;
        socket.subscribe().block();
        socket.finish_connect().map(|_| "connected".to_string()).map_err(|e| format!("{e:?}"))
    }

    /// The addresses of `name`.
    pub fn lookup(name: &str) -> Result<String, String> {
        let network = instance_network::instance_network();
        let answers = ip_name_lookup::resolve_addresses(&network, name).map_err(|e| format!("{e:?}"))?;
        answers.subscribe().block();
        Ok(format!("{:?}", answers.resolve_next_address()))
    }
}
