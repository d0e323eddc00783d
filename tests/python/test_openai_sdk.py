"""The official `openai` Python SDK as a real client of the gateway.

Each test goes SDK -> asbru (real binary) -> asbru-mock, and asserts both what the SDK surfaces
(typed objects, exception classes, status codes, messages) and what the mock received.
"""

from __future__ import annotations

import json
import math
import threading
import time

import openai
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from conftest import MOCK_CONTENT, OPENAI_KEY, SLOW_PROVIDER_TIMEOUT_S, http_json, make_client

MESSAGES = [{"role": "user", "content": "Say hello."}]
# The mock counts whitespace-separated words as tokens.
CONTENT_TOKENS = len(MOCK_CONTENT.split())


def extra_fields(obj) -> dict:
    """The gateway's `extra_fields`, which the SDK keeps as an undeclared extra of the model."""
    extra = obj.model_extra or {}
    assert "extra_fields" in extra, f"no extra_fields in {obj!r}"
    return extra["extra_fields"]


# --------------------------------------------------------------------------------------------
# Chat completions
# --------------------------------------------------------------------------------------------


def test_chat_completion(client, mock):
    resp = client.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)

    assert isinstance(resp, ChatCompletion)
    assert resp.object == "chat.completion"
    assert resp.id
    assert len(resp.choices) == 1
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == MOCK_CONTENT
    assert choice.finish_reason == "stop"
    assert resp.usage is not None
    assert resp.usage.completion_tokens == CONTENT_TOKENS
    assert resp.usage.prompt_tokens > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens

    extra = extra_fields(resp)
    assert extra["provider"] == "openai"
    assert extra["model_requested"] == "gpt-4o-mini"
    assert extra["request_type"] == "chat.completion"
    assert isinstance(extra["latency"], (int, float)) and extra["latency"] >= 0

    [seen] = mock.requests("/chat/completions")
    assert seen["method"] == "POST"
    assert seen["path"] == "/v1/chat/completions"
    assert seen["json"]["model"] == "gpt-4o-mini"
    assert seen["json"]["messages"] == MESSAGES
    assert seen["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"


def test_chat_completion_forwards_parameters(client, mock):
    client.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "system", "content": "Be brief."}, *MESSAGES],
        temperature=0.25,
        max_tokens=17,
        n=2,
        user="user-42",
    )
    [seen] = mock.requests("/chat/completions")
    body = seen["json"]
    assert body["model"] == "gpt-4o"
    assert body["temperature"] == 0.25
    assert body["max_tokens"] == 17
    assert body["n"] == 2
    assert body["user"] == "user-42"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_chat_completion_n_choices(client):
    resp = client.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES, n=3)
    assert [c.index for c in resp.choices] == [0, 1, 2]
    assert all(c.message.content == MOCK_CONTENT for c in resp.choices)


def test_chat_completion_raw_response(client):
    raw = client.chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini", messages=MESSAGES
    )
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    parsed = raw.parse()
    assert isinstance(parsed, ChatCompletion)
    assert parsed.choices[0].message.content == MOCK_CONTENT
    body = raw.http_response.json()
    assert body["extra_fields"]["provider"] == "openai"


# --------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------


