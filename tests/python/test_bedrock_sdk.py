"""The official `boto3` `bedrock-runtime` client against the gateway's Bedrock drop-in route: only
the endpoint URL changes (`{gateway}/bedrock`), and the request is served by whichever provider
the model id names — Bedrock itself, or an Anthropic, OpenAI or Gemini provider through the
unified types.

boto3 signs every request with SigV4 using the client's own (here made-up) credentials; the
gateway neither checks nor forwards them. Each scenario runs for every serving provider: a
Converse call, a ConverseStream (events in Bedrock's order, text and stop reason exact), a tool
round trip (`toolUse` then `toolResult`), and errors boto3 raises as `ClientError` with Bedrock's
code — before the answer and mid-stream.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from conftest import BEDROCK_ACCESS_KEY, BEDROCK_MODEL, MOCK_CONTENT
from inbound.bedrock import check_event_order

WEATHER_TOOL_CONFIG = {
    "tools": [{"toolSpec": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "inputSchema": {"json": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        }},
    }}],
}
FORCED = {**WEATHER_TOOL_CONFIG, "toolChoice": {"any": {}}}
HELLO = [{"role": "user", "content": [{"text": "Say hello."}]}]
INFERENCE = {"maxTokens": 200}

# (model id as the client names it, upstream path suffixes, the mock directive that fails a
#  stream after it started, the exception boto3 then raises)
SERVED_BY = {
    # No provider prefix: the route's own provider, bedrock.
    "bedrock": (BEDROCK_MODEL, ("/converse", "/converse-stream"),
                "asbru-mock:error=ModelStreamErrorException", "modelStreamErrorException"),
    "anthropic": ("anthropic/claude-sonnet-4-5", ("/v1/messages",),
                  "asbru-mock:error=overloaded_error", "serviceUnavailableException"),
    "openai": ("openai/gpt-4o-mini", ("/v1/chat/completions",), None,
               "internalServerException"),
    "gemini": ("gemini/gemini-2.5-flash", (":generateContent", ":streamGenerateContent"),
               "asbru-mock:error=UNAVAILABLE", "serviceUnavailableException"),
}


@pytest.fixture(params=sorted(SERVED_BY))
def served_by(request) -> tuple:
    return SERVED_BY[request.param]


def make_client(endpoint_url: str):
    """boto3's client as its users make it, pointed at the gateway. No SDK retries, so each call
    maps to exactly one request."""
    return boto3.client(
        "bedrock-runtime", endpoint_url=endpoint_url, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="y",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                      connect_timeout=5, read_timeout=15))


@pytest.fixture
def bedrock(stack):
    client = make_client(f"{stack.gateway_url}/bedrock")
    yield client
    client.close()


def reached(mock, paths: tuple[str, ...]) -> list[dict]:
    return [r for p in paths for r in mock.requests(p)]


def texts(message: dict) -> list[str]:
    return [b["text"] for b in message["content"] if "text" in b]


def stream_events(response: dict) -> list[tuple[str, dict]]:
    """ConverseStream's events as (name, payload), in order."""
    return [next(iter(event.items())) for event in response["stream"]]


def test_converse(bedrock, mock, served_by):
    model, paths, _, _ = served_by
    answer = bedrock.converse(modelId=model, messages=HELLO, inferenceConfig=INFERENCE)
    message = answer["output"]["message"]
    assert message["role"] == "assistant"
    assert texts(message) == [MOCK_CONTENT]
    assert answer["stopReason"] == "end_turn"
    usage = answer["usage"]
    assert usage["inputTokens"] > 0
    # Gemini models think by default, and thinking counts as output.
    assert usage["outputTokens"] >= len(MOCK_CONTENT.split())
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert answer["metrics"]["latencyMs"] >= 0
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert reached(mock, paths), f"nothing reached {paths}"


def test_the_clients_credentials_go_nowhere(bedrock, mock):
    bedrock.converse(modelId="openai/gpt-4o-mini", messages=HELLO)
    [sent] = mock.requests("/v1/chat/completions")
    assert sent["headers"]["authorization"] == "Bearer sk-test"
    assert not [h for h in sent["headers"] if h.startswith("x-amz")]
    bedrock.converse(modelId=BEDROCK_MODEL, messages=HELLO)
    [sent] = mock.requests("/converse")
    # Signed again by the gateway, with the key it holds.
    assert f"Credential={BEDROCK_ACCESS_KEY}/" in sent["headers"]["authorization"]


