"""Virtual keys through the official SDKs: each SDK carries the virtual key as its own API key
(openai: `Authorization: Bearer`, anthropic: `x-api-key`, google-genai: `x-goog-api-key`), and
each governance decision reaches it as the error class it raises for that status.

The mocker plugin answers what governance lets through, so no provider is needed; every
provider points at an address nothing listens on.
"""

from __future__ import annotations


import anthropic
import openai
import pytest
from google import genai
from google.genai import errors, types

from conftest import _unused_port, gateway_with_config

OPEN = "sk-bf-open-0000000000000000000001"
INACTIVE = "sk-bf-inactive-00000000000000001"
OPENAI_ONLY = "sk-bf-openai-only-00000000000001"
LIMITED = {sdk: f"sk-bf-limited-{sdk}-000000000001" for sdk in ("openai", "anthropic", "genai")}
BUDGETED = {sdk: f"sk-bf-budgeted-{sdk}-00000000001" for sdk in ("openai", "anthropic", "genai")}
ROUTED = "sk-bf-routed-0000000000000000001"


def _config(dead_url: str) -> dict:
    def provider(key: str) -> dict:
        return {"keys": [{"name": "k", "value": key, "weight": 1}],
                "network_config": {"base_url": dead_url, "max_retries": 0}}

    everything = [{"provider": p} for p in ("openai", "anthropic", "gemini")]
    # One rate limit each: a rate limit named by several keys is one counter they share.
    limited = [{"id": f"vk-limited-{sdk}", "name": f"limited-{sdk}", "value": value,
                "rate_limit_id": f"two-per-hour-{sdk}", "provider_configs": everything}
               for sdk, value in LIMITED.items()]
    # A budget smaller than one request: the first is served (there was headroom), then 402.
    budgeted = [{"id": f"vk-budgeted-{sdk}", "name": f"budgeted-{sdk}", "value": value,
                 "budget_id": f"tiny-{sdk}", "provider_configs": everything}
                for sdk, value in BUDGETED.items()]
    return {
        "client": {"enforce_auth_on_inference": True},
        "providers": {"openai": provider("sk-openai"), "anthropic": provider("sk-ant"),
                      "gemini": provider("AIza-test")},
        "governance": {
            "rate_limits": [{"id": f"two-per-hour-{sdk}", "request_max_limit": 2,
                             "request_reset_duration": "1h"} for sdk in LIMITED],
            "budgets": [{"id": f"tiny-{sdk}", "max_limit": 0.000001, "reset_duration": "1d"}
                        for sdk in BUDGETED],
            "virtual_keys": [
                {"id": "vk-open", "name": "open", "value": OPEN, "provider_configs": everything},
                {"id": "vk-inactive", "name": "inactive", "value": INACTIVE, "is_active": False,
                 "provider_configs": everything},
                {"id": "vk-openai-only", "name": "openai-only", "value": OPENAI_ONLY,
                 "provider_configs": [{"provider": "openai", "allowed_models": ["gpt-4o-mini"]}]},
                *limited,
                *budgeted,
                {"id": "vk-routed", "name": "routed", "value": ROUTED,
                 "provider_configs": everything},
            ],
            # Premium callers of this key are sent to OpenAI's gpt-4o, whatever they asked for.
            "routing_rules": [{"id": "premium", "name": "premium tier", "enabled": True,
                               "cel_expression": 'headers["x-tier"] == "premium"',
                               "targets": [{"provider": "openai", "model": "gpt-4o",
                                            "weight": 1}],
                               "scope": "virtual_key", "scope_id": "vk-routed",
                               "priority": 0}],
        },
        "plugins": [{"name": "mocker", "enabled": True,
                     "config": {"enabled": True, "default_behavior": "success", "rules": []}}],
    }


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory):
    config = _config(f"http://127.0.0.1:{_unused_port()}")
    with gateway_with_config(config, tmp_path_factory.mktemp("governance")) as url:
        yield url


def oai(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=15.0)


def claude(url: str, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{url}/anthropic", api_key=key, max_retries=0,
                               timeout=15.0)


def gemini(url: str, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(
        base_url=f"{url}/genai", timeout=15_000))


def chat(client: openai.OpenAI, model: str = "openai/gpt-4o-mini"):
    return client.chat.completions.create(model=model,
                                          messages=[{"role": "user", "content": "hi"}])


def message(client: anthropic.Anthropic, model: str = "anthropic/claude-sonnet-4-5"):
    return client.messages.create(model=model, max_tokens=50,
                                  messages=[{"role": "user", "content": "hi"}])


def generate(client: genai.Client, model: str = "gemini/gemini-2.5-flash"):
    return client.models.generate_content(model=model, contents="hi")


