"""The official `google-genai` Python SDK against the gateway's GenAI drop-in route: only the base
URL changes (`{gateway}/genai`), and the request is served by whichever provider the model names —
Gemini itself (a bare model name), or an OpenAI or Anthropic provider through the unified types.

Each scenario runs for every serving provider it applies to: generate_content,
generate_content_stream (SSE, as the SDK asks), a function-calling round trip, errors the SDK
raises as its own exceptions (before and during a stream), embed_content, count_tokens; then
models.list / models.get, and the gateway's root as the base URL.
"""

from __future__ import annotations

import json

import pytest
from google import genai
from google.genai import errors, types

from conftest import MOCK_CONTENT

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Current weather for a city",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
)
FORCE_TOOL = types.GenerateContentConfig(
    tools=[types.Tool(function_declarations=[WEATHER])],
    tool_config=types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode="ANY")),
)

# (model as the client names it, upstream path suffix, the embedding model of that provider or
#  None)
SERVED_BY = {
    # No provider prefix: the route's own provider, gemini.
    "gemini": ("gemini-2.5-flash", ":generateContent", "gemini-embedding-001"),
    "openai": ("openai/gpt-4o-mini", "/v1/chat/completions", "openai/text-embedding-3-small"),
    "anthropic": ("anthropic/claude-sonnet-4-5", "/v1/messages", None),
}
# Where each provider counts tokens.
COUNTED_AT = {"gemini": ":countTokens", "openai": "/v1/responses/input_tokens",
              "anthropic": "/v1/messages/count_tokens"}


def make_client(base_url: str, **options) -> genai.Client:
    # The key is the client's credential to the gateway, never the provider's.
    return genai.Client(api_key="not-the-key",
                        http_options=types.HttpOptions(base_url=base_url, timeout=15_000,
                                                       **options))


@pytest.fixture(params=sorted(SERVED_BY))
def served_by(request) -> tuple[str, tuple]:
    return request.param, SERVED_BY[request.param]


@pytest.fixture
def client(stack) -> genai.Client:
    return make_client(f"{stack.gateway_url}/genai")


def test_generate_content(client, mock, served_by):
    _, (model, path, _) = served_by
    response = client.models.generate_content(model=model, contents="Say hello.")
    assert response.text == MOCK_CONTENT
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.candidates[0].content.role == "model"
    assert response.usage_metadata.prompt_token_count > 0
    assert response.usage_metadata.candidates_token_count >= len(MOCK_CONTENT.split())
    assert mock.requests(path), f"nothing reached {path}"
    # The client's key stays with the gateway.
    assert all("not-the-key" not in json.dumps(r["headers"]) for r in mock.requests())


def test_generate_content_stream(client, mock, served_by):
    name, (model, _, _) = served_by
    chunks = list(client.models.generate_content_stream(model=model, contents="Say hello."))
    assert len(chunks) >= 2
    assert "".join(c.text or "" for c in chunks) == MOCK_CONTENT
    finishes = [c.candidates[0].finish_reason for c in chunks
                if c.candidates and c.candidates[0].finish_reason]
    assert finishes == [types.FinishReason.STOP]
    assert chunks[-1].usage_metadata.candidates_token_count > 0
    if name == "gemini":
        [sent] = mock.requests(":streamGenerateContent")
        assert sent["query"] == "alt=sse"


def test_function_calling_round_trip(client, mock, served_by):
    name, (model, path, _) = served_by
    question = types.Content(role="user", parts=[types.Part(text="Weather in Paris for 2 days?")])
    first = client.models.generate_content(model=model, contents=[question], config=FORCE_TOOL)
    [call] = first.function_calls
    assert call.name == "get_weather"
    assert isinstance(call.args["city"], str) and isinstance(call.args["days"], int)
    model_turn = first.candidates[0].content
    result = types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
        id=call.id, name="get_weather", response={"output": "18°C and sunny"}))])
    second = client.models.generate_content(
        model=model, contents=[question, model_turn, result],
        config=types.GenerateContentConfig(tools=FORCE_TOOL.tools))
    assert second.text == MOCK_CONTENT
    assert second.candidates[0].finish_reason == types.FinishReason.STOP
    sent = json.dumps(mock.requests(path)[-1]["json"], ensure_ascii=False)
    assert "18°C and sunny" in sent
    # Every provider but Gemini (whose mock issues no call ids) names its calls.
    assert call.id or name == "gemini"
    if call.id:
        # The id the client saw is the id the provider got back with the result.
        assert call.id in sent


