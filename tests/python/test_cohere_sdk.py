"""The official `cohere` Python SDK (`cohere.ClientV2`) against the gateway's Cohere drop-in route:
only the base URL changes (`{gateway}/cohere`), and the request is served by whichever provider
the model names — Cohere itself, or an OpenAI, Anthropic or Gemini provider through the unified
types.

Each chat scenario runs for every serving provider: a chat, a stream (Cohere's events in order,
text and finish reason exact), a tool round trip, and an error the SDK raises as its own
exception. Embed and rerank go through the engine too, and the root base URL serves the same
paths.
"""

from __future__ import annotations

import json

import cohere
import pytest

from conftest import COHERE_KEY, MOCK_CONTENT

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
MESSAGES = [{"role": "user", "content": "Say hello."}]

# (model as the client names it, upstream path suffix)
SERVED_BY = {
    # No provider prefix: the route's own provider, cohere.
    "cohere": ("command-a-03-2025", "/v2/chat"),
    "openai": ("openai/gpt-4o-mini", "/v1/chat/completions"),
    "anthropic": ("anthropic/claude-sonnet-4-5", "/v1/messages"),
    "gemini": ("gemini/gemini-2.5-flash", ":generateContent"),
}


@pytest.fixture(params=sorted(SERVED_BY))
def served_by(request) -> tuple[str, str]:
    return SERVED_BY[request.param]


def make_client(base_url: str) -> cohere.ClientV2:
    # The key is the client's credential to the gateway, never sent on: the gateway holds the
    # providers' keys.
    return cohere.ClientV2(api_key="not-the-key", base_url=base_url, timeout=15.0,
                           max_retries=0)


@pytest.fixture
def co(stack) -> cohere.ClientV2:
    return make_client(f"{stack.gateway_url}/cohere")


def texts_of(message) -> list[str]:
    return [c.text for c in message.content or [] if c.type == "text"]


def test_chat(co, mock, served_by):
    model, path = served_by
    response = co.chat(model=model, messages=MESSAGES)
    assert response.id
    assert response.finish_reason == "COMPLETE"
    assert response.message.role == "assistant"
    assert texts_of(response.message) == [MOCK_CONTENT]
    assert response.usage.tokens.input_tokens > 0
    # Gemini models think by default, and thinking counts as output.
    assert response.usage.tokens.output_tokens >= len(MOCK_CONTENT.split())
    [sent] = mock.requests(path)
    # The client's key stays at the gateway; the provider gets the gateway's own.
    assert "not-the-key" not in json.dumps(sent["headers"])
    if path == "/v2/chat":
        assert sent["headers"]["authorization"] == f"Bearer {COHERE_KEY}"


def test_chat_stream(co, served_by):
    model, _ = served_by
    events = list(co.chat_stream(model=model, messages=MESSAGES))
    kinds = [e.type for e in events]
    assert kinds[0] == "message-start" and kinds.count("message-start") == 1
    assert kinds[-1] == "message-end" and kinds.count("message-end") == 1
    # Every content block is started, fed and ended, one at a time, in index order.
    open_index = None
    for event in events:
        if event.type == "content-start":
            assert open_index is None, kinds
            open_index = event.index
        elif event.type == "content-delta":
            assert event.index == open_index, kinds
        elif event.type == "content-end":
            assert event.index == open_index, kinds
            open_index = None
    assert open_index is None, kinds
    text = "".join(e.delta.message.content.text or "" for e in events
                   if e.type == "content-delta" and e.delta.message.content.text)
    assert text == MOCK_CONTENT
    end = events[-1]
    assert end.delta.finish_reason == "COMPLETE"
    assert end.delta.error is None
    assert end.delta.usage.tokens.output_tokens >= len(MOCK_CONTENT.split())


def test_tool_round_trip(co, mock, served_by):
    model, path = served_by
    first = co.chat(model=model, messages=MESSAGES, tools=[WEATHER_TOOL],
                    tool_choice="REQUIRED")
    assert first.finish_reason == "TOOL_CALL"
    [call] = first.message.tool_calls
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)
    assistant = first.message
    call_id = call.id
    second = co.chat(model=model, tools=[WEATHER_TOOL], messages=[
        *MESSAGES, assistant,
        {"role": "tool", "tool_call_id": call_id, "content": [
            {"type": "document", "document": {"data": json.dumps({"forecast": "18C, sunny"})}}]},
    ])
    assert second.finish_reason == "COMPLETE"
    assert texts_of(second.message) == [MOCK_CONTENT]
    sent = json.dumps(mock.requests(path)[-1]["json"])
    # The tool result reached the provider as its text.
    assert "18C, sunny" in sent
    if model.startswith("gemini/"):
        # Gemini pairs calls and results by name (the mock issues no call ids); the id the
        # client saw was made up by the gateway.
        assert sent.count("get_weather") >= 2
    else:
        # The id the client saw is the id the provider got back with the result.
        assert call_id in sent


