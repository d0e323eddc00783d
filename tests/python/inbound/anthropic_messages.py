"""The Anthropic Messages dialect, driven by the official `anthropic` SDK at
`{gateway}/anthropic`."""

from __future__ import annotations

import json

import anthropic

from inbound.base import (PROMPT, TOOL_PROMPT, TOOL_RESULT, WEATHER_DESCRIPTION,
                          WEATHER_PARAMETERS, Driver, check_weather_args)

TOOL = {"name": "get_weather", "description": WEATHER_DESCRIPTION,
        "input_schema": WEATHER_PARAMETERS}
MAX_TOKENS = 500


class AnthropicMessages(Driver):
    def __init__(self, gateway_url: str, expected_text: str) -> None:
        super().__init__(gateway_url, expected_text)
        self.client = anthropic.Anthropic(base_url=f"{gateway_url}/anthropic",
                                          api_key="not-the-key", max_retries=0, timeout=15.0)

    def close(self) -> None:
        self.client.close()

    def plain(self, model: str) -> None:
        message = self.client.messages.create(
            model=model, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": PROMPT}])
        assert [b.text for b in message.content if b.type == "text"] == [self.expected_text]
        assert message.stop_reason == "end_turn"

    def stream(self, model: str) -> None:
        with self.client.messages.stream(
                model=model, max_tokens=MAX_TOKENS,
                messages=[{"role": "user", "content": PROMPT}]) as stream:
            events = list(stream)
            final = stream.get_final_message()
        _check_event_order([e.type for e in events])
        text = "".join(e.delta.text for e in events
                       if e.type == "content_block_delta" and e.delta.type == "text_delta")
        assert text == self.expected_text
        assert final.stop_reason == "end_turn"

    def tools(self, model: str) -> None:
        messages = [{"role": "user", "content": TOOL_PROMPT}]
        first = self.client.messages.create(
            model=model, max_tokens=MAX_TOKENS, tools=[TOOL], tool_choice={"type": "any"},
            messages=messages)
        assert first.stop_reason == "tool_use"
        [use] = [b for b in first.content if b.type == "tool_use"]
        assert use.name == "get_weather"
        check_weather_args(use.input)
        assistant = {"role": "assistant",
                     "content": [b.model_dump(exclude_none=True) for b in first.content]}
        second = self.client.messages.create(
            model=model, max_tokens=MAX_TOKENS, tools=[TOOL],
            messages=[*messages, assistant, {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": use.id, "content": TOOL_RESULT}]}])
        assert second.stop_reason == "end_turn"
        assert [b.text for b in second.content if b.type == "text"] == [self.expected_text]

    def tools_stream(self, model: str) -> None:
        with self.client.messages.stream(
                model=model, max_tokens=MAX_TOKENS, tools=[TOOL], tool_choice={"type": "any"},
                messages=[{"role": "user", "content": TOOL_PROMPT}]) as stream:
            events = list(stream)
            final = stream.get_final_message()
        _check_event_order([e.type for e in events])
        starts = [e.content_block for e in events if e.type == "content_block_start"]
        assert any(b.type == "tool_use" and b.name == "get_weather" and b.id for b in starts)
        fragments = [e.delta.partial_json for e in events
                     if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
        check_weather_args(json.loads("".join(fragments)))
        assert final.stop_reason == "tool_use"


def _check_event_order(kinds: list[str]) -> None:
    """One `message_start` first, `message_stop` last, every content block started before its
    deltas and stopped after them, never two open at once."""
    assert kinds[0] == "message_start" and kinds.count("message_start") == 1, kinds
    assert kinds[-1] == "message_stop", kinds
    open_block = False
    for kind in kinds:
        if kind == "content_block_start":
            assert not open_block, kinds
            open_block = True
        elif kind in ("content_block_delta", "content_block_stop"):
            assert open_block, kinds
            open_block = kind == "content_block_delta"
        elif kind == "message_delta":
            assert not open_block, kinds
    assert "message_delta" in kinds, kinds
