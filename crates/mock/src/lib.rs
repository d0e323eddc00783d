//! A mock LLM upstream for asbru's integration tests and benchmark.
//!
//! No real LLM provider is reachable from where asbru is built and tested, so every test that
//! exercises the gateway end to end, and the benchmark that measures its overhead, talks to this
//! server instead. It speaks three dialects, each as its provider documents it, and injects faults
//! on demand ([`Fault`]) and records what it receives ([`RecordedRequest`]) so tests can check
//! what the gateway sent:
//!
//! - **OpenAI**: chat completions, streamed chunks, legacy completions, embeddings, models, and
//!   `{"error":{…}}` bodies, with the key in `Authorization: Bearer …` (or Azure's `api-key`).
//!   Chat requests are validated as the API validates them (roles, `tools`, `tool_choice`, every
//!   `tool` message answering a call of the assistant message before it), and the answer is
//!   scripted by the request: a `tool_choice` that forces a call (`"required"` or a named
//!   function) brings one `tool_calls` entry (streamed as OpenAI streams it, arguments in
//!   fragments) unless the last message is a tool result; `"auto"` or no choice keeps the text; a
//!   `stop` sequence or a small `max_tokens` stops early. See `openai/chat.rs` for the rules.
//!   And the Responses API (`POST …/v1/responses`: the `response` object or the typed event
//!   stream, a function call when `tool_choice` forces one; see `responses.rs`).
//! - **Anthropic Messages**: `POST …/v1/messages` (JSON or the named-event stream:
//!   `message_start`, `content_block_start`, `ping`, `content_block_delta`, `content_block_stop`,
//!   `message_delta`, `message_stop`), `POST …/v1/messages/count_tokens`, and `GET …/v1/models`
//!   and `…/v1/models/{id}` when the request carries `anthropic-version` or `x-api-key` (without
//!   them those two stay OpenAI's). The key goes in `x-api-key` (or a bearer token), and a
//!   documented `anthropic-version` is required. Requests are validated as the API validates
//!   them, and every error, injected ones included, has Anthropic's
//!   `{"type":"error","error":{…},"request_id"}` shape and a `request-id` header. The answer is
//!   scripted by the request: `thinking` adds a signed thinking block, tools and `tool_choice`
//!   bring a `tool_use` block, a small `max_tokens` or a matching `stop_sequences` entry stops
//!   early, and `asbru-mock:error=TYPE` in the last user turn fails the answer (mid-stream, as an
//!   `event: error` frame, when streaming). See `anthropic/reply.rs` for the rules.
//! - **Gemini** (`generativelanguage` v1beta): `POST …/models/{model}:generateContent`,
//!   `:streamGenerateContent` (SSE with `?alt=sse`, else a JSON array of chunks), `:embedContent`,
//!   `:batchEmbedContents`, `:countTokens`, and `GET …/models` and `…/models/{model}` under
//!   `/v1beta/` or with Google's key. The key goes in `x-goog-api-key` or `?key=` (a missing one
//!   is a 403, a wrong one a 400 `API_KEY_INVALID`, as Google answers). Requests are validated
//!   as the API validates them (unknown fields, roles, function call/response pairing, thought
//!   signatures on Gemini 3, thinking budgets), and every error, injected ones included, has
//!   Google's `{"error":{"code","message","status"}}` shape. The answer is scripted by the
//!   request: `includeThoughts` adds a signed thought part, function declarations bring a
//!   `functionCall`, a small `maxOutputTokens` gives `MAX_TOKENS`, `asbru-mock:error=STATUS`
//!   fails and `asbru-mock:finish=REASON` finishes with that reason. See `gemini/reply.rs`.
//! - **AWS Bedrock Converse**: `POST …/model/{modelId}/converse` (JSON) and
//!   `…/converse-stream` (binary `application/vnd.amazon.eventstream` messages with correct
//!   CRCs: `messageStart`, `contentBlockStart`, `contentBlockDelta`, `contentBlockStop`,
//!   `messageStop`, `metadata`). Requests are SigV4-signed — verified by the mock's own
//!   implementation against [`MockOptions::aws_credentials`] — or carry a Bedrock API key as
//!   `Authorization: Bearer …` (checked against [`MockOptions::valid_keys`]). Validation follows
//!   the API, and errors, injected ones included, have Bedrock's shape (status,
//!   `x-amzn-errortype`, `{"message"}`), mid-stream as exception messages. The answer is
//!   scripted like Anthropic's (thinking, tools, `maxTokens`, stop sequences,
//!   `asbru-mock:error=TYPE`); see `bedrock/reply.rs`.
//! - **Cohere v2**: `POST …/v2/chat` (JSON, or with `stream: true` the named-event SSE stream:
//!   `message-start`, `content-start`, `content-delta`, `content-end`, `tool-plan-delta`,
//!   `tool-call-start`, `tool-call-delta`, `tool-call-end`, `message-end`), `POST …/v2/embed`,
//!   `POST …/v2/rerank` and `GET …/v1/models?page_size=…`, with the key as a bearer token and
//!   errors as `{"id","message"}`. Requests are validated (model, roles, tool results matching
//!   a call, `tool_choice`, `response_format`), and the answer is scripted like the others
//!   (thinking, tools, `max_tokens`, stop sequences, `asbru-mock:error=STATUS`,
//!   `asbru-mock:finish=REASON`); see `cohere/mod.rs`.
//!
//! Routes are matched on the path suffix, so any base-URL prefix works (`/v1/chat/completions`,
//! `/openai/v1/chat/completions`, `/anthropic/v1/messages`, `/genai/v1beta/models/…`). Control
//! routes, matched on a
//! `/__mock/` segment, let scripts drive the standalone binary over HTTP:
//! `GET|POST|DELETE /__mock/faults`, `GET|DELETE /__mock/requests`, `POST /__mock/release`,
//! `POST /__mock/oauth/google` (a service account's `client_email` and `public_key_pem`),
//! `GET /__mock/health`.
//!
//! Each API request goes through, in order: recording, the base latency, the fault that applies
//! (a per-model fault for the body's `model`, else a per-key fault for the key presented, else
//! the next queued one-shot fault, else a random fault at the configured rate, else the sticky
//! default), the key check (and for Anthropic the version check), validation, and the answer.
//! Faults come before the key check because they stand for the provider failing
//! regardless of who asks; a faulted request still consumes its one-shot fault.

