"""The Gemini API dialect, driven by the official `google-genai` SDK at `{gateway}/genai`.

Gemini has no tool stop reason: a turn that calls functions finishes with `STOP`, and its calls
are `functionCall` parts (whole, never in fragments), so the tool scenarios check the parts."""

from __future__ import annotations

from google import genai
from google.genai import types

from inbound.base import (PROMPT, TOOL_PROMPT, TOOL_RESULT, WEATHER_DESCRIPTION,
                          WEATHER_PARAMETERS, Driver, check_weather_args)

TOOLS = [types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_weather", description=WEATHER_DESCRIPTION,
    parameters_json_schema=WEATHER_PARAMETERS)])]
FORCED = types.GenerateContentConfig(
    tools=TOOLS,
    tool_config=types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode="ANY")))


class GenAI(Driver):
    def __init__(self, gateway_url: str, expected_text: str) -> None:
        super().__init__(gateway_url, expected_text)
        self.client = genai.Client(
            api_key="not-the-key",
            http_options=types.HttpOptions(base_url=f"{gateway_url}/genai", timeout=15_000))

    def close(self) -> None:
        self.client.close()

    def plain(self, model: str) -> None:
        response = self.client.models.generate_content(model=model, contents=PROMPT)
        assert response.text == self.expected_text
        assert response.candidates[0].finish_reason == types.FinishReason.STOP

    def stream(self, model: str) -> None:
        chunks = list(self.client.models.generate_content_stream(model=model, contents=PROMPT))
        assert "".join(c.text or "" for c in chunks) == self.expected_text
        assert _finishes(chunks) == [types.FinishReason.STOP]
        # The finish reason comes in the last chunk, with the usage.
        assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
        assert chunks[-1].usage_metadata is not None

    def tools(self, model: str) -> None:
        question = types.Content(role="user", parts=[types.Part(text=TOOL_PROMPT)])
        first = self.client.models.generate_content(model=model, contents=[question],
                                                    config=FORCED)
        assert first.candidates[0].finish_reason == types.FinishReason.STOP
        [call] = first.function_calls
        assert call.name == "get_weather"
        check_weather_args(call.args)
        result = types.Content(role="user", parts=[types.Part(
            function_response=types.FunctionResponse(id=call.id, name=call.name,
                                                     response={"output": TOOL_RESULT}))])
        second = self.client.models.generate_content(
            model=model, contents=[question, first.candidates[0].content, result],
            config=types.GenerateContentConfig(tools=TOOLS))
        assert second.text == self.expected_text
        assert second.candidates[0].finish_reason == types.FinishReason.STOP

    def tools_stream(self, model: str) -> None:
        chunks = list(self.client.models.generate_content_stream(
            model=model, contents=TOOL_PROMPT, config=FORCED))
        calls = [call for c in chunks for call in (c.function_calls or [])]
        assert [c.name for c in calls] == ["get_weather"], calls
        check_weather_args(calls[0].args)
        assert _finishes(chunks) == [types.FinishReason.STOP]


def _finishes(chunks) -> list:
    return [c.candidates[0].finish_reason for c in chunks
            if c.candidates and c.candidates[0].finish_reason]
