//! Command-line arguments, compatible with Bifrost's server flags.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "asbru",
    version,
    about = "asbru — an AI gateway in front of every LLM provider"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(Box<ServeArgs>),
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config.json and print every problem with its field path.
    Check { file: PathBuf },
    /// Print the JSON Schema of config.json.
    Schema,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Path of a Bifrost-compatible config.json.
    #[arg(long, env = "ASBRU_CONFIG")]
    pub config: Option<PathBuf>,
    /// Reload the config file when it changes (it is always reloaded on SIGHUP).
    #[arg(long, env = "ASBRU_WATCH_CONFIG", default_value_t = true, action = clap::ArgAction::Set)]
    pub watch_config: bool,
    /// Directory holding config.json (Bifrost's -app-dir); used when --config is not given.
    #[arg(long, env = "ASBRU_APP_DIR")]
    pub app_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "ASBRU_HOST", default_value = "localhost")]
    pub host: String,
    /// Port to listen on (0 picks a free one and logs it).
    #[arg(long, env = "ASBRU_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Worker threads serving requests (default: one per CPU; tokio's `TOKIO_WORKER_THREADS` is
    /// honoured too). With 1, asbru runs a single-threaded event loop, which is cheaper per
    /// request than a one-thread work-stealing pool — the setting for one-CPU containers.
    #[arg(long, env = "ASBRU_WORKERS")]
    pub workers: Option<usize>,
    /// On SIGTERM/SIGINT, how many seconds requests and streams in flight get to finish before
    /// their connections are closed.
    #[arg(long, env = "ASBRU_DRAIN_TIMEOUT", default_value_t = 30)]
    pub drain_timeout: u64,
    /// Client connections open at once; past it a new connection gets a 503 and is closed
    /// (default: 10,000, or half the process's file-descriptor limit if that is lower — the
    /// other half is for connections to providers).
    #[arg(long, env = "ASBRU_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// Host names the gateway answers to, comma-separated (`*.example.com` allows subdomains,
    /// `*` any). Default: the loopback names when listening on a loopback address (so a web page
    /// cannot reach a local gateway by DNS rebinding), any host otherwise.
    #[arg(long, env = "ASBRU_ALLOWED_HOSTS")]
    pub allowed_hosts: Option<String>,
    /// Lets clients on other machines use the admin API (`/api`) while admin authentication
    /// (`auth_config`) is off. Off by default: without auth, `/api` answers only loopback
    /// clients, since whoever can change a provider's base URL can have its keys sent anywhere.
    #[arg(long, env = "ASBRU_ADMIN_API_WITHOUT_AUTH", default_value_t = false)]
    pub admin_api_without_auth: bool,
    /// Redis shared by every asbru node of a deployment (`redis://host:port/db`): budgets and
    /// rate limits are then counted across nodes, exactly (an asbru extension; see
    /// docs/governance.md). Without it each node counts on its own.
    #[arg(long, env = "ASBRU_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of every key asbru writes in that Redis, so deployments can share a server.
    #[arg(long, env = "ASBRU_REDIS_PREFIX", default_value = "asbru")]
    pub redis_prefix: String,
    /// How long, in milliseconds, a request waits for Redis before its node counts on its own.
    #[arg(long, env = "ASBRU_REDIS_TIMEOUT_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub redis_timeout_ms: u64,
    /// How long, in seconds, a client may take to send its first bytes, its request headers,
    /// and each piece of its request body before its connection is closed (408 for a body).
    #[arg(long, env = "ASBRU_CLIENT_READ_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub client_read_timeout: u64,
    /// Longest a streamed answer may run, in seconds; a stream still open then ends with an
    /// error event and frees its queue slot.
    #[arg(long, env = "ASBRU_MAX_STREAM_DURATION", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub max_stream_duration: u64,
    /// debug, info, warn or error (or any tracing filter such as `asbru=debug`).
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Log format.
    #[arg(long, env = "LOG_STYLE", value_enum, default_value_t = LogStyle::Pretty)]
    pub log_style: LogStyle,
    /// Largest non-streaming answer read from a provider, in MB (MiB). A larger one is refused
    /// with a 502 `upstream_response_too_large`, at once when its Content-Length says so.
    #[arg(long, env = "ASBRU_MAX_UPSTREAM_RESPONSE_MB", value_name = "MB",
          default_value_t = asbru_providers::DEFAULT_MAX_RESPONSE_MB, value_parser = megabytes)]
    pub max_upstream_response_mb: usize,
    /// Most MB (MiB) of providers' non-streaming answers held at once, over all requests; an
    /// answer that does not fit is refused with a 503 `upstream_buffer_full`.
    #[arg(long, env = "ASBRU_MAX_BUFFERED_UPSTREAM_MB", value_name = "MB",
          default_value_t = asbru_providers::DEFAULT_MAX_BUFFERED_MB, value_parser = megabytes)]
    pub max_buffered_upstream_mb: usize,
}

impl ServeArgs {
    /// The engine's options these flags set.
    pub fn gateway_options(&self) -> Result<asbru_engine::GatewayOptions, String> {
        if self.max_upstream_response_mb > self.max_buffered_upstream_mb {
            return Err(format!(
                "--max-upstream-response-mb ({}) cannot be larger than --max-buffered-upstream-mb \
                 ({}): such an answer could never be buffered",
                self.max_upstream_response_mb, self.max_buffered_upstream_mb
            ));
        }
        let governance_redis = match &self.redis_url {
            None => None,
            Some(url) => {
                let mut options = asbru_governance::shared::RedisOptions::new(url.clone());
                options.prefix.clone_from(&self.redis_prefix);
                options.timeout = std::time::Duration::from_millis(self.redis_timeout_ms);
                Some(
                    asbru_governance::shared::RedisCounters::new(options)
                        .map_err(|e| format!("--redis-url: {e}"))?,
                )
            }
        };
        Ok(asbru_engine::GatewayOptions {
            governance_redis,
            max_upstream_response_bytes: Some(self.max_upstream_response_mb * MIB),
            max_buffered_upstream_bytes: Some(self.max_buffered_upstream_mb * MIB),
            max_stream_duration: Some(std::time::Duration::from_secs(self.max_stream_duration)),
            ..asbru_engine::GatewayOptions::default()
        })
    }
}

const MIB: usize = 1024 * 1024;

/// A size in MB (MiB) for the upstream answer limits: at least 1, at most 1 TiB.
fn megabytes(value: &str) -> Result<usize, String> {
    let mb: usize = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a whole number of megabytes"))?;
    match mb {
        0 => Err("must be at least 1 (MB); 0 would refuse every answer".to_owned()),
        mb if mb > 1 << 20 => Err(format!("{mb} MB is more than 1 TiB")),
        mb => Ok(mb),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogStyle {
    Json,
    Pretty,
}
