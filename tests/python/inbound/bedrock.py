"""The Bedrock Converse dialect, driven by the official `boto3` `bedrock-runtime` client at
`{gateway}/bedrock` (SigV4-signed with made-up credentials the gateway ignores)."""

from __future__ import annotations

import json

import boto3
from botocore.config import Config

from inbound.base import (PROMPT, TOOL_PROMPT, TOOL_RESULT, WEATHER_DESCRIPTION,
                          WEATHER_PARAMETERS, Driver, check_weather_args)

TOOLS = {"tools": [{"toolSpec": {"name": "get_weather", "description": WEATHER_DESCRIPTION,
                                 "inputSchema": {"json": WEATHER_PARAMETERS}}}]}
FORCED = {**TOOLS, "toolChoice": {"any": {}}}
INFERENCE = {"maxTokens": 500}


def _user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


class BedrockConverse(Driver):
    def __init__(self, gateway_url: str, expected_text: str) -> None:
        super().__init__(gateway_url, expected_text)
        self.client = boto3.client(
            "bedrock-runtime", endpoint_url=f"{gateway_url}/bedrock", region_name="us-east-1",
            aws_access_key_id="x", aws_secret_access_key="y",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                          connect_timeout=5, read_timeout=15))

    def close(self) -> None:
        self.client.close()

    def plain(self, model: str) -> None:
        answer = self.client.converse(modelId=model, messages=[_user(PROMPT)],
                                      inferenceConfig=INFERENCE)
        content = answer["output"]["message"]["content"]
        assert [b["text"] for b in content if "text" in b] == [self.expected_text], content
        assert answer["stopReason"] == "end_turn"

    def stream(self, model: str) -> None:
        events = self._stream(model=model, messages=[_user(PROMPT)])
        text = "".join(p["delta"]["text"] for k, p in events
                       if k == "contentBlockDelta" and "text" in p["delta"])
        assert text == self.expected_text
        assert events[-2][1]["stopReason"] == "end_turn"

    def tools(self, model: str) -> None:
        messages = [_user(TOOL_PROMPT)]
        first = self.client.converse(modelId=model, messages=messages, toolConfig=FORCED,
                                     inferenceConfig=INFERENCE)
        assert first["stopReason"] == "tool_use", first["stopReason"]
        assistant = first["output"]["message"]
        [use] = [b["toolUse"] for b in assistant["content"] if "toolUse" in b]
        assert use["name"] == "get_weather"
        check_weather_args(use["input"])
        second = self.client.converse(
            modelId=model, toolConfig=TOOLS, inferenceConfig=INFERENCE,
            messages=[*messages, assistant, {"role": "user", "content": [{"toolResult": {
                "toolUseId": use["toolUseId"], "content": [{"text": TOOL_RESULT}]}}]}])
        assert second["stopReason"] == "end_turn"
        content = second["output"]["message"]["content"]
        assert [b["text"] for b in content if "text" in b] == [self.expected_text], content

    def tools_stream(self, model: str) -> None:
        events = self._stream(model=model, messages=[_user(TOOL_PROMPT)], toolConfig=FORCED)
        starts = [p["start"]["toolUse"] for k, p in events if k == "contentBlockStart"]
        assert any(s["name"] == "get_weather" and s["toolUseId"] for s in starts), starts
        fragments = [p["delta"]["toolUse"]["input"] for k, p in events
                     if k == "contentBlockDelta" and "toolUse" in p["delta"]]
        check_weather_args(json.loads("".join(fragments)))
        assert events[-2][1]["stopReason"] == "tool_use"

    def _stream(self, model: str, **kwargs) -> list[tuple[str, dict]]:
        response = self.client.converse_stream(modelId=model, inferenceConfig=INFERENCE,
                                               **kwargs)
        events = [next(iter(e.items())) for e in response["stream"]]
        check_event_order(events)
        return events


def check_event_order(events: list[tuple[str, dict]]) -> None:
    """`messageStart` once and first; every block with the next index, opened by
    `contentBlockStart` or its first delta and closed by `contentBlockStop` before the next;
    `messageStop` then `metadata` last."""
    kinds = [k for k, _ in events]
    assert kinds[0] == "messageStart" and kinds.count("messageStart") == 1, kinds
    assert kinds[-2:] == ["messageStop", "metadata"], kinds
    open_index, next_index = None, 0
    for kind, payload in events[1:-2]:
        index = payload["contentBlockIndex"]
        if kind == "contentBlockStart" or (kind == "contentBlockDelta" and open_index is None):
            assert open_index is None and index == next_index, kinds
            open_index = index
        elif kind == "contentBlockDelta":
            assert index == open_index, kinds
        elif kind == "contentBlockStop":
            assert index == open_index, kinds
            open_index, next_index = None, next_index + 1
        else:
            raise AssertionError(f"unexpected {kind} in {kinds}")
    assert open_index is None, kinds
