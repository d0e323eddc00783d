"""One scenario set, run by the official `openai` SDK against every provider dialect asbru serves
OpenAI clients from: an OpenAI-compatible provider (bytes passed through), Anthropic (translated
to the Messages API and back), Gemini (translated to the Gemini API and back), Bedrock (translated
to Converse and back, SigV4-signed, streams in AWS event-stream framing), Cohere (translated to
Cohere's v2 API and back), Azure OpenAI (bytes passed through to a key's deployment URL) and
Vertex AI (Gemini and Claude models, translated as for Gemini and Anthropic, with a service
account's bearer token).

Each scenario is written once; the `provider` fixture says how that provider's upstream request
looks (which header holds the key, where tool ids, images or the JSON schema end up) and what its
mock scripts. Every dialect's mock scripts tool calls and stop reasons from the request; OpenAI's
chat completions return no reasoning text, so for OpenAI and Azure the reasoning scenario checks
what it can without one: that reasoning a client replays reaches the provider intact.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from conftest import (ANTHROPIC_KEY, AZURE_DEPLOYMENT, AZURE_EMBEDDING_MODEL, AZURE_KEY,
                      AZURE_MODEL, BEDROCK_ACCESS_KEY, BEDROCK_EMBEDDING_MODEL, BEDROCK_MODEL,
                      COHERE_KEY, GEMINI_KEY, MOCK_CONTENT, OPENAI_KEY, VERTEX_CLAUDE,
                      VERTEX_TOKEN, WRONG_KEY, http_json)

MESSAGES = [{"role": "user", "content": "Say hello."}]
CONTENT_TOKENS = len(MOCK_CONTENT.split())
PNG_BASE64 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kg"
              "AAAABJRU5ErkJggg==")
IMAGE_URL = "https://example.com/cat.png"
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
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


# --------------------------------------------------------------------------------------------
# The providers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    name: str
    model: str
    """The upstream model name (the request says `name/model`)."""
    path: str | tuple[str, ...]
    """The upstream path (or paths) of chat requests."""
    key: str
    key_sent: Callable[[dict], str | None]
    tool_ids_sent: Callable[[dict], tuple[str, str]]
    """(id of the assistant's tool call, id the tool result answers), as sent upstream."""
    images_sent: Callable[[dict], list[tuple]]
    schema_sent: Callable[[dict], Any]
    reasoning_sent: Callable[[dict], Any]
    replayed_signature: Callable[[dict], str | None]
    """The signature of the reasoning replayed in the assistant turn, as sent upstream (for a
    provider that does not sign reasoning, the replayed reasoning text)."""
    invalid_kwargs: dict
    """Parameters the provider itself refuses with a 400, and a word of its message."""
    invalid_word: str
    model_sent: Callable[[dict], str] = lambda r: r["json"]["model"]
    """The upstream model of a recorded chat request."""
    max_tokens_sent: Callable[[dict], Any] = lambda b: b["max_tokens"]
    streamed: Callable[[dict], bool] = lambda r: r["json"].get("stream") is True
    """Whether a recorded chat request asked for a stream."""
    tool_names_sent: Callable[[dict], list] = (
        lambda b: [t.get("name") or t["function"]["name"] for t in b["tools"]])
    stop_sent: Callable[[dict], Any] = lambda b: b.get("stop_sequences")
    tool_id_sent: Callable[[str], str] = lambda call_id: call_id
    """How the id of a tool call the client saw appears upstream."""
    reports_cache_writes: bool = False
    call_fragments: bool = True
    """Whether streamed tool-call arguments arrive in several fragments (Gemini sends a call
    whole)."""
    thinks_by_default: bool = False
    """Whether the model reasons (and counts reasoning tokens) without being asked to."""
    schema_answer: bool = False
    """Whether the mock answers a json_schema request with JSON matching it."""
    reasoning_expected: Any = "low"
    """What `reasoning_effort="low"` becomes upstream."""
    invalid_type: str = "invalid_request_error"
    error_types: dict = field(default_factory=dict)
    """The error `type` of injected upstream statuses, for translating providers."""
    error_directive: str = ""
    """Text that makes the mock fail a stream after its first delta, and the error type."""
    mid_stream_type: str = ""
    bad_key_status: int = 401
    bad_key_exception: type = openai.AuthenticationError
    image_urls: bool = True
    """Whether http(s) image URLs can be sent (Bedrock takes only bytes: a URL is a 400)."""
    embedding_model: str | None = None
    """A model the provider embeds with; None for providers without embeddings."""
    shows_reasoning: bool = True
    """Whether the provider answers with its reasoning when asked to reason (OpenAI's chat
    completions do not: its models reason unseen, reporting only a token count)."""
    signs_reasoning: bool = True
    """Whether the provider signs its reasoning (Cohere does not: its replayed text is checked)."""
    bad_key_sent: bool = True
    """Whether a refused credential reaches the provider (not when the gateway's token exchange
    refuses it first)."""

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.model}"

    def requests(self, mock) -> list[dict]:
        reqs = mock.requests(self.path)
        if self.name == "azure":
            # Azure's routes carry the API version of the key (the default here).
            assert all(r["query"] == "api-version=2024-10-21" for r in reqs), reqs
        return reqs