def test_errors_are_the_sdks_exceptions(client, mock, served_by):
    _, (model, _, _) = served_by
    mock.push_fault({"type": "rate_limited", "retry_after_secs": 1})
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=model, contents="Say hello.")
    assert info.value.code == 429
    assert info.value.status == "RESOURCE_EXHAUSTED"

    mock.push_fault({"type": "status", "status": 400, "message": "nope"})
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=model, contents="Say hello.")
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"

    # Cut after the stream started: the SDK raises while iterating, after the first chunks.
    mock.push_fault({"type": "stream_cut", "after_chunks": 2})
    with pytest.raises(errors.ServerError) as info:
        list(client.models.generate_content_stream(model=model, contents="Say hello."))
    assert info.value.status == "UNAVAILABLE"


def with_body(**fields) -> types.GenerateContentConfig:
    """A config whose request body carries gateway fields (Bifrost's `fallbacks`)."""
    return types.GenerateContentConfig(http_options=types.HttpOptions(extra_body=fields))


def test_fallbacks_ride_in_the_body(fresh_stack, mock):
    # A gateway of the test's own, so the primary's circuit is closed and the fault is its.
    client = make_client(f"{fresh_stack.gateway_url}/genai")
    mock.push_fault({"type": "status", "status": 503, "message": "primary down"})
    response = client.models.generate_content(
        model="gemini-2.5-flash", contents="Say hello.",
        config=with_body(fallbacks=["openai/gpt-4o-mini"]))
    assert response.text == MOCK_CONTENT
    # The primary was tried once, then the fallback.
    paths = [r["path"] for r in mock.requests()]
    assert len(paths) == 2 and paths[-1] == "/v1/chat/completions", paths


def test_a_bad_request_names_the_field(client):
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-2.5-flash", contents="Say hello.",
                                       config=with_body(fallbacks="openai/gpt-4o-mini"))
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    assert "fallbacks" in info.value.message


def test_embed_content(client, mock, served_by):
    name, (_, _, embedding_model) = served_by
    if embedding_model is None:
        # Anthropic has no embeddings: the engine's refusal, as the SDK's exception.
        with pytest.raises(errors.APIError):
            client.models.embed_content(model=f"{name}/any", contents=["a"])
        return
    result = client.models.embed_content(
        model=embedding_model, contents=["first text", "second text"],
        config=types.EmbedContentConfig(output_dimensionality=8))
    assert len(result.embeddings) == 2
    assert all(len(e.values) == 8 for e in result.embeddings)
    assert result.embeddings[0].values != result.embeddings[1].values
    expected = ":batchEmbedContents" if name == "gemini" else "/v1/embeddings"
    assert mock.requests(expected), f"nothing reached {expected}"


def test_count_tokens(client, mock, served_by):
    name, (model, _, _) = served_by
    count = client.models.count_tokens(model=model, contents="What is the weather in Paris?")
    assert count.total_tokens > 0
    assert mock.requests(COUNTED_AT[name]), f"nothing reached {COUNTED_AT[name]}"


def test_models_are_listed_and_got(client):
    names = [m.name for m in client.models.list(config={"page_size": 3})]
    assert "models/openai/gpt-4o-mini" in names
    assert any(n.startswith("models/gemini/") for n in names)
    assert any(n.startswith("models/anthropic/") for n in names)
    assert len(names) == len(set(names)), "a page repeated a model"
    # Gemini's paging: a page of three, then the three after it.
    pager = client.models.list(config={"page_size": 3})
    assert [m.name for m in pager.page] == names[:3] and pager.config.get("page_token")
    assert [m.name for m in pager.next_page()] == names[3:6]
    model = client.models.get(model="openai/gpt-4o-mini")
    assert model.name == "models/openai/gpt-4o-mini"
    with pytest.raises(errors.ClientError) as info:
        client.models.get(model="openai/no-such-model")
    assert info.value.code == 404


@pytest.mark.parametrize("api_version", [None, "v1beta"])
def test_the_root_works_too(stack, api_version):
    # The SDK's default API version, and the one Google documents.
    root = make_client(stack.gateway_url, api_version=api_version)
    response = root.models.generate_content(model="gemini-2.5-flash", contents="Say hello.")
    assert response.text == MOCK_CONTENT
    chunks = list(root.models.generate_content_stream(model="openai/gpt-4o-mini",
                                                      contents="Say hello."))
    assert "".join(c.text or "" for c in chunks) == MOCK_CONTENT
    assert any(m.name == "models/openai/gpt-4o-mini" for m in root.models.list())
