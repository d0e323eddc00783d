"""The official `openai` Python SDK's Responses API (`client.responses`) against the gateway's
`/v1/responses`: OpenAI serves it natively (the request and the typed event stream pass
through), Anthropic, Gemini, Bedrock and Cohere through their chat APIs with the answer converted
back to a `response` object and the event stream.

Each scenario runs for every serving provider: `responses.create`, `responses.create(stream=True)`,
the `responses.stream(...)` helper, a function-call round trip (the call's `call_id` answered by a
`function_call_output`), an error the SDK raises as its own exception, and a stream cut mid-way.
"""

from __future__ import annotations

import json

import openai
import pytest

from conftest import BEDROCK_MODEL, MOCK_CONTENT

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}

# provider: (model, upstream path suffixes, whether the upstream knows call ids)
SERVED_BY = {
    "openai": ("openai/gpt-4.1", ("/v1/responses",), True),
    "anthropic": ("anthropic/claude-sonnet-4-5", ("/v1/messages",), True),
    "gemini": ("gemini/gemini-2.5-flash", (":generateContent", ":streamGenerateContent"), False),
    "bedrock": (f"bedrock/{BEDROCK_MODEL}", ("/converse", "/converse-stream"), True),
    "cohere": ("cohere/command-a-03-2025", ("/v2/chat",), True),
}

# The event order OpenAI streams a one-message answer in.
TEXT_EVENTS_START = ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added"]
TEXT_EVENTS_END = ["response.output_text.done", "response.content_part.done",
                   "response.output_item.done", "response.completed"]


@pytest.fixture(params=sorted(SERVED_BY))
def served_by(request) -> tuple[str, tuple[str, ...], bool]:
    return SERVED_BY[request.param]


def reached(mock, paths: tuple[str, ...]) -> list[dict]:
    return [r for p in paths for r in mock.requests(p)]


def message_events(kinds: list[str]) -> list[str]:
    """The events of the answer's message item (models that think by default stream a reasoning
    item before it)."""
    start = max(i for i, k in enumerate(kinds)
                if k == "response.output_item.added" and i + 1 < len(kinds)
                and kinds[i + 1] == "response.content_part.added")
    return kinds[:2] + kinds[start:]


def check_text_events(events) -> None:
    kinds = [e.type for e in events]
    message = message_events(kinds)
    assert message[:4] == TEXT_EVENTS_START, kinds
    assert message[-4:] == TEXT_EVENTS_END, kinds
    assert all(k == "response.output_text.delta" for k in message[4:-4]), kinds
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == MOCK_CONTENT
    assert events[-1].response.id == events[0].response.id
    assert events[-1].response.status == "completed"
    assert events[-1].response.output_text == MOCK_CONTENT
    assert events[-1].response.usage.output_tokens > 0


def test_create(client, mock, served_by):
    model, paths, _ = served_by
    response = client.responses.create(model=model, instructions="Be brief.", input="Say hello.")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == MOCK_CONTENT
    assert response.instructions == "Be brief."
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens >= len(MOCK_CONTENT.split())
    assert response.usage.total_tokens >= response.usage.input_tokens
    assert reached(mock, paths), f"nothing reached {paths}"


def test_create_streamed(client, served_by):
    model, _, _ = served_by
    events = list(client.responses.create(model=model, input="Say hello.", stream=True))
    check_text_events(events)


def test_stream_helper(client, served_by):
    model, _, _ = served_by
    with client.responses.stream(model=model, input="Say hello.") as stream:
        events = list(stream)
        final = stream.get_final_response()
    check_text_events(events)
    assert final.output_text == MOCK_CONTENT
    assert final.status == "completed"


def test_function_call_round_trip(client, mock, served_by):
    model, paths, knows_ids = served_by
    question = [{"role": "user", "content": "Weather in Paris for 2 days?"}]
    first = client.responses.create(model=model, input=question, tools=[WEATHER_TOOL],
                                    tool_choice="required")
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather"
    args = json.loads(call.arguments)
    assert isinstance(args["city"], str) and isinstance(args["days"], int)
    assert call.call_id

    # As OpenAI's function-calling guide does it: the output appended to the input, then the
    # result answering the call's id.
    second = client.responses.create(
        model=model, tools=[WEATHER_TOOL],
        input=[*question, *first.output,
               {"type": "function_call_output", "call_id": call.call_id,
                "output": "18°C and sunny"}])
    assert second.output_text == MOCK_CONTENT
    assert second.status == "completed"
    sent = json.dumps(reached(mock, paths)[-1]["json"])
    assert "sunny" in sent
    if knows_ids:
        # The id the client saw is the id the provider got back with the result.
        assert call.call_id in sent
    else:
        # Gemini pairs calls and results by name.
        assert sent.count("get_weather") >= 2


def test_streamed_function_call(client, served_by):
    model, _, _ = served_by
    with client.responses.stream(model=model, input="Weather in Paris for 2 days?",
                                 tools=[WEATHER_TOOL], tool_choice="required") as stream:
        events = list(stream)
        final = stream.get_final_response()
    added = [e.item for e in events if e.type == "response.output_item.added"
             and e.item.type == "function_call"]
    assert [a.name for a in added] == ["get_weather"]
    fragments = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    args = json.loads("".join(fragments))
    assert isinstance(args["city"], str) and isinstance(args["days"], int)
    [call] = [i for i in final.output if i.type == "function_call"]
    assert call.call_id == added[0].call_id
    assert json.loads(call.arguments) == args


def test_errors_are_openai_exceptions(client, mock, served_by):
    model, paths, _ = served_by
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=model, input=[{"type": "bogus_item"}])
    assert info.value.status_code == 400
    assert info.value.param == "input[0].type"
    if model.startswith("openai/"):
        # OpenAI itself refused it; its own error came back.
        assert reached(mock, paths)
    else:
        # Refused before anything was sent: it has no chat form.
        assert not reached(mock, paths)


def test_a_stream_cut_midway_fails_the_response(client, mock, served_by):
    model, _, _ = served_by
    # Cut after the first text frame: a cut before anything was sent is a failed attempt
    # instead (an HTTP error, so that the gateway may still fall back). Gemini's mock sends
    # text from its first frame; the others open with frames that carry none.
    cut = 2 if model.startswith("gemini/") else 4
    mock.push_fault({"type": "stream_cut", "after_chunks": cut})
    events = list(client.responses.create(model=model, input="Say hello.", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created", kinds
    assert kinds[-2:] == ["error", "response.failed"], kinds
    assert "response.completed" not in kinds
    assert events[-1].response.status == "failed"
    assert events[-1].response.error.message
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_the_openai_drop_in_route_serves_bare_models_natively(stack, mock):
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/openai/v1", api_key="x", max_retries=0)
    response = client.responses.create(model="gpt-4.1", input="Say hello.")
    assert response.output_text == MOCK_CONTENT
    assert mock.requests("/v1/responses")[-1]["json"]["model"] == "gpt-4.1"
    client.close()


def test_fallbacks_cross_from_openai_to_anthropic(fresh_client, mock):
    # A gateway of the test's own, so the primary's circuit is closed and the primary is tried.
    client = fresh_client
    mock.push_fault({"type": "status", "status": 503, "message": "primary down"},
                    model="gpt-4.1")
    response = client.responses.create(model="openai/gpt-4.1", input="Say hello.",
                                       extra_body={"fallbacks": ["anthropic/claude-sonnet-4-5"]})
    assert response.output_text == MOCK_CONTENT
    # The primary was tried once, then the fallback.
    assert len(mock.requests("/v1/responses")) == 1
    assert len(mock.requests("/v1/messages")) == 1
