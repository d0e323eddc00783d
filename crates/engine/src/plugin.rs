//! Plugins: code that runs around every request the engine serves, on every route and dialect,
//! streams included.
//!
//! A request goes through two phases a plugin can hook into (Bifrost's `PreLLMHook` and
//! `PostLLMHook`):
//!
//! - **pre**, in registration order, once the request's body has been read and before any
//!   provider is called. A pre-hook may read the request (its body is parsed on demand, at most
//!   once) and answer it itself — with a JSON answer, a stream, or an error that may or may not
//!   let the request's fallbacks be tried ([`ShortCircuit`]). Pre-hooks after the one that
//!   answered do not run.
//! - **post**, in reverse order, **exactly once per request**, for every plugin whose pre-hook
//!   ran: when the JSON answer is ready, when the last target failed, when a stream ends, is cut
//!   by the provider or the gateway, or when the client goes away. It sees the request's
//!   [`RequestContext`] (attempts, usage, timings) and how it ended ([`Finished`]).
//!
//! Streams also reach plugins that ask for them chunk by chunk ([`Plugin::wants_chunks`]).
//!
//! A plugin that returns an error or panics is logged and counted
//! (`asbru_plugin_errors_total{plugin,hook}`) and skipped: it never fails the request.
//!
//! Hooks are synchronous and must not block: they run on the request's task (post-hooks also
//! where a stream is dropped). A pre-hook that needs to wait gives the engine a delay
//! ([`ShortCircuit::after`]) instead of sleeping.

use crate::context::RequestContext;
use asbru_schema::{GatewayError, Usage};
use bytes::Bytes;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A plugin's failure: logged and counted, never returned to the client.
#[derive(Debug, Clone)]
pub struct PluginError(pub String);

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for PluginError {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

/// Code run around every request. Every method but [`Plugin::name`] has a default that does
/// nothing, so a plugin implements only the phases it needs.
pub trait Plugin: Send + Sync + 'static {
    /// Names the plugin in logs and metrics (`telemetry`, `mocker`, `my-audit`).
    fn name(&self) -> &str;

    /// Request headers this plugin reads ([`RequestContext::header`]): exact names, or prefixes
    /// ending in `*` (`x-bf-prom-*`), lower case. Only these headers are kept for plugins, so a
    /// request carries no copy of headers nobody reads.
    fn headers(&self) -> Vec<String> {
        Vec::new()
    }

    /// Runs before any provider is called; may answer the request itself.
    fn pre(
        &self,
        ctx: &mut RequestContext,
        body: &RequestBody<'_>,
    ) -> Result<PreHook, PluginError> {
        let _ = (ctx, body);
        Ok(PreHook::Continue)
    }

    /// Whether [`Plugin::chunk`] should be called for each event of a stream.
    fn wants_chunks(&self) -> bool {
        false
    }

    /// Runs for each event a stream forwards to the client, in order, after the engine has
    /// read it (so `ctx` already holds the usage it carried).
    fn chunk(&self, ctx: &mut RequestContext, chunk: &StreamChunk<'_>) -> Result<(), PluginError> {
        let _ = (ctx, chunk);
        Ok(())
    }

    /// Runs once when the request is over, however it ended.
    fn post(&self, ctx: &mut RequestContext, finished: &Finished<'_>) -> Result<(), PluginError> {
        let _ = (ctx, finished);
        Ok(())
    }
}

impl fmt::Debug for dyn Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plugin({})", self.name())
    }
}

/// Limits a pre-hook puts on which targets and provider keys may serve the request (the
/// governance plugin's virtual keys), left in [`RequestContext::extensions`] as
/// [`TargetLimits`]. The engine asks before each target (fallbacks included) and while
/// choosing a provider key.
pub trait TargetGuard: Send + Sync {
    /// `Err` when this target may not serve the request: the error counts as the target's
    /// failure (the next fallback, if any, is tried). A check that must wait (on counters
    /// shared through Redis) returns [`TargetCheck::Wait`].
    fn check_target(&self, provider: &str, model: &str) -> TargetCheck;

    /// Whether `key` of `provider` may serve the request.
    fn allows_key(&self, provider: &str, key: &asbru_config::KeyConfig) -> bool;
}

/// A future a hook hands to the engine to await: it owns what it needs (`'static`), so the
/// request's context stays free while it waits.
pub type Waiting<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What [`TargetGuard::check_target`] decided: now, or once a future resolves.
pub enum TargetCheck {
    /// Decided.
    Ready(Result<(), GatewayError>),
    /// Decided when this resolves.
    Wait(Waiting<Result<(), GatewayError>>),
}

impl TargetCheck {
    /// The decision, awaited if need be.
    pub async fn decided(self) -> Result<(), GatewayError> {
        match self {
            Self::Ready(result) => result,
            Self::Wait(future) => future.await,
        }
    }
}

