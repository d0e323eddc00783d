"""The `mocker` plugin through the official SDKs: scenarios from Bifrost's mocker documentation
(a success rule with a templated message, a rate-limit error rule, streaming), answered without
any provider — every provider of this gateway points at an address nothing listens on.

The gateway is started here with its own config (a mocker in `plugins[]`), not the session's.
"""

from __future__ import annotations


import anthropic
import openai
import pytest
from google import genai
from google.genai import errors, types

from conftest import _unused_port, gateway_with_config

GREETING = "Hello! I am a mock {{model}} answering for {{provider}}."


def _config(dead_url: str) -> dict:
    def provider(key: str) -> dict:
        return {"keys": [{"name": "k", "value": key, "weight": 1}],
                "network_config": {"base_url": dead_url, "max_retries": 0}}

    return {
        "providers": {"openai": provider("sk-openai"), "anthropic": provider("sk-ant"),
                      "gemini": provider("AIza-test")},
        "plugins": [{"name": "mocker", "enabled": True, "config": {
            "enabled": True,
            "default_behavior": "success",
            "rules": [
                {"name": "rate-limit", "enabled": True, "priority": 100, "probability": 1.0,
                 "conditions": {"message_regex": "(?i)rate.?limit"},
                 "responses": [{"type": "error", "allow_fallbacks": False, "error": {
                     "message": "Rate limit exceeded. Please try again later.",
                     "type": "rate_limit_error", "code": "rate_limit_exceeded",
                     "status_code": 429}}]},
                {"name": "greeting", "enabled": True, "priority": 10, "probability": 1.0,
                 "conditions": {"message_regex": "(?i)hello"},
                 "responses": [{"type": "success", "weight": 1.0, "content": {
                     "message_template": GREETING,
                     "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}}}]},
            ],
        }}],
    }


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory):
    config = _config(f"http://127.0.0.1:{_unused_port()}")
    with gateway_with_config(config, tmp_path_factory.mktemp("mocker")) as url:
        yield url


@pytest.fixture
def oai(gateway_url: str):
    client = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key="anything", max_retries=0,
                           timeout=15.0)
    yield client
    client.close()


@pytest.fixture
def claude(gateway_url: str):
    return anthropic.Anthropic(base_url=f"{gateway_url}/anthropic", api_key="anything",
                               max_retries=0, timeout=15.0)


@pytest.fixture
def gemini(gateway_url: str) -> genai.Client:
    return genai.Client(api_key="anything",
                        http_options=types.HttpOptions(base_url=f"{gateway_url}/genai",
                                                       timeout=15_000))


def test_openai_chat_gets_the_templated_greeting(oai):
    answer = oai.chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": "Hello there"}])
    assert answer.choices[0].message.content == \
        "Hello! I am a mock gpt-4o answering for openai."
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.total_tokens == 21


def test_openai_chat_stream(oai):
    chunks = list(oai.chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": "Hello there"}],
        stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello! I am a mock gpt-4o answering for openai."
    assert len(chunks) > 3
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 21


def test_openai_rate_limit_rule(oai):
    with pytest.raises(openai.RateLimitError) as info:
        oai.chat.completions.create(
            model="openai/gpt-4o", messages=[{"role": "user", "content": "hit the rate limit"}])
    assert info.value.status_code == 429
    assert "Rate limit exceeded" in str(info.value)


def test_default_behavior_success_answers_what_no_rule_matches(oai):
    answer = oai.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "What is 2+2?"}])
    assert answer.choices[0].message.content == "Mock plugin default response"


def test_openai_responses_and_its_stream(oai):
    answer = oai.responses.create(model="openai/gpt-4o", input="Hello there")
    assert answer.output_text == "Hello! I am a mock gpt-4o answering for openai."
    assert answer.usage.total_tokens == 21
    events = list(oai.responses.create(model="openai/gpt-4o", input="Hello there", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "Hello! I am a mock gpt-4o answering for openai."


def test_anthropic_sdk_message_stream_and_error(claude):
    message = claude.messages.create(model="anthropic/claude-sonnet-4-5", max_tokens=100,
                                     messages=[{"role": "user", "content": "Hello"}])
    assert message.content[0].text == \
        "Hello! I am a mock claude-sonnet-4-5 answering for anthropic."
    assert message.usage.input_tokens == 12 and message.usage.output_tokens == 9

    with claude.messages.stream(model="anthropic/claude-sonnet-4-5", max_tokens=100,
                                messages=[{"role": "user", "content": "Hello"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello! I am a mock claude-sonnet-4-5 answering for anthropic."
    assert final.usage.output_tokens == 9

    with pytest.raises(anthropic.RateLimitError) as info:
        claude.messages.create(model="anthropic/claude-sonnet-4-5", max_tokens=100,
                               messages=[{"role": "user", "content": "rate limit me"}])
    assert info.value.status_code == 429


def test_genai_sdk_generate_stream_and_error(gemini):
    answer = gemini.models.generate_content(model="gemini/gemini-2.5-flash", contents="Hello")
    assert answer.text == "Hello! I am a mock gemini-2.5-flash answering for gemini."
    assert answer.usage_metadata.total_token_count == 21

    text = "".join(c.text or "" for c in gemini.models.generate_content_stream(
        model="gemini/gemini-2.5-flash", contents="Hello"))
    assert text == "Hello! I am a mock gemini-2.5-flash answering for gemini."

    with pytest.raises(errors.ClientError) as info:
        gemini.models.generate_content(model="gemini/gemini-2.5-flash",
                                       contents="trigger the rate limit")
    assert info.value.code == 429


def test_hits_are_prometheus_counters(oai, gateway_url):
    from conftest import http_json

    oai.chat.completions.create(model="openai/gpt-4o",
                                messages=[{"role": "user", "content": "Hello"}])
    status, text = http_json("GET", f"{gateway_url}/metrics")
    assert status == 200
    hits = [line for line in text.splitlines()
            if line.startswith('asbru_mocker_hits_total{rule="greeting"}')]
    assert hits and int(float(hits[0].split()[-1])) >= 1, text
    assert "asbru_mocker_errors_total" in text
