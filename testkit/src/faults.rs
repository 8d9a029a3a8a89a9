//! A fault-injecting HTTP proxy in front of the real server, on 127.0.0.1. Each request goes
//! through the rules in order; the first that fires decides what happens to it, and a request no
//! rule takes is forwarded unchanged (Host header included, so signatures still match). It
//! records request headers and counts requests and the faults it injected.
//!
//! The faults are what S3 backends and networks do: answer 200 to a PUT and drop the bytes;
//! answer 500, 503 SlowDown, 429 or 400 RequestTimeout; reset the connection before the answer
//! or in the middle of its body; stall; trickle; cut a body short of its Content-Length; flip a
//! byte of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use coffer_host::quickack::QuickAckConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::listen::accept_on_own_thread;
use crate::personas::{Memory, Persona};
use crate::pieces::Pieces;

/// What the proxy does to a request a rule takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// 200 to a PUT, the bytes dropped, nothing forwarded.
    Lie,
    /// 503 with S3's SlowDown error, nothing forwarded.
    SlowDown,
    /// 500 with S3's InternalError error, nothing forwarded.
    InternalError,
    /// 429 Too Many Requests, nothing forwarded.
    TooManyRequests,
    /// 503 SlowDown with `Retry-After: N` (seconds), nothing forwarded.
    SlowDownRetryAfter(u8),
    /// 400 with S3's RequestTimeout error, nothing forwarded.
    RequestTimeout,
    /// Forwarded; the server's answer is dropped and the connection reset (TCP RST).
    ResetBeforeResponse,
    /// Forwarded; the head and half the body are sent, then the connection is reset.
    ResetMidBody,
    /// Forwarded; no answer for a minute (longer than any timeout the tests set).
    Stall,
    /// Forwarded; the answer held back this many milliseconds, then sent whole (a slow
    /// request in a server's tail).
    Delay(u32),
    /// Forwarded; the head after 50 ms, then the body 256 bytes at a time, 10 ms apart.
    Trickle,
    /// Forwarded; the head with the full Content-Length, half the body, then the connection
    /// closes (FIN).
    Truncate,
    /// Forwarded; one byte in the middle of a 200 or 206 body flipped.
    FlipByte,
}

/// Which requests a rule takes.
#[derive(Debug, Clone, Copy)]
pub enum When {
    /// Every matching request.
    Always,
    /// The first N matching requests the proxy sees.
    First(usize),
    /// The first N matching requests for each path (key).
    FirstTriesOfKey(usize),
    /// Each matching request with this probability, from a seeded generator (repeatable).
    Ratio(f64),
    /// Every matching request after the first N, which pass.
    After(usize),
    /// The `count` matching requests after the first `skip`, which pass, as later ones do.
    Between { skip: usize, count: usize },
}

/// A fault, the method it applies to (`"*"` for any), and when.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub fault: Fault,
    pub method: &'static str,
    pub when: When,
    /// Only requests whose query string contains this (e.g. `"partNumber=2&"`).
    pub query: Option<&'static str>,
}

impl Rule {
    pub fn new(fault: Fault, method: &'static str, when: When) -> Rule {
        Rule { fault, method, when, query: None }
    }

    /// The same rule, for requests whose query string contains `part` only.
    pub fn on_query(self, part: &'static str) -> Rule {
        Rule { query: Some(part), ..self }
    }
}

pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<State>,
}

struct State {
    upstream: String,
    rules: Vec<Rule>,
    /// Per rule: how many requests it has taken.
    taken: Vec<AtomicUsize>,
    /// Per rule: how many matching requests it has seen (for `When::After`).
    passed: Vec<AtomicUsize>,
    /// Body bytes of the server's answers the proxy has taken (a request's whole body: what
    /// a client reading through it is sent).
    body_bytes: std::sync::atomic::AtomicU64,
    tries_of_key: Mutex<HashMap<(usize, String), usize>>,
    random: Mutex<u64>,
    injected: Mutex<HashMap<Fault, usize>>,
    requests: Mutex<HashMap<String, usize>>,
    seen: Mutex<Vec<(String, String)>>,
    /// Requests being answered now, and the most there have been at once.
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    client: Client<QuickAckConnector<HttpConnector>, Full<Bytes>>,
    /// The provider the proxy plays, and what it remembers.
    persona: Persona,
    memory: Memory,
}

impl FaultProxy {
    /// Starts a proxy for `upstream` (`http://host:port`) with `rules`.
    pub fn start(upstream: &str, rules: Vec<Rule>) -> FaultProxy {
        FaultProxy::start_as(upstream, Persona::Garage, rules)
    }

