//! The operator's tools (docs/operations.md): `coffer ls` against boto3's listing of more than
//! one page, and the orphan recipe run as written, through the CLI.

use std::process::{Command, Stdio};

use coffer_tests::{Peer, coffer_bin, in_parallel, note, proxied_tenant, server, tenant_toml};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_matches_boto3_over_several_pages() {
    let (store, _) = proxied_tenant(&server().endpoint, "ls", |b| b);
    let prefix = store.settings().key_prefix().to_string();
    // 1 100 objects (two pages of 1 000), some with keys that XML and URLs must escape.
    let keys: Vec<String> = (0..1100)
        .map(|i| match i % 4 {
            0 => format!("mail/{i:05}"),
            1 => format!("mail/{i:05} with space+plus"),
            2 => format!("mail/{i:05}/été&<amp>"),
            _ => format!("other/{i:05}"),
        })
        .collect();
    let keys = std::sync::Arc::new(keys);
    let writes = {
        let (store, keys) = (store.clone(), keys.clone());
        in_parallel(keys.len(), 32, move |i| {
            let (store, keys) = (store.clone(), keys.clone());
            async move { store.put(&keys[i], i.to_string().as_bytes()).await }
        })
        .await
    };
    assert!(writes.iter().all(Result::is_ok));

    // The library, page by page.
    let mut listed = Vec::new();
    let mut listing = store.list_all("");
    let mut pages = 0;
    while let Some(page) = listing.next_page().await {
        listed.extend(page.unwrap());
        pages += 1;
    }
    assert_eq!(pages, 2, "1 100 objects come in two pages");
    let from_boto3: Vec<String> =
        Peer::list(&prefix).into_iter().map(|k| k.strip_prefix(&prefix).unwrap().to_string()).collect();
    assert_eq!(listed.iter().map(|o| o.key.clone()).collect::<Vec<_>>(), from_boto3);
    assert_eq!(from_boto3.len(), 1100);
    // s3s-fs lists no ETags (a listing of its answers `<ETag>` empty); every other server does.
    let etag_len = match server().embedded {
        true => {
            note("ls", "the embedded s3s-fs server lists no ETags: the listing's ETag column is checked empty");
            0
        }
        false => 32,
    };
    let first = listed.iter().find(|o| o.key == "mail/00000").unwrap();
    assert_eq!((first.size, first.etag.len()), (1, etag_len));

    // The CLI, under a prefix.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("coffer.toml"), tenant_toml("t", &prefix, "")).unwrap();
    let out = Command::new(coffer_bin()).args(["ls", "--keys-only", "mail/"]).current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    let mail: Vec<&str> = from_boto3.iter().map(String::as_str).filter(|k| k.starts_with("mail/")).collect();
    assert_eq!(cli, mail);
    let long = Command::new(coffer_bin()).args(["ls", "--long", "other/"]).current_dir(dir.path()).output().unwrap();
    let summary = String::from_utf8_lossy(&long.stderr);
    assert!(summary.contains("275 objects"), "{summary}");
    let line = String::from_utf8_lossy(&long.stdout).lines().next().unwrap().to_string();
    let columns: Vec<&str> = line.split_whitespace().collect();
    let etag_column = if etag_len == 0 { 3 } else { 4 };
    assert!(columns.len() == etag_column && columns[1] == "1" && columns[etag_column - 1] == "other/00003", "{line}");
    assert!(etag_len == 0 || columns[2].len() == 32, "{line}");
}

#[tokio::test]
async fn the_orphan_recipe_deletes_what_stalwart_no_longer_references() {
    // Twelve blobs under Stalwart's names; Stalwart still references eight of them.
    let (store, _) = proxied_tenant(&server().endpoint, "orphans", |b| b);
    let prefix = store.settings().key_prefix().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("coffer.toml"), tenant_toml("t", &prefix, "")).unwrap();
    let hashes: Vec<String> = (0..12u8).map(|i| hex::encode([i; 32])).collect();
    for (i, hash) in hashes.iter().enumerate() {
        let name = coffer_host::stalwart::object_name_of_hex(hash).unwrap();
        store.put(&name, format!("blob {i}").as_bytes()).await.unwrap();
    }
    let live: Vec<&String> = hashes.iter().take(8).collect();
    std::fs::write(dir.path().join("live.txt"), live.iter().map(|h| format!("{h}\n")).collect::<String>()).unwrap();

    // docs/operations.md, as written (`sort` in the C locale, as `comm` needs).
    let recipe = |yes: &str| {
        format!(
            "set -e; export LC_ALL=C; sort live.txt > live.sorted
             {coffer} --hex-key ls --keys-only | sort > stored.txt
             comm -23 stored.txt live.sorted > orphans.txt
             {coffer} --hex-key rm --stdin {yes} < orphans.txt",
            coffer = coffer_bin().display()
        )
    };
    let dry = Command::new("sh").arg("-c").arg(recipe("")).current_dir(dir.path()).stderr(Stdio::piped()).output().unwrap();
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    assert!(String::from_utf8_lossy(&dry.stderr).contains("dry run: 4 keys would be deleted"));
    let stored = |hash: &String| Peer::get(&format!("{prefix}{}", coffer_host::stalwart::object_name_of_hex(hash).unwrap())).is_some();
    assert!(hashes.iter().all(stored), "a dry run deletes nothing");

    let done = Command::new("sh").arg("-c").arg(recipe("--yes")).current_dir(dir.path()).stderr(Stdio::piped()).output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(String::from_utf8_lossy(&done.stderr).contains("deleted 4, already missing 0, failed 0"));
    for (i, hash) in hashes.iter().enumerate() {
        assert_eq!(stored(hash), i < 8, "blob {i}");
    }
}

