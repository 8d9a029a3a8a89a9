//! How the server forms a multipart object's ETag, learned once per tenant. AWS's formula (the
//! MD5 of the parts' MD5s, then `-N`) lets a whole read and a verifying HEAD check a multipart
//! object against its ETag; a server with another formula would make every such object look
//! damaged. So a mismatch is only called damage once the formula is known to be AWS's:
//! - a verifying HEAD that finds AWS's ETag teaches `aws` at no cost;
//! - a mismatch while the formula is unknown is settled by a probe: a one-part upload of a few
//!   bytes, whose ETag under AWS's formula is known in advance, then deleted;
//! - under `other`, a multipart object is checked against its full-object CRC-32 where the
//!   server kept one, else its size (and each part was checked on the way in, by Content-MD5).

use md5::{Digest, Md5};

use super::call::Budget;
use super::encoding::{base64, hex, is_composite_etag};
use super::request::Payload;
use super::client::Client;
use super::platform::{Body, Platform};
use super::settings::{Dialect, EtagFormula};
use crate::error::StoreError;

/// What the probe uploads.
const PROBE_BYTES: &[u8] = b"coffer: which multipart ETag formula does this server use?";

impl<P: Platform> Client<P> {
    /// The server's formula, probing for it when it is not known yet. `Unknown` when the probe
    /// could not tell (it could not write, say): the caller then keeps to AWS's.
    pub(super) fn etag_formula(&self) -> EtagFormula {
        match self.dialect().multipart_etag {
            EtagFormula::Unknown => {
                let found = self.probe_etag_formula().unwrap_or(EtagFormula::Unknown);
                self.learn_etag_formula(found);
                found
            }
            known => known,
        }
    }

    /// Keeps a formula seen, for the tenant's later calls.
    pub(super) fn learn_etag_formula(&self, formula: EtagFormula) {
        let dialect = self.dialect();
        if formula != EtagFormula::Unknown && dialect.multipart_etag != formula {
            self.learn(Dialect { multipart_etag: formula, ..dialect });
        }
    }

    /// Verify-after-write of a multipart upload: what a HEAD finds wrong with the object, or
    /// `None` when it has `size` bytes and an ETag that is ours, or that the server's own
    /// formula explains.
    pub(super) fn multipart_written_wrong(&self, key: &str, size: u64, etag: &str) -> Result<Option<String>, StoreError> {
        let Some(info) = self.head(key, &mut Budget::default())? else {
            return Ok(Some(format!("multipart upload of key \"{key}\" succeeded but a HEAD finds no object")));
        };
        if info.size != size {
            return Ok(Some(format!(
                "multipart upload of key \"{key}\" sent {size} bytes but the stored object has {}",
                info.size
            )));
        }
        if !is_composite_etag(&info.etag) {
            return Ok(None);
        }
        if info.etag.eq_ignore_ascii_case(etag) {
            self.learn_etag_formula(EtagFormula::Aws);
            return Ok(None);
        }
        Ok(match self.etag_formula() {
            EtagFormula::Other => None,
            EtagFormula::Aws | EtagFormula::Unknown => Some(format!(
                "multipart upload of key \"{key}\" sent ETag {etag} but the stored object's is {}",
                info.etag
            )),
        })
    }

    /// A one-part upload of [`PROBE_BYTES`] under the tenant's prefix, its ETag read by a HEAD
    /// and compared with AWS's formula, then the object deleted.
    fn probe_etag_formula(&self) -> Result<EtagFormula, StoreError> {
        let key = format!(".coffer/etag-probe-{:016x}", self.platform.random_u64());
        let md5: [u8; 16] = Md5::digest(PROBE_BYTES).into();
        // Declared without checksums: its one part carries only its Content-MD5, and a server that
        // keeps checksums would refuse a part without the CRC-32 the upload declared.
        let upload_id = self.create_upload(&key, PROBE_BYTES.len() as u64, false, &mut Budget::default())?;
        let sent = self.probe_part(&key, &upload_id, &md5).and_then(|part_etag| {
            self.complete_one_part(&key, &upload_id, &part_etag)
        });
        if let Err(error) = sent {
            let _ = self.abort_upload(&key, &upload_id);
            return Err(error);
        }
        let stored = self.head(&key, &mut Budget::default());
        let _ = self.call("DELETE", &key).header("content-length", "0").send(&mut Budget::default());
        let aws = format!("{}-1", hex(&Md5::digest(md5)));
        Ok(match stored? {
            Some(info) if info.etag.eq_ignore_ascii_case(&aws) => EtagFormula::Aws,
            Some(_) => EtagFormula::Other,
            None => EtagFormula::Unknown,
        })
    }

    /// UploadPart 1 of the probe, from the plugin's own bytes: the part's ETag.
    fn probe_part(&self, key: &str, upload_id: &str, md5: &[u8; 16]) -> Result<String, StoreError> {
        let sha256 = hex(&self.platform.sha256(PROBE_BYTES));
        let response = self
            .call("PUT", key)
            .query("partNumber", "1")
            .query("uploadId", upload_id)
            .header("content-length", &PROBE_BYTES.len().to_string())
            .header("content-md5", &base64(md5))
            .payload(Payload { body: Body::Bytes(PROBE_BYTES), sha256: &sha256 })
            .send(&mut Budget::default())?;
        match response.status {
            200..=299 => Ok(response.header("etag").unwrap_or_default().trim_matches('"').to_string()),
            _ => Err(self.failure(&response, "UploadPart", key)),
        }
    }
}
