//! A hostile S3 server: it reads each request whole, then answers with one kind of lie or
//! abuse, written byte by byte on a raw socket so that nothing in between tidies it up. It
//! stores nothing, so any put a client reports as done would be a false acknowledgement. It lets
//! a multipart upload start (CreateMultipartUpload answered as S3 does), so that the parts, the
//! completion and the abort meet the abuse too.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How the server answers every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abuse {
    /// An error status whose XML is cut off and broken.
    MalformedXml,
    /// A 500 that promises 1 GiB of error body and sends it as fast as the client reads.
    HugeErrorBody,
    /// A 200 with 100 000 headers.
    ManyHeaders,
    /// A 200 whose Content-Length says 10 and whose body is 100 bytes.
    ContentLengthTooSmall,
    /// A 200 whose Content-Length says 1000 and whose body is 10 bytes, then the connection closes.
    ContentLengthTooLarge,
    /// A 200 with a chunked body that never ends.
    EndlessChunkedBody,
    /// A 200 whose ETag, Last-Modified and checksum headers are not UTF-8.
    InvalidUtf8Headers,
    /// 100 000 `100 Continue` answers before a 200.
    InformationalStorm,
    /// A 307 to another port of the loopback.
    RedirectToLoopback,
    /// A 200, then at once a second answer to a request that was never sent.
    UnsolicitedResponse,
}

impl Abuse {
    pub const ALL: [Abuse; 10] = [
        Abuse::MalformedXml,
        Abuse::HugeErrorBody,
        Abuse::ManyHeaders,
        Abuse::ContentLengthTooSmall,
        Abuse::ContentLengthTooLarge,
        Abuse::EndlessChunkedBody,
        Abuse::InvalidUtf8Headers,
        Abuse::InformationalStorm,
        Abuse::RedirectToLoopback,
        Abuse::UnsolicitedResponse,
    ];
}

pub struct HostileServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    requests: Arc<AtomicUsize>,
}

impl HostileServer {
    pub fn start(abuse: Abuse) -> HostileServer {
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let addr = crate::listen::accept_on_own_thread(move |socket| serve(socket, abuse, counter.clone()));
        HostileServer { endpoint: format!("http://{addr}"), requests }
    }

    /// Requests read so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn serve(mut socket: TcpStream, abuse: Abuse, requests: Arc<AtomicUsize>) {
    let _ = socket.set_nodelay(true);
    while let Some(request_line) = read_request(&mut socket).await {
        requests.fetch_add(1, Ordering::SeqCst);
        let method = request_line.split(' ').next().unwrap_or_default().to_string();
        // A multipart upload is let start, so that its parts, completion and abort meet the abuse.
        let answered = match method == "POST" && request_line.contains("?uploads") {
            true => start_upload(&mut socket).await,
            false => answer(&mut socket, abuse, &method).await,
        };
        if answered.is_err() {
            return;
        }
    }
}

/// Answers CreateMultipartUpload as S3 does.
async fn start_upload(socket: &mut TcpStream) -> std::io::Result<()> {
    let body = "<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>\
                <UploadId>hostile-upload</UploadId></InitiateMultipartUploadResult>";
    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await
}

/// Reads one request's head and its body (by Content-Length); its request line.
async fn read_request(socket: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if socket.read(&mut byte).await.ok()? == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim().to_string()))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let mut body = socket.take(length);
    tokio::io::copy(&mut body, &mut tokio::io::sink()).await.ok()?;
    Some(head.lines().next().unwrap_or_default().to_string())
}

async fn answer(socket: &mut TcpStream, abuse: Abuse, method: &str) -> std::io::Result<()> {
    let head_only = method == "HEAD";
    match abuse {
        Abuse::MalformedXml => {
            let body = "<?xml version=\"1.0\"?><Error><Code>Slow<Down</Code><Message>&bogus; <<<";
            let head = format!("HTTP/1.1 400 Bad Request\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\r\n", body.len());
            send(socket, head.as_bytes(), body.as_bytes(), head_only).await?;
        }
        Abuse::HugeErrorBody => huge_error_body(socket, head_only).await?,
        Abuse::ManyHeaders => {
            let mut text = String::from("HTTP/1.1 200 OK\r\n");
            for i in 0..100_000 {
                text.push_str(&format!("x-amz-meta-h{i}: v\r\n"));
            }
            text.push_str("content-length: 0\r\n\r\n");
            socket.write_all(text.as_bytes()).await?;
        }
        Abuse::ContentLengthTooSmall => {
            let etag = "\"0123456789abcdef0123456789abcdef\"";
            let head = format!("HTTP/1.1 200 OK\r\netag: {etag}\r\ncontent-length: 10\r\n\r\n");
            send(socket, head.as_bytes(), &[b'y'; 100], head_only).await?;
        }
        Abuse::ContentLengthTooLarge => {
            send(socket, b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n", &[b'z'; 10], head_only).await?;
            socket.shutdown().await?;
            return Err(std::io::Error::other("closed"));
        }
        Abuse::EndlessChunkedBody => endless_chunked_body(socket, head_only).await?,
        Abuse::InvalidUtf8Headers => {
            let mut head = b"HTTP/1.1 200 OK\r\netag: \"\xff\xfe\xfd\"\r\nlast-modified: \xc3\x28 Mon\r\n".to_vec();
            head.extend_from_slice(b"x-amz-checksum-crc32: \xe2\x82\r\ncontent-length: 3\r\n\r\n");
            send(socket, &head, b"abc", head_only).await?;
        }
        Abuse::InformationalStorm => {
            let storm = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(1000);
            for _ in 0..100 {
                socket.write_all(&storm).await?;
            }
            socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await?;
        }
        Abuse::RedirectToLoopback => {
            let text = "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:9/bucket/key\r\ncontent-length: 0\r\n\r\n";
            socket.write_all(text.as_bytes()).await?;
        }
        Abuse::UnsolicitedResponse => {
            let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
            socket.write_all(format!("{ok}{ok}").as_bytes()).await?;
        }
    }
    socket.flush().await
}

/// A head, then its body unless the request was a HEAD.
async fn send(socket: &mut TcpStream, head: &[u8], body: &[u8], head_only: bool) -> std::io::Result<()> {
    socket.write_all(head).await?;
    if !head_only {
        socket.write_all(body).await?;
    }
    Ok(())
}

/// A 500 whose body is 1 GiB.
async fn huge_error_body(socket: &mut TcpStream, head_only: bool) -> std::io::Result<()> {
    let gib = 1u64 << 30;
    socket.write_all(format!("HTTP/1.1 500 Internal Server Error\r\ncontent-length: {gib}\r\n\r\n").as_bytes()).await?;
    if !head_only {
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < gib {
            socket.write_all(&chunk).await?;
            sent += chunk.len() as u64;
        }
    }
    Ok(())
}

/// A 200 whose chunked body never ends.
async fn endless_chunked_body(socket: &mut TcpStream, head_only: bool) -> std::io::Result<()> {
    socket.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await?;
    if !head_only {
        let chunk = format!("10000\r\n{}\r\n", "c".repeat(0x10000));
        loop {
            socket.write_all(chunk.as_bytes()).await?;
        }
    }
    Ok(())
}
