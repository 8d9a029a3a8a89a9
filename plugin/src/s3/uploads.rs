//! Multipart uploads left in progress (a host killed mid-upload leaves its parts in the bucket,
//! stored and billed until the upload is aborted): a page of ListMultipartUploads under the
//! tenant's key prefix, and AbortMultipartUpload of one of them.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::call::Budget;
use super::client::Client;
use super::platform::{HttpResponse, Platform};
use crate::error::{StoreError, classify, parse_error_body};

/// One upload in progress (its key without the tenant's prefix), and a page of them with the
/// (key, upload id) the next one starts after: the WIT's `upload` and `upload-page`.
pub use crate::bindings::coffer::blobstore::types::{Upload, UploadPage};

impl<P: Platform> Client<P> {
    /// The uploads in progress whose keys start with `prefix`, after `after`.
    pub fn list_uploads(&self, prefix: &str, after: Option<(&str, &str)>) -> Result<UploadPage, StoreError> {
        self.begin_call();
        let full_prefix = format!("{}{prefix}", self.settings.key_prefix);
        let what = format!("ListMultipartUploads prefix \"{prefix}\"");
        // As with a listing: a 200 that is no ListMultipartUploadsResult is retried, never read
        // as "no uploads".
        let parsed = |r: &HttpResponse| match r.status {
            200 => parse_uploads(&r.body).map(|_| ()).map_err(|e| StoreError::unavailable(format!("{what}: {e}"))),
            _ => Ok(()),
        };
        let mut call = self.bucket_call("GET").query("uploads", "").query("prefix", &full_prefix);
        if let Some((key, upload_id)) = after {
            call = call.query("key-marker", &format!("{}{key}", self.settings.key_prefix)).query("upload-id-marker", upload_id);
        }
        let response = call.accept(&parsed).send(&mut Budget::default())?;
        if response.status != 200 {
            return Err(classify(response.status, &parse_error_body(&response.body), &what, &self.settings.bucket));
        }
        let raw = parse_uploads(&response.body).map_err(|e| StoreError::unavailable(format!("{what}: {e}")))?;
        let key_prefix = self.settings.key_prefix.as_str();
        let mut uploads = Vec::with_capacity(raw.uploads.len());
        for upload in raw.uploads {
            let Some(key) = upload.key.strip_prefix(key_prefix) else {
                return Err(StoreError::other(format!("{what}: the server listed \"{}\", outside the key prefix", upload.key)));
            };
            uploads.push(Upload { key: key.to_string(), ..upload });
        }
        let next = match raw.truncated {
            true => uploads.last().map(|u| (u.key.clone(), u.upload_id.clone())),
            false => None,
        };
        Ok(UploadPage { uploads, next })
    }

    /// Aborts the upload `upload_id` of `key`; one already gone is not an error.
    pub fn abort(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.begin_call();
        self.object_path(key)?;
        if upload_id.is_empty() {
            return Err(StoreError::invalid_key(format!("AbortMultipartUpload key \"{key}\": the upload id is empty")));
        }
        self.abort_upload(key, upload_id)
    }
}

/// What a ListMultipartUploads answer holds, keys as listed (prefix included).
struct RawUploads {
    uploads: Vec<Upload>,
    truncated: bool,
}

/// Reads a ListMultipartUploadsResult.
fn parse_uploads(body: &[u8]) -> Result<RawUploads, String> {
    let mut reader = Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut page = RawUploads { uploads: Vec::new(), truncated: false };
    let (mut seen_result, mut current, mut text) = (false, None::<Upload>, String::new());
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(tag)) => {
                let name = tag.local_name();
                seen_result |= name.as_ref() == b"ListMultipartUploadsResult";
                if name.as_ref() == b"Upload" {
                    current = Some(Upload { key: String::new(), upload_id: String::new(), initiated: None });
                }
                text.clear();
            }
            Ok(event @ (Event::Text(_) | Event::GeneralRef(_))) => super::list::push_text(&event, &mut text)?,
            Ok(Event::End(tag)) => {
                let value = std::mem::take(&mut text);
                match (tag.local_name().as_ref(), current.as_mut()) {
                    (b"Key", Some(upload)) => upload.key = value,
                    (b"UploadId", Some(upload)) => upload.upload_id = value,
                    (b"Initiated", Some(upload)) => upload.initiated = Some(value),
                    (b"Upload", Some(_)) => page.uploads.extend(current.take()),
                    (b"IsTruncated", None) => page.truncated = value.trim() == "true",
                    _ => {}
                }
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("bad XML: {e}")),
            _ => {}
        }
        buf.clear();
    }
    match seen_result {
        true => Ok(page),
        false => Err("the answer is not a ListMultipartUploadsResult".into()),
    }
}

#[cfg(test)]
mod tests;