def _openai_images(body: dict) -> list[tuple]:
    out = []
    for part in body["messages"][0]["content"]:
        if part["type"] == "image_url":
            url = part["image_url"]["url"]
            if url.startswith("data:"):
                media, data = url[len("data:"):].split(";base64,")
                out.append(("base64", media, data))
            else:
                out.append(("url", url))
    return out


def _anthropic_images(body: dict) -> list[tuple]:
    out = []
    for block in body["messages"][0]["content"]:
        if block["type"] == "image":
            src = block["source"]
            if src["type"] == "base64":
                out.append(("base64", src["media_type"], src["data"]))
            else:
                out.append(("url", src["url"]))
    return out


def _anthropic_tool_ids(body: dict) -> tuple[str, str]:
    turns = body["messages"]
    use = next(b for b in turns[1]["content"] if b["type"] == "tool_use")
    result = next(b for b in turns[2]["content"] if b["type"] == "tool_result")
    return use["id"], result["tool_use_id"]


def _anthropic_signature(body: dict) -> str | None:
    blocks = body["messages"][1]["content"]
    thinking = [b for b in blocks if isinstance(b, dict) and b.get("type") == "thinking"]
    return thinking[0]["signature"] if thinking else None


def _gemini_parts(body: dict, turn: int) -> list[dict]:
    return body["contents"][turn]["parts"]


def _gemini_images(body: dict) -> list[tuple]:
    out = []
    for part in _gemini_parts(body, 0):
        if "inlineData" in part:
            out.append(("base64", part["inlineData"]["mimeType"], part["inlineData"]["data"]))
        elif "fileData" in part:
            out.append(("url", part["fileData"]["fileUri"]))
    return out


def _gemini_tool_ids(body: dict) -> tuple[str, str]:
    """Gemini pairs calls and responses by name, and by id when Google issued one."""
    call = next(p["functionCall"] for p in _gemini_parts(body, 1) if "functionCall" in p)
    response = next(p["functionResponse"] for p in _gemini_parts(body, 2)
                    if "functionResponse" in p)
    return call.get("id", call["name"]), response.get("id", response["name"])


def _gemini_signature(body: dict) -> str | None:
    thoughts = [p for p in _gemini_parts(body, 1) if p.get("thought")]
    return thoughts[0].get("thoughtSignature") if thoughts else None


def _gemini_model(request: dict) -> str:
    # `/v1beta/models/{model}:generateContent`
    return request["path"].rsplit("/", 1)[-1].split(":", 1)[0]


def _bedrock_blocks(body: dict, turn: int) -> list[dict]:
    return body["messages"][turn]["content"]


def _bedrock_key(request: dict) -> str | None:
    """The access key of a SigV4 signature (`Credential=AKID/date/region/bedrock/aws4_request`),
    or the Bedrock API key of a bearer."""
    auth = request["headers"].get("authorization") or ""
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ")
    match = re.search(r"Credential=([^/]+)/\d{8}/[a-z0-9-]+/bedrock/aws4_request", auth)
    return match.group(1) if match else None


def _bedrock_images(body: dict) -> list[tuple]:
    return [("base64", f"image/{b['image']['format']}", b["image"]["source"]["bytes"])
            for b in _bedrock_blocks(body, 0) if "image" in b]


def _bedrock_tool_ids(body: dict) -> tuple[str, str]:
    use = next(b["toolUse"] for b in _bedrock_blocks(body, 1) if "toolUse" in b)
    result = next(b["toolResult"] for b in _bedrock_blocks(body, 2) if "toolResult" in b)
    return use["toolUseId"], result["toolUseId"]