def test_tool_call_in_a_stream(co, served_by):
    model, _ = served_by
    events = list(co.chat_stream(model=model, messages=MESSAGES, tools=[WEATHER_TOOL],
                                 tool_choice="REQUIRED"))
    kinds = [e.type for e in events]
    assert kinds[0] == "message-start" and kinds[-1] == "message-end"
    starts = [e for e in events if e.type == "tool-call-start"]
    assert len(starts) == 1, kinds
    call = starts[0].delta.message.tool_calls
    assert call.function.name == "get_weather" and call.id
    # A forced call's text is its plan, before the call; nothing streams as content.
    assert "content-delta" not in kinds, kinds
    first_call = kinds.index("tool-call-start")
    assert all(k == "tool-plan-delta" for k in kinds[1:first_call]), kinds
    assert kinds[first_call:-1].count("tool-call-end") == 1 and kinds[-2] == "tool-call-end"
    args = "".join(e.delta.message.tool_calls.function.arguments for e in events
                   if e.type == "tool-call-delta")
    assert isinstance(json.loads(args)["city"], str)
    assert events[-1].delta.finish_reason == "TOOL_CALL"


def test_errors_are_cohere_exceptions(co, served_by):
    model, _ = served_by
    with pytest.raises(cohere.BadRequestError) as info:
        co.chat(model=model, messages=[])
    assert info.value.status_code == 400
    assert set(info.value.body) == {"id", "message"}
    assert info.value.body["message"].startswith("messages:")


def test_a_rate_limit_is_the_sdks_too_many_requests(co, mock):
    mock.push_fault({"type": "rate_limited", "retry_after_secs": 1})
    with pytest.raises(cohere.TooManyRequestsError) as info:
        co.chat(model="command-a-03-2025", messages=MESSAGES)
    assert info.value.status_code == 429
    assert info.value.body["message"]


def test_a_failure_mid_stream_reaches_the_sdk_as_cohere_reports_it(co, mock):
    # The stream is cut after it started: Cohere's stream ends a failed generation with
    # `message-end`, `finish_reason: ERROR` and the `error` text, which the SDK exposes.
    mock.push_fault({"type": "stream_cut", "after_chunks": 2})
    events = list(co.chat_stream(model="openai/gpt-4o-mini", messages=MESSAGES))
    kinds = [e.type for e in events]
    assert kinds[0] == "message-start" and kinds[-1] == "message-end", kinds
    end = events[-1]
    assert end.delta.finish_reason == "ERROR"
    assert end.delta.error


def test_embed(co, mock):
    response = co.embed(model="embed-v4.0", texts=["hello", "goodbye"],
                        input_type="search_document", embedding_types=["float"])
    vectors = response.embeddings.float_
    assert len(vectors) == 2 and len(vectors[0]) > 1
    assert response.texts == ["hello", "goodbye"]
    assert response.meta.billed_units.input_tokens > 0
    [sent] = mock.requests("/v2/embed")
    assert sent["json"]["input_type"] == "search_document"

    other = co.embed(model="openai/text-embedding-3-small", texts=["hello"],
                     input_type="search_query", embedding_types=["float"])
    assert len(other.embeddings.float_) == 1
    assert mock.requests("/v1/embeddings")


def test_embed_types_that_cannot_be_served_are_refused(co):
    with pytest.raises(cohere.BadRequestError) as info:
        co.embed(model="embed-v4.0", texts=["hello"], input_type="search_document",
                 embedding_types=["int8"])
    assert info.value.body["message"].startswith("embedding_types:")


def test_rerank(co, mock):
    documents = ["Berlin is in Germany.", "Paris is the capital of France.", "Rome is old."]
    response = co.rerank(model="rerank-v3.5", query="capital of France", documents=documents,
                         top_n=2)
    assert len(response.results) == 2
    assert response.results[0].index == 1
    scores = [r.relevance_score for r in response.results]
    assert scores == sorted(scores, reverse=True)
    assert mock.requests("/v2/rerank")


def test_the_root_base_url_works_too(stack, mock):
    co = make_client(stack.gateway_url)
    response = co.chat(model="command-a-03-2025", messages=MESSAGES)
    assert texts_of(response.message) == [MOCK_CONTENT]
    assert co.embed(model="embed-v4.0", texts=["a"], input_type="search_query",
                    embedding_types=["float"]).embeddings.float_
    assert co.rerank(model="rerank-v3.5", query="a", documents=["a", "b"]).results