def test_chat_stream(client, mock):
    stream = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=MESSAGES, stream=True
    )
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)  # ends cleanly at [DONE]; an error event would raise here

    assert chunks, "no chunks"
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    # Without stream_options.include_usage, no usage-only chunk (empty choices) reaches the
    # client, even if the gateway asked the provider for usage on its own behalf.
    assert all(c.choices for c in chunks), [c for c in chunks if not c.choices]
    assert all(c.usage is None for c in chunks)

    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert content == MOCK_CONTENT
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len({c.id for c in chunks}) == 1

    extras = [extra_fields(c) for c in chunks]
    assert all(e["provider"] == "openai" for e in extras)
    assert all(e["model_requested"] == "gpt-4o-mini" for e in extras)
    assert all(e["request_type"] == "chat.completion.chunk" for e in extras)
    assert [e["chunk_index"] for e in extras] == list(range(len(chunks)))

    [seen] = mock.requests("/chat/completions")
    assert seen["json"]["stream"] is True
    assert seen["json"]["model"] == "gpt-4o-mini"
    assert seen["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"


def test_chat_stream_include_usage(client):
    chunks = list(
        client.chat.completions.create(
            model="openai/gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == MOCK_CONTENT

    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens == CONTENT_TOKENS
    assert last.usage.total_tokens == last.usage.prompt_tokens + CONTENT_TOKENS
    # Only the final chunk carries usage, and only it has no choices.
    assert all(c.usage is None and c.choices for c in chunks[:-1])
    assert [extra_fields(c)["chunk_index"] for c in chunks] == list(range(len(chunks)))


def test_chat_stream_context_manager_and_raw_lines(client):
    with client.chat.completions.with_streaming_response.create(
        model="openai/gpt-4o-mini", messages=MESSAGES, stream=True
    ) as raw:
        assert raw.status_code == 200
        assert raw.headers["content-type"].startswith("text/event-stream")
        data = [line[len("data: "):] for line in raw.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    assert data.count("[DONE]") == 1


def test_chat_stream_cut_midway_raises(client, mock):
    mock.push_fault({"type": "stream_cut", "after_chunks": 3})
    stream = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=MESSAGES, stream=True
    )
    received: list[ChatCompletionChunk] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            received.append(chunk)
    # Not a status error: the stream had started with 200, and the gateway reported the
    # failure as an SSE error event, which the SDK raises while iterating.
    assert not isinstance(info.value, openai.APIStatusError)
    assert info.value.message
    assert isinstance(info.value.body, dict) and info.value.body.get("message")

    # What arrived before the cut is a clean prefix of the answer.
    partial = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert len(received) == 3
    assert MOCK_CONTENT.startswith(partial) and partial != MOCK_CONTENT


def test_chat_stream_cut_midway_never_sends_done(client, mock):
    mock.push_fault({"type": "stream_cut", "after_chunks": 2})
    with client.chat.completions.with_streaming_response.create(
        model="openai/gpt-4o-mini", messages=MESSAGES, stream=True
    ) as raw:
        assert raw.status_code == 200
        data = [line[len("data: "):] for line in raw.iter_lines() if line.startswith("data: ")]
    assert "[DONE]" not in data
    last = json.loads(data[-1])
    assert "error" in last and last["error"].get("message"), last
    assert all("error" not in json.loads(d) for d in data[:-1])


# --------------------------------------------------------------------------------------------
# Embeddings
# --------------------------------------------------------------------------------------------


def _norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def test_embeddings_default_base64(client, mock):
    # The SDK asks for base64 unless told otherwise, and decodes it into floats.
    resp = client.embeddings.create(model="openai/text-embedding-3-small", input=["a", "b"])
    assert isinstance(resp, CreateEmbeddingResponse)
    assert resp.object == "list"
    assert [d.index for d in resp.data] == [0, 1]
    mock_default_dimensions = 8
    for item in resp.data:
        assert isinstance(item.embedding, list)
        assert len(item.embedding) == mock_default_dimensions
        assert all(isinstance(x, float) for x in item.embedding)
        assert _norm(item.embedding) == pytest.approx(1.0, abs=1e-5)
    assert resp.data[0].embedding != resp.data[1].embedding
    assert resp.usage.prompt_tokens == 2
    assert extra_fields(resp)["provider"] == "openai"

    [seen] = mock.requests("/embeddings")
    assert seen["json"]["model"] == "text-embedding-3-small"
    assert seen["json"]["input"] == ["a", "b"]
    assert seen["json"]["encoding_format"] == "base64"
    assert seen["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"


def test_embeddings_float_matches_base64(client, mock):
    b64 = client.embeddings.create(
        model="openai/text-embedding-3-small", input=["a", "b"], dimensions=32
    )
    flt = client.embeddings.create(
        model="openai/text-embedding-3-small",
        input=["a", "b"],
        dimensions=32,
        encoding_format="float",
    )
    assert len(flt.data) == 2
    for x, y in zip(b64.data, flt.data, strict=True):
        assert len(x.embedding) == len(y.embedding) == 32
        assert x.embedding == pytest.approx(y.embedding, abs=1e-6)
    seen = [r["json"] for r in mock.requests("/embeddings")]
    assert [s.get("encoding_format") for s in seen] == ["base64", "float"]
    assert all(s["dimensions"] == 32 for s in seen)


def test_embeddings_single_string(client):
    resp = client.embeddings.create(
        model="openai/text-embedding-3-small", input="hello world", encoding_format="float"
    )
    assert len(resp.data) == 1
    assert resp.usage.prompt_tokens == 2


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert "openai/gpt-4o-mini" in ids
    assert "openai/text-embedding-3-small" in ids
    assert all("/" in i for i in ids), ids


def test_models_list_provider_filter(client):
    page = client.models.list(extra_query={"provider": "openai"})
    ids = [m.id for m in page]
    assert ids and all(i.startswith("openai/") for i in ids), ids


# --------------------------------------------------------------------------------------------
# Legacy completions
# --------------------------------------------------------------------------------------------


def test_legacy_completion(client, mock):
    resp = client.completions.create(
        model="openai/gpt-3.5-turbo-instruct", prompt="Say hello.", max_tokens=16
    )
    assert resp.object == "text_completion"
    assert resp.choices[0].text == MOCK_CONTENT
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.completion_tokens == CONTENT_TOKENS
    extra = extra_fields(resp)
    assert extra["provider"] == "openai"
    assert extra["model_requested"] == "gpt-3.5-turbo-instruct"

    [seen] = mock.requests("/completions")
    assert seen["path"] == "/v1/completions"
    assert seen["json"]["model"] == "gpt-3.5-turbo-instruct"
    assert seen["json"]["prompt"] == "Say hello."
    assert seen["json"]["max_tokens"] == 16


def test_legacy_completion_stream(client):
    chunks = list(
        client.completions.create(
            model="openai/gpt-3.5-turbo-instruct", prompt="Say hello.", stream=True
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == MOCK_CONTENT
    assert chunks[-1].choices[0].finish_reason == "stop"


# --------------------------------------------------------------------------------------------
# Errors as the SDK surfaces them
# --------------------------------------------------------------------------------------------


def test_model_without_provider_prefix(client, mock):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    err = info.value
    assert err.status_code == 400
    assert isinstance(err.body, dict)
    assert err.body["type"] == "invalid_request_error"
    assert "provider/model" in err.body["message"]
    assert err.type == "invalid_request_error"
    raw = err.response.json()
    assert raw["is_bifrost_error"] is True
    assert raw["status_code"] == 400
    assert mock.requests() == []


def test_unknown_provider(client, mock):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="nosuchprovider/gpt-4o", messages=MESSAGES)
    err = info.value
    assert err.status_code == 400
    assert "nosuchprovider" in err.body["message"]
    assert err.response.json()["is_bifrost_error"] is True
    assert mock.requests() == []


def test_upstream_503_keeps_status_and_message(client, mock):
    message = "The engine is on fire (injected by the SDK test)."
    mock.push_fault({"type": "status", "status": 503, "message": message})
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)
    err = info.value
    assert err.status_code == 503
    assert err.body["message"] == message
    assert err.body["type"] == "server_error"
    assert message in str(err)
    raw = err.response.json()
    assert raw["is_bifrost_error"] is False
    assert raw["status_code"] == 503
    assert raw["extra_fields"]["provider"] == "openai"
    # max_retries is 0 in the config: exactly one upstream attempt.
    assert len(mock.requests("/chat/completions")) == 1


def test_upstream_429_is_rate_limit_error(client, mock):
    mock.push_fault({"type": "rate_limited", "retry_after_secs": 2})
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)
    err = info.value
    assert err.status_code == 429
    assert "Rate limit reached" in err.body["message"]
    assert err.body["type"] == "requests"
    assert err.code == "rate_limit_exceeded"


def test_upstream_401_is_authentication_error(client, mock):
    mock.push_fault({"type": "status", "status": 401, "message": "Incorrect API key provided."})
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)
    assert info.value.status_code == 401
    assert info.value.body["message"] == "Incorrect API key provided."
    assert info.value.code == "invalid_api_key"


def test_upstream_400_keeps_param(client, mock):
    # The mock validates like OpenAI: n=0 is refused with a 400 naming the parameter.
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES, n=0)
    err = info.value
    assert err.status_code == 400
    assert err.param == "n"
    assert err.code == "integer_below_min_value"
    assert len(mock.requests("/chat/completions")) == 1


def test_upstream_error_on_stream_request(client, mock):
    # A provider that refuses before streaming: the SDK gets a status error, not a stream.
    mock.push_fault({"type": "status", "status": 503, "message": "stream refused"})
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(
            model="openai/gpt-4o-mini", messages=MESSAGES, stream=True
        )
    assert info.value.status_code == 503
    assert info.value.body["message"] == "stream refused"


def test_upstream_connection_reset_is_502(client, mock):
    mock.push_fault({"type": "reset"})
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)
    assert info.value.status_code == 502