def _bedrock_signature(body: dict) -> str | None:
    blocks = [b["reasoningContent"] for b in _bedrock_blocks(body, 1) if "reasoningContent" in b]
    return blocks[0]["reasoningText"]["signature"] if blocks else None


def _bedrock_schema(body: dict) -> Any:
    # A json_schema response format is a forced tool whose input schema is the schema.
    [tool] = body["toolConfig"]["tools"]
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": tool["toolSpec"]["name"]}}
    return tool["toolSpec"]["inputSchema"]["json"]


def _bedrock_model(request: dict) -> str:
    # `/model/{percent-encoded id}/converse[-stream]`
    return urllib.parse.unquote(request["path"].split("/model/", 1)[1].rsplit("/", 1)[0])


def _cohere_thinking(body: dict) -> str | None:
    content = body["messages"][1].get("content")
    blocks = content if isinstance(content, list) else []
    thinking = [b["thinking"] for b in blocks if b.get("type") == "thinking"]
    return thinking[0] if thinking else None


def _bearer(request: dict) -> str | None:
    return (request["headers"].get("authorization") or "").removeprefix("Bearer ") or None


def _vertex_paths(publisher: str, model: str, *methods: str) -> tuple[str, ...]:
    return tuple(f"/publishers/{publisher}/models/{model}:{m}" for m in methods)


def _openai_signature(body: dict) -> str | None:
    details = body["messages"][1].get("reasoning_details") or []
    return details[0].get("signature") if details else None


