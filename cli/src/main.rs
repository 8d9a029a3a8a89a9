//! The `coffer` command: parse, call the host library, map errors to exit codes.
//! 0 ok; 3 the key does not exist (get, stat); 2 usage and config errors; 1 any other failure.

#[cfg(feature = "bench")]
mod bench;
mod demo;
mod progress;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use coffer_host::config::Config;
use coffer_host::{Coffer, ErrorKind, StoreError, Tenant};

#[derive(Parser)]
#[command(name = "coffer", version, about = "A blob store for mail servers, on S3, run as a sandboxed WebAssembly plugin")]
struct Cli {
    /// The config file.
    #[arg(long, global = true, default_value = "coffer.toml")]
    config: PathBuf,
    /// The tenant to use; the only one in the config when not given.
    #[arg(long, global = true)]
    tenant: Option<String>,
    /// KEY is hex bytes, stored under Stalwart's name for them (base32 with Stalwart's alphabet),
    /// so blobs a Stalwart server wrote to the bucket are found where it put them.
    #[arg(long, global = true)]
    hex_key: bool,
    /// Run this component (a .wasm exporting coffer:blobstore/plugin) instead of the plugin
    /// built into this binary.
    #[arg(long, global = true, value_name = "WASM")]
    plugin: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Store FILE (standard input when absent) under KEY.
    Put { key: String, file: Option<PathBuf> },
    /// Write the object KEY to FILE (standard output when absent).
    Get {
        key: String,
        file: Option<PathBuf>,
        /// A half-open byte range START..END, or START.. to read to the end.
        #[arg(long, value_parser = parse_range)]
        range: Option<(u64, Option<u64>)>,
    },
    /// Delete the object KEY.
    Rm { key: String },
    /// Print the size, ETag and Last-Modified of KEY.
    Stat { key: String },
    /// Measure Coffer against rust-s3 and a plain-HTTP ceiling on the server of
    /// COFFER_TEST_S3_* (built with `--features bench`).
    #[cfg(feature = "bench")]
    Bench {
        /// How long each client runs each case, in all.
        #[arg(long, default_value = "6s", value_parser = humantime::parse_duration)]
        duration: std::time::Duration,
        /// Also write the results to FILE as JSON, and a chart beside it (FILE with .svg).
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Run only this case (put-4KiB, get-4KiB, put-1MiB, get-1MiB); repeatable.
        #[arg(long = "case", value_name = "CASE")]
        cases: Vec<String>,
        /// Measure the sandbox alone (overhead per call and cold start), without a server.
        #[arg(long)]
        sandbox_only: bool,
        /// Calls in the sandbox-overhead loop.
        #[arg(long, default_value_t = 20_000)]
        calls: usize,
        /// Instance slots of the pooling allocator (fewer reserve less address space, e.g. to
        /// run under valgrind).
        #[arg(long)]
        max_instances: Option<u32>,
    },
    /// Start an S3 server in-process and show a round trip through the plugin.
    Demo,
}

enum Failure {
    /// Usage or config: exit 2.
    Config(String),
    /// The key does not exist: exit 3.
    Missing(String),
    /// Anything else: exit 1.
    Other(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e.kind() {
            ErrorKind::InvalidConfig => Failure::Config(e.to_string()),
            _ => Failure::Other(e.to_string()),
        }
    }
}

fn parse_range(text: &str) -> Result<(u64, Option<u64>), String> {
    let (start, end) = text.split_once("..").ok_or("expected START..END or START..")?;
    let start = start.parse().map_err(|_| format!("\"{start}\" is not a byte offset"))?;
    let end = match end {
        "" => None,
        end => Some(end.parse().map_err(|_| format!("\"{end}\" is not a byte offset"))?),
    };
    Ok((start, end))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COFFER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("coffer_host=warn,coffer_host::call=off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(m)) => exit(2, &m),
        Err(Failure::Missing(m)) => exit(3, &m),
        Err(Failure::Other(m)) => exit(1, &m),
    }
}