    /// Starts a proxy that plays `persona` in front of `upstream`, then applies `rules`.
    pub fn start_as(upstream: &str, persona: Persona, rules: Vec<Rule>) -> FaultProxy {
        let state = Arc::new(State {
            persona,
            memory: Memory::default(),
            upstream: upstream.trim_end_matches('/').to_string(),
            taken: rules.iter().map(|_| AtomicUsize::new(0)).collect(),
            passed: rules.iter().map(|_| AtomicUsize::new(0)).collect(),
            body_bytes: Default::default(),
            rules,
            tries_of_key: Mutex::default(),
            random: Mutex::new(0x2545_F491_4F6C_DD1D),
            injected: Mutex::default(),
            requests: Mutex::default(),
            seen: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
            client: {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                Client::builder(TokioExecutor::new()).build(QuickAckConnector(connector))
            },
        });
        let shared = state.clone();
        let addr = accept_on_own_thread(move |socket| serve(socket, shared.clone()));
        FaultProxy { endpoint: format!("http://{addr}"), state }
    }

    /// Requests received so far, of `method` (`"*"` for all).
    pub fn requests(&self, method: &str) -> usize {
        let requests = self.state.requests.lock().unwrap();
        match method {
            "*" => requests.values().sum(),
            _ => requests.get(method).copied().unwrap_or(0),
        }
    }

    /// Body bytes of the server's answers so far, every request's.
    pub fn answer_body_bytes(&self) -> u64 {
        self.state.body_bytes.load(Ordering::SeqCst)
    }

    /// Faults injected so far, of `fault`.
    pub fn injected(&self, fault: Fault) -> usize {
        self.state.injected.lock().unwrap().get(&fault).copied().unwrap_or(0)
    }

    /// Requests the persona refused so far.
    pub fn refused_by_persona(&self) -> usize {
        self.state.memory.refused()
    }

    /// Faults injected so far, of every kind.
    pub fn injected_total(&self) -> usize {
        self.state.injected.lock().unwrap().values().sum()
    }

    /// The most requests the proxy has been answering at the same time.
    pub fn most_at_once(&self) -> usize {
        self.state.most_in_flight.load(Ordering::SeqCst)
    }

    /// The names of every header in the requests received so far (lower case), each once.
    pub fn header_names(&self) -> std::collections::BTreeSet<String> {
        self.state.seen.lock().unwrap().iter().map(|(n, _)| n.clone()).collect()
    }

    /// Every value of header `name` in the requests received so far.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.state.seen.lock().unwrap().iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect()
    }
}

/// Serves one client connection. A second handle on the socket lets a fault reset it: with
/// SO_LINGER 0 its close sends RST instead of FIN.
async fn serve(socket: tokio::net::TcpStream, state: Arc<State>) {
    let Ok(std_socket) = socket.into_std() else { return };
    let Ok(control) = std_socket.try_clone() else { return };
    let Ok(socket) = tokio::net::TcpStream::from_std(std_socket) else { return };
    let control = Arc::new(socket2::Socket::from(control));
    let service = service_fn(move |request: Request<Incoming>| {
        let (state, control) = (state.clone(), control.clone());
        async move {
            let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            state.most_in_flight.fetch_max(now, Ordering::SeqCst);
            let answer = state.answer(request, &control).await;
            state.in_flight.fetch_sub(1, Ordering::SeqCst);
            answer
        }
    });
    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(socket), service).await;
}

type Answer = Result<Response<Pieces>, std::io::Error>;

