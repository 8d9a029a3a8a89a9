//! The WIT world's exports, handed to the S3 client: its settings, errors and answers are the
//! WIT's own records, so nothing is copied across.

use crate::bindings::coffer::blobstore::body::{Sink, Source};
use crate::bindings::coffer::blobstore::config;
use crate::bindings::exports::coffer::blobstore::store::{ByteRange, Error, Guest, ObjectInfo};
use crate::bindings::coffer::blobstore::types::{Page, UploadPage};
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
    Client::new(settings, keys, platform)
}

impl Guest for Plugin {
    fn get(key: String, range: Option<ByteRange>, into: &Sink, hedge_after_us: Option<u64>) -> Result<bool, Error> {
        client()?.get(&key, range.map(|r| (r.start, r.end)), into, hedge_after_us)
    }

    fn put(key: String, body: &Source) -> Result<(), Error> {
        client()?.put(&key, body)
    }

    fn delete(key: String) -> Result<bool, Error> {
        client()?.delete(&key)
    }

    fn stat(key: String) -> Result<Option<ObjectInfo>, Error> {
        client()?.stat(&key)
    }

    fn list(prefix: String, start_after: Option<String>, max: u32) -> Result<Page, Error> {
        client()?.list(&prefix, start_after.as_deref(), max)
    }

    fn list_uploads(prefix: String, after: Option<(String, String)>) -> Result<UploadPage, Error> {
        let after = after.as_ref().map(|(key, id)| (key.as_str(), id.as_str()));
        client()?.list_uploads(&prefix, after)
    }

    fn abort_upload(key: String, upload_id: String) -> Result<(), Error> {
        client()?.abort(&key, &upload_id)
    }
}

crate::bindings::export!(Plugin with_types_in crate::bindings);
