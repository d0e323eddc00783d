"""The official `anthropic` Python SDK against the gateway's Anthropic drop-in route: only the base
URL changes (`{gateway}/anthropic`), and the request is served by whichever provider the model
names — Anthropic itself, or an OpenAI or Gemini provider through the unified types.

Each scenario runs for every serving provider: a message, a stream (events in Anthropic's order,
text and stop reason exact), a tool round trip, and an error the SDK raises as its own exception.
"""

from __future__ import annotations

import json

import anthropic
import pytest

from conftest import MOCK_CONTENT

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}

# (model as the client names it, upstream path suffix)
SERVED_BY = {
    # No provider prefix: the route's own provider, anthropic.
    "anthropic": ("claude-sonnet-4-5", "/v1/messages"),
    "openai": ("openai/gpt-4o-mini", "/v1/chat/completions"),
    "gemini": ("gemini/gemini-2.5-flash", ":generateContent"),
}


@pytest.fixture(params=sorted(SERVED_BY))
def served_by(request) -> tuple[str, str]:
    return SERVED_BY[request.param]


@pytest.fixture
def claude(stack) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{stack.gateway_url}/anthropic", api_key="not-the-key",
                               max_retries=0, timeout=15.0)


def test_message(claude, mock, served_by):
    model, path = served_by
    message = claude.messages.create(model=model, max_tokens=200,
                                     messages=[{"role": "user", "content": "Say hello."}])
    assert message.type == "message" and message.role == "assistant"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == MOCK_CONTENT
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    # Gemini models think by default, and thinking counts as output.
    assert message.usage.output_tokens >= len(MOCK_CONTENT.split())
    assert mock.requests(path), f"nothing reached {path}"


def test_stream(claude, served_by):
    model, _ = served_by
    with claude.messages.stream(model=model, max_tokens=200,
                                messages=[{"role": "user", "content": "Say hello."}]) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds.count("message_start") == 1
    assert kinds[-1] == "message_stop"
    assert "content_block_start" in kinds and "content_block_stop" in kinds
    assert kinds.index("content_block_start") < kinds.index("content_block_stop")
    text = "".join(e.delta.text for e in events
                   if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text == MOCK_CONTENT
    assert final.content[0].text == MOCK_CONTENT
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens >= len(MOCK_CONTENT.split())


def test_tool_round_trip(claude, mock, served_by):
    model, path = served_by
    messages = [{"role": "user", "content": "Weather in Paris for 2 days?"}]
    first = claude.messages.create(model=model, max_tokens=500, tools=[WEATHER_TOOL],
                                   tool_choice={"type": "any"}, messages=messages)
    assert first.stop_reason == "tool_use"
    [use] = [b for b in first.content if b.type == "tool_use"]
    assert use.name == "get_weather" and isinstance(use.input["city"], str)
    assistant = {"role": "assistant", "content": [b.model_dump(exclude_none=True)
                                                  for b in first.content]}
    call_id = use.id
    second = claude.messages.create(
        model=model, max_tokens=500, tools=[WEATHER_TOOL],
        messages=[*messages, assistant, {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call_id, "content": "18°C and sunny"}]}])
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == MOCK_CONTENT
    sent = json.dumps(mock.requests(path)[-1]["json"])
    if model.startswith("gemini/"):
        # Gemini pairs calls and results by name (the mock issues no call ids, as Gemini 2.5
        # often does not); the id the client saw was made up by the gateway.
        assert sent.count("get_weather") >= 2
    else:
        # The id the client saw is the id the provider got back with the result.
        assert call_id in sent


def test_errors_are_anthropic_exceptions(claude, served_by):
    model, _ = served_by
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model=model, max_tokens=200, messages=[])
    assert info.value.status_code == 400
    assert info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == "invalid_request_error"


def test_a_prefix_that_is_no_provider_is_part_of_the_model_name(claude, mock):
    # As in Bifrost: `nope/` is not a configured provider, so the route's provider gets the
    # whole name as its model.
    message = claude.messages.create(model="nope/some-model", max_tokens=10,
                                     messages=[{"role": "user", "content": "hi"}])
    assert message.content
    assert mock.requests("/v1/messages")[-1]["json"]["model"] == "nope/some-model"


def test_the_root_path_works_too(stack):
    client = anthropic.Anthropic(base_url=stack.gateway_url, api_key="x", max_retries=0)
    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=100,
                                     messages=[{"role": "user", "content": "Say hello."}])
    assert message.content[0].text == MOCK_CONTENT


