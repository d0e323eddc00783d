"""OpenAI's Responses API (`/v1/responses`), driven by the official `openai` SDK's
`client.responses` at `{gateway}/v1`. OpenAI serves it natively; every other provider through
its chat API."""

from __future__ import annotations

import json

import openai

from inbound.base import (PROMPT, TOOL_PROMPT, TOOL_RESULT, WEATHER_DESCRIPTION,
                          WEATHER_PARAMETERS, Driver, check_weather_args)

TOOL = {"type": "function", "name": "get_weather", "description": WEATHER_DESCRIPTION,
        "parameters": WEATHER_PARAMETERS}


class OpenAIResponses(Driver):
    # OpenAI answers this API itself, at its own path rather than its chat path.
    native_paths = {"openai": "/v1/responses"}

    def __init__(self, gateway_url: str, expected_text: str) -> None:
        super().__init__(gateway_url, expected_text)
        self.client = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key="anything",
                                    max_retries=0, timeout=15.0)

    def close(self) -> None:
        self.client.close()

    def plain(self, model: str) -> None:
        response = self.client.responses.create(model=model, input=PROMPT)
        assert response.status == "completed", response
        assert [i.type for i in response.output if i.type != "reasoning"] == ["message"]
        assert response.output_text == self.expected_text

    def stream(self, model: str) -> None:
        with self.client.responses.stream(model=model, input=PROMPT) as stream:
            events = list(stream)
            final = stream.get_final_response()
        _check_event_order(events)
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == self.expected_text
        assert final.status == "completed"
        assert final.output_text == self.expected_text

    def tools(self, model: str) -> None:
        question = [{"role": "user", "content": TOOL_PROMPT}]
        first = self.client.responses.create(model=model, input=question, tools=[TOOL],
                                             tool_choice="required")
        [call] = [i for i in first.output if i.type == "function_call"]
        assert call.name == "get_weather" and call.call_id
        check_weather_args(json.loads(call.arguments))
        second = self.client.responses.create(
            model=model, tools=[TOOL],
            input=[*question, *first.output,
                   {"type": "function_call_output", "call_id": call.call_id,
                    "output": TOOL_RESULT}])
        assert second.status == "completed"
        assert second.output_text == self.expected_text

    def tools_stream(self, model: str) -> None:
        with self.client.responses.stream(model=model, input=TOOL_PROMPT, tools=[TOOL],
                                          tool_choice="required") as stream:
            events = list(stream)
            final = stream.get_final_response()
        _check_event_order(events)
        added = [e.item for e in events
                 if e.type == "response.output_item.added" and e.item.type == "function_call"]
        assert [a.name for a in added] == ["get_weather"] and added[0].call_id
        fragments = [e.delta for e in events
                     if e.type == "response.function_call_arguments.delta"]
        check_weather_args(json.loads("".join(fragments)))
        [call] = [i for i in final.output if i.type == "function_call"]
        assert call.call_id == added[0].call_id


def _check_event_order(events) -> None:
    """`response.created` first and `response.completed` last, numbered from 0 without gaps;
    every output item added before its events and done after them, never two open at once."""
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"], kinds
    assert kinds[-1] == "response.completed" and kinds.count("response.completed") == 1, kinds
    assert [e.sequence_number for e in events] == list(range(len(events))), kinds
    open_index = None
    for event in events[2:-1]:
        if event.type == "response.output_item.added":
            assert open_index is None, kinds
            open_index = event.output_index
        elif event.type == "response.output_item.done":
            assert open_index == event.output_index, kinds
            open_index = None
        else:
            assert open_index is not None and event.output_index == open_index, kinds
    assert open_index is None, kinds
