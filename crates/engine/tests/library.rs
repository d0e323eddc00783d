//! The Rust library API against the mock provider: the same pipeline as HTTP, typed.
#![expect(clippy::unwrap_used, reason = "tests")]

use asbru_engine::{ChatMessage, ChatRequest, EmbeddingRequest, Gateway};
use asbru_mock::{Fault, MockOptions, MockServer};
use futures_util::StreamExt;

async fn gateway() -> (Gateway, MockServer) {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = serde_json::json!({"providers": {"openai": {
        "keys": [{"name": "k", "value": "sk-lib", "weight": 1}],
        "network_config": {"base_url": mock.base_url()}
    }}});
    let loaded = asbru_config::load_str(&config.to_string(), &|_| None).unwrap();
    (Gateway::new(loaded.config).unwrap(), mock)
}

#[tokio::test]
async fn chat_stream_and_embed_work_without_http() {
    let (gateway, mock) = gateway().await;
    let mut request = ChatRequest::new("openai/gpt-4o", vec![ChatMessage::user("Hi")]);
    request
        .extra
        .insert("temperature".into(), serde_json::json!(0.5));
    let answer = gateway.chat(request.clone()).await.unwrap();
    assert!(!answer.choices[0].message.content_text().unwrap().is_empty());
    assert!(answer.usage.unwrap().total_tokens > 0);
    assert_eq!(answer.extra_fields.as_ref().unwrap()["provider"], "openai");
    let sent = mock.requests()[0].json().unwrap();
    assert_eq!(sent["model"], "gpt-4o");
    assert_eq!(sent["temperature"], 0.5);
    assert_eq!(sent["stream"], false);

    let chunks: Vec<_> = gateway.chat_stream(request).await.unwrap().collect().await;
    let text: String = chunks
        .iter()
        .map(|c| c.as_ref().unwrap())
        .flat_map(|c| c.choices.iter().filter_map(|ch| ch.delta.content.clone()))
        .collect();
    assert_eq!(text, answer.choices[0].message.content_text().unwrap());

    let embeddings = gateway
        .embed(EmbeddingRequest::new("openai/text-embedding-3-small", "x"))
        .await
        .unwrap();
    assert!(!embeddings.data[0].embedding.is_empty());
    assert_eq!(
        mock.requests()[2].json().unwrap()["encoding_format"],
        "float"
    );
}

#[tokio::test]
async fn errors_are_typed() {
    let (gateway, mock) = gateway().await;
    let e = gateway
        .chat(ChatRequest::new(
            "nope/gpt-4o",
            vec![ChatMessage::user("Hi")],
        ))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400);
    mock.push_fault(Fault::StreamCut { after_chunks: 1 });
    let items: Vec<_> = gateway
        .chat_stream(ChatRequest::new(
            "openai/gpt-4o",
            vec![ChatMessage::user("Hi")],
        ))
        .await
        .unwrap()
        .collect()
        .await;
    assert!(items.first().unwrap().is_ok());
    assert!(
        items.last().unwrap().is_err(),
        "a cut stream ends with an error item"
    );
}
