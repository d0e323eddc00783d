//! `asbru serve`: load the config, build the gateway, listen until told to stop.

use crate::cli::{LogStyle, ServeArgs};
use anyhow::Context;
use asbru_config::{Loaded, NoticeKind};
use asbru_engine::Gateway;
use asbru_transport::{AllowedHosts, AppState, ServerOptions};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tracing_subscriber::EnvFilter;

pub fn run(args: ServeArgs) -> ExitCode {
    init_logging(&args.log_level, args.log_style);
    let runtime = match build_runtime(args.workers) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "could not start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One worker runs a current-thread runtime: a single event loop like an nginx worker, without the
/// work-stealing machinery a one-thread pool would still pay for on every wake-up.
fn build_runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let workers = workers
        .or_else(|| {
            std::env::var("TOKIO_WORKER_THREADS")
                .ok()
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
}

fn init_logging(level: &str, style: LogStyle) {
    // A bare level applies to asbru's own crates and `warn` to dependencies; anything else is
    // taken as a full tracing filter.
    let filter = match level {
        "trace" | "debug" | "info" | "warn" | "error" => {
            format!(
                "warn,asbru={level},asbru_engine={level},asbru_transport={level},asbru_providers={level}"
            )
        }
        other => other.to_owned(),
    };
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match style {
        LogStyle::Json => builder.json().try_init(),
        LogStyle::Pretty => builder.compact().try_init(),
    };
}

/// Where the configuration comes from, in Bifrost's order of precedence.
fn config_path(args: &ServeArgs) -> Option<PathBuf> {
    if let Some(file) = &args.config {
        return Some(file.clone());
    }
    let candidate = args.app_dir.as_ref()?.join("config.json");
    candidate.exists().then_some(candidate)
}

fn load(args: &ServeArgs) -> anyhow::Result<Loaded> {
    let env = |var: &str| std::env::var(var).ok();
    match config_path(args) {
        Some(path) => match asbru_config::load_file(&path, &env) {
            Ok(loaded) => Ok(loaded),
            // The error already names the file and says what is wrong with it.
            Err(e @ asbru_config::LoadError::Io { .. }) => {
                if args.config.is_some() && !path.exists() {
                    anyhow::bail!("--config {}: the file does not exist", path.display())
                }
                Err(anyhow::Error::msg(e.to_string()))
            }
            Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
        },
        None => {
            if let Some(dir) = &args.app_dir {
                tracing::info!(
                    "--app-dir {}: no config.json there; taking providers from the environment",
                    dir.display()
                );
            }
            Ok(asbru_config::from_env(&env))
        }
    }
}

/// The config file as a JSON object (it has been validated already).
fn read_json_object(
    path: &std::path::Path,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    serde_json::from_str(text).with_context(|| format!("{} is not a JSON object", path.display()))
}

/// Where the config store is: `config_store` as configured; when it is not, `DIR/config.db`
/// with `--app-dir` (Bifrost's default) and none without.
fn store_location(
    choice: &asbru_config::StoreChoice,
    app_dir: Option<&std::path::Path>,
) -> Option<asbru_store::StoreLocation> {
    use asbru_config::StoreChoice;
    use asbru_store::{PostgresOptions, StoreLocation};
    let in_app_dir = || app_dir.map_or_else(|| PathBuf::from("config.db"), |d| d.join("config.db"));
    match choice {
        StoreChoice::Disabled => None,
        StoreChoice::Default => app_dir.map(|d| StoreLocation::Sqlite {
            path: d.join("config.db"),
        }),
        StoreChoice::Sqlite { path } => Some(StoreLocation::Sqlite {
            path: path.clone().unwrap_or_else(in_app_dir),
        }),
        StoreChoice::Postgres(p) => Some(StoreLocation::Postgres(PostgresOptions {
            host: p.host.clone(),
            port: p.port,
            user: p.user.clone(),
            password: p
                .password
                .as_ref()
                .map(|pw| secrecy::ExposeSecret::expose_secret(pw).to_owned()),
            db_name: p.db_name.clone(),
            ssl_mode: p.ssl_mode.clone(),
            max_open_conns: p.max_open_conns,
            max_idle_conns: p.max_idle_conns,
        })),
    }
}

/// One line per provider saying where its requests go.
fn log_base_urls(config: &asbru_config::Config) {
    for p in &config.providers {
        match asbru_providers::effective_base_url(p) {
            Some(url) => tracing::info!(provider = %p.name, base_url = %url, "provider base URL"),
            None => tracing::info!(provider = %p.name, "provider base URL set per request"),
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let loaded = load(&args)?;
    let from_file = config_path(&args);
    // Installed first, so the config store's start-up queries are counted too.
    let metrics = asbru_transport::prometheus_builder()
        .install_recorder()
        .map_err(|e| tracing::warn!(error = %e, "metrics disabled"))
        .ok();
    let env: asbru_control::Env = Arc::new(|var: &str| std::env::var(var).ok());
    let file_json = match &from_file {
        Some(path) => Some(read_json_object(path)?),
        None => None,
    };
    let location = store_location(&loaded.config.config_store, args.app_dir.as_deref());
    let passphrase = loaded
        .config
        .encryption_key
        .as_ref()
        .map(|k| secrecy::ExposeSecret::expose_secret(k).to_owned());
    let startup = asbru_control::startup(
        file_json.as_ref(),
        location.as_ref(),
        passphrase.as_deref(),
        &env,
    )
    .await
    .map_err(|e| match &location {
        Some(l) => anyhow::anyhow!("config store ({}): {e}", l.describe()),
        None => anyhow::anyhow!("{e}"),
    })?;
    if let Some(l) = &location {
        tracing::info!(store = %l.describe(), "config store open; the admin API's changes are kept there");
    }
    if let Some(report) = &startup.seeded {
        tracing::info!(added = ?report.added, replaced = ?report.replaced, kept = ?report.kept, "config.json seeded the config store");
    }
    let loaded = Loaded {
        config: startup.config.clone(),
        notices: startup.notices.clone(),
    };
    log_base_urls(&loaded.config);
    for notice in loaded
        .notices
        .iter()
        .chain(asbru_providers::support_notices(&loaded.config).iter())
    {
        match notice.kind {
            NoticeKind::Info => tracing::info!(path = %notice.path, "{}", notice.message),
            kind => tracing::warn!(path = %notice.path, kind = kind.as_str(), "{}", notice.message),
        }
    }
    if loaded.config.providers.is_empty() {
        tracing::warn!(
            "no providers configured. Add one by setting its API key in the environment \
             (OPENAI_API_KEY, GROQ_API_KEY, MISTRAL_API_KEY, ANTHROPIC_API_KEY, …; OLLAMA_BASE_URL for \
             a local Ollama) and restarting, or pass --config config.json (Bifrost's format; see \
             docs/configuration.md)"
        );
    }
    let options = args.gateway_options().map_err(anyhow::Error::msg)?;
    let redis = options.governance_redis.clone();
    let gateway = Arc::new(
        Gateway::with_options(loaded.config, options)
            .map_err(|e| anyhow::anyhow!("{}", e.message()))?,
    );
    let control = Arc::new(asbru_control::Control::new(
        Arc::clone(&gateway),
        startup,
        Arc::clone(&env),
    ));
    // The admin sessions and the governance usage kept in the store are known before the
    // first request is taken.
    control.auth().reload_sessions().await;
    control.restore_usage().await;
    {
        let control = Arc::clone(&control);
        let stopping = gateway.background().stopping();
        gateway
            .background()
            .spawn(async move { control.save_usage_until(stopping).await });
    }
    if let Some(redis) = redis {
        tracing::info!(
            prefix = redis.prefix(),
            "budgets and rate limits are shared through Redis"
        );
        gateway
            .background()
            .spawn(redis.run(gateway.background().stopping()));
    }
    gateway
        .background()
        .spawn_until_shutdown(Arc::clone(&control).follow_peers());
    if let Some(handle) = metrics.clone() {
        // Histograms keep their samples until drained: drain them every second even when
        // nobody scrapes, so memory stays bounded (a second of samples at most).
        gateway.background().spawn_until_shutdown(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        });
    }
    let allowed_hosts = allowed_hosts(&args)?;
    let max_connections = max_connections(args.max_connections);
    let router = asbru_transport::router(AppState {
        gateway: Arc::clone(&gateway),
        metrics,
        allowed_hosts: allowed_hosts.clone(),
        body_read_timeout: std::time::Duration::from_secs(args.client_read_timeout),
        control: Some(Arc::clone(&control)),
        admin_api_without_auth: args.admin_api_without_auth,
    });
    let _watcher = from_file
        .clone()
        .and_then(|path| crate::reload::start(path, Arc::clone(&control), args.watch_config));
    let shutdown = shutdown_signal();
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        config = %from_file.map_or_else(|| "environment".to_owned(), |p| p.display().to_string()),
        providers = %gateway.provider_names().join(","),
        max_connections,
        allowed_hosts = %match &allowed_hosts {
            AllowedHosts::Any => "*".to_owned(),
            AllowedHosts::Only(names) => names.join(","),
        },
        "asbru listening on http://{addr}"
    );
    asbru_transport::serve(
        listener,
        router,
        ServerOptions {
            drain_timeout: std::time::Duration::from_secs(args.drain_timeout),
            max_connections,
            header_read_timeout: std::time::Duration::from_secs(args.client_read_timeout),
        },
        shutdown,
    )
    .await;
    // What requests left behind (log records, counters) gets the same deadline again.
    gateway
        .background()
        .drain(std::time::Duration::from_secs(args.drain_timeout))
        .await;
    tracing::info!("asbru stopped");
    Ok(())
}

/// `--allowed-hosts`, or its default: the loopback names when listening on a loopback address.
fn allowed_hosts(args: &ServeArgs) -> anyhow::Result<AllowedHosts> {
    if let Some(list) = &args.allowed_hosts {
        return AllowedHosts::parse(list).map_err(anyhow::Error::msg);
    }
    let host = args.host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    Ok(if loopback {
        AllowedHosts::loopback()
    } else {
        AllowedHosts::Any
    })
}

/// `--max-connections`, or its default. The process's soft file-descriptor limit is first raised
/// to its hard limit (as nginx's `worker_rlimit_nofile` does), and the default leaves half of it
/// for connections to providers, so the cap is reached before descriptors run out.
fn max_connections(asked: Option<u64>) -> usize {
    #[cfg(unix)]
    let descriptors = rlimit::increase_nofile_limit(u64::MAX).ok();
    #[cfg(not(unix))]
    let descriptors: Option<u64> = None;
    let default = descriptors.map_or(asbru_transport::DEFAULT_MAX_CONNECTIONS as u64, |n| {
        (n / 2).clamp(1, asbru_transport::DEFAULT_MAX_CONNECTIONS as u64)
    });
    let chosen = asked.unwrap_or(default);
    if let Some(n) = descriptors
        && chosen > n / 2
    {
        tracing::warn!(
            max_connections = chosen,
            file_descriptor_limit = n,
            "--max-connections leaves fewer than half the file descriptors for provider \
             connections; raise the limit (ulimit -n) or lower --max-connections"
        );
    }
    usize::try_from(chosen).unwrap_or(usize::MAX)
}

/// Registers for SIGINT (Ctrl-C) and SIGTERM at once, and resolves on the first of them. Called
/// before the gateway says it is listening, so a signal sent right after that line always drains
/// the gateway instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut term), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
