//! The `coffer` command: parse, call the host library, map errors to exit codes.
//! 0 ok; 3 the key does not exist (get, stat); 2 usage and config errors; 1 any other failure.

mod copy;
mod demo;
mod doctor;
mod failure;
mod tools;
mod progress;
mod rewrap;
mod tally;
mod uploads;

use std::ops::Bound;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use coffer_host::config::Config;
use coffer_host::{Coffer, Tenant};

use failure::Failure;

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
    /// Delete the object KEY; or, with --stdin, the keys given one a line on standard input
    /// (a dry run unless --yes).
    Rm {
        #[arg(required_unless_present = "stdin", conflicts_with = "stdin")]
        key: Option<String>,
        /// Read the keys to delete from standard input, one a line.
        #[arg(long)]
        stdin: bool,
        /// With --stdin: delete them (without it, only say what would be deleted).
        #[arg(long, requires = "stdin")]
        yes: bool,
    },
    /// List the objects whose keys start with PREFIX (all when absent): size and key, a line
    /// each, and a summary on standard error.
    Ls {
        prefix: Option<String>,
        /// Last-Modified, size, ETag and key.
        #[arg(long, conflicts_with = "keys_only")]
        long: bool,
        /// Only the keys, one a line, and no summary: for scripts (`coffer rm --stdin`).
        #[arg(long)]
        keys_only: bool,
    },
    /// Copy every object whose key starts with PREFIX (all when absent) from the tenant FROM to
    /// the tenant TO of the config, under the same names: streamed, a few at a time, each one
    /// verified. Objects TO already has with the same size and ETag are skipped, so a second
    /// run copies nothing and a stopped run resumes. Exit status 0 only when nothing failed.
    Cp {
        #[arg(long, value_name = "FROM")]
        from: String,
        #[arg(long, value_name = "TO")]
        to: String,
        prefix: Option<String>,
        /// Objects copied at once.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
        /// A line for each object copied or skipped, on standard output.
        #[arg(long, short)]
        verbose: bool,
        /// Skip objects TO has with the same size, whatever their ETag: for an encrypted
        /// tenant (its ETags are its ciphertext's), and safe where names are the content's hash
        /// (Stalwart's blobs).
        #[arg(long)]
        size_only: bool,
    },
    /// Seal again with encryption.keyId every object of the (encrypted) tenant whose keys start
    /// with PREFIX and that is sealed with an older key, so that key can be dropped from
    /// oldKeys. Exit status 0 only when nothing failed.
    Rewrap {
        prefix: Option<String>,
        /// Objects sealed again at once.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
        /// A line for each object sealed again or skipped, on standard output.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Print the size, ETag and Last-Modified of KEY.
    Stat { key: String },
    /// List the multipart uploads left in progress under PREFIX (all when absent) older than
    /// --older-than, whose parts are stored and billed until aborted; abort them with --abort
    /// (a dry run without).
    Uploads {
        prefix: Option<String>,
        /// Only uploads started longer ago than this ("1d", "6h", "0s" for all).
        #[arg(long, default_value = "1d", value_parser = humantime::parse_duration)]
        older_than: std::time::Duration,
        /// Abort them (without it, only say which would be aborted).
        #[arg(long)]
        abort: bool,
    },
    /// Check the tenant before mail goes there: its endpoint (name, TCP, TLS), the server's
    /// clock, the credentials and the bucket, a probe object written, read and deleted, the
    /// checksum dialect. Exit status 0 when nothing failed.
    Doctor,
    /// Start an S3 server in-process and show a round trip through the plugin.
    Demo,
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
    let (config, coffer) = host(&cli)?;
    if let Command::Cp { from, to, prefix, jobs, verbose, size_only } = &cli.command {
        if from == to {
            return Err(Failure::Config(format!("cp: --from and --to are the same tenant \"{from}\"")));
        }
        let tenant = |name: &str| config.tenant(Some(name)).map_err(|e| Failure::Config(format!("cp: {e}")));
        let (from, to) = (coffer.tenant(tenant(from)?), coffer.tenant(tenant(to)?));
        return copy::cp(&from, &to, prefix.as_deref().unwrap_or(""), usize::from(*jobs), *verbose, *size_only).await;
    }
    let settings = config.tenant(cli.tenant.as_deref()).map_err(|e| Failure::Config(e.to_string()))?;
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
        Command::Rm { key: Some(key), .. } => {
            let key = object_key(key)?;
            if !tenant.delete(&key).await? {
                eprintln!("coffer: key \"{key}\" did not exist");
            }
            Ok(())
        }
        Command::Rm { key: None, yes, .. } => tools::rm_stdin(&tenant, cli.hex_key, yes).await,
        Command::Ls { prefix, long, keys_only } => {
            let style = match (long, keys_only) {
                (true, _) => tools::Style::Long,
                (_, true) => tools::Style::KeysOnly,
                _ => tools::Style::Short,
            };
            tools::ls(&tenant, prefix.as_deref().unwrap_or(""), style, cli.hex_key).await
        }
        Command::Stat { key } => stat(&tenant, &object_key(key)?).await,
        Command::Rewrap { prefix, jobs, verbose } => {
            rewrap::rewrap(&tenant, prefix.as_deref().unwrap_or(""), usize::from(jobs), verbose).await
        }
        Command::Uploads { prefix, older_than, abort } => {
            uploads::run(&tenant, prefix.as_deref().unwrap_or(""), older_than, abort).await
        }
        Command::Doctor => match doctor::run(&tenant, tenant.settings()).await {
            true => Ok(()),
            false => Err(Failure::Other("doctor: a check failed (see above)".into())),
        },
        Command::Demo | Command::Cp { .. } => unreachable!("handled above"),
    }
}

