"""LangChain's `ChatOpenAI` (langchain-openai) against the gateway's `/langchain` mount, where Bifrost
mounts every SDK's route set: only `base_url` changes, and the model the request names picks the
serving provider (a bare name goes to `openai`).

Runs in its own venv (requirements-frameworks.txt: langchain-openai needs openai<3); in the SDK venv
the module is skipped.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("langchain_openai", reason="runs in the frameworks venv (scripts/test.sh)")

import openai  # noqa: E402
from langchain_core.messages import HumanMessage, ToolMessage  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

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
MODELS = ["gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"]


@pytest.fixture(params=MODELS)
def chat(stack, request) -> ChatOpenAI:
    return ChatOpenAI(model=request.param, base_url=f"{stack.gateway_url}/langchain/v1",
                      api_key="not-the-key", max_retries=0, timeout=15)


def test_invoke(chat, mock):
    answer = chat.invoke("Say hello.")
    assert answer.content == MOCK_CONTENT
    assert answer.response_metadata["finish_reason"] == "stop"
    assert answer.usage_metadata["output_tokens"] >= len(MOCK_CONTENT.split())
    assert mock.requests(), "nothing reached the mock"


def test_stream(chat):
    pieces = list(chat.stream("Say hello."))
    assert len(pieces) > 1
    assert "".join(p.content for p in pieces if isinstance(p.content, str)) == MOCK_CONTENT


def test_tool_round_trip(chat):
    bound = chat.bind_tools([WEATHER_TOOL], tool_choice="get_weather")
    question = HumanMessage("What is the weather in Paris for 2 days?")
    first = bound.invoke([question])
    [call] = first.tool_calls
    assert call["name"] == "get_weather"
    assert isinstance(call["args"]["city"], str) and isinstance(call["args"]["days"], int)
    second = chat.bind_tools([WEATHER_TOOL]).invoke(
        [question, first, ToolMessage("18°C and sunny", tool_call_id=call["id"])])
    assert second.content == MOCK_CONTENT


def test_tool_call_in_a_stream(chat):
    bound = chat.bind_tools([WEATHER_TOOL], tool_choice="get_weather")
    merged = None
    for piece in bound.stream("What is the weather in Paris for 2 days?"):
        merged = piece if merged is None else merged + piece
    assert merged is not None
    [call] = merged.tool_calls
    assert call["name"] == "get_weather"
    assert json.loads(json.dumps(call["args"]))["city"]


def test_errors_surface_as_the_openai_exceptions(stack):
    chat = ChatOpenAI(model="anthropic/claude-sonnet-4-5", max_retries=0, api_key="x",
                      base_url=f"{stack.gateway_url}/langchain/v1", temperature=7.0)
    with pytest.raises(openai.BadRequestError) as info:
        chat.invoke("Say hello.")
    assert info.value.status_code == 400
    assert "temperature" in str(info.value)
