//! `coffer demo`: an S3 server in-process, the plugin loaded, and a round trip shown step by step.

use std::time::Instant;

use coffer_testkit::EmbeddedS3;
use coffer_host::{Coffer, TenantSettings};

pub async fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    let server = EmbeddedS3::start("coffer-demo").await?;
    step("start an S3 server (s3s-fs) in-process", started, &server.endpoint);

    let started = Instant::now();
    let coffer = Coffer::new()?;
    step("load the plugin (precompiled and cached on first use)", started, "");
    let tenant = coffer.tenant(settings(&server)?);

    let message: Vec<u8> = b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: Coffer demo\r\n\r\nThe message body, kept as a blob.\r\n".to_vec();
    let key = "demo/message-1";

    let started = Instant::now();
    tenant.put(key, &message).await?;
    step("put", started, &format!("{key}: {} bytes, verified by HEAD", message.len()));

    let started = Instant::now();
    let whole = tenant.get(key, ..).await?;
    anyhow::ensure!(whole.as_deref() == Some(&message[..]), "get returned other bytes");
    step("get", started, &format!("{} bytes, identical", message.len()));

    let started = Instant::now();
    let range = tenant.get(key, 11..57).await?;
    anyhow::ensure!(range.as_deref() == Some(&message[11..57]), "ranged get returned other bytes");
    step("get range 11..57", started, &format!("{:?}", String::from_utf8_lossy(&message[11..57])));

    let started = Instant::now();
    let info = tenant.stat(key).await?.ok_or_else(|| anyhow::anyhow!("stat found nothing"))?;
    step("stat", started, &format!("size {}, etag {}", info.size, info.etag));

    let started = Instant::now();
    let existed = tenant.delete(key).await?;
    anyhow::ensure!(existed, "delete says the object did not exist");
    step("delete", started, "existed: true");

    let started = Instant::now();
    let gone = tenant.get(key, ..).await?;
    anyhow::ensure!(gone.is_none(), "the object is still there after delete");
    step("get after delete", started, "none");

    println!("demo: all steps passed");
    Ok(())
}

/// The demo tenant, built in code: no config file, nothing from the environment.
fn settings(server: &EmbeddedS3) -> anyhow::Result<TenantSettings> {
    let settings = TenantSettings::builder("demo")
        .bucket(&server.bucket)
        .region(&server.region)
        .endpoint(&server.endpoint)
        .access_key(server.access_key.as_str())
        .secret_key(server.secret_key.as_str())
        .build()?;
    Ok(settings)
}

fn step(what: &str, started: Instant, detail: &str) {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    println!("{what:<55} {ms:>9.2} ms  {detail}");
}
