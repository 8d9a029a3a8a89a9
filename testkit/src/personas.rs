//! Provider personas for the fault proxy: what a provider refuses that Garage accepts, played in
//! front of Garage, from the providers' public reports (docs/providers.md). A persona looks at
//! each request before the rules do and answers it itself when its provider would refuse it;
//! otherwise the request goes on to Garage, and the persona may dress the answer's head.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::Response;

use crate::pieces::Pieces;

/// Which provider the proxy plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persona {
    /// Garage as it is.
    Garage,
    /// Backblaze B2: `400 InvalidArgument` naming any `x-amz-checksum-*` or
    /// `x-amz-sdk-checksum-*` header, the mode on reads included.
    B2,
    /// Cloudflare R2 (early 2025): `501 NotImplemented` naming any `x-amz-checksum-*` header;
    /// and parts of one upload must be equal-sized but the last.
    R2,
    /// Google Cloud Storage's XML API: `411 MissingContentLength` to a POST without one.
    GcsXml,
    /// AWS S3: a CompleteMultipartUpload answered `200` with an `<Error>` inside, once per key.
    Aws,
    /// A server whose clock is this many seconds ahead of the host's: it refuses a request dated
    /// more than 15 minutes from its own time (`403 RequestTimeTooSkewed`), and every answer
    /// carries its `Date`.
    ClockAhead(i64),
    /// A server whose answers carry no ETag, so that only a checksum can check a read.
    NoEtag,
    /// A server whose multipart ETags follow another formula than AWS's (as s3s-fs's once did):
    /// every multipart ETag it answers with is AWS's with its hex digits reversed.
    OtherEtagFormula,
}

/// What a persona remembers between requests.
#[derive(Default)]
pub(crate) struct Memory {
    /// R2: the sizes of the parts received, by upload id and part number.
    parts: Mutex<HashMap<String, HashMap<u32, u64>>>,
    /// AWS: the keys whose completion has been answered with an error inside.
    completed_once: Mutex<Vec<String>>,
    /// How many requests the persona refused.
    refused: std::sync::atomic::AtomicUsize,
}

impl Memory {
    pub(crate) fn refused(&self) -> usize {
        self.refused.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Persona {
    /// The persona's own answer to a request its provider would refuse; `None` to pass it on.
    pub(crate) fn refuse(
        self,
        memory: &Memory,
        method: &str,
        path: &str,
        query: &str,
        headers: &http::HeaderMap,
    ) -> Option<Response<Pieces>> {
        let checksum_header = headers
            .iter()
            .find(|(name, _)| name.as_str().starts_with("x-amz-checksum-") || name.as_str().starts_with("x-amz-sdk-checksum-"));
        let answer = match self {
            Persona::B2 => checksum_header.map(|(name, _)| {
                let message = format!("Unsupported header '{name}' received for this API call.");
                s3_error(400, "InvalidArgument", &message)
            }),
            Persona::R2 => match checksum_header {
                Some((name, value)) => {
                    let value = value.to_str().unwrap_or_default();
                    Some(s3_error(501, "NotImplemented", &format!("Header '{name}' with value '{value}' not implemented")))
                }
                None => unequal_parts(memory, method, query, headers),
            },
            Persona::GcsXml if method == "POST" && !headers.contains_key("content-length") => {
                Some(s3_error(411, "MissingContentLength", "You must provide the Content-Length HTTP header."))
            }
            Persona::Aws if method == "POST" && query.contains("uploadId=") => {
                let mut once = memory.completed_once.lock().unwrap();
                (!once.contains(&path.to_string())).then(|| {
                    once.push(path.to_string());
                    // S3's own words: a 200 whose body is an error.
                    s3_error(200, "InternalError", "We encountered an internal error. Please try again.")
                })
            }
            Persona::ClockAhead(ahead) => {
                let dated = headers.get("x-amz-date").and_then(|d| d.to_str().ok()).and_then(unix_of_amz_date);
                let server_now = now() + ahead;
                match dated {
                    Some(dated) if (dated - server_now).abs() <= 15 * 60 => None,
                    _ => {
                        let mut refusal = s3_error(
                            403,
                            "RequestTimeTooSkewed",
                            "The difference between the request time and the current time is too large.",
                        );
                        refusal.headers_mut().insert("date", http_date(server_now).parse().unwrap());
                        Some(refusal)
                    }
                }
            }
            _ => None,
        };
        if answer.is_some() {
            memory.refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        answer
    }

    /// Dresses the head of an answer Garage gave.
    pub(crate) fn dress(self, head: &mut http::response::Parts) {
        match self {
            Persona::ClockAhead(ahead) => {
                head.headers.insert("date", http_date(now() + ahead).parse().unwrap());
            }
            Persona::NoEtag => {
                head.headers.remove("etag");
            }
            Persona::OtherEtagFormula => {
                let etag = head.headers.get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default();
                if let Some((md5, parts)) = etag.trim_matches('"').split_once('-') {
                    let other = format!("\"{}-{parts}\"", md5.chars().rev().collect::<String>());
                    head.headers.insert("etag", other.parse().unwrap());
                }
            }
            _ => {}
        }
    }
}

/// R2: records each part's size, and refuses a completion whose parts are not equal-sized but
/// the last (`400 InvalidPart`).
fn unequal_parts(memory: &Memory, method: &str, query: &str, headers: &http::HeaderMap) -> Option<Response<Pieces>> {
    let field = |name: &str| {
        query.split('&').find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')).map(str::to_string))
    };
    let upload = field("uploadId")?;
    let mut parts = memory.parts.lock().unwrap();
    if method == "PUT" {
        let number: u32 = field("partNumber")?.parse().ok()?;
        let len = headers.get("content-length").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(0);
        parts.entry(upload).or_default().insert(number, len);
        return None;
    }
    if method != "POST" {
        return None;
    }
    let sizes = parts.remove(&upload).unwrap_or_default();
    let last = sizes.keys().max().copied().unwrap_or(0);
    let first = sizes.get(&1).copied();
    let equal = sizes.iter().all(|(number, size)| *number == last || Some(*size) == first);
    (!equal).then(|| s3_error(400, "InvalidPart", "All non-trailing parts must have the same length."))
}

/// An S3 error answer.
fn s3_error(status: u16, code: &str, message: &str) -> Response<Pieces> {
    let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>");
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Pieces::whole(Bytes::from(xml)))
        .unwrap()
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn http_date(unix: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(unix as u64))
}

/// Seconds since the epoch of SigV4's `yyyymmddThhmmssZ`.
fn unix_of_amz_date(date: &str) -> Option<i64> {
    let digits = |range: std::ops::Range<usize>| date.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (hh, mm, ss) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests;
