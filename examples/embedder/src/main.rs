//! A mail server's use of `coffer-host`, from outside Coffer's workspace: settings in code (here
//! from `COFFER_TEST_S3_*`, as a mail server would take them from its own store), then put, get
//! (whole and ranged), stat and delete. Exits non-zero on the first thing that is not as it
//! should be.

use coffer_host::{Coffer, ErrorKind, TenantSettings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(format!("COFFER_TEST_S3_{name}")).map_err(|_| format!("set COFFER_TEST_S3_{name}"));
    let settings = TenantSettings::builder("embedder")
        .bucket(var("BUCKET")?)
        .region(var("REGION")?)
        .endpoint(var("ENDPOINT")?)
        .access_key(var("ACCESS_KEY")?)
        .secret_key(var("SECRET_KEY")?)
        .key_prefix(format!("embedder-{}/", std::process::id()))
        .build()?;
    let tenant = Coffer::new()?.tenant(settings);

    let body = b"From: alice@example.org\r\nSubject: embedded\r\n\r\nhello from outside the workspace\r\n";
    tenant.put("message", body).await?;
    check(tenant.get("message", ..).await?.as_deref() == Some(&body[..]), "get whole")?;
    check(tenant.get("message", 6..23).await?.as_deref() == Some(&body[6..23]), "get 6..23")?;
    check(tenant.get("message", 50..).await?.as_deref() == Some(&body[50..]), "get 50..")?;
    let info = tenant.stat("message").await?.ok_or("stat found nothing")?;
    check(info.size == body.len() as u64, "stat size")?;
    check(tenant.delete("message").await?, "delete of an existing object")?;
    check(tenant.get("message", ..).await?.is_none(), "get after delete")?;

    // A wrong secret: the kind, the status and the S3 code, not a string to parse.
    let wrong = TenantSettings::builder("embedder-wrong")
        .bucket(var("BUCKET")?)
        .region(var("REGION")?)
        .endpoint(var("ENDPOINT")?)
        .access_key(var("ACCESS_KEY")?)
        .secret_key("not-the-secret")
        .build()?;
    let error = Coffer::new()?.tenant(wrong).stat("message").await.unwrap_err();
    check(error.kind() == ErrorKind::AccessDenied && error.status() == Some(403), "a wrong secret is access denied")?;

    println!("embedder: put, get (whole, 6..23, 50..), stat, delete and a refused secret passed");
    Ok(())
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(format!("embedder: {what} failed")) }
}