impl State {
    async fn answer(&self, request: Request<Incoming>, control: &socket2::Socket) -> Answer {
        let (parts, body) = request.into_parts();
        let method = parts.method.as_str().to_string();
        let path = parts.uri.path().to_string();
        self.record(&method, &parts.headers);
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let query = parts.uri.query().unwrap_or_default().to_string() + "&";
        if let Some(refusal) = self.persona.refuse(&self.memory, &method, &path, &query, &parts.headers) {
            return Ok(refusal);
        }
        let fault = self.choose(&method, &path, &query);
        if let Some(answer) = fault.and_then(|fault| self.instead_of_forwarding(fault)) {
            return answer;
        }
        let uri = format!("{}{}", self.upstream, parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
        let mut forward = Request::builder().method(parts.method).uri(uri);
        for (name, value) in &parts.headers {
            forward = forward.header(name, value);
        }
        let response = match self.client.request(forward.body(Full::new(body)).unwrap()).await {
            Ok(response) => response,
            Err(e) => return Ok(Response::builder().status(502).body(Pieces::whole(Bytes::from(e.to_string()))).unwrap()),
        };
        let (mut head, body) = response.into_parts();
        self.persona.dress(&mut head);
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        self.body_bytes.fetch_add(body.len() as u64, Ordering::SeqCst);
        self.damaged(fault, head, body, control).await
    }

    /// Counts the request, and keeps its headers.
    fn record(&self, method: &str, headers: &http::HeaderMap) {
        *self.requests.lock().unwrap().entry(method.to_string()).or_default() += 1;
        let mut seen = self.seen.lock().unwrap();
        for (name, value) in headers {
            seen.push((name.as_str().to_string(), value.to_str().unwrap_or_default().to_string()));
        }
    }

    fn count(&self, fault: Fault) {
        *self.injected.lock().unwrap().entry(fault).or_default() += 1;
    }

    /// The answer of a fault that answers in the server's place: a lie, or an S3 error.
    fn instead_of_forwarding(&self, fault: Fault) -> Option<Answer> {
        match fault {
            Fault::Lie => {
                self.count(Fault::Lie);
                Some(Ok(Response::new(Pieces::whole(Bytes::new()))))
            }
            f @ (Fault::SlowDown | Fault::SlowDownRetryAfter(_) | Fault::InternalError | Fault::TooManyRequests | Fault::RequestTimeout) => {
                self.count(f);
                Some(Ok(s3_error(f)))
            }
            _ => None,
        }
    }

    /// The server's answer, damaged on its way back as `fault` says.
    async fn damaged(&self, fault: Option<Fault>, head: http::response::Parts, body: Bytes, control: &socket2::Socket) -> Answer {
        let half = body.slice(..body.len() / 2);
        let response = |pieces: Pieces| Ok(Response::from_parts(head.clone(), pieces));
        match fault {
            Some(Fault::ResetBeforeResponse) => {
                self.count(Fault::ResetBeforeResponse);
                let _ = control.set_linger(Some(Duration::ZERO));
                Err(std::io::Error::other("reset before the response"))
            }
            Some(Fault::ResetMidBody) if !body.is_empty() => {
                self.count(Fault::ResetMidBody);
                let _ = control.set_linger(Some(Duration::ZERO));
                response(Pieces::cut_short(half, body.len()))
            }
            Some(Fault::Stall) => {
                self.count(Fault::Stall);
                tokio::time::sleep(Duration::from_secs(60)).await;
                Err(std::io::Error::other("stalled"))
            }
            Some(Fault::Delay(ms)) => {
                self.count(Fault::Delay(ms));
                tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
                response(Pieces::whole(body))
            }
            Some(Fault::Trickle) => {
                self.count(Fault::Trickle);
                tokio::time::sleep(Duration::from_millis(50)).await;
                response(Pieces::trickle(body, 256, Duration::from_millis(10)))
            }
            Some(Fault::Truncate) if !body.is_empty() => {
                self.count(Fault::Truncate);
                response(Pieces::cut_short(half, body.len()))
            }
            Some(Fault::FlipByte) if matches!(head.status.as_u16(), 200 | 206) && !body.is_empty() => {
                self.count(Fault::FlipByte);
                let mut damaged = body.to_vec();
                let middle = damaged.len() / 2;
                damaged[middle] ^= 0x01;
                response(Pieces::whole(Bytes::from(damaged)))
            }
            _ => response(Pieces::whole(body)),
        }
    }

    /// The fault of the first rule that takes this request, if any.
    fn choose(&self, method: &str, path: &str, query: &str) -> Option<Fault> {
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.method != "*" && rule.method != method {
                continue;
            }
            if rule.query.is_some_and(|part| !query.contains(part)) {
                continue;
            }
            let fires = match rule.when {
                When::Always => true,
                When::First(n) => self.taken[i].load(Ordering::SeqCst) < n,
                When::FirstTriesOfKey(n) => {
                    let mut tries = self.tries_of_key.lock().unwrap();
                    let seen = tries.entry((i, path.to_string())).or_default();
                    *seen += 1;
                    *seen <= n
                }
                When::Ratio(p) => self.next_random() < p,
                When::After(n) => self.passed[i].fetch_add(1, Ordering::SeqCst) >= n,
                When::Between { skip, count } => (skip..skip + count).contains(&self.passed[i].fetch_add(1, Ordering::SeqCst)),
            };
            if fires {
                self.taken[i].fetch_add(1, Ordering::SeqCst);
                return Some(rule.fault);
            }
        }
        None
    }

    /// Uniform in [0, 1), xorshift64*.
    fn next_random(&self) -> f64 {
        let mut state = self.random.lock().unwrap();
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// An S3 error answer for a status fault.
fn s3_error(fault: Fault) -> Response<Pieces> {
    let (status, code, message) = match fault {
        Fault::SlowDown | Fault::SlowDownRetryAfter(_) => (503, "SlowDown", "Please reduce your request rate."),
        Fault::InternalError => (500, "InternalError", "We encountered an internal error. Please try again."),
        Fault::TooManyRequests => (429, "TooManyRequests", "Too many requests."),
        _ => (400, "RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period."),
    };
    let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>");
    let mut response = Response::builder().status(status);
    if let Fault::SlowDownRetryAfter(seconds) = fault {
        response = response.header("retry-after", seconds.to_string());
    }
    response
        .header("content-type", "application/xml")
        .body(Pieces::whole(Bytes::from(xml)))
        .unwrap()
}