def test_openai_sdk_decisions(gateway_url):
    assert chat(oai(gateway_url, OPEN)).choices[0].message.content
    for key, error, code in [
        ("sk-not-a-virtual-key", openai.AuthenticationError, "access_not_found"),
        ("sk-bf-unknown-000000000000000001", openai.AuthenticationError, "access_not_found"),
        (INACTIVE, openai.PermissionDeniedError, "access_blocked"),
    ]:
        with pytest.raises(error) as info:
            chat(oai(gateway_url, key))
        assert info.value.code == code, info.value
    with pytest.raises(openai.PermissionDeniedError) as info:
        chat(oai(gateway_url, OPENAI_ONLY), "anthropic/claude-sonnet-4-5")
    assert info.value.code == "provider_blocked"
    with pytest.raises(openai.PermissionDeniedError) as info:
        chat(oai(gateway_url, OPENAI_ONLY), "openai/gpt-4o")
    assert info.value.code == "model_blocked"
    assert chat(oai(gateway_url, OPENAI_ONLY), "openai/gpt-4o-mini").choices


def test_openai_sdk_rate_limit_with_retry_after(gateway_url):
    client = oai(gateway_url, LIMITED["openai"])
    chat(client)
    chat(client)
    with pytest.raises(openai.RateLimitError) as info:
        chat(client)
    assert info.value.code == "request_limited"
    wait = int(info.value.response.headers["retry-after"])
    assert 0 < wait <= 3600


def test_anthropic_sdk_decisions_and_rate_limit(gateway_url):
    assert message(claude(gateway_url, OPEN)).content[0].text
    with pytest.raises(anthropic.AuthenticationError):
        message(claude(gateway_url, "sk-bf-unknown-000000000000000001"))
    with pytest.raises(anthropic.PermissionDeniedError) as info:
        message(claude(gateway_url, INACTIVE))
    assert info.value.body["type"] == "error"
    with pytest.raises(anthropic.PermissionDeniedError):
        message(claude(gateway_url, OPENAI_ONLY))
    limited = claude(gateway_url, LIMITED["anthropic"])
    message(limited)
    message(limited)
    with pytest.raises(anthropic.RateLimitError) as info:
        message(limited)
    assert int(info.value.response.headers["retry-after"]) > 0


def test_genai_sdk_decisions_and_rate_limit(gateway_url):
    assert generate(gemini(gateway_url, OPEN)).text
    for key, code in [("sk-bf-unknown-000000000000000001", 401), (INACTIVE, 403),
                      (OPENAI_ONLY, 403)]:
        with pytest.raises(errors.ClientError) as info:
            generate(gemini(gateway_url, key))
        assert info.value.code == code, info.value
    limited = gemini(gateway_url, LIMITED["genai"])
    generate(limited)
    generate(limited)
    with pytest.raises(errors.ClientError) as info:
        generate(limited)
    assert info.value.code == 429


def test_budgets_through_each_sdk(gateway_url):
    client = oai(gateway_url, BUDGETED["openai"])
    answer = chat(client, "openai/gpt-4o")
    assert answer.model_extra["extra_fields"]["cost"] > 0
    with pytest.raises(openai.APIStatusError) as info:
        chat(client, "openai/gpt-4o")
    assert info.value.status_code == 402 and info.value.code == "budget_exceeded"

    limited = claude(gateway_url, BUDGETED["anthropic"])
    message(limited)
    with pytest.raises(anthropic.APIStatusError) as info:
        message(limited)
    assert info.value.status_code == 402

    limited = gemini(gateway_url, BUDGETED["genai"])
    generate(limited)
    with pytest.raises(errors.ClientError) as info:
        generate(limited)
    assert info.value.code == 402


def test_routing_rules_through_each_sdk(gateway_url):
    premium = {"x-tier": "premium"}
    answer = oai(gateway_url, ROUTED).chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
        extra_headers=premium)
    assert answer.model == "gpt-4o", answer
    assert answer.model_extra["extra_fields"]["routing_rule_id"] == "premium"
    # Without the header the rule does not match: the request goes where it asked.
    assert chat(oai(gateway_url, ROUTED)).model == "gpt-4o-mini"

    answer = claude(gateway_url, ROUTED).messages.create(
        model="anthropic/claude-sonnet-4-5", max_tokens=50,
        messages=[{"role": "user", "content": "hi"}], extra_headers=premium)
    assert answer.model == "gpt-4o", answer
    assert message(claude(gateway_url, ROUTED)).model == "claude-sonnet-4-5"

    routed = genai.Client(api_key=ROUTED, http_options=types.HttpOptions(
        base_url=f"{gateway_url}/genai", timeout=15_000, headers=premium))
    answer = generate(routed)
    assert answer.model_version == "gpt-4o", answer
