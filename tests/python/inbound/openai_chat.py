"""The OpenAI chat completions dialect, driven by the official `openai` SDK at `{gateway}/v1`."""

from __future__ import annotations

import json

import openai

from inbound.base import (PROMPT, TOOL_PROMPT, TOOL_RESULT, WEATHER_DESCRIPTION,
                          WEATHER_PARAMETERS, Driver, check_weather_args)

TOOL = {"type": "function", "function": {"name": "get_weather",
                                         "description": WEATHER_DESCRIPTION,
                                         "parameters": WEATHER_PARAMETERS}}


class OpenAIChat(Driver):
    def __init__(self, gateway_url: str, expected_text: str) -> None:
        super().__init__(gateway_url, expected_text)
        self.client = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key="anything",
                                    max_retries=0, timeout=15.0)

    def close(self) -> None:
        self.client.close()

    def plain(self, model: str) -> None:
        answer = self.client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": PROMPT}])
        assert answer.choices[0].message.content == self.expected_text
        assert answer.choices[0].finish_reason == "stop"

    def stream(self, model: str) -> None:
        chunks = list(self.client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": PROMPT}], stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == self.expected_text
        finishes = [c.choices[0].finish_reason for c in chunks
                    if c.choices and c.choices[0].finish_reason]
        assert finishes == ["stop"]

    def tools(self, model: str) -> None:
        messages = [{"role": "user", "content": TOOL_PROMPT}]
        first = self.client.chat.completions.create(
            model=model, messages=messages, tools=[TOOL], tool_choice="required")
        assert first.choices[0].finish_reason == "tool_calls"
        [call] = first.choices[0].message.tool_calls
        assert call.function.name == "get_weather"
        check_weather_args(json.loads(call.function.arguments))
        assistant = first.choices[0].message.model_dump(exclude_none=True)
        second = self.client.chat.completions.create(
            model=model, tools=[TOOL],
            messages=[*messages, assistant,
                      {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT}])
        assert second.choices[0].finish_reason == "stop"
        assert second.choices[0].message.content == self.expected_text

    def tools_stream(self, model: str) -> None:
        chunks = list(self.client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": TOOL_PROMPT}], tools=[TOOL],
            tool_choice="required", stream=True))
        calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
        assert calls and calls[0].id and calls[0].function.name == "get_weather"
        check_weather_args(json.loads("".join(tc.function.arguments or "" for tc in calls)))
        finishes = [c.choices[0].finish_reason for c in chunks
                    if c.choices and c.choices[0].finish_reason]
        assert finishes == ["tool_calls"]