PROVIDERS = {
    "openai": Provider(
        name="openai",
        model="gpt-4o-mini",
        path="/v1/chat/completions",
        key=OPENAI_KEY,
        key_sent=lambda r: (r["headers"].get("authorization") or "").removeprefix("Bearer ")
        or None,
        tool_ids_sent=lambda b: (b["messages"][1]["tool_calls"][0]["id"],
                                 b["messages"][2]["tool_call_id"]),
        images_sent=_openai_images,
        schema_sent=lambda b: b["response_format"]["json_schema"]["schema"],
        reasoning_sent=lambda b: b.get("reasoning_effort"),
        replayed_signature=_openai_signature,
        invalid_kwargs={"n": 0},
        invalid_word="n",
        stop_sent=lambda b: b["stop"],
        shows_reasoning=False,
        embedding_model="text-embedding-3-small",
    ),
    "anthropic": Provider(
        name="anthropic",
        model="claude-sonnet-4-5",
        path="/v1/messages",
        key=ANTHROPIC_KEY,
        key_sent=lambda r: r["headers"].get("x-api-key"),
        tool_ids_sent=_anthropic_tool_ids,
        images_sent=_anthropic_images,
        schema_sent=lambda b: b["output_config"]["format"]["schema"],
        reasoning_sent=lambda b: b.get("thinking"),
        replayed_signature=_anthropic_signature,
        invalid_kwargs={"temperature": 1.5},
        invalid_word="temperature",
        stop_sent=lambda b: b["stop_sequences"],
        reports_cache_writes=True,
        reasoning_expected={"type": "enabled", "budget_tokens": 2000},
        error_types={401: "authentication_error", 429: "rate_limit_error",
                     529: "overloaded_error", 503: "api_error"},
        error_directive="asbru-mock:error=overloaded_error",
        mid_stream_type="overloaded_error",
    ),
    "gemini": Provider(
        name="gemini",
        model="gemini-2.5-flash",
        path=(":generateContent", ":streamGenerateContent"),
        key=GEMINI_KEY,
        key_sent=lambda r: r["headers"].get("x-goog-api-key"),
        tool_ids_sent=_gemini_tool_ids,
        images_sent=_gemini_images,
        schema_sent=lambda b: b["generationConfig"]["responseJsonSchema"],
        reasoning_sent=lambda b: b["generationConfig"].get("thinkingConfig"),
        replayed_signature=_gemini_signature,
        # Google accepts temperatures up to 2.0 (OpenAI's limit too, so the SDK sends 2.5).
        invalid_kwargs={"temperature": 2.5},
        invalid_word="temperature",
        model_sent=_gemini_model,
        max_tokens_sent=lambda b: b["generationConfig"]["maxOutputTokens"],
        streamed=lambda r: r["path"].endswith(":streamGenerateContent")
        and r["query"] == "alt=sse",
        tool_names_sent=lambda b: [f["name"] for t in b["tools"]
                                   for f in t["functionDeclarations"]],
        stop_sent=lambda b: b["generationConfig"]["stopSequences"],
        # The mock issues no call ids (as Gemini 2.5 often does not); calls pair by name.
        tool_id_sent=lambda call_id: "get_weather" if call_id.startswith("call_gm") else call_id,
        call_fragments=False,
        thinks_by_default=True,
        schema_answer=True,
        reasoning_expected={"thinkingBudget": 1024, "includeThoughts": True},
        invalid_type="INVALID_ARGUMENT",
        error_types={401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED",
                     529: "INTERNAL", 503: "UNAVAILABLE"},
        error_directive="asbru-mock:error=UNAVAILABLE",
        mid_stream_type="UNAVAILABLE",
        # Google refuses a wrong key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID).
        bad_key_status=400,
        bad_key_exception=openai.BadRequestError,
        embedding_model="gemini-embedding-001",
    ),
    # The Converse API: SigV4-signed JSON in, the binary AWS event stream out for streams.
    "bedrock": Provider(
        name="bedrock",
        model=BEDROCK_MODEL,
        path=("/converse", "/converse-stream"),
        key=BEDROCK_ACCESS_KEY,
        key_sent=_bedrock_key,
        tool_ids_sent=_bedrock_tool_ids,
        images_sent=_bedrock_images,
        schema_sent=_bedrock_schema,
        reasoning_sent=lambda b: (b.get("additionalModelRequestFields") or {}).get("thinking"),
        replayed_signature=_bedrock_signature,
        # Converse takes temperatures from 0 to 1.
        invalid_kwargs={"temperature": 1.5},
        invalid_word="temperature",
        invalid_type="ValidationException",
        model_sent=_bedrock_model,
        max_tokens_sent=lambda b: b["inferenceConfig"]["maxTokens"],
        streamed=lambda r: r["path"].endswith("/converse-stream"),
        tool_names_sent=lambda b: [t["toolSpec"]["name"] for t in b["toolConfig"]["tools"]],
        stop_sent=lambda b: b["inferenceConfig"]["stopSequences"],
        reasoning_expected={"type": "enabled", "budget_tokens": 2000},
        schema_answer=True,
        error_types={401: "AccessDeniedException", 429: "ThrottlingException",
                     529: "InternalServerException", 503: "ServiceUnavailableException"},
        error_directive="asbru-mock:error=ModelStreamErrorException",
        mid_stream_type="ModelStreamErrorException",
        bad_key_status=403,
        bad_key_exception=openai.PermissionDeniedError,
        image_urls=False,
        embedding_model=BEDROCK_EMBEDDING_MODEL,
    ),
    "cohere": Provider(
        name="cohere",
        model="command-a-03-2025",
        path="/v2/chat",
        key=COHERE_KEY,
        key_sent=lambda r: (r["headers"].get("authorization") or "").removeprefix("Bearer ")
        or None,
        tool_ids_sent=lambda b: (b["messages"][1]["tool_calls"][0]["id"],
                                 b["messages"][2]["tool_call_id"]),
        # Cohere takes OpenAI's `image_url` blocks as they are.
        images_sent=_openai_images,
        schema_sent=lambda b: b["response_format"]["json_schema"],
        reasoning_sent=lambda b: b.get("thinking"),
        replayed_signature=_cohere_thinking,
        # Cohere's `p` (top_p) must lie within 0.01..0.99.
        invalid_kwargs={"top_p": 1.0},
        invalid_word="p must be",
        schema_answer=True,
        reasoning_expected={"type": "enabled"},
        error_types={401: "authentication_error", 429: "rate_limit_error",
                     529: "server_error", 503: "server_error"},
        error_directive="asbru-mock:error=500",
        mid_stream_type="server_error",
        signs_reasoning=False,
        embedding_model="embed-v4.0",
    ),
    # The OpenAI dialect again, on Azure's deployment route; a model of its own, so a fault
    # injected for it does not hit the openai provider.
    "azure": Provider(
        name="azure",
        model=AZURE_MODEL,
        path=f"/openai/deployments/{AZURE_DEPLOYMENT}/chat/completions",
        key=AZURE_KEY,
        key_sent=lambda r: r["headers"].get("api-key"),
        tool_ids_sent=lambda b: (b["messages"][1]["tool_calls"][0]["id"],
                                 b["messages"][2]["tool_call_id"]),
        images_sent=_openai_images,
        schema_sent=lambda b: b["response_format"]["json_schema"]["schema"],
        reasoning_sent=lambda b: b.get("reasoning_effort"),
        replayed_signature=_openai_signature,
        invalid_kwargs={"n": 0},
        invalid_word="n",
        stop_sent=lambda b: b["stop"],
        shows_reasoning=False,
        embedding_model=AZURE_EMBEDDING_MODEL,
    ),
}


