"""What every inbound-dialect driver does: the four conformance scenarios, each asserting the
answer in its own dialect's terms.

- `plain`: one request; the answer's text is the mock's text and it stopped normally.
- `stream`: the same streamed; the events are in the dialect's documented order, the text
  deltas join to the mock's text, and the stop reason is the normal one.
- `tools`: the weather tool offered and forced; the answer is a call to it with arguments that
  fit its schema and the dialect's tool stop reason; then the call and its result are sent back
  (with the call's id, where the dialect has ids) and the answer is the mock's text.
- `tools_stream`: the forced tool call streamed; the call arrives with its name, its streamed
  arguments join to JSON that fits the schema, and the stop reason is the tool one.

`model` is always `provider/model`, so the serving provider is the one the test names.
"""

from __future__ import annotations

from typing import Any

WEATHER_DESCRIPTION = "Current weather for a city"
WEATHER_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}
PROMPT = "Say hello."
TOOL_PROMPT = "What is the weather in Paris for the next 2 days?"
TOOL_RESULT = "18°C and sunny"


def check_weather_args(args: Any) -> None:
    """Arguments fit the weather tool's schema."""
    assert isinstance(args, dict), args
    assert isinstance(args["city"], str), args
    assert isinstance(args["days"], int), args


class Driver:
    """One inbound dialect's client, bound to the running gateway."""

    # Providers this dialect reaches on another path than their chat path (an API the provider
    # serves natively), by provider name; the others are checked on their chat path.
    native_paths: dict[str, str] = {}

    def __init__(self, gateway_url: str, expected_text: str) -> None:
        self.gateway_url = gateway_url
        self.expected_text = expected_text

    def plain(self, model: str) -> None:
        raise NotImplementedError

    def stream(self, model: str) -> None:
        raise NotImplementedError

    def tools(self, model: str) -> None:
        raise NotImplementedError

    def tools_stream(self, model: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass
