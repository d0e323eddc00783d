//! asbru as a Rust library: build a `Gateway` from a Bifrost-style config and call it directly,
//! without HTTP. Runs offline against the bundled mock provider:
//!
//! ```sh
//! cargo run -p asbru-engine --example library
//! ```
//!
//! Against a real provider, drop the mock and use a config such as
//! `{"providers": {"openai": {"keys": [{"name": "main", "value": "env.OPENAI_API_KEY", "weight": 1}]}}}`.

use asbru_engine::{ChatMessage, ChatRequest, EmbeddingRequest, Gateway};
use asbru_mock::{MockOptions, MockServer};
use futures_util::StreamExt;
use std::io::Write;

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
    let gateway = Gateway::new(loaded.config)?;
    let mut out = std::io::stdout().lock();

    let request = ChatRequest::new(
        "openai/gpt-4o-mini",
        vec![
            ChatMessage::system("You are terse."),
            ChatMessage::user("Say hello."),
        ],
    );
    let answer = gateway.chat(request.clone()).await?;
    writeln!(
        out,
        "chat: {:?} (usage: {:?})",
        answer.choices[0].message.content_text(),
        answer.usage
    )?;

    let mut stream = gateway.chat_stream(request).await?;
    write!(out, "stream:")?;
    while let Some(chunk) = stream.next().await {
        for choice in chunk?.choices {
            write!(out, "{}", choice.delta.content.unwrap_or_default())?;
        }
    }
    writeln!(out)?;

    let embeddings = gateway
        .embed(EmbeddingRequest::new(
            "openai/text-embedding-3-small",
            "hello",
        ))
        .await?;
    writeln!(
        out,
        "embedding: {} dimensions",
        embeddings.data[0].embedding.len()
    )?;
    Ok(())
}