# Gemini models on Vertex AI: Gemini bodies, a service account's bearer token, the project's
# publisher-model route. The `vertex-badkey` provider's service account is refused by the token
# endpoint, so its requests never reach Vertex.
PROVIDERS["vertex"] = dataclasses.replace(
    PROVIDERS["gemini"],
    name="vertex",
    path=_vertex_paths("google", "gemini-2.5-flash", "generateContent", "streamGenerateContent"),
    key=VERTEX_TOKEN,
    key_sent=_bearer,
    bad_key_status=401,
    bad_key_exception=openai.AuthenticationError,
    bad_key_sent=False,
)
# Claude on Vertex AI: Messages bodies without `model` (the path names it), through
# `rawPredict`/`streamRawPredict`. Its own entry here; the provider is `vertex` too.
PROVIDERS["vertex-claude"] = dataclasses.replace(
    PROVIDERS["anthropic"],
    name="vertex",
    model=VERTEX_CLAUDE,
    path=_vertex_paths("anthropic", VERTEX_CLAUDE, "rawPredict", "streamRawPredict"),
    key=VERTEX_TOKEN,
    key_sent=_bearer,
    model_sent=_gemini_model,
    bad_key_sent=False,
    # The same provider embeds with Google's models.
    embedding_model="text-embedding-005",
)


def answer_tokens(usage) -> int:
    """Completion tokens spent on the answer itself (reasoning tokens count as completion)."""
    details = usage.completion_tokens_details
    return usage.completion_tokens - ((details and details.reasoning_tokens) or 0)


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request) -> Provider:
    return PROVIDERS[request.param]


def finish_reasons(chunks: list[ChatCompletionChunk]) -> list[str]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


def extra(obj) -> dict:
    return (obj.model_extra or {})["extra_fields"]


# --------------------------------------------------------------------------------------------
# Chat and streams
# --------------------------------------------------------------------------------------------


def test_chat(client, mock, provider):
    resp = client.chat.completions.create(model=provider.ref, messages=MESSAGES, max_tokens=200)
    assert isinstance(resp, ChatCompletion)
    assert resp.object == "chat.completion"
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == MOCK_CONTENT
    assert choice.finish_reason == "stop"
    assert answer_tokens(resp.usage) == CONTENT_TOKENS
    assert resp.usage.prompt_tokens > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert extra(resp)["provider"] == provider.name
    assert extra(resp)["model_requested"] == provider.model

    [seen] = provider.requests(mock)
    assert provider.model_sent(seen) == provider.model
    assert provider.max_tokens_sent(seen["json"]) == 200
    assert provider.key_sent(seen) == provider.key


def test_cached_prompt_tokens_are_reported(client, mock, provider):
    # A cache breakpoint as Anthropic clients mark it; OpenAI-compatible providers ignore it.
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "A long shared prefix. " * 20, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Say hello."},
    ]}]
    resp = client.chat.completions.create(model=provider.ref, messages=messages)
    details = resp.usage.prompt_tokens_details
    assert resp.usage.prompt_tokens > 0
    if provider.reports_cache_writes:
        # Prompt tokens include what was written to the cache, reported apart.
        written = details.model_dump()["cache_write_tokens"]
        assert written > 0 and details.cached_tokens == 0
        assert resp.usage.prompt_tokens > written
    else:
        assert details is None or (details.cached_tokens or 0) == 0


