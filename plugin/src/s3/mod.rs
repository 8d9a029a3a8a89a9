//! The S3 operations a blob store needs (GetObject, PutObject, DeleteObject, HeadObject) over a
//! [`Platform`], so that everything but the wire is testable natively. Each job has a file:
//! - client.rs: the client of one bucket; settings.rs: what the host gives it;
//! - object.rs: get, put, delete and stat; multipart.rs: large puts in parts; list.rs and
//!   uploads.rs: listings;
//! - request.rs builds and signs a request, call.rs (the one retry driver) sends it, and
//!   resume.rs goes on with a GET whose body broke off;
//! - integrity.rs checks what a read received; encoding.rs spells ETags and digests;
//!   etag_formula.rs learns a server's multipart ETag formula;
//! - platform.rs is the seam to the host (http.rs in the component, scripted in tests.rs).
//!
//! This file only names them; no module here imports this one.

pub use integrity::check_for;
pub use resume::{ContentRange, Piece, content_range, same_etag};
pub use platform::{Body, Check, Digests, GetHow, HttpRequest, HttpResponse, MAX_ANSWER_BYTES, Platform, Ranges, Received, header_of};
pub use settings::{ChecksumMode, Dialect, EtagFormula, Keys, Settings};
pub use list::{Listed, MAX_PAGE, Page};
pub use uploads::{Upload, UploadPage};
pub use client::{Client, MAX_KEY_BYTES, ObjectInfo};

mod call;
mod client;
mod encoding;
mod etag_formula;
mod integrity;
mod list;
mod multipart;
mod object;
mod parts;
mod platform;
mod request;
mod resume;
mod settings;
mod uploads;

#[cfg(test)]
mod tests;
