//! One signed request, ready to send: the object's path (validated, prefixed, encoded once),
//! the headers, and the SigV4 signature with the day's key kept by the client.

use super::client::{Client, MAX_KEY_BYTES};
use super::platform::{Body, HttpRequest, Platform};
use crate::error::StoreError;
use crate::sigv4::{self, S3Request, SigningKeys, SigningScope};

/// A request body and its SHA-256, hashed once however often it is sent.
pub(super) struct Payload<'a, S: ?Sized> {
    pub(super) body: Body<'a, S>,
    pub(super) sha256: &'a str,
}

impl<S: ?Sized> Clone for Payload<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S: ?Sized> Copy for Payload<'_, S> {}

impl<'a, S: ?Sized> Payload<'a, S> {
    pub(super) fn empty() -> Payload<'a, S> {
        Payload { body: Body::Empty, sha256: sigv4::EMPTY_PAYLOAD_SHA256 }
    }
}

impl<P: Platform> Client<P> {
    /// One signed request, ready to send.
    pub(super) fn request<'s>(
        &'s self,
        method: &'static str,
        path: &str,
        query: &[(String, String)],
        extra_headers: &[(String, String)],
        payload: &Payload<'s, P::Source>,
    ) -> HttpRequest<'s, P::Source> {
        let mut headers = Vec::with_capacity(extra_headers.len() + 5);
        headers.push(("host".to_string(), self.settings.authority.clone()));
        headers.extend_from_slice(extra_headers);
        // The host's time, corrected by what a server that refused it for skew said of its own.
        let now = self.platform.unix_time().saturating_add_signed(self.dialect().clock_offset_s);
        let amz_date = sigv4::amz_date(now);
        let scope = SigningScope { amz_date: &amz_date, region: &self.settings.region, service: "s3" };
        let keys = SigningKeys {
            access_key_id: &self.keys.access_key_id,
            secret_access_key: &self.keys.secret_access_key,
            session_token: self.keys.session_token.as_deref(),
        };
        // Encoded once: the signature and the request line carry the same strings.
        let mut path_and_query = sigv4::uri_encode(path, true);
        let canonical_query = sigv4::canonical_query(query);
        let request = S3Request {
            method,
            canonical_uri: &path_and_query,
            canonical_query: &canonical_query,
            payload_sha256: payload.sha256,
        };
        self.with_day_key(&scope, |key| sigv4::sign_s3_with_key(&request, &mut headers, &keys, &scope, key));
        // The host header is set by the host from the authority; it was only needed for signing.
        headers.retain(|(name, _)| name != "host");
        if !canonical_query.is_empty() {
            path_and_query.push('?');
            path_and_query.push_str(&canonical_query);
        }
        HttpRequest {
            method,
            scheme: &self.settings.scheme,
            authority: &self.settings.authority,
            path_and_query,
            headers,
            body: payload.body,
        }
    }

    /// Signs with the signing key of `scope`'s day, derived once a day and kept with the client
    /// (which the guest keeps for its instance's later calls; an instance never serves another
    /// tenant).
    fn with_day_key(&self, scope: &SigningScope<'_>, sign: impl FnOnce(&sigv4::DayKey)) {
        let mut kept = self.day_key.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept.as_ref().is_none_or(|(date, _)| date != scope.date()) {
            let key = sigv4::DayKey::new(&sigv4::signing_key(&self.keys.secret_access_key, scope));
            *kept = Some((scope.date().to_string(), key));
        }
        let (_, key) = kept.as_ref().expect("kept above");
        sign(key);
    }

    /// `/bucket` (or `/` in virtual-hosted style): the bucket itself.
    pub(super) fn bucket_path(&self) -> String {
        match self.settings.virtual_hosted_style {
            true => "/".to_string(),
            false => format!("/{}", self.settings.bucket),
        }
    }

    /// `/bucket/prefix+key` (or `/prefix+key` in virtual-hosted style), validated.
    pub(super) fn object_path(&self, key: &str) -> Result<String, StoreError> {
        if key.is_empty() {
            return Err(StoreError::invalid_key("the key is empty"));
        }
        let full_len = self.settings.key_prefix.len() + key.len();
        if full_len > MAX_KEY_BYTES {
            return Err(StoreError::invalid_key(format!(
                "key \"{}…\" is {full_len} bytes with its prefix; S3 allows {MAX_KEY_BYTES}",
                key.chars().take(40).collect::<String>()
            )));
        }
        let prefix = &self.settings.key_prefix;
        Ok(match self.settings.virtual_hosted_style {
            true => format!("/{prefix}{key}"),
            false => format!("/{}/{prefix}{key}", self.settings.bucket),
        })
    }
}
