//! vLLM keys that each name their own server (`vllm_key_config.url`): every request goes to the
//! server of the key that serves its model, with no provider-wide `base_url` needed.

use crate::harness::{TestGateway, chat_body};
use asbru_mock::{MockOptions, MockServer};
use serde_json::json;

#[tokio::test]
async fn each_key_sends_its_model_to_its_own_server() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let base = mock.base_url();
    let config = json!({"providers": {"vllm": {"keys": [
        {"name": "llama", "value": "sk-test", "weight": 1,
         "vllm_key_config": {"url": format!("{base}/llama-server/"), "model_name": "llama-3.1-8b"}},
        {"name": "qwen", "value": "sk-test", "weight": 1,
         "vllm_key_config": {"url": format!("{base}/qwen-server"), "model_name": "qwen-2.5-7b"}}
    ]}}});
    let gw = TestGateway::start_with(mock, config).await;

    for _ in 0..3 {
        for (model, server) in [("llama-3.1-8b", "llama"), ("qwen-2.5-7b", "qwen")] {
            gw.mock.clear_requests();
            let (status, answer) = gw
                .post("/v1/chat/completions", chat_body(&format!("vllm/{model}")))
                .await;
            assert_eq!(status, 200, "{answer}");
            let sent = gw.mock.requests();
            assert_eq!(sent.len(), 1);
            assert_eq!(
                sent[0].path,
                format!("/{server}-server/v1/chat/completions")
            );
            assert_eq!(sent[0].json().unwrap()["model"], model);
        }
    }

    let (status, answer) = gw
        .post(
            "/v1/embeddings",
            json!({"model": "vllm/qwen-2.5-7b", "input": "hi"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        gw.mock
            .requests()
            .last()
            .unwrap()
            .path
            .starts_with("/qwen-server/")
    );

    // A model no key serves names both.
    let (status, answer) = gw
        .post("/v1/chat/completions", chat_body("vllm/mistral-7b"))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mistral-7b")
    );
}
