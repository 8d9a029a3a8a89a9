//! Uploads left behind: a `coffer put` killed with SIGKILL during a multipart upload leaves its
//! parts in the bucket. `coffer uploads` lists them (a dry run), and `--abort` removes them.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coffer_tests::{Family, Fault, FaultProxy, Peer, Rule, When, coffer_bin, server, skip_on, tenant_toml, unique_prefix};

#[test]
fn an_upload_left_by_a_killed_put_is_listed_and_aborted() {
    let why = "s3s-fs cannot list uploads in progress (ListMultipartUploads)";
    if skip_on(&[Family::Embedded], "uploads", why) {
        return;
    }
    // The last part is stored but never answered: the put is killed before its completion.
    let proxy = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::Stall, "PUT", When::Always).on_query("partNumber=3&")]);
    let prefix = unique_prefix("uploads");
    let dir = tempfile::tempdir().unwrap();
    let extra = "multipartThreshold = \"5MiB\"\npartSize = \"5MiB\"\n";
    let config = tenant_toml("t", &prefix, extra).replace(&server().endpoint, &proxy.endpoint);
    std::fs::write(dir.path().join("coffer.toml"), &config).unwrap();
    std::fs::write(dir.path().join("big"), coffer_tests::blob(11 << 20, 70)).unwrap();
    let mut put = Command::new(coffer_bin()).args(["put", "mail/big", "big"]).current_dir(dir.path()).stderr(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while proxy.requests("PUT") < 3 {
        assert!(started.elapsed() < Duration::from_secs(60), "the put never sent its last part");
        assert!(put.try_wait().unwrap().is_none(), "the put ended before its last part");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500)); // the part reaches the server
    put.kill().unwrap(); // SIGKILL
    put.wait().unwrap();
    assert_eq!(Peer::uploads_in_progress(&prefix), 1, "the killed put left its upload");

    // The tool talks to the server itself, not through the stalling proxy.
    std::fs::write(dir.path().join("coffer.toml"), tenant_toml("t", &prefix, extra)).unwrap();
    let uploads = |args: &[&str]| {
        let out = Command::new(coffer_bin()).arg("uploads").args(args).current_dir(dir.path()).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "coffer uploads {args:?}: {text}");
        text
    };
    let young = uploads(&[]);
    assert!(young.contains("no upload in progress older than 1day"), "a minute-old upload is no leftover: {young}");
    let listed = uploads(&["--older-than", "0s"]);
    assert!(listed.contains("mail/big") && listed.contains("1 uploads in progress") && listed.contains("--abort"), "{listed}");
    assert_eq!(Peer::uploads_in_progress(&prefix), 1, "a dry run aborts nothing");
    let aborted = uploads(&["--older-than", "0s", "--abort"]);
    assert!(aborted.contains("aborted 1 of 1"), "{aborted}");
    assert_eq!(Peer::uploads_in_progress(&prefix), 0, "the parts are gone");
    assert!(uploads(&["--older-than", "0s"]).contains("no upload in progress"));
}
