//! The operator's bucket tools: `coffer ls` and `coffer rm --stdin`, which together find and
//! remove orphans (docs/operations.md).

use std::io::{BufRead, Write};

use coffer_host::{Listed, Tenant, stalwart};

use crate::failure::Failure;

/// How `ls` prints each object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Size and key.
    Short,
    /// Last-Modified, size, ETag and key.
    Long,
    /// The key alone, and no summary.
    KeysOnly,
}

/// Lists every object under `prefix`, page after page, as it comes. With `hex_key`, keys are
/// shown as the hex bytes whose Stalwart name they are; a key that is no Stalwart name is
/// left out, and counted on standard error.
pub async fn ls(tenant: &Tenant, prefix: &str, style: Style, hex_key: bool) -> Result<(), Failure> {
    let mut listing = tenant.list_all(prefix);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut objects, mut bytes, mut not_stalwart) = (0u64, 0u64, 0u64);
    let broken = |e: std::io::Error| Failure::Other(format!("cannot write the listing: {e}"));
    while let Some(page) = listing.next_page().await {
        for object in page? {
            let Some(key) = shown_key(&object, hex_key) else {
                not_stalwart += 1;
                continue;
            };
            objects += 1;
            bytes += object.size;
            match style {
                Style::KeysOnly => writeln!(out, "{key}"),
                Style::Short => writeln!(out, "{:>12} {key}", object.size),
                Style::Long => writeln!(
                    out,
                    "{:<24} {:>12} {:<34} {key}",
                    object.last_modified.as_deref().unwrap_or("-"),
                    object.size,
                    object.etag
                ),
            }
            .map_err(broken)?;
        }
        out.flush().map_err(broken)?;
    }
    if style != Style::KeysOnly {
        eprintln!("{objects} objects, {bytes} bytes");
    }
    if not_stalwart > 0 {
        eprintln!("coffer: {not_stalwart} keys are not Stalwart names and were left out (--hex-key)");
    }
    Ok(())
}

fn shown_key(object: &Listed, hex_key: bool) -> Option<String> {
    match hex_key {
        true => stalwart::key_of_object_name(&object.key).map(hex::encode),
        false => Some(object.key.clone()),
    }
}

/// Deletes the keys given one a line on standard input (hex bytes with `hex_key`), or with
/// `yes` false only says what it would delete. Blank lines are skipped. Ends with a summary;
/// fails (exit 1) when any delete failed, after trying every key.
pub async fn rm_stdin(tenant: &Tenant, hex_key: bool, yes: bool) -> Result<(), Failure> {
    let (mut deleted, mut missing, mut failed, mut would) = (0u64, 0u64, 0u64, 0u64);
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| Failure::Other(format!("cannot read standard input: {e}")))?;
        let given = line.trim_end_matches('\r');
        if given.trim().is_empty() {
            continue;
        }
        let key = match hex_key {
            true => stalwart::object_name_of_hex(given).map_err(|m| Failure::Config(format!("--hex-key: {m}")))?,
            false => given.to_string(),
        };
        if !yes {
            println!("would delete {key}");
            would += 1;
            continue;
        }
        match tenant.delete(&key).await {
            Ok(true) => deleted += 1,
            Ok(false) => missing += 1,
            Err(error) => {
                eprintln!("coffer: {error}");
                failed += 1;
            }
        }
    }
    if !yes {
        eprintln!("dry run: {would} keys would be deleted; run again with --yes to delete them");
        return Ok(());
    }
    eprintln!("deleted {deleted}, already missing {missing}, failed {failed}");
    match failed {
        0 => Ok(()),
        _ => Err(Failure::Other(format!("{failed} deletes failed"))),
    }
}
