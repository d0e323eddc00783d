"""LiteLLM used as a client library against the gateway's `/litellm` mount: as an OpenAI-compatible
endpoint (`openai/<provider>/<model>` with `api_base`), and through LiteLLM's own Anthropic client
(`anthropic/<model>` with `api_base`), which speaks the Messages API to the gateway's Anthropic
route set under the same mount.

Runs in its own venv (requirements-frameworks.txt: litellm needs openai<3); in the SDK venv the
module is skipped.
"""

from __future__ import annotations

import json
import os

import pytest

# Never fetch the model price map from the internet at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip("litellm", reason="runs in the frameworks venv (scripts/test.sh)")

from conftest import MOCK_CONTENT  # noqa: E402

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

# (LiteLLM model string, api_base suffix, upstream path suffix the mock must record)
ROUTES = {
    "openai-compatible/anthropic": ("openai/anthropic/claude-sonnet-4-5", "/litellm/v1",
                                    "/v1/messages"),
    "openai-compatible/gemini": ("openai/gemini/gemini-2.5-flash", "/litellm/v1",
                                 ":generateContent"),
    "anthropic-client/anthropic": ("anthropic/claude-sonnet-4-5", "/litellm", "/v1/messages"),
    "anthropic-client/gemini": ("anthropic/gemini/gemini-2.5-flash", "/litellm",
                                ":generateContent"),
}


@pytest.fixture(params=sorted(ROUTES))
def route(stack, request):
    model, suffix, upstream = ROUTES[request.param]
    return {"model": model, "api_base": f"{stack.gateway_url}{suffix}", "api_key": "not-the-key",
            "num_retries": 0, "timeout": 15}, upstream


def test_completion(route, mock):
    kwargs, upstream = route
    answer = litellm.completion(messages=MESSAGES, max_tokens=200, **kwargs)
    assert answer.choices[0].message.content == MOCK_CONTENT
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.completion_tokens >= len(MOCK_CONTENT.split())
    assert mock.requests(upstream), f"nothing reached {upstream}"


def test_stream(route):
    kwargs, _ = route
    chunks = list(litellm.completion(messages=MESSAGES, max_tokens=200, stream=True, **kwargs))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == MOCK_CONTENT


def test_tool_round_trip(route):
    kwargs, _ = route
    question = {"role": "user", "content": "What is the weather in Paris for 2 days?"}
    first = litellm.completion(messages=[question], tools=[WEATHER_TOOL], max_tokens=500,
                               tool_choice={"type": "function",
                                            "function": {"name": "get_weather"}}, **kwargs)
    [call] = first.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert isinstance(args["city"], str) and isinstance(args["days"], int)
    second = litellm.completion(
        messages=[question, first.choices[0].message.model_dump(exclude_none=True),
                  {"role": "tool", "tool_call_id": call.id, "content": "18°C and sunny"}],
        tools=[WEATHER_TOOL], max_tokens=500, **kwargs)
    assert second.choices[0].message.content == MOCK_CONTENT


def test_errors_raise_litellms_exceptions(route):
    kwargs, _ = route
    with pytest.raises(litellm.BadRequestError):
        litellm.completion(messages=[], max_tokens=200, **kwargs)
