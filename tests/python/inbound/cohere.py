"""The Cohere v2 chat dialect, driven by the official `cohere` SDK (`cohere.ClientV2`) at
`{gateway}/cohere`."""

from __future__ import annotations

import json

import cohere
import httpx

from inbound.base import (PROMPT, TOOL_PROMPT, TOOL_RESULT, WEATHER_DESCRIPTION,
                          WEATHER_PARAMETERS, Driver, check_weather_args)

TOOL = {"type": "function", "function": {"name": "get_weather",
                                         "description": WEATHER_DESCRIPTION,
                                         "parameters": WEATHER_PARAMETERS}}


class CohereChat(Driver):
    def __init__(self, gateway_url: str, expected_text: str) -> None:
        super().__init__(gateway_url, expected_text)
        # The SDK has no close(); given our own HTTP client, we can close it.
        self.http = httpx.Client(timeout=15.0)
        self.client = cohere.ClientV2(api_key="not-the-key", base_url=f"{gateway_url}/cohere",
                                      max_retries=0, timeout=15.0, httpx_client=self.http)

    def close(self) -> None:
        self.http.close()

    def plain(self, model: str) -> None:
        response = self.client.chat(model=model, messages=[{"role": "user", "content": PROMPT}])
        assert _texts(response.message) == [self.expected_text]
        assert response.finish_reason == "COMPLETE"

    def stream(self, model: str) -> None:
        events = list(self.client.chat_stream(
            model=model, messages=[{"role": "user", "content": PROMPT}]))
        _check_event_order(events)
        text = "".join(e.delta.message.content.text or "" for e in events
                       if e.type == "content-delta" and e.delta.message.content.text)
        assert text == self.expected_text
        assert events[-1].delta.finish_reason == "COMPLETE"

    def tools(self, model: str) -> None:
        messages = [{"role": "user", "content": TOOL_PROMPT}]
        first = self.client.chat(model=model, messages=messages, tools=[TOOL],
                                 tool_choice="REQUIRED")
        assert first.finish_reason == "TOOL_CALL"
        [call] = first.message.tool_calls
        assert call.function.name == "get_weather" and call.id
        check_weather_args(json.loads(call.function.arguments))
        second = self.client.chat(model=model, tools=[TOOL], messages=[
            *messages, first.message,
            {"role": "tool", "tool_call_id": call.id,
             "content": [{"type": "document", "document": {"data": TOOL_RESULT}}]}])
        assert second.finish_reason == "COMPLETE"
        assert _texts(second.message) == [self.expected_text]

    def tools_stream(self, model: str) -> None:
        events = list(self.client.chat_stream(
            model=model, messages=[{"role": "user", "content": TOOL_PROMPT}], tools=[TOOL],
            tool_choice="REQUIRED"))
        _check_event_order(events)
        starts = [e.delta.message.tool_calls for e in events if e.type == "tool-call-start"]
        assert any(c.function.name == "get_weather" and c.id for c in starts)
        fragments = [e.delta.message.tool_calls.function.arguments for e in events
                     if e.type == "tool-call-delta"]
        check_weather_args(json.loads("".join(fragments)))
        assert events[-1].delta.finish_reason == "TOOL_CALL"


def _texts(message) -> list[str]:
    return [c.text for c in message.content or [] if c.type == "text"]


def _check_event_order(events: list) -> None:
    """One `message-start` first, one `message-end` last; every content block and tool call
    started before its deltas and ended after them, with one index throughout, never two open at
    once; the tool plan streamed outside of them."""
    kinds = [e.type for e in events]
    assert kinds[0] == "message-start" and kinds.count("message-start") == 1, kinds
    assert kinds[-1] == "message-end" and kinds.count("message-end") == 1, kinds
    open_block: tuple[str, int] | None = None
    for event in events[1:-1]:
        kind = event.type
        if kind in ("content-start", "tool-call-start"):
            assert open_block is None, kinds
            open_block = (kind.rsplit("-", 1)[0], event.index)
        elif kind in ("content-delta", "content-end", "tool-call-delta", "tool-call-end"):
            block = kind.rsplit("-", 1)[0]
            assert open_block == (block, event.index), kinds
            if kind.endswith("-end"):
                open_block = None
        elif kind == "tool-plan-delta":
            assert open_block is None, kinds
    assert open_block is None, kinds
