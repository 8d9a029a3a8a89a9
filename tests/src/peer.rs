//! The independent client: boto3, through tests/peer/s3peer.py, on the server under test. What
//! Coffer stores, another S3 client reads, and the other way round.

use std::path::Path;
use std::process::Command;

use crate::server::server;

/// The boto3 client of tests/peer, against the server under test.
pub struct Peer;

impl Peer {
    fn command(op: &str, full_key: &str, file: &Path) -> Command {
        let s = server();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peer/s3peer.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script).args([op, full_key]).arg(file);
        cmd.env("COFFER_PEER_ENDPOINT", &s.endpoint)
            .env("COFFER_PEER_REGION", &s.region)
            .env("COFFER_PEER_BUCKET", &s.bucket)
            .env("COFFER_PEER_ACCESS_KEY", &s.access_key)
            .env("COFFER_PEER_SECRET_KEY", &s.secret_key);
        cmd
    }

    fn run(mut cmd: Command, what: &str) -> std::process::Output {
        let output = cmd.output().unwrap_or_else(|e| panic!("running python3 for the boto3 peer: {e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("No module named 'boto3'"),
            "the independent client needs boto3: `python3 -m pip install boto3` (scripts/test does it)"
        );
        assert!(output.status.success() || output.status.code() == Some(3), "{what} failed: {stderr}");
        output
    }

    /// Stores `data` under the full object key (prefix included), as another S3 client would.
    pub fn put(full_key: &str, data: &[u8]) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), data).unwrap();
        Peer::run(Peer::command("put", full_key, file.path()), &format!("boto3 put {full_key:?}"));
    }

    /// Stores `data` under the full object key with boto3's checksum `algorithm` (`CRC32C`...),
    /// which the server checks and keeps.
    pub fn put_with_checksum(full_key: &str, data: &[u8], algorithm: &str) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), data).unwrap();
        let what = format!("boto3 put {full_key:?} with {algorithm}");
        Peer::run(Peer::command(&format!("put-{algorithm}"), full_key, file.path()), &what);
    }

    /// The object's checksum fields as boto3's HEAD gives them (`ChecksumCRC32=… ChecksumType=…`).
    pub fn checksums(full_key: &str) -> String {
        let output = Peer::run(Peer::command("checksums", full_key, Path::new("-")), "boto3 head_object checksums");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// The full keys under `prefix`, as boto3 lists them (every page), in its order.
    pub fn list(prefix: &str) -> Vec<String> {
        let output = Peer::run(Peer::command("list", prefix, Path::new("-")), "boto3 list_objects_v2");
        String::from_utf8(output.stdout).unwrap().lines().map(str::to_string).collect()
    }

    /// Stalwart's object name for `key`, computed by Python's base64 module (not by Coffer).
    pub fn stalwart_name(key: &[u8]) -> String {
        let output = Peer::run(Peer::command("stalwart-name", &hex::encode(key), Path::new("-")), "stalwart-name");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// How many multipart uploads under `prefix` are in progress (their parts kept, unbilled
    /// only once aborted or completed).
    pub fn uploads_in_progress(prefix: &str) -> usize {
        let output = Peer::run(Peer::command("uploads", prefix, Path::new("-")), "boto3 list_multipart_uploads");
        String::from_utf8(output.stdout).unwrap().trim().parse().unwrap()
    }

    /// Decrypts `stored`, the object `full_key` of an encrypted tenant, with Python's
    /// `cryptography` from docs/encryption.md alone (tests/peer/coffer_decrypt.py), given its
    /// keys as (id, hex): the plaintext, or the script's error.
    pub fn decrypt(full_key: &str, stored: &[u8], keys: &[(&str, &str)]) -> Result<Vec<u8>, String> {
        use std::io::Write as _;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peer/coffer_decrypt.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(full_key)
            .args(keys.iter().map(|(id, key)| format!("{id}={key}")))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running python3 for the independent decryption: {e}"));
        let mut stdin = child.stdin.take().unwrap();
        let stored = stored.to_vec();
        let feeding = std::thread::spawn(move || stdin.write_all(&stored));
        let output = child.wait_with_output().unwrap();
        feeding.join().unwrap().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(
            !stderr.contains("No module named 'cryptography'"),
            "the independent decryption needs cryptography: `python3 -m pip install cryptography` (scripts/test does it)"
        );
        match output.status.success() {
            true => Ok(output.stdout),
            false => Err(stderr),
        }
    }

    /// Reads the full object key with boto3; `None` when it does not exist.
    pub fn get(full_key: &str) -> Option<Vec<u8>> {
        let file = tempfile::NamedTempFile::new().unwrap();
        let output = Peer::run(Peer::command("get", full_key, file.path()), &format!("boto3 get {full_key:?}"));
        (output.status.code() == Some(0)).then(|| std::fs::read(file.path()).unwrap())
    }
}