def test_tool_use_in_a_stream(claude, served_by):
    model, _ = served_by
    with claude.messages.stream(model=model, max_tokens=500, tools=[WEATHER_TOOL],
                                tool_choice={"type": "any"},
                                messages=[{"role": "user", "content": "Weather in Paris?"}]) as s:
        events = list(s)
        final = s.get_final_message()
    starts = [e.content_block for e in events if e.type == "content_block_start"]
    assert any(b.type == "tool_use" and b.name == "get_weather" for b in starts)
    assert any(e.type == "content_block_delta" and e.delta.type == "input_json_delta"
               for e in events)
    [use] = [b for b in final.content if b.type == "tool_use"]
    assert isinstance(use.input["city"], str)
    assert final.stop_reason == "tool_use"


def test_models_are_listed_in_anthropics_shape(claude):
    page = claude.models.list(limit=1000)
    ids = [m.id for m in page.data]
    assert "anthropic/claude-sonnet-4-5" in ids or any(i.startswith("anthropic/") for i in ids)
    assert any(i.startswith("openai/") for i in ids)
    assert all(m.type == "model" and m.created_at for m in page.data)
    # Anthropic's paging: a page of one, then the next one after it.
    first = claude.models.list(limit=1)
    assert len(first.data) == 1 and first.has_more
    second = claude.models.list(limit=1, after_id=first.data[0].id)
    assert second.data[0].id == ids[1]


def test_count_tokens(claude, mock, served_by):
    model, _ = served_by
    count = claude.messages.count_tokens(
        model=model, system="You are terse.", tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    assert count.input_tokens > 0
    counted = mock.requests()[-1]
    assert counted["path"].endswith(("/v1/messages/count_tokens", ":countTokens",
                                     "/v1/responses/input_tokens")), counted["path"]


# Providers whose models show their reasoning (signed), with the upstream path of a streamed
# request: Anthropic itself, Gemini (thought parts with thought signatures) and Claude on Bedrock.
THINKING_BY = {
    "anthropic": ("claude-sonnet-4-5", "/v1/messages"),
    "gemini": ("gemini/gemini-2.5-flash", ":streamGenerateContent"),
    # Gemini 3 refuses a function call replayed without its thought signature.
    "gemini-3": ("gemini/gemini-3-pro-preview", ":streamGenerateContent"),
    "bedrock": ("bedrock/anthropic.claude-3-7-sonnet-20250219-v1:0", "/converse-stream"),
}


@pytest.mark.parametrize("served", sorted(THINKING_BY))
def test_thinking_blocks_stream_in_anthropics_nesting_and_replay(claude, mock, served):
    model, path = THINKING_BY[served]
    thinking = {"type": "enabled", "budget_tokens": 1024}
    question = {"role": "user", "content": "Weather in Paris for 2 days?"}
    with claude.messages.stream(model=model, max_tokens=4000, thinking=thinking,
                                tools=[WEATHER_TOOL], messages=[question]) as stream:
        events = list(stream)
        final = stream.get_final_message()
    # Each block is opened, fed and closed before the next one opens; thinking comes first
    # and carries its reasoning text and its signature as their own deltas.
    opened = [e.content_block.type for e in events if e.type == "content_block_start"]
    assert opened[0] == "thinking", opened
    index_of = {}
    for e in events:
        if e.type == "content_block_start":
            assert e.index not in index_of, "a block index is opened once"
            index_of[e.index] = "open"
        elif e.type == "content_block_delta":
            assert index_of.get(e.index) == "open", "deltas only go to the open block"
        elif e.type == "content_block_stop":
            assert index_of.get(e.index) == "open"
            index_of[e.index] = "closed"
            assert list(index_of.values()).count("open") == 0
    deltas = {e.delta.type for e in events if e.type == "content_block_delta"}
    assert {"thinking_delta", "signature_delta"} <= deltas, deltas
    [block] = [b for b in final.content if b.type == "thinking"]
    assert block.thinking and block.signature
    assert mock.requests(path), f"nothing reached {path}"

    # The thinking block goes back with the tool call it led to, signature included, and the
    # provider accepts the continuation.
    uses = [b for b in final.content if b.type == "tool_use"]
    if not uses:
        return
    answer = claude.messages.create(
        model=model, max_tokens=4000, thinking=thinking, tools=[WEATHER_TOOL],
        messages=[question,
                  {"role": "assistant", "content": [b.model_dump(exclude_none=True)
                                                    for b in final.content]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id,
                                                "content": "18°C and sunny"}]}])
    assert [b.text for b in answer.content if b.type == "text"] == [MOCK_CONTENT]
    # Another provider's signature reaches the client wrapped with its origin
    # (`asbru-sig:{format}:{signature}`), and goes back to that provider as it was made.
    original = block.signature
    if served.startswith("gemini"):
        assert original.startswith("asbru-sig:google-gemini-v1:"), original
        original = original.split(":", 2)[2]
    sent = json.dumps(mock.requests()[-1]["json"])
    assert original in sent, "the signature went back to the provider"