def _stream_log_line(stack, provider: Provider, after: int, timeout: float = 2.0) -> str:
    """The gateway's request log line of a stream served by `provider`, written after the
    first `after` lines of its output."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in stack.gateway.lines[after:]
                 if "asbru::request" in line and f"provider={provider.name} " in line
                 and "stream=true" in line]
        if lines or time.monotonic() > deadline:
            assert lines, stack.gateway.output()
            return lines[-1]
        time.sleep(0.05)


def test_stream(stack, client, mock, provider):
    logged_before = len(stack.gateway.lines)
    chunks = list(client.chat.completions.create(model=provider.ref, messages=MESSAGES,
                                                 stream=True))
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == MOCK_CONTENT
    assert sum(1 for c in chunks if c.choices[0].delta.content) >= 2
    assert finish_reasons(chunks) == ["stop"]
    # No usage-only chunk for a client that did not ask for it.
    assert all(c.choices and c.usage is None for c in chunks)
    assert [extra(c)["chunk_index"] for c in chunks] == list(range(len(chunks)))
    assert all(extra(c)["provider"] == provider.name for c in chunks)
    [seen] = provider.requests(mock)
    assert provider.streamed(seen)
    # The usage chunk the client did not see was still read for the log.
    line = _stream_log_line(stack, provider, logged_before)
    logged = int(re.search(r"completion_tokens=(\d+) ", line).group(1))
    if provider.thinks_by_default:
        assert logged > CONTENT_TOKENS, line
    else:
        assert logged == CONTENT_TOKENS, line
    assert "prompt_tokens=0 " not in line, line


def test_stream_ends_with_done(client, provider):
    with client.chat.completions.with_streaming_response.create(
        model=provider.ref, messages=MESSAGES, stream=True
    ) as raw:
        assert raw.status_code == 200
        assert raw.headers["content-type"].startswith("text/event-stream")
        data = [line[len("data: "):] for line in raw.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]" and data.count("[DONE]") == 1


def test_stream_usage_when_asked(client, provider):
    chunks = list(client.chat.completions.create(
        model=provider.ref, messages=MESSAGES, stream=True,
        stream_options={"include_usage": True}))
    last = chunks[-1]
    assert last.choices == []
    assert answer_tokens(last.usage) == CONTENT_TOKENS
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.usage is None and c.choices for c in chunks[:-1])


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------


def test_tools_round_trip(client, mock, provider):
    first = client.chat.completions.create(
        model=provider.ref, messages=MESSAGES, tools=[WEATHER_TOOL], tool_choice="required")
    assert first.choices[0].finish_reason == "tool_calls"
    [call] = first.choices[0].message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert isinstance(args["city"], str) and isinstance(args["days"], int)
    assistant = first.choices[0].message.model_dump(exclude_none=True)
    call_id = assistant["tool_calls"][0]["id"]

    second = client.chat.completions.create(
        model=provider.ref, tools=[WEATHER_TOOL],
        messages=[*MESSAGES, assistant,
                  {"role": "tool", "tool_call_id": call_id, "content": "18°C and sunny"}])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == MOCK_CONTENT
    sent = provider.requests(mock)[-1]["json"]
    sent_id = provider.tool_id_sent(call_id)
    assert provider.tool_ids_sent(sent) == (sent_id, sent_id)


def test_tools_in_a_stream(client, mock, provider):
    chunks = list(client.chat.completions.create(
        model=provider.ref, messages=MESSAGES, tools=[WEATHER_TOOL], tool_choice="required",
        stream=True))
    sent = provider.requests(mock)[-1]["json"]
    assert provider.tool_names_sent(sent) == ["get_weather"]
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    if provider.call_fragments:
        assert len(calls) >= 2, "arguments should arrive in fragments"
    else:
        assert len(calls) == 1, "the call should arrive whole"
    assert calls[0].id and calls[0].function.name == "get_weather"
    args = json.loads("".join(tc.function.arguments or "" for tc in calls))
    assert isinstance(args["city"], str)
    assert finish_reasons(chunks) == ["tool_calls"]


# --------------------------------------------------------------------------------------------
# Content and formats
# --------------------------------------------------------------------------------------------


def test_image_parts(client, mock, provider, record_property):
    url_part = {"type": "image_url", "image_url": {"url": IMAGE_URL}}
    data_part = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_BASE64}"}}
    text_part = {"type": "text", "text": "What is in these images?"}
    if not provider.image_urls:
        # Refused by the gateway, naming the part, before anything is sent.
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model=provider.ref, messages=[
                {"role": "user", "content": [text_part, url_part]}])
        assert "image" in info.value.body["message"]
        assert provider.requests(mock) == []
        record_property("matrix_note", "base64 only; URLs get 400")
    parts = [text_part, url_part, data_part] if provider.image_urls else [text_part, data_part]
    resp = client.chat.completions.create(model=provider.ref,
                                          messages=[{"role": "user", "content": parts}])
    assert resp.choices[0].message.content == MOCK_CONTENT
    sent = provider.requests(mock)[-1]["json"]
    expected = [("base64", "image/png", PNG_BASE64)]
    if provider.image_urls:
        expected.insert(0, ("url", IMAGE_URL))
    assert provider.images_sent(sent) == expected


def test_json_schema_response_format(client, mock, provider):
    resp = client.chat.completions.create(
        model=provider.ref, messages=MESSAGES,
        response_format={"type": "json_schema",
                         "json_schema": {"name": "answer", "strict": True, "schema": SCHEMA}})
    if provider.schema_answer:
        assert isinstance(json.loads(resp.choices[0].message.content)["answer"], str)
    else:
        assert resp.choices[0].message.content == MOCK_CONTENT
    assert provider.schema_sent(provider.requests(mock)[-1]["json"]) == SCHEMA


def test_reasoning_round_trip(client, mock, provider):
    first = client.chat.completions.create(model=provider.ref, messages=MESSAGES,
                                           reasoning_effort="low", max_tokens=8000)
    sent = provider.reasoning_sent(provider.requests(mock)[-1]["json"])
    message = first.choices[0].message.model_dump(exclude_none=True)
    assert sent == provider.reasoning_expected
    if provider.shows_reasoning:
        assert message["reasoning"]
        [detail] = message["reasoning_details"]
        assert detail["type"] == "reasoning.text" and detail["text"] == message["reasoning"]
        signature = detail["signature"] if provider.signs_reasoning else detail["text"]
        assert signature
    else:
        # Reasoning as a Bifrost client would replay it; passed through untouched.
        signature = "sig-123"
        message["reasoning_details"] = [{"type": "reasoning.text", "text": "Thought.",
                                         "signature": signature, "index": 0}]
    client.chat.completions.create(model=provider.ref, reasoning_effort="low", max_tokens=8000,
                                   messages=[*MESSAGES, message,
                                             {"role": "user", "content": "And now?"}])
    assert provider.replayed_signature(provider.requests(mock)[-1]["json"]) == signature


@pytest.mark.parametrize("kind", ["length", "stop_sequence", "tool_calls"])
def test_finish_reasons(client, mock, provider, kind):
    kwargs: dict[str, Any] = {
        "length": {"max_tokens": 2},
        "stop_sequence": {"stop": ["mock"]},
        "tool_calls": {"tools": [WEATHER_TOOL],
                       "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
    }[kind]
    resp = client.chat.completions.create(model=provider.ref, messages=MESSAGES, **kwargs)
    sent = provider.requests(mock)[-1]["json"]
    choice = resp.choices[0]
    if kind == "length":
        assert choice.finish_reason == "length"
        assert choice.message.content == " ".join(MOCK_CONTENT.split()[:2])
    elif kind == "stop_sequence":
        assert provider.stop_sent(sent) == ["mock"]
        assert choice.finish_reason == "stop"
        assert choice.message.content == MOCK_CONTENT[: MOCK_CONTENT.index("mock")]
    else:
        assert choice.finish_reason == "tool_calls"


# --------------------------------------------------------------------------------------------
# Errors, keys and fallbacks
# --------------------------------------------------------------------------------------------


def test_provider_validation_error_is_400(client, mock, provider):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=provider.ref, messages=MESSAGES,
                                       **provider.invalid_kwargs)
    assert info.value.status_code == 400
    assert provider.invalid_word in info.value.body["message"]
    assert info.value.body["type"] == provider.invalid_type
    assert info.value.response.json()["extra_fields"]["provider"] == provider.name
    assert len(provider.requests(mock)) == 1


@pytest.mark.parametrize("status,exception", [
    (401, openai.AuthenticationError),
    (429, openai.RateLimitError),
    (529, openai.InternalServerError),
    (503, openai.InternalServerError),
])
def test_upstream_statuses_are_kept(client, mock, provider, status, exception):
    if status == 429:
        mock.push_fault({"type": "rate_limited", "retry_after_secs": 2})
    else:
        mock.push_fault({"type": "status", "status": status, "message": f"injected {status}"})
    with pytest.raises(exception) as info:
        client.chat.completions.create(model=provider.ref, messages=MESSAGES)
    assert info.value.status_code == status
    if status != 429:
        assert info.value.body["message"] == f"injected {status}"
    if provider.error_types:
        assert info.value.body["type"] == provider.error_types[status]


def test_error_mid_stream_raises_after_some_chunks(client, mock, provider):
    if provider.error_directive:
        # The mock fails this answer with an error event after the first delta.
        messages = [{"role": "user", "content": f"Say hello. {provider.error_directive}"}]
    else:
        mock.push_fault({"type": "stream_cut", "after_chunks": 2})
        messages = MESSAGES
    stream = client.chat.completions.create(model=provider.ref, messages=messages, stream=True)
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            received.append(chunk)
    assert not isinstance(info.value, openai.APIStatusError)
    assert received and info.value.message
    partial = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert MOCK_CONTENT.startswith(partial) and partial != MOCK_CONTENT
    if provider.mid_stream_type:
        assert info.value.body["type"] == provider.mid_stream_type


def test_wrong_key_is_refused_and_not_echoed(client, mock, provider):
    with pytest.raises(provider.bad_key_exception) as info:
        client.chat.completions.create(model=f"{provider.name}-badkey/{provider.model}",
                                       messages=MESSAGES)
    assert info.value.status_code == provider.bad_key_status
    raw = info.value.response.text
    assert WRONG_KEY not in raw and WRONG_KEY not in str(info.value)
    if not provider.bad_key_sent:
        assert "PRIVATE KEY" not in raw
        assert not provider.requests(mock)
        return
    [seen] = provider.requests(mock)
    assert provider.key_sent(seen) == WRONG_KEY


@pytest.mark.parametrize("stream", [False, True])
def test_fallback_to_the_other_dialect(fresh_client, mock, provider, stream):
    # Each provider falls back to the next one in name order (the last to the first), so every
    # dialect is both a primary and a fallback target. A gateway of the test's own: no earlier
    # failure has opened the primary's circuit, so the primary is tried.
    client = fresh_client
    names = sorted(PROVIDERS)
    own = next(name for name, p in PROVIDERS.items() if p is provider)
    other = PROVIDERS[names[(names.index(own) + 1) % len(names)]]
    mock.push_fault({"type": "status", "status": 503, "message": "primary down"},
                    model=provider.model)
    resp = client.chat.completions.create(model=provider.ref, messages=MESSAGES, stream=stream,
                                          extra_body={"fallbacks": [other.ref]})
    if stream:
        chunks = list(resp)
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == MOCK_CONTENT
        assert all(extra(c)["provider"] == other.name for c in chunks)
        assert all(extra(c)["fallback_index"] == 1 for c in chunks)
    else:
        assert resp.choices[0].message.content == MOCK_CONTENT
        assert extra(resp)["provider"] == other.name
        assert extra(resp)["fallback_index"] == 1
    # The primary was tried once, then the fallback.
    assert len(provider.requests(mock)) == 1
    [served] = other.requests(mock)
    assert other.model_sent(served) == other.model
    assert "fallbacks" not in served["json"]


def test_embeddings(client, mock, provider, record_property):
    if provider.embedding_model is None:
        with pytest.raises(openai.BadRequestError) as info:
            client.embeddings.create(model=provider.ref, input="hello")
        assert info.value.body["code"] == "unsupported_operation"
        assert mock.requests() == []
        record_property("matrix", "unsupported")
        return
    # The SDK asks for base64 unless told otherwise and decodes it; floats are checked too.
    texts = ["the first text", "second"]
    resp = client.embeddings.create(model=f"{provider.name}/{provider.embedding_model}",
                                    input=texts)
    floats = client.embeddings.create(model=f"{provider.name}/{provider.embedding_model}",
                                      input=texts, encoding_format="float")
    assert [d.index for d in resp.data] == [0, 1]
    assert resp.data[0].embedding and resp.data[0].embedding != resp.data[1].embedding
    for a, b in zip(resp.data, floats.data):
        assert len(a.embedding) == len(b.embedding)
        assert all(abs(x - y) < 1e-6 for x, y in zip(a.embedding, b.embedding))
    assert resp.usage.prompt_tokens == resp.usage.total_tokens


def test_models_are_listed_per_provider(client, provider):
    ids = [m.id for m in client.models.list(extra_query={"provider": provider.name})]
    assert ids and all(i.startswith(f"{provider.name}/") for i in ids), ids


def test_raw_error_body_has_the_compatibility_shape(stack, provider):
    status, body = http_json("POST", f"{stack.gateway_url}/v1/chat/completions", {
        "model": provider.ref, "messages": MESSAGES, **provider.invalid_kwargs})
    assert status == 400
    assert body["is_bifrost_error"] is False
    assert body["status_code"] == 400
    assert body["error"]["type"] == provider.invalid_type
