//! Listing: one page of ListObjectsV2 under the tenant's key prefix, keys asked URL-encoded (a
//! key may hold characters XML cannot carry) and handed back decoded and without the prefix.
//! The page goes on from a key (`start-after`), so that where to go on is the last key listed:
//! the same in every S3 dialect, and meaningful to the caller.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::call::Budget;
use super::client::Client;
use super::platform::{HttpResponse, Platform};
use crate::error::{StoreError, parse_error_body};

/// The most objects one page holds (S3's own bound).
pub const MAX_PAGE: u32 = 1000;

/// One object of a listing, and a page of them with the key the next one starts after (`None`
/// after the last): the WIT's `listed` and `page`.
pub use crate::bindings::coffer::blobstore::types::{Listed, Page};

impl<P: Platform> Client<P> {
    /// The objects whose keys start with `prefix`, after `start_after`, at most `max`.
    pub fn list(&self, prefix: &str, start_after: Option<&str>, max: u32) -> Result<Page, StoreError> {
        self.begin_call();
        let full_prefix = format!("{}{prefix}", self.settings.key_prefix);
        let max = max.clamp(1, MAX_PAGE);
        let what = format!("ListObjectsV2 prefix \"{prefix}\"");
        // A 200 whose body is an error (S3 may answer so), or no listing at all, is retried like
        // the 5xx it stands for: never read as an empty page.
        let parsed = |r: &HttpResponse| match r.status {
            200 => {
                let inside = parse_error_body(&r.body);
                if !inside.code.is_empty() {
                    let message = format!("{what}: 200 with an error inside: {} {}", inside.code, inside.message);
                    return Err(StoreError::unavailable(message));
                }
                parse_page(&r.body).map(|_| ()).map_err(|e| StoreError::unavailable(format!("{what}: {e}")))
            }
            _ => Ok(()),
        };
        let mut call = self
            .bucket_call("GET")
            .query("list-type", "2")
            .query("encoding-type", "url")
            .query("max-keys", &max.to_string())
            .query("prefix", &full_prefix);
        if let Some(after) = start_after {
            call = call.query("start-after", &format!("{}{after}", self.settings.key_prefix));
        }
        let response = call.accept(&parsed).send(&mut Budget::default())?;
        if response.status != 200 {
            let body = parse_error_body(&response.body);
            return Err(crate::error::classify(response.status, &body, &what, &self.settings.bucket));
        }
        let raw = parse_page(&response.body).map_err(|e| StoreError::unavailable(format!("{what}: {e}")))?;
        let key_prefix = &self.settings.key_prefix;
        let mut objects = Vec::with_capacity(raw.objects.len());
        for object in raw.objects {
            let Some(key) = object.key.strip_prefix(key_prefix.as_str()) else {
                return Err(StoreError::other(format!("{what}: the server listed \"{}\", outside the key prefix", object.key)));
            };
            objects.push(Listed { key: key.to_string(), ..object });
        }
        let next = match raw.truncated {
            true => objects.last().map(|o| o.key.clone()),
            false => None,
        };
        Ok(Page { objects, next })
    }
}

/// Adds an element's text, or the character an entity or character reference stands for, to
/// `text`: the one place the listings' parsers read XML text.
pub(super) fn push_text(event: &Event<'_>, text: &mut String) -> Result<(), String> {
    match event {
        Event::Text(t) => text.push_str(&t.xml10_content().map_err(|e| format!("bad XML text: {e}"))?),
        Event::GeneralRef(r) => {
            let name = r.decode().map_err(|e| format!("bad XML: {e}"))?.into_owned();
            match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                _ => text.push_str(quick_xml::escape::resolve_predefined_entity(&name).unwrap_or_default()),
            }
        }
        _ => {}
    }
    Ok(())
}

/// What a ListObjectsV2 answer holds, keys as listed (decoded, prefix included).
struct RawPage {
    objects: Vec<Listed>,
    truncated: bool,
    /// The answer is a ListBucketResult at all.
    seen_result: bool,
}

/// Reads a ListBucketResult whose keys are URL-encoded.
fn parse_page(body: &[u8]) -> Result<RawPage, String> {
    let mut reader = Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut page = RawPage { objects: Vec::new(), truncated: false, seen_result: false };
    let mut current: Option<Listed> = None;
    let mut field = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(tag)) => {
                let name = tag.local_name().as_ref().to_vec();
                page.seen_result |= name == b"ListBucketResult";
                if name == b"Contents" {
                    current = Some(Listed { key: String::new(), size: 0, etag: String::new(), last_modified: None });
                }
                field = name;
                text.clear();
            }
            Ok(event @ (Event::Text(_) | Event::GeneralRef(_))) => push_text(&event, &mut text)?,
            Ok(Event::End(tag)) => {
                let name = tag.local_name();
                match (name.as_ref(), current.as_mut()) {
                    (b"Contents", Some(_)) => {
                        let object = current.take().expect("inside Contents");
                        if object.key.is_empty() {
                            return Err("an object without a Key".into());
                        }
                        page.objects.push(object);
                    }
                    (b"Key", Some(o)) if field == b"Key" => o.key = url_decode(&text)?,
                    (b"Size", Some(o)) => o.size = text.trim().parse().map_err(|_| format!("bad Size \"{text}\""))?,
                    (b"ETag", Some(o)) => o.etag = text.trim().trim_matches('"').to_string(),
                    (b"LastModified", Some(o)) => o.last_modified = Some(text.trim().to_string()),
                    (b"IsTruncated", None) => page.truncated = text.trim().eq_ignore_ascii_case("true"),
                    _ => {}
                }
                text.clear();
            }
            Ok(Event::Eof) if !page.seen_result => return Err("the answer is no ListBucketResult".into()),
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("bad XML: {e}")),
            _ => {}
        }
        buf.clear();
    }
    Ok(page)
}

/// A key as `encoding-type=url` lists it: percent-encoded, `+` for a space.
fn url_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3).ok_or_else(|| format!("a key cut inside an escape: \"{text}\""))?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("a bad escape in key \"{text}\""))?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("key \"{text}\" is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests;