mod anthropic;
mod bedrock;
mod body;
mod cohere;
mod fault;
mod gemini;
mod handler;
mod oauth;
mod openai;
mod record;
mod responses;
mod script;
mod server;
mod state;
mod vertex;

pub use fault::Fault;
pub use record::RecordedRequest;

use state::Shared;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How the mock behaves when no fault applies. Fixed for the server's lifetime, so the hot path
/// reads it without locking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockOptions {
    /// Waited before every API answer: stands in for a provider's response time, so the
    /// benchmark measures the gateway against a realistic upstream.
    pub latency: Duration,
    /// Waited between stream frames, so streams take time the way token streams do.
    pub stream_chunk_delay: Duration,
    /// How many content deltas a stream carries (at least 1); the content is split evenly.
    pub stream_chunks: usize,
    /// Ids listed by `GET …/models` (and the only ones `GET …/models/{id}` finds).
    pub models: Vec<String>,
    /// When set, only these keys are accepted; any other gets a 401 that quotes it in full.
    pub valid_keys: Option<Vec<String>>,
    /// Whether a request without any key is refused (401). Off, the mock behaves like a local
    /// keyless server (Ollama, llama.cpp) while still checking keys that are sent.
    pub require_auth: bool,
    /// Whether requests are recorded; the benchmark turns this off to keep the mock cheap.
    pub record: bool,
    /// How many of the most recent requests are kept.
    pub max_recorded: usize,
    /// The assistant's answer to every completion, deterministic so tests can assert on it.
    pub content: String,
    /// An AWS access key id and secret key: when set, Bedrock requests signed with SigV4 are
    /// verified against them (and unsigned ones refused with 403), so tests prove the gateway
    /// signs as AWS checks. `None` (the default) accepts Bedrock requests unsigned, or signed
    /// with any key, without checking.
    pub aws_credentials: Option<(String, String)>,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            stream_chunk_delay: Duration::ZERO,
            stream_chunks: 5,
            models: [
                "gpt-4o",
                "gpt-4o-mini",
                "gpt-4.1",
                "gpt-3.5-turbo-instruct",
                "text-embedding-3-small",
                "text-embedding-3-large",
            ]
            .map(String::from)
            .to_vec(),
            valid_keys: None,
            require_auth: true,
            record: true,
            max_recorded: 10_000,
            content: "Hello from the mock.".to_owned(),
            aws_credentials: None,
        }
    }
}