def test_unreachable_provider_is_502(client):
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="groq/llama-3.1-8b-instant", messages=MESSAGES)
    assert info.value.status_code == 502
    assert info.value.response.json()["is_bifrost_error"] is True


def test_upstream_timeout_is_504(client, mock):
    mock.push_fault({"type": "delay", "ms": (SLOW_PROVIDER_TIMEOUT_S + 4) * 1000},
                    model="slow-model")
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="mistral/slow-model", messages=MESSAGES)
    elapsed = time.monotonic() - started
    assert info.value.status_code == 504
    assert elapsed < SLOW_PROVIDER_TIMEOUT_S + 3, elapsed


def test_request_body_too_large_is_413(client, mock):
    huge = "x" * (1024 * 1024 + 1)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": huge}]
        )
    assert info.value.status_code == 413
    assert mock.requests() == []


def test_queue_full_is_429(stack, client, mock):
    """cerebras has concurrency 1 and buffer 1, and drop_excess_requests is on: with one stream
    held upstream and one request waiting, a third is refused with 429 at once."""
    mock.push_fault({"type": "hold_stream"}, model="held-model")
    held = client.chat.completions.create(
        model="cerebras/held-model", messages=MESSAGES, stream=True
    )
    waiting_result: dict = {}

    def waiting_request():
        c = make_client(stack)
        try:
            waiting_result["resp"] = c.chat.completions.create(
                model="cerebras/gpt-4o-mini", messages=MESSAGES
            )
        except Exception as e:  # reported by the main thread
            waiting_result["error"] = e
        finally:
            c.close()

    waiter = threading.Thread(target=waiting_request, daemon=True)
    try:
        chunks = iter(held)
        first = next(chunks)  # forwarded while the rest is still held upstream
        assert first.choices[0].delta.role == "assistant"

        waiter.start()
        _wait_admitted(stack, "cerebras", 2)

        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="cerebras/gpt-4o-mini", messages=MESSAGES)
        assert info.value.status_code == 429
        assert info.value.response.json()["is_bifrost_error"] is True
    finally:
        mock.clear_faults()
        mock.release()

    rest = list(chunks)
    content = "".join(c.choices[0].delta.content or "" for c in [first, *rest] if c.choices)
    assert content == MOCK_CONTENT
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert "error" not in waiting_result, waiting_result.get("error")
    assert waiting_result["resp"].choices[0].message.content == MOCK_CONTENT
    # The refused request never reached the provider.
    assert [r["json"]["model"] for r in mock.requests("/chat/completions")] == [
        "held-model",
        "gpt-4o-mini",
    ]


def _wait_admitted(stack, provider: str, count: int, timeout: float = 5.0) -> None:
    """Waits until the gateway's queue for `provider` holds `count` requests (from /metrics)."""
    needle = f'asbru_queue_admitted{{provider="{provider}"}} {count}'
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        status, text = http_json("GET", f"{stack.gateway_url}/metrics")
        if status == 200 and isinstance(text, str) and needle in text:
            return
        time.sleep(0.02)
    pytest.fail(f"queue of {provider} never held {count} requests; /metrics:\n{text}")
