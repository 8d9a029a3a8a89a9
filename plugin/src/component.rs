//! The WIT world's exports, adapted to the S3 client: settings and errors to and from the
//! WIT's records and variants.

use crate::bindings::coffer::blobstore::body::{Sink, Source};
use crate::bindings::coffer::blobstore::config;
use crate::bindings::exports::coffer::blobstore::store::{ByteRange, Error, ErrorKind, Guest, ObjectInfo};
use crate::bindings::coffer::blobstore::types::{Listed, Page, Upload, UploadPage};
use crate::error::{Kind, StoreError};
use crate::http::WasiPlatform;
use crate::s3::{Client, Keys};

struct Plugin;

/// The client, made on the instance's first call from the tenant's settings as the host hands
/// them over, and kept for its later calls: an instance serves one tenant only, whose
/// settings do not change under it.
fn client() -> Result<&'static Client<WasiPlatform>, Error> {
    static CLIENT: std::sync::OnceLock<Client<WasiPlatform>> = std::sync::OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let client = new_client()?;
    Ok(CLIENT.get_or_init(|| client))
}

fn new_client() -> Result<Client<WasiPlatform>, Error> {
    let c = config::get_credentials();
    let settings = config::get_settings();
    let keys = Keys {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
    };
    let platform = WasiPlatform { timeout_ms: settings.timeout_ms };
    Client::new(settings, keys, platform).map_err(to_wit)
}

fn to_wit(error: StoreError) -> Error {
    let kind = match error.kind {
        Kind::AccessDenied => ErrorKind::AccessDenied,
        Kind::InvalidKey => ErrorKind::InvalidKey,
        Kind::InvalidConfig => ErrorKind::InvalidConfig,
        Kind::Timeout => ErrorKind::Timeout,
        Kind::Unavailable => ErrorKind::Unavailable,
        Kind::Integrity => ErrorKind::Integrity,
        Kind::Other => ErrorKind::Other,
    };
    Error { kind, message: error.message, status: error.status, s3_code: error.s3_code }
}

impl Guest for Plugin {
    fn get(key: String, range: Option<ByteRange>, into: &Sink) -> Result<bool, Error> {
        client()?.get(&key, range.map(|r| (r.start, r.end)), into).map_err(to_wit)
    }

    fn put(key: String, body: &Source) -> Result<(), Error> {
        client()?.put(&key, body).map_err(to_wit)
    }

    fn delete(key: String) -> Result<bool, Error> {
        client()?.delete(&key).map_err(to_wit)
    }

    fn stat(key: String) -> Result<Option<ObjectInfo>, Error> {
        let info = client()?.stat(&key).map_err(to_wit)?;
        Ok(info.map(|i| ObjectInfo { size: i.size, etag: i.etag, last_modified: i.last_modified }))
    }

    fn list(prefix: String, start_after: Option<String>, max: u32) -> Result<Page, Error> {
        let page = client()?.list(&prefix, start_after.as_deref(), max).map_err(to_wit)?;
        let objects = page
            .objects
            .into_iter()
            .map(|o| Listed { key: o.key, size: o.size, etag: o.etag, last_modified: o.last_modified })
            .collect();
        Ok(Page { objects, next: page.next })
    }

    fn list_uploads(prefix: String, after: Option<(String, String)>) -> Result<UploadPage, Error> {
        let after = after.as_ref().map(|(key, id)| (key.as_str(), id.as_str()));
        let page = client()?.list_uploads(&prefix, after).map_err(to_wit)?;
        let uploads = page
            .uploads
            .into_iter()
            .map(|u| Upload { key: u.key, upload_id: u.upload_id, initiated: u.initiated })
            .collect();
        Ok(UploadPage { uploads, next: page.next })
    }

    fn abort_upload(key: String, upload_id: String) -> Result<(), Error> {
        client()?.abort(&key, &upload_id).map_err(to_wit)
    }
}

crate::bindings::export!(Plugin with_types_in crate::bindings);
