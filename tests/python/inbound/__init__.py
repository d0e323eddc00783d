"""Client drivers for the conformance matrix: one module per inbound dialect, each driving the
gateway with that dialect's official SDK (see `base.Driver`). `DRIVERS` maps the dialect ids of
`conformance.INBOUND` to the drivers that exist."""

from __future__ import annotations

from inbound.base import Driver
from inbound.openai_chat import OpenAIChat
from inbound.openai_responses import OpenAIResponses
from inbound.anthropic_messages import AnthropicMessages
from inbound.bedrock import BedrockConverse
from inbound.cohere import CohereChat
from inbound.genai import GenAI

DRIVERS: dict[str, type[Driver]] = {
    "openai_chat": OpenAIChat,
    "openai_responses": OpenAIResponses,
    "anthropic": AnthropicMessages,
    "bedrock": BedrockConverse,
    "cohere": CohereChat,
    "genai": GenAI,
}
