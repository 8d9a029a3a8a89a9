//! `coffer-bench`: Coffer against the native client Stalwart links (rust-s3) and a plain-HTTP
//! ceiling (hyper sending the same signed requests, signed natively with the plugin's own SigV4
//! code), on the server of COFFER_TEST_S3_*, interleaved in one run; the sandbox alone; many
//! tenants at once. A crate of its own, not a feature of the operator's `coffer`: its baselines
//! bring rust-s3 and a second TLS stack. docs/speed.md says what it measures and how to rerun it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

mod aead;
mod clients;
mod hosts;
mod large;
mod report;
mod sandbox;
mod scale;
mod speed;
mod tail;

#[derive(Parser)]
#[command(name = "coffer-bench", version, about = "Measure Coffer against rust-s3 and a plain-HTTP ceiling")]
struct Args {
    /// How long each client runs each case, in all.
    #[arg(long, default_value = "6s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Also write the results to FILE as JSON, and a chart beside it (FILE with .svg).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Run only this case (put-4KiB, get-4KiB, put-1MiB, get-1MiB); repeatable.
    #[arg(long = "case", value_name = "CASE")]
    cases: Vec<String>,
    /// Run only this client (coffer, coffer-noverify, rust-s3, rust-s3+verify, ceiling,
    /// ceiling+check); repeatable. For a profile of one client alone: the ratios need the others.
    #[arg(long = "client", value_name = "CLIENT")]
    clients: Vec<String>,
    /// Measure the sandbox alone (overhead per call and cold start), without a server.
    #[arg(long)]
    sandbox_only: bool,
    /// Calls in the sandbox-overhead loop.
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
    /// Instance slots of the pooling allocator (fewer reserve less address space, e.g. to run
    /// under valgrind).
    #[arg(long)]
    max_instances: Option<u32>,
    /// Instead: build this many tenants on the server's endpoint, make one put and one get for
    /// each, and report memory, connections and first-call latency (docs/sandbox.md).
    #[arg(long, value_name = "N")]
    tenants: Option<usize>,
    /// With --tenants: build them and measure memory only, no call.
    #[arg(long, requires = "tenants")]
    build_only: bool,
    /// Instead: the same tenant with and without client-side encryption, puts and gets of
    /// 1 MiB and of 1 000 000 bytes (cases put-1MiB, get-1MiB, put-1MB, get-1MB), and the AEADs
    /// alone (docs/encryption.md).
    #[arg(long, conflicts_with_all = ["tenants", "sandbox_only"])]
    encrypted: bool,
    /// Instead: the tail of 4 KiB gets through a proxy that holds back 1 GET in 50 for 2 s,
    /// Coffer with hedged reads, without, and rust-s3 (docs/speed.md).
    #[arg(long, conflicts_with_all = ["tenants", "sandbox_only", "encrypted"])]
    tail: bool,
    /// Instead: one large get through a proxy capping each connection at 25 MB/s, then on the
    /// server itself: Coffer in ranges, in one GET, rust-s3 and the ceiling (docs/speed.md).
    #[arg(long, conflicts_with_all = ["tenants", "sandbox_only", "encrypted", "tail"])]
    large: bool,
    /// With --large: the object's size in MiB.
    #[arg(long, default_value_t = 256, requires = "large")]
    large_mib: usize,
    /// With --large: gets per client and case (the median is shown).
    #[arg(long, default_value_t = 3, requires = "large")]
    runs: usize,
    /// With --large: Coffer reads in ranges past this many MiB (`rangedReadThreshold`; the
    /// default otherwise), to measure where ranges start to pay.
    #[arg(long, requires = "large")]
    threshold_mib: Option<u64>,
    /// With --tail: gets per client.
    #[arg(long, default_value_t = 1000, requires = "tail")]
    gets: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coffer-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    if let Some(count) = args.tenants {
        print!("{}", scale::run(count, args.build_only).await?);
        return Ok(());
    }
    if args.large {
        print!("{}", large::run(args.large_mib, args.runs, args.threshold_mib).await?);
        return Ok(());
    }
    if args.tail {
        print!("{}", tail::run(args.gets).await?);
        return Ok(());
    }
    speed::check_cases(&args.cases, args.encrypted)?;
    if args.encrypted {
        for (aead, rate) in aead::aead_throughput() {
            println!("{aead}: {rate:.0} MiB/s sealing 64 KiB segments on one core");
        }
        let rows = speed::run(args.duration, &args.cases, &args.clients, true).await?;
        print!("{}", report::table(&rows));
        return Ok(());
    }
    if let Some(slots) = args.max_instances {
        hosts::set_max_instances(slots);
    }
    sandbox_figures(args.calls).await?;
    if args.sandbox_only {
        return Ok(());
    }
    let size = 50 << 20;
    let (before, growth) = sandbox::peak_rss_of_one_put(size).await?;
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    println!(
        "one 50 MiB put (blob held by the caller): peak RSS {:.0} MiB above the {:.0} MiB before, {:.2}x the blob",
        mib(growth),
        mib(before),
        growth as f64 / size as f64
    );
    let rows = speed::run(args.duration, &args.cases, &args.clients, false).await?;
    print!("{}", report::table(&rows));
    if let Some(path) = &args.json {
        report::write_json_and_chart(&rows, path)?;
    }
    Ok(())
}

/// The sandbox alone: the overhead per call, and cold starts.
async fn sandbox_figures(calls: usize) -> anyhow::Result<()> {
    let (p50, p99) = sandbox::sandbox_overhead(calls).await?;
    println!("sandbox overhead per call (a warm instance: call, sign, return; the host answers at once): p50 {p50:.1?}, p99 {p99:.1?}");
    let cold = sandbox::cold_start().await?;
    println!(
        "cold start, precompiled component cached: a new host p50 {:.2?} (of {}); a new tenant and its first call: the host's first {:.2?}, p50 {:.2?}, p99 {:.2?} (of {})",
        cold.host_p50,
        sandbox::COLD_HOSTS,
        cold.tenant_first,
        cold.tenant_p50,
        cold.tenant_p99,
        sandbox::COLD_TENANTS
    );
    Ok(())
}