impl fmt::Debug for TargetCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready(result) => f.debug_tuple("Ready").field(result).finish(),
            Self::Wait(_) => f.write_str("Wait"),
        }
    }
}

/// The [`TargetGuard`] of a request, in its context's extensions.
#[derive(Clone)]
pub struct TargetLimits(pub Arc<dyn TargetGuard>);

impl fmt::Debug for TargetLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TargetLimits")
    }
}

/// What a pre-hook decided.
pub enum PreHook {
    /// Go on to the next pre-hook, then the providers.
    Continue,
    /// Answer the request without calling a provider (as far as the answer goes: an error that
    /// allows fallbacks lets the request's `fallbacks` be tried).
    ShortCircuit(ShortCircuit),
    /// Decide once this future resolves (a hook that must ask another service, such as shared
    /// counters in Redis). The hook should do all it can before returning it: the request's
    /// context is not available to the future.
    Wait(Waiting<PreHook>),
}

impl fmt::Debug for PreHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Continue => f.write_str("Continue"),
            Self::ShortCircuit(short) => f.debug_tuple("ShortCircuit").field(short).finish(),
            Self::Wait(_) => f.write_str("Wait"),
        }
    }
}

/// A pre-hook's own answer to a request.
#[derive(Debug)]
pub struct ShortCircuit {
    pub answer: Answer,
    /// Waited before answering (the mocker's simulated latency); it counts as the provider's
    /// time, not the gateway's overhead.
    pub after: Option<Duration>,
    /// The provider and model the answer is reported as coming from (`extra_fields`, metrics,
    /// logs); by default the request's primary target.
    pub provider: Option<String>,
}

impl ShortCircuit {
    pub fn new(answer: Answer) -> Self {
        Self {
            answer,
            after: None,
            provider: None,
        }
    }

    /// Answers after `delay`.
    #[must_use]
    pub fn after(mut self, delay: Duration) -> Self {
        self.after = Some(delay);
        self
    }
}

/// The answer a short-circuit gives, in the OpenAI dialect of the request's operation (a chat
/// completion for chat requests, a `response` object for the Responses API, …): the engine
/// handles it exactly like a provider's (checked, stamped with `extra_fields`, translated into
/// the client's dialect on drop-in routes).
#[derive(Debug)]
pub enum Answer {
    /// A complete JSON body.
    Json(Bytes),
    /// SSE events (each `data: …\n\n`, or typed events for the Responses API), sent in order;
    /// the stream must end as its API ends one (`data: [DONE]`, `response.completed`).
    Stream(Vec<Bytes>),
    /// An error; `allow_fallbacks` lets the request's fallbacks be tried after it, as if the
    /// primary target had failed with it.
    Error {
        error: GatewayError,
        allow_fallbacks: bool,
    },
}

/// The client's request body as a pre-hook sees it: the bytes, and their JSON parsed the first
/// time a hook asks (at most once per request, never when no hook asks).
pub struct RequestBody<'a> {
    bytes: &'a [u8],
    parsed: OnceLock<Option<serde_json::Value>>,
}

impl<'a> RequestBody<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            parsed: OnceLock::new(),
        }
    }

    /// The body as the engine got it (the OpenAI dialect; drop-in routes have converted theirs).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The body as JSON; `None` if it is not JSON (the engine has refused such a body before
    /// hooks run, so this is `None` only for a body that is JSON but not an object).
    pub fn json(&self) -> Option<&serde_json::Value> {
        self.parsed
            .get_or_init(|| {
                serde_json::from_slice::<serde_json::Value>(self.bytes)
                    .ok()
                    .filter(serde_json::Value::is_object)
            })
            .as_ref()
    }
}

impl fmt::Debug for RequestBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// One event of a stream, as forwarded to the client (in the OpenAI dialect).
#[derive(Debug)]
pub struct StreamChunk<'a> {
    /// The event's bytes (`data: …\n\n`).
    pub event: &'a [u8],
    /// 0 for the stream's first event.
    pub index: u64,
    /// Time since the previous event (since the request arrived, for the first).
    pub gap: Duration,
}

/// How a request ended, as its post-hooks see it.
#[derive(Debug)]
pub enum Finished<'a> {
    /// Answered; a stream that ended as its API ends one.
    Success { usage: Option<Usage> },
    /// Failed: every target failed, the request was refused, or a stream broke or was cut.
    Error(&'a GatewayError),
    /// The client went away before the answer was complete.
    ClientClosed,
}

impl Finished<'_> {
    /// The HTTP status the request is recorded with (499 for a client that left).
    pub fn status(&self) -> u16 {
        match self {
            Finished::Success { .. } => 200,
            Finished::Error(e) => e.status(),
            Finished::ClientClosed => 499,
        }
    }
}

/// The plugins of one config snapshot, in the order their pre-hooks run, with what the engine
/// resolved from them once (the headers they read, whether any wants stream chunks).
#[derive(Clone, Default)]
pub struct Plugins {
    list: Arc<[Arc<dyn Plugin>]>,
    header_names: Arc<[String]>,
    header_prefixes: Arc<[String]>,
    wants_chunks: bool,
}