/// A running mock server. It stops when [`MockServer::shutdown`] is awaited or when the handle
/// is dropped.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Starts on an ephemeral port of 127.0.0.1, so parallel tests never collide.
    pub async fn start(opts: MockOptions) -> io::Result<MockServer> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), opts).await
    }

    /// Starts on the given address (port 0 picks a free one). Must be called inside a
    /// multi-threaded or current-thread tokio runtime, which then runs the server.
    pub async fn start_on(addr: SocketAddr, opts: MockOptions) -> io::Result<MockServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(opts));
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(server::accept_loop(
            listener,
            Arc::clone(&shared),
            cancel.clone(),
            tracker.clone(),
        ));
        Ok(MockServer {
            addr,
            shared,
            cancel,
            tracker,
        })
    }

    /// The bound address, with the real port when started on port 0.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, without a trailing slash or path: callers append their own prefix.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a one-shot fault; queued faults apply to the next requests in FIFO order.
    pub fn push_fault(&self, fault: Fault) {
        self.push_faults(fault, 1);
    }

    /// Queues `times` copies of a one-shot fault.
    pub fn push_faults(&self, fault: Fault, times: usize) {
        self.shared
            .with_faults(|st| st.queue.extend(std::iter::repeat_n(fault, times)));
    }

    /// Sets (or with `None` clears) the fault applied to every request that neither a model
    /// fault nor a queued one-shot fault covers.
    pub fn set_default_fault(&self, fault: Option<Fault>) {
        self.shared.with_faults(|st| st.default = fault);
    }

    /// Sets (or with `None` clears) the fault applied to every request whose body's `model` is
    /// `model`; it takes precedence over queued and default faults, so a test can make one
    /// model of a fallback chain fail.
    pub fn set_model_fault(&self, model: &str, fault: Option<Fault>) {
        self.shared.with_faults(|st| match fault {
            Some(fault) => {
                st.models.insert(model.to_owned(), fault);
            }
            None => {
                st.models.remove(model);
            }
        });
    }

    /// Sets (or with `None` clears) the fault applied to every request presenting API key `key`
    /// (`Authorization: Bearer`, `x-api-key` or `api-key`), after per-model faults: one key of
    /// a provider going bad while its siblings keep working.
    pub fn set_key_fault(&self, key: &str, fault: Option<Fault>) {
        self.shared.with_faults(|st| match fault {
            Some(fault) => {
                st.keys.insert(key.to_owned(), fault);
            }
            None => {
                st.keys.remove(key);
            }
        });
    }

    /// Makes a `rate` share (0–1) of the requests that no model, key or one-shot fault covers
    /// fail with one of `faults`, drawn from a generator seeded with `seed`; an empty `faults`
    /// turns random faults off.
    pub fn set_random_faults(&self, rate: f64, faults: Vec<Fault>, seed: u64) {
        self.shared.with_faults(|st| {
            st.random = (!faults.is_empty()).then(|| state::RandomFaults::new(rate, faults, seed));
        });
    }

    /// Lets the service account `client_email` get tokens at `POST …/token` with assertions
    /// signed by the private half of `public_key_pem` (SPKI PEM).
    pub fn set_google_service_account(&self, client_email: &str, public_key_pem: &str) {
        self.shared.oauth.add_google(client_email, public_key_pem);
    }

    /// Lets Entra ID app `client_id` of `tenant` get tokens with `secret` at
    /// `POST …/{tenant}/oauth2/v2.0/token`.
    pub fn set_entra_app(&self, tenant: &str, client_id: &str, secret: &str) {
        self.shared.oauth.add_entra(tenant, client_id, secret);
    }

    /// `expires_in` of the tokens issued from now on (default 3599 s).
    pub fn set_token_lifetime(&self, secs: u64) {
        self.shared.oauth.set_lifetime(secs);
    }

    /// Access tokens issued so far by the token endpoints.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.oauth.issued()
    }

    /// Clears every fault: queued, default, per-model, per-key and random.
    pub fn clear_faults(&self) {
        self.shared.with_faults(|st| *st = Default::default());
    }

    /// Lets every stream (and held answer) currently held by [`Fault::HoldStream`] continue,
    /// including requests that arrived but have not reached their hold point yet.
    pub fn release_streams(&self) {
        self.shared.release_streams();
    }

    /// Body bytes of [`Fault::Oversized`] answers handed to the connections so far: a client that
    /// stops reading early leaves this far below the sizes announced.
    pub fn oversized_bytes_sent(&self) -> u64 {
        self.shared.oversized_bytes_sent.load(Ordering::Relaxed)
    }

    /// The recorded requests, oldest first (empty when recording is off).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.snapshot()
    }

    /// Forgets the recorded requests, so a test can look only at what follows.
    pub fn clear_requests(&self) {
        self.shared.recorder.clear();
    }

    /// TCP connections currently open, so tests can observe the gateway's pooling and its
    /// closing of upstream connections (for example when a client disconnects mid-stream).
    pub fn open_connections(&self) -> usize {
        self.shared.open_connections.load(Ordering::SeqCst)
    }

    /// Stops accepting, drops every open connection and waits for their tasks to end.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
