//! Writing a plugin: code of your own around every request the engine serves. Runs offline
//! against the bundled mock provider:
//!
//! ```sh
//! cargo run -p asbru-engine --example plugin
//! ```
//!
//! Two plugins:
//! - `model-guard` refuses a model by name before any provider is called (a pre-hook that
//!   answers with an error), and
//! - `spend-meter` adds up the tokens each model used, from every request's final usage, streams
//!   included (a post-hook, which runs exactly once per request however it ended).
//!
//! See docs/plugins.md for the phases and their guarantees.

use asbru_engine::{
    Answer, ChatMessage, ChatRequest, Finished, Gateway, GatewayError, GatewayOptions, Plugin,
    PluginError, PreHook, RequestBody, RequestContext, ShortCircuit,
};
use asbru_mock::{MockOptions, MockServer};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Refuses requests for one model.
struct ModelGuard {
    blocked: &'static str,
}

impl Plugin for ModelGuard {
    fn name(&self) -> &str {
        "model-guard"
    }

    fn pre(
        &self,
        ctx: &mut RequestContext,
        _body: &RequestBody<'_>,
    ) -> Result<PreHook, PluginError> {
        if ctx.model_requested != self.blocked {
            return Ok(PreHook::Continue);
        }
        let error = GatewayError::forbidden(
            format!("{} is not allowed here", self.blocked),
            "model_blocked",
        );
        Ok(PreHook::ShortCircuit(ShortCircuit::new(Answer::Error {
            error,
            allow_fallbacks: false,
        })))
    }
}

/// Tokens used per model, over every request.
#[derive(Default)]
struct SpendMeter {
    tokens: Mutex<BTreeMap<String, u64>>,
}

impl Plugin for SpendMeter {
    fn name(&self) -> &str {
        "spend-meter"
    }

    fn post(&self, ctx: &mut RequestContext, finished: &Finished<'_>) -> Result<(), PluginError> {
        let (Finished::Success { usage: Some(usage) }, Some(attempt)) =
            (finished, ctx.last_attempt())
        else {
            return Ok(());
        };
        let model = format!("{}/{}", attempt.provider, attempt.model);
        let mut tokens = self
            .tokens
            .lock()
            .map_err(|_| PluginError("poisoned".into()))?;
        *tokens.entry(model).or_default() += usage.total_tokens;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mock = MockServer::start(MockOptions::default()).await?;
    let config = serde_json::json!({
        "providers": {
            "openai": {
                "keys": [{"name": "main", "value": "sk-example", "weight": 1}],
                "network_config": {"base_url": mock.base_url()}
            }
        }
    });
    let loaded = asbru_config::load_str(&config.to_string(), &|var| std::env::var(var).ok())?;
    let meter = Arc::new(SpendMeter::default());
    let options = GatewayOptions {
        plugins: vec![
            Arc::new(ModelGuard {
                blocked: "openai/gpt-4o",
            }),
            Arc::clone(&meter) as Arc<dyn Plugin>,
        ],
        ..GatewayOptions::default()
    };
    let gateway = Gateway::with_options(loaded.config, options)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "plugins: {:?}", gateway.plugin_names())?;

    let hello = vec![ChatMessage::user("Say hello.")];
    gateway
        .chat(ChatRequest::new("openai/gpt-4o-mini", hello.clone()))
        .await?;
    let mut stream = gateway
        .chat_stream(ChatRequest::new("openai/gpt-4o-mini", hello.clone()))
        .await?;
    while let Some(chunk) = stream.next().await {
        chunk?;
    }
    match gateway.chat(ChatRequest::new("openai/gpt-4o", hello)).await {
        Ok(_) => return Err("the guard let a blocked model through".into()),
        Err(e) => writeln!(out, "blocked: {} ({})", e.message(), e.status())?,
    }

    let tokens = meter.tokens.lock().map_err(|_| "poisoned")?.clone();
    writeln!(out, "tokens by model: {tokens:?}")?;
    if tokens.get("openai/gpt-4o-mini").copied().unwrap_or(0) == 0 {
        return Err("the meter saw no tokens".into());
    }
    Ok(())
}