def test_converse_stream(bedrock, mock, served_by):
    model, paths, _, _ = served_by
    response = bedrock.converse_stream(modelId=model, messages=HELLO, inferenceConfig=INFERENCE)
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == \
        "application/vnd.amazon.eventstream"
    events = stream_events(response)
    check_event_order(events)
    assert events[0][1] == {"role": "assistant"}
    text = "".join(p["delta"]["text"] for k, p in events
                   if k == "contentBlockDelta" and "text" in p["delta"])
    assert text == MOCK_CONTENT
    assert events[-2][1]["stopReason"] == "end_turn"
    usage = events[-1][1]["usage"]
    assert usage["inputTokens"] > 0
    assert usage["outputTokens"] >= len(MOCK_CONTENT.split())
    assert reached(mock, paths), f"nothing reached {paths}"


def test_tool_round_trip(bedrock, mock, served_by):
    model, paths, _, _ = served_by
    messages = [{"role": "user", "content": [{"text": "Weather in Paris for 2 days?"}]}]
    first = bedrock.converse(modelId=model, messages=messages, toolConfig=FORCED,
                             inferenceConfig={"maxTokens": 500})
    assert first["stopReason"] == "tool_use"
    assistant = first["output"]["message"]
    [use] = [b["toolUse"] for b in assistant["content"] if "toolUse" in b]
    assert use["name"] == "get_weather" and isinstance(use["input"]["city"], str)
    assert isinstance(use["input"]["days"], int)
    call_id = use["toolUseId"]
    second = bedrock.converse(
        modelId=model, toolConfig=WEATHER_TOOL_CONFIG, inferenceConfig={"maxTokens": 500},
        messages=[*messages, assistant, {"role": "user", "content": [{"toolResult": {
            "toolUseId": call_id, "content": [{"text": "18°C and sunny"}],
            "status": "success"}}]}])
    assert second["stopReason"] == "end_turn"
    assert texts(second["output"]["message"]) == [MOCK_CONTENT]
    sent = json.dumps(reached(mock, paths)[-1]["json"])
    if model.startswith("gemini/"):
        # Gemini pairs calls and results by name (the mock issues no call ids, as Gemini 2.5
        # often does not); the id the client saw was made up by the gateway.
        assert sent.count("get_weather") >= 2
    else:
        # The id the client saw is the id the provider got back with the result.
        assert call_id in sent


def test_tool_use_in_a_stream(bedrock, served_by):
    model, _, _, _ = served_by
    response = bedrock.converse_stream(
        modelId=model, toolConfig=FORCED, inferenceConfig={"maxTokens": 500},
        messages=[{"role": "user", "content": [{"text": "Weather in Paris for 2 days?"}]}])
    events = stream_events(response)
    check_event_order(events)
    [start] = [p["start"]["toolUse"] for k, p in events if k == "contentBlockStart"]
    assert start["name"] == "get_weather" and start["toolUseId"]
    fragments = [p["delta"]["toolUse"]["input"] for k, p in events
                 if k == "contentBlockDelta" and "toolUse" in p["delta"]]
    args = json.loads("".join(fragments))
    assert isinstance(args["city"], str) and isinstance(args["days"], int)
    assert events[-2][1]["stopReason"] == "tool_use"


def test_errors_are_client_errors_with_bedrocks_codes(bedrock, mock, served_by):
    model, _, _, _ = served_by
    with pytest.raises(ClientError) as info:
        bedrock.converse(modelId=model, messages=[])
    error = info.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert "messages" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400

    # The provider's own refusal, whichever dialect it came in, is Bedrock's throttling.
    mock.push_fault({"type": "rate_limited", "retry_after_secs": 1})
    with pytest.raises(ClientError) as info:
        bedrock.converse(modelId=model, messages=HELLO)
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    # The same before a stream started: an HTTP error, not an event.
    mock.push_fault({"type": "rate_limited", "retry_after_secs": 1})
    with pytest.raises(ClientError) as info:
        bedrock.converse_stream(modelId=model, messages=HELLO)
    assert info.value.response["Error"]["Code"] == "ThrottlingException"


