//! `asbru-mock`: the mock OpenAI-compatible upstream as a standalone process, for the benchmark
//! and for scripts that drive it over HTTP (faults and recordings via `/__mock/…`).

use asbru_mock::{MockOptions, MockServer};
use clap::Parser;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Serve the mock until SIGTERM or SIGINT. Prints `listening on http://HOST:PORT` once bound.
#[derive(Debug, Parser)]
#[command(name = "asbru-mock", version, about)]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to bind; 0 picks a free one (read it from the startup line).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Latency added before every API answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Delay between stream frames, in milliseconds.
    #[arg(long, default_value_t = 0)]
    stream_chunk_delay_ms: u64,
    /// Number of content deltas per stream.
    #[arg(long, default_value_t = 5)]
    stream_chunks: usize,
    /// Do not record requests (for benchmarks).
    #[arg(long)]
    no_record: bool,
    /// How many recent requests to keep.
    #[arg(long, default_value_t = 10_000)]
    max_recorded: usize,
    /// Tokio worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// A model id for `GET /models`; repeat for several (default: a few OpenAI ids).
    #[arg(long = "model")]
    models: Vec<String>,
    /// Accept only this key; repeat for several (default: any key).
    #[arg(long = "valid-key")]
    valid_keys: Vec<String>,
    /// The assistant's answer to every completion.
    #[arg(long)]
    content: Option<String>,
    /// `ACCESS_KEY:SECRET_KEY` the Bedrock routes verify SigV4 signatures against (default:
    /// SigV4 requests are refused; Bedrock API keys follow `--valid-key`).
    #[arg(long, value_name = "ACCESS_KEY:SECRET_KEY")]
    aws_credentials: Option<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    runtime.build()?.block_on(run(args))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = MockOptions {
        latency: Duration::from_millis(args.latency_ms),
        stream_chunk_delay: Duration::from_millis(args.stream_chunk_delay_ms),
        stream_chunks: args.stream_chunks,
        record: !args.no_record,
        max_recorded: args.max_recorded,
        ..MockOptions::default()
    };
    if !args.models.is_empty() {
        opts.models = args.models;
    }
    if !args.valid_keys.is_empty() {
        opts.valid_keys = Some(args.valid_keys);
    }
    if let Some(pair) = args.aws_credentials {
        let (access, secret) = pair
            .split_once(':')
            .ok_or("--aws-credentials takes ACCESS_KEY:SECRET_KEY")?;
        opts.aws_credentials = Some((access.to_owned(), secret.to_owned()));
    }
    if let Some(content) = args.content {
        opts.content = content;
    }
    let server = MockServer::start_on(SocketAddr::new(args.host, args.port), opts).await?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", server.base_url())?;
        stdout.flush()?;
    }
    wait_for_signal().await?;
    server.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        res = tokio::signal::ctrl_c() => res?,
    }
    Ok(())
}