/// `coffer doctor` with `config`: its exit code and its report.
fn doctor(config: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("coffer.toml");
    std::fs::write(&file, config).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = Command::new(coffer_bin()).arg("doctor").current_dir(dir.path()).output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn doctor_passes_on_the_server_and_names_the_cause_of_each_failure() {
    let prefix = coffer_tests::unique_prefix("doctor");
    let good = tenant_toml("t", &prefix, "");
    let (code, report) = doctor(&good);
    assert_eq!(code, Some(0), "{report}");
    for check in ["name", "tcp", "clock", "access", "write", "read", "read range", "delete", "checksums"] {
        assert!(report.lines().any(|l| l.starts_with("ok") && l[6..].starts_with(check)), "{check}: {report}");
    }
    assert!(Peer::list(&prefix).is_empty(), "the probe leaves nothing behind");

    let failed = |config: String, check: &str, cause: &str, fix: &str| {
        let (code, report) = doctor(&config);
        assert_eq!(code, Some(1), "{report}");
        let line = report.lines().find(|l| l.starts_with("FAIL")).unwrap_or_else(|| panic!("{report}"));
        assert!(line[6..].starts_with(check) && line.contains(cause), "{check}: {report}");
        assert!(report.contains(fix), "{check}: {report}");
    };
    let s = server();
    failed(good.replace(&format!("secretKey = \"{}\"", s.secret_key), "secretKey = \"wrong\""), "credentials", "refused the credentials", "check accessKey and secretKey");
    failed(good.replace(&format!("bucket = \"{}\"", s.bucket), "bucket = \"no-such-bucket\""), "bucket", "does not exist", "create the bucket");
    failed(good.replace(&s.endpoint, "http://127.0.0.1:1"), "tcp", "cannot connect", "check the endpoint's port");
    // A server behind a private CA: refused without its caFile, trusted with it.
    let tls = coffer_tests::TlsProxy::start(&s.endpoint);
    let behind = good.replace(&s.endpoint, &tls.endpoint);
    failed(behind.clone(), "tls", "not trusted", "caFile");
    let (code, report) = doctor(&format!("{behind}caFile = \"{}\"\n", tls.ca_file.display()));
    assert_eq!(code, Some(0), "{report}");
    assert!(report.lines().any(|l| l.starts_with("ok    tls") && l.contains("expires")), "{report}");
    // A provider that refuses checksum headers: a warning that names it, and the fix.
    let b2 = coffer_tests::FaultProxy::start_as(&s.endpoint, coffer_tests::Persona::B2, vec![]);
    let (code, report) = doctor(&good.replace(&s.endpoint, &b2.endpoint));
    assert_eq!(code, Some(0), "a warning is not a failure: {report}");
    assert!(report.lines().any(|l| l.starts_with("warn  checksums") && l.contains("refuses x-amz-checksum-*")), "{report}");
    assert!(report.contains("set checksum = \"none\""), "{report}");
}

/// `coffer cp` with `config`, from tenant `src` to `dst`: its exit code and its output.
fn cp(dir: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(coffer_bin())
        .args(["cp", "--from", "src", "--to", "dst", "mail/"])
        .current_dir(dir)
        .output()
        .unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_copies_to_another_provider_skips_what_is_there_and_resumes_after_a_kill() {
    // The source: the server under test. The destination: an s3s-fs server of this test's own.
    let source = coffer_tests::coffer().tenant(
        coffer_tests::builder("src", &server().endpoint, &coffer_tests::unique_prefix("cp"))
            .multipart_threshold(5 << 20)
            .part_size(5 << 20)
            .build()
            .unwrap(),
    );
    let prefix = source.settings().key_prefix().to_string();
    let destination_server = coffer_testkit::EmbeddedS3::start("cp-destination").await.unwrap();
    let destination = coffer_tests::coffer().tenant(
        coffer_host::TenantSettings::builder("dst")
            .bucket(&destination_server.bucket)
            .region(&destination_server.region)
            .endpoint(&destination_server.endpoint)
            .access_key(destination_server.access_key.as_str())
            .secret_key(destination_server.secret_key.as_str())
            .key_prefix("copied/")
            .build()
            .unwrap(),
    );

    // 500 objects of mixed sizes (an empty one; most a few KiB; some up to 300 KiB) and one of
    // 6 MiB, put in two parts; and one outside the prefix copied.
    let size = |i: usize| match i {
        0 => 0,
        250 => 6 << 20,
        i if i % 25 == 0 => 100_000 + i * 400,
        i => (i * 37) % 9000 + 1,
    };
    let keys: Vec<String> = (0..500).map(|i| format!("mail/{:02}/{i:04}", i % 7)).collect();
    let keys = std::sync::Arc::new(keys);
    let writes = {
        let (source, keys) = (source.clone(), keys.clone());
        in_parallel(keys.len(), 16, move |i| {
            let (source, keys) = (source.clone(), keys.clone());
            async move { source.put(&keys[i], &coffer_tests::blob(size(i), i as u64)).await }
        })
        .await
    };
    assert!(writes.iter().all(Result::is_ok));
    source.put("other/not-copied", b"x").await.unwrap();
    let big = source.stat(&keys[250]).await.unwrap().unwrap();
    assert!(big.etag.ends_with("-2\"") || big.etag.ends_with("-2"), "put in two parts: {}", big.etag);

    let dir = tempfile::tempdir().unwrap();
    let multipart = "multipartThreshold = \"5MiB\"\npartSize = \"5MiB\"";
    let config = |endpoint: &str| {
        format!(
            "{}[tenants.dst]\nbucket = \"{}\"\nregion = \"{}\"\nendpoint = \"{endpoint}\"\naccessKey = \"{}\"\nsecretKey = \"{}\"\nkeyPrefix = \"copied/\"\n{multipart}\n",
            tenant_toml("src", &prefix, multipart),
            destination_server.bucket,
            destination_server.region,
            destination_server.access_key,
            destination_server.secret_key
        )
    };

    // First run, through a proxy that holds back the answer to every PUT after the 150th: it
    // is killed there, midway.
    let proxy = coffer_tests::FaultProxy::start(
        &destination_server.endpoint,
        vec![coffer_tests::Rule::new(coffer_tests::Fault::Stall, "PUT", coffer_tests::When::After(150))],
    );
    let write_config = |endpoint: &str| {
        let file = dir.path().join("coffer.toml");
        std::fs::write(&file, config(endpoint)).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    };
    write_config(&proxy.endpoint);
    let mut first = Command::new(coffer_bin())
        .args(["cp", "--from", "src", "--to", "dst", "mail/"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let waited = std::time::Instant::now();
    while proxy.injected(coffer_tests::Fault::Stall) == 0 {
        assert!(waited.elapsed() < std::time::Duration::from_secs(60), "the first run reaches the stall");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let mut there = 0;
    let mut listing = destination.list_all("");
    while let Some(page) = listing.next_page().await {
        there += page.unwrap().len();
    }
    assert!((100..500).contains(&there), "killed midway: {there} of 500 copied");

    // Second run, straight to the server: it resumes, copying only what is not there yet.
    write_config(&destination_server.endpoint);
    let (code, output) = cp_off_the_runtime(dir.path()).await;
    assert_eq!(code, Some(0), "{output}");
    let (copied, skipped) = counts(&output);
    assert_eq!(copied + skipped, 500, "{output}");
    assert!(skipped >= 100 && copied >= 1, "resumed: {output}");

    // Third run: nothing to copy.
    let (code, output) = cp_off_the_runtime(dir.path()).await;
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(counts(&output), (0, 500), "{output}");

    // Every object arrived whole, under its own name; nothing else did.
    let checks = {
        let (source, destination, keys) = (source.clone(), destination.clone(), keys.clone());
        in_parallel(keys.len(), 16, move |i| {
            let (source, destination, keys) = (source.clone(), destination.clone(), keys.clone());
            async move {
                let copied = destination.get(&keys[i], ..).await.unwrap();
                copied == source.get(&keys[i], ..).await.unwrap() && copied.is_some_and(|c| c.len() == size(i))
            }
        })
        .await
    };
    assert!(checks.iter().all(|same| *same), "every copy is the source's bytes");
    assert_eq!(destination.stat("other/not-copied").await.unwrap(), None);
}

/// [`cp`] on a blocking thread, so that the destination server, on this test's runtime, goes on
/// answering.
async fn cp_off_the_runtime(dir: &std::path::Path) -> (Option<i32>, String) {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || cp(&dir)).await.unwrap()
}

/// The copied and skipped counts of `coffer cp`'s summary.
fn counts(output: &str) -> (u64, u64) {
    let line = output.lines().find(|l| l.starts_with("copied ")).unwrap_or_else(|| panic!("no summary: {output}"));
    let number = |after: &str| line.split(after).nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    (number("copied "), number("skipped "))
}