def test_a_failure_mid_stream_is_an_event_stream_error(bedrock, mock, served_by):
    model, _, directive, code = served_by
    prompt = "Say hello."
    if directive:
        prompt = f"Say hello. {directive}"
    else:
        mock.push_fault({"type": "stream_cut", "after_chunks": 2})
    response = bedrock.converse_stream(
        modelId=model, messages=[{"role": "user", "content": [{"text": prompt}]}])
    seen = []
    with pytest.raises(EventStreamError) as info:
        for event in response["stream"]:
            seen.extend(event)
    assert info.value.response["Error"]["Code"] == code
    assert info.value.response["Error"]["Message"]
    assert seen[0] == "messageStart" and "messageStop" not in seen, seen


def test_unknown_operations_are_bedrocks_404(stack):
    request = urllib.request.Request(
        f"{stack.gateway_url}/bedrock/model/{BEDROCK_MODEL}/invoke", data=b"{}", method="POST",
        headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as info:
        opener.open(request, timeout=5)
    assert info.value.code == 404
    assert info.value.headers["x-amzn-errortype"] == "ResourceNotFoundException"
    assert "Converse" in json.loads(info.value.read())["message"]


def test_the_root_endpoint_works_too(stack, mock):
    client = make_client(stack.gateway_url)
    try:
        answer = client.converse(modelId=BEDROCK_MODEL, messages=HELLO)
        assert texts(answer["output"]["message"]) == [MOCK_CONTENT]
        events = stream_events(client.converse_stream(modelId="openai/gpt-4o-mini",
                                                      messages=HELLO))
        check_event_order(events)
    finally:
        client.close()
    assert mock.requests("/converse") and mock.requests("/v1/chat/completions")


# Models that show signed reasoning: Claude on Bedrock (the route's own provider) and Gemini 3,
# which refuses a function call replayed without its thought signature.
THINKING_BY = {
    "bedrock": BEDROCK_MODEL,
    "gemini-3": "gemini/gemini-3-pro-preview",
}


@pytest.mark.parametrize("served", sorted(THINKING_BY))
def test_signed_reasoning_streams_and_goes_back_to_its_provider(bedrock, mock, served):
    model = THINKING_BY[served]
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    question = {"role": "user", "content": [{"text": "Weather in Paris for 2 days?"}]}
    events = stream_events(bedrock.converse_stream(
        modelId=model, messages=[question], toolConfig=WEATHER_TOOL_CONFIG,
        inferenceConfig={"maxTokens": 4000}, additionalModelRequestFields=thinking))
    check_event_order(events)
    reasoning = [p["delta"]["reasoningContent"] for name, p in events
                 if name == "contentBlockDelta" and "reasoningContent" in p["delta"]]
    text = "".join(r.get("text", "") for r in reasoning)
    signature = "".join(r.get("signature", "") for r in reasoning)
    assert text and signature, reasoning
    if served == "gemini-3":
        # Another provider's signature reaches the client wrapped with its origin.
        assert signature.startswith("asbru-sig:google-gemini-v1:"), signature
    starts = [p["start"]["toolUse"] for name, p in events
              if name == "contentBlockStart" and "toolUse" in p.get("start", {})]
    args = "".join(p["delta"]["toolUse"]["input"] for name, p in events
                   if name == "contentBlockDelta" and "toolUse" in p["delta"])
    assert starts, "the model called the tool"
    use = {"toolUseId": starts[0]["toolUseId"], "name": starts[0]["name"],
           "input": json.loads(args or "{}")}
    assistant = {"role": "assistant", "content": [
        {"reasoningContent": {"reasoningText": {"text": text, "signature": signature}}},
        {"toolUse": use}]}
    answer = bedrock.converse(
        modelId=model, toolConfig=WEATHER_TOOL_CONFIG, inferenceConfig={"maxTokens": 4000},
        additionalModelRequestFields=thinking,
        messages=[question, assistant, {"role": "user", "content": [{"toolResult": {
            "toolUseId": use["toolUseId"], "content": [{"text": "18°C and sunny"}]}}]}])
    assert texts(answer["output"]["message"]) == [MOCK_CONTENT]
    original = signature.split(":", 2)[2] if served == "gemini-3" else signature
    assert original in json.dumps(mock.requests()[-1]["json"]), "the signature went back"
