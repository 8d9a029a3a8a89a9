//! Multipart uploads left in progress: a host killed during a multipart upload leaves its parts
//! in the bucket, stored and billed until the upload is aborted. [`Tenant::uploads_all`] lists
//! the tenant's, and [`Tenant::abort_upload`] drops one (`coffer uploads`, `coffer doctor`).

use std::time::{Duration, Instant, SystemTime};

use crate::api::error::StoreError;
use crate::api::telemetry::Op;
use crate::api::tenant::{Tenant, outcome};

/// A multipart upload in progress: its key (without the tenant's key prefix), its id, and
/// when it was started, as the server said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub key: String,
    pub upload_id: String,
    /// An ISO 8601 time (`2026-12-01T10:00:00.000Z`), when the server gave one.
    pub initiated: Option<String>,
}

impl Upload {
    /// How long ago the upload was started, by `now`; `None` when the server gave no time, or
    /// one that cannot be read.
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        let initiated = humantime::parse_rfc3339_weak(self.initiated.as_deref()?.trim()).ok()?;
        Some(now.duration_since(initiated).unwrap_or_default())
    }
}

/// The pages of the uploads in progress, fetched one at a time.
pub struct Uploads {
    tenant: Tenant,
    prefix: String,
    after: Option<(String, String)>,
    done: bool,
}

impl Uploads {
    /// The next page; `None` after the last.
    pub async fn next_page(&mut self) -> Option<Result<Vec<Upload>, StoreError>> {
        if self.done {
            return None;
        }
        let after = self.after.as_ref().map(|(key, id)| (key.as_str(), id.as_str()));
        match self.tenant.list_uploads(&self.prefix, after).await {
            Ok((uploads, next)) => {
                self.done = next.is_none();
                self.after = next;
                Some(Ok(uploads))
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }

    /// Every page, gathered.
    pub async fn collect(mut self) -> Result<Vec<Upload>, StoreError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await {
            all.extend(page?);
        }
        Ok(all)
    }
}

impl Tenant {
    /// One page of the multipart uploads in progress whose keys start with `prefix`, after
    /// `after` (a key and an upload id): ListMultipartUploads. The uploads, and where the next
    /// page starts.
    pub async fn list_uploads(
        &self,
        prefix: &str,
        after: Option<(&str, &str)>,
    ) -> Result<(Vec<Upload>, Option<(String, String)>), StoreError> {
        let started = Instant::now();
        let after = after.map(|(key, id)| (key.to_string(), id.to_string()));
        let (result, counts) =
            self.runner.run(prefix, async |plugin, store| plugin.call_list_uploads(store, prefix, after.as_ref().map(|(k, i)| (k.as_str(), i.as_str()))).await).await;
        let listed = result.as_ref().map_or(0, |p| p.uploads.len() as u64);
        self.report(Op::List, prefix, listed, started, counts, outcome(&result, |_| true));
        result.map(|page| {
            let uploads =
                page.uploads.into_iter().map(|u| Upload { key: u.key, upload_id: u.upload_id, initiated: u.initiated }).collect();
            (uploads, page.next)
        })
    }

    /// Every multipart upload in progress whose key starts with `prefix`, page after page.
    pub fn uploads_all(&self, prefix: &str) -> Uploads {
        Uploads { tenant: self.clone(), prefix: prefix.to_string(), after: None, done: false }
    }

    /// Aborts the multipart upload `upload_id` of `key`: its parts are dropped. One already
    /// gone is not an error.
    pub async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        let started = Instant::now();
        let (result, counts) = self.runner.run(key, async |plugin, store| plugin.call_abort_upload(store, key, upload_id).await).await;
        self.report(Op::Delete, key, 0, started, counts, outcome(&result, |_| true));
        result
    }
}