impl fmt::Debug for Plugins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.list.iter().map(|p| p.name()))
            .finish()
    }
}

impl Plugins {
    pub fn new(list: Vec<Arc<dyn Plugin>>) -> Self {
        let mut names = Vec::new();
        let mut prefixes = Vec::new();
        for plugin in &list {
            for header in plugin.headers() {
                let header = header.to_ascii_lowercase();
                match header.strip_suffix('*') {
                    Some(prefix) => prefixes.push(prefix.to_owned()),
                    None => names.push(header),
                }
            }
        }
        names.sort();
        names.dedup();
        prefixes.sort();
        prefixes.dedup();
        Self {
            wants_chunks: list.iter().any(|p| p.wants_chunks()),
            list: list.into(),
            header_names: names.into(),
            header_prefixes: prefixes.into(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn names(&self) -> Vec<&str> {
        self.list.iter().map(|p| p.name()).collect()
    }

    pub(crate) fn wants_chunks(&self) -> bool {
        self.wants_chunks
    }

    /// The request headers some plugin reads (copied only when there are any).
    pub fn select_headers(&self, inbound: &http::HeaderMap) -> http::HeaderMap {
        let mut kept = http::HeaderMap::new();
        if self.header_names.is_empty() && self.header_prefixes.is_empty() {
            return kept;
        }
        for (name, value) in inbound {
            let n = name.as_str();
            if self.header_names.iter().any(|h| h == n)
                || self
                    .header_prefixes
                    .iter()
                    .any(|p| n.starts_with(p.as_str()))
            {
                let mut value = value.clone();
                // Credentials (a virtual key, a client's API key) never show in debug output.
                if matches!(
                    n,
                    "authorization" | "x-api-key" | "x-goog-api-key" | "x-bf-vk"
                ) {
                    value.set_sensitive(true);
                }
                kept.append(name.clone(), value);
            }
        }
        kept
    }

    /// Runs the pre-hooks in order until one answers. Returns how many ran (their post-hooks
    /// will run) and the answer, if any.
    pub(crate) async fn run_pre(
        &self,
        ctx: &mut RequestContext,
        body: &RequestBody<'_>,
    ) -> (usize, Option<ShortCircuit>) {
        for (i, plugin) in self.list.iter().enumerate() {
            let mut decided = guarded(plugin.as_ref(), "pre", || plugin.pre(ctx, body));
            while let Some(PreHook::Wait(future)) = decided {
                decided = guarded_wait(plugin.as_ref(), future).await;
            }
            match decided {
                Some(PreHook::ShortCircuit(answer)) => return (i + 1, Some(answer)),
                Some(PreHook::Continue | PreHook::Wait(_)) | None => {}
            }
        }
        (self.list.len(), None)
    }

    /// Hands one stream event to the plugins that asked for chunks, among the first `ran`.
    pub(crate) fn run_chunk(&self, ran: usize, ctx: &mut RequestContext, chunk: &StreamChunk<'_>) {
        for plugin in self.list.iter().take(ran).filter(|p| p.wants_chunks()) {
            guarded(plugin.as_ref(), "chunk", || plugin.chunk(ctx, chunk));
        }
    }

    /// Runs the post-hooks of the first `ran` plugins, in reverse order.
    pub(crate) fn run_post(&self, ran: usize, ctx: &mut RequestContext, finished: &Finished<'_>) {
        for plugin in self.list.iter().take(ran).rev() {
            guarded(plugin.as_ref(), "post", || plugin.post(ctx, finished));
        }
    }
}

/// Awaits a pre-hook's [`PreHook::Wait`]; a panic is logged, counted and turned into `None`.
async fn guarded_wait(plugin: &dyn Plugin, future: Waiting<PreHook>) -> Option<PreHook> {
    use futures_util::FutureExt;
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(decided) => Some(decided),
        Err(panic) => guarded(plugin, "pre", || -> Result<PreHook, PluginError> {
            std::panic::resume_unwind(panic)
        }),
    }
}

/// Runs one hook; an error or a panic is logged, counted and turned into `None`.
fn guarded<T>(
    plugin: &dyn Plugin,
    hook: &'static str,
    run: impl FnOnce() -> Result<T, PluginError>,
) -> Option<T> {
    let error = match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(value)) => return Some(value),
        Ok(Err(e)) => e.0,
        Err(panic) => panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .map_or_else(|| "panicked".to_owned(), |m| format!("panicked: {m}")),
    };
    metrics::counter!(
        "asbru_plugin_errors_total",
        "plugin" => plugin.name().to_owned(),
        "hook" => hook,
    )
    .increment(1);
    tracing::warn!(
        plugin = plugin.name(),
        hook,
        error = %asbru_schema::Untrusted(&error),
        "plugin failed; skipped"
    );
    None
}