fn exit(code: u8, message: &str) -> ExitCode {
    eprintln!("coffer: {message}");
    ExitCode::from(code)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Demo = cli.command {
        return demo::run().await.map_err(|e| Failure::Other(format!("{e:#}")));
    }
    #[cfg(feature = "bench")]
    if let Command::Bench { duration, json, cases, sandbox_only, calls, max_instances } = &cli.command {
        let failed = |e: anyhow::Error| Failure::Other(format!("bench: {e:#}"));
        bench::check_cases(cases).map_err(failed)?;
        if let Some(slots) = max_instances {
            bench::set_max_instances(*slots);
        }
        let (p50, p99) = bench::sandbox_overhead(*calls).await.map_err(failed)?;
        println!("sandbox overhead per call (a warm instance: call, sign, return; the host answers at once): p50 {p50:.1?}, p99 {p99:.1?}");
        let cold = bench::cold_start().await.map_err(failed)?;
        println!(
            "cold start, precompiled component cached: a new host p50 {:.2?} (of {}); a new tenant and its first call: the host's first {:.2?}, p50 {:.2?}, p99 {:.2?} (of {})",
            cold.host_p50,
            bench::COLD_HOSTS,
            cold.tenant_first,
            cold.tenant_p50,
            cold.tenant_p99,
            bench::COLD_TENANTS
        );
        if *sandbox_only {
            return Ok(());
        }
        let size = 50 << 20;
        let (before, growth) = bench::peak_rss_of_one_put(size).await.map_err(failed)?;
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        println!(
            "one 50 MiB put (blob held by the caller): peak RSS {:.0} MiB above the {:.0} MiB before, {:.2}x the blob",
            mib(growth),
            mib(before),
            growth as f64 / size as f64
        );
        let rows = bench::run(*duration, cases).await.map_err(failed)?;
        print!("{}", bench::table(&rows));
        if let Some(path) = json {
            bench::write_json_and_chart(&rows, path).map_err(|e| Failure::Other(format!("bench: {e:#}")))?;
        }
        return Ok(());
    }
    let config = Config::load(&cli.config).map_err(|e| Failure::Config(e.to_string()))?;
    let settings = config.tenant(cli.tenant.as_deref()).map_err(|e| Failure::Config(e.to_string()))?;
    let component = match &cli.plugin {
        Some(path) => Some(std::fs::read(path).map_err(|e| Failure::Config(format!("--plugin {}: {e}", path.display())))?),
        None => None,
    };
    let options = coffer_host::HostOptions { component, ..Default::default() };
    let coffer = Coffer::with_options(options).map_err(|e| Failure::Other(format!("loading the plugin: {e}")))?;
    let tenant = coffer.tenant(settings);
    let object_key = |key: String| -> Result<String, Failure> {
        if cli.hex_key {
            coffer_host::stalwart::object_name_of_hex(&key).map_err(|m| Failure::Config(format!("--hex-key: {m}")))
        } else {
            Ok(key)
        }
    };
    match cli.command {
        Command::Put { key, file } => put(&tenant, &object_key(key)?, file).await,
        Command::Get { key, file, range } => get(&tenant, &object_key(key)?, file, range).await,
        Command::Rm { key } => {
            let key = object_key(key)?;
            if !tenant.delete(&key).await? {
                eprintln!("coffer: key \"{key}\" did not exist");
            }
            Ok(())
        }
        Command::Stat { key } => {
            let key = object_key(key)?;
            match tenant.stat(&key).await? {
                Some(info) => {
                    println!("size: {}", info.size);
                    println!("etag: {}", info.etag);
                    if let Some(modified) = info.last_modified {
                        println!("last-modified: {modified}");
                    }
                    Ok(())
                }
                None => Err(Failure::Missing(format!("key \"{key}\" does not exist"))),
            }
        }
        Command::Demo => unreachable!("handled above"),
        #[cfg(feature = "bench")]
        Command::Bench { .. } => unreachable!("handled above"),
    }
}

async fn put(tenant: &Tenant, key: &str, file: Option<PathBuf>) -> Result<(), Failure> {
    let data = match &file {
        Some(path) => std::fs::read(path).map_err(|e| Failure::Other(format!("cannot read {}: {e}", path.display())))?,
        None => {
            let mut data = Vec::new();
            std::io::stdin()
                .read_to_end(&mut data)
                .map_err(|e| Failure::Other(format!("cannot read standard input: {e}")))?;
            data
        }
    };
    let _progress = progress::Progress::watch(tenant, progress::Direction::Up, Some(data.len() as u64));
    tenant.put(key, &data).await?;
    Ok(())
}

async fn get(tenant: &Tenant, key: &str, file: Option<PathBuf>, range: Option<(u64, Option<u64>)>) -> Result<(), Failure> {
    let progress = progress::Progress::watch(tenant, progress::Direction::Down, None);
    let data = match range {
        None => tenant.get(key, ..).await?,
        Some((start, Some(end))) => tenant.get(key, start..end).await?,
        Some((start, None)) => tenant.get(key, start..).await?,
    };
    drop(progress);
    let data = data.ok_or_else(|| Failure::Missing(format!("key \"{key}\" does not exist")))?;
    let written = match &file {
        Some(path) => std::fs::write(path, &data).map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => std::io::stdout().write_all(&data).and_then(|()| std::io::stdout().flush()).map_err(|e| format!("cannot write standard output: {e}")),
    };
    written.map_err(Failure::Other)
}