/// The config file, and the host it sets up (with `--plugin`'s component, when given).
fn host(cli: &Cli) -> Result<(Config, Coffer), Failure> {
    let config = Config::load(&cli.config).map_err(|e| Failure::Config(e.to_string()))?;
    let component = match &cli.plugin {
        Some(path) => Some(std::fs::read(path).map_err(|e| Failure::Config(format!("--plugin {}: {e}", path.display())))?),
        None => None,
    };
    let options = config.host_options().map_err(|e| Failure::Config(e.to_string()))?;
    let options = coffer_host::HostOptions { component, ..options };
    let coffer = Coffer::with_options(options).map_err(|e| Failure::Other(format!("loading the plugin: {e}")))?;
    Ok((config, coffer))
}

/// Prints the size, ETag and Last-Modified of `key`.
async fn stat(tenant: &Tenant, key: &str) -> Result<(), Failure> {
    match tenant.stat(key).await? {
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

/// Streams FILE (or standard input) to the store in bounded memory. S3 needs a body's length
/// before its first byte, so standard input that is not a file (a pipe) is first spooled to a
/// temporary file, never held in memory.
async fn put(tenant: &Tenant, key: &str, file: Option<PathBuf>) -> Result<(), Failure> {
    let (reader, len) = match &file {
        Some(path) => {
            let cannot = |e: std::io::Error| Failure::Other(format!("cannot read {}: {e}", path.display()));
            let file = std::fs::File::open(path).map_err(cannot)?;
            let len = file.metadata().map_err(cannot)?.len();
            (file, len)
        }
        None => stdin_as_file().map_err(|e| Failure::Other(format!("cannot read standard input: {e}")))?,
    };
    let _progress = progress::Progress::watch(tenant, progress::Direction::Up, Some(len));
    tenant.put_stream(key, tokio::fs::File::from_std(reader), len).await?;
    Ok(())
}

/// Standard input as a file of known length: itself when it is one, else a spooled copy.
fn stdin_as_file() -> std::io::Result<(std::fs::File, u64)> {
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    let file = std::fs::File::from(stdin.as_fd().try_clone_to_owned()?);
    let metadata = file.metadata()?;
    if metadata.is_file() {
        let at = std::io::Seek::stream_position(&mut &file)?;
        return Ok((file, metadata.len().saturating_sub(at)));
    }
    let mut spool = tempfile::tempfile()?;
    let len = std::io::copy(&mut stdin.lock(), &mut spool)?;
    std::io::Seek::rewind(&mut spool)?;
    Ok((spool, len))
}

/// Streams the object (or a range of it) to FILE or standard output in bounded memory. A file
/// is written beside its final name and renamed there only once every byte has been checked,
/// so a failed get leaves no file behind. On standard output the bytes go out as they come:
/// after an error, discard what was written.
async fn get(tenant: &Tenant, key: &str, file: Option<PathBuf>, range: Option<(u64, Option<u64>)>) -> Result<(), Failure> {
    let progress = progress::Progress::watch(tenant, progress::Direction::Down, None);
    let range = match range {
        None => (Bound::Unbounded, Bound::Unbounded),
        Some((start, Some(end))) => (Bound::Included(start), Bound::Excluded(end)),
        Some((start, None)) => (Bound::Included(start), Bound::Unbounded),
    };
    let missing = || Failure::Missing(format!("key \"{key}\" does not exist"));
    match &file {
        Some(path) => {
            let cannot = |e: std::io::Error| Failure::Other(format!("cannot write {}: {e}", path.display()));
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let partial = tempfile::Builder::new().prefix(".coffer-get-").tempfile_in(dir).map_err(cannot)?;
            let mut out = tokio::io::BufWriter::new(tokio::fs::File::from_std(partial.reopen().map_err(cannot)?));
            let found = tenant.get_stream(key, range, &mut out).await?;
            drop(progress);
            found.ok_or_else(missing)?;
            out.into_inner().sync_all().await.map_err(cannot)?;
            partial.persist(path).map_err(|e| cannot(e.error))?;
            Ok(())
        }
        None => {
            let mut out = tokio::io::BufWriter::new(tokio::io::stdout());
            let found = tenant.get_stream(key, range, &mut out).await.map_err(|e| {
                Failure::from(e).noted("what was written to standard output is incomplete or damaged: discard it")
            })?;
            drop(progress);
            found.ok_or_else(missing).map(|_| ())
        }
    }
}
