"""The OpenAI drop-in route set (`/openai/…`) with the official `openai` SDK: the OpenAI client with a
base URL with or without `/v1` (a bare model goes to the `openai` provider, a `provider/model` to
that provider), the Azure OpenAI client pointed at the gateway (`azure_endpoint=…/openai`; the
deployment in the path names the model of the `azure` provider), and the same set under the
`/litellm` and `/langchain` mounts.
"""

from __future__ import annotations

import json
import urllib.request

import openai
import pytest

from conftest import AZURE_DEPLOYMENT, AZURE_MODEL, MOCK_CONTENT, http_json

SAY_HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.mark.parametrize("base", ["/openai", "/openai/v1", "/litellm/v1", "/langchain/v1",
                                  "/litellm", "/langchain"])
def test_a_bare_model_goes_to_the_openai_provider(stack, mock, base):
    client = openai.OpenAI(base_url=f"{stack.gateway_url}{base}", api_key="x", max_retries=0)
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=SAY_HELLO)
    assert answer.choices[0].message.content == MOCK_CONTENT
    [sent] = mock.requests("/v1/chat/completions")
    assert sent["json"]["model"] == "gpt-4o-mini"
    assert sent["headers"]["authorization"] == "Bearer sk-test", "the gateway's key, not the client's"


def test_a_provider_prefix_still_routes(stack, mock):
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/openai", api_key="x", max_retries=0)
    chunks = list(client.chat.completions.create(
        model="anthropic/claude-sonnet-4-5", messages=SAY_HELLO, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == MOCK_CONTENT
    assert mock.requests("/v1/messages"), "the anthropic provider served it"


def test_completions_and_embeddings(stack):
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/openai", api_key="x", max_retries=0)
    text = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hello.")
    assert text.choices[0].text
    vectors = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert [d.index for d in vectors.data] == [0, 1]


def test_models_are_listed(stack):
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/openai/v1", api_key="x", max_retries=0)
    ids = [m.id for m in client.models.list()]
    assert any(i.startswith("openai/") for i in ids) and any(i.startswith("gemini/") for i in ids)


def test_errors_keep_the_openai_shape(stack):
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/openai", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert info.value.body["param"] == "messages"


@pytest.fixture
def azure_client(stack) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=f"{stack.gateway_url}/openai",
                              api_version="2024-10-21", api_key="not-the-key", max_retries=0)


def test_the_azure_client_works_with_the_deployment_as_model(azure_client, mock):
    answer = azure_client.chat.completions.create(model=AZURE_MODEL, messages=SAY_HELLO)
    assert answer.choices[0].message.content == MOCK_CONTENT
    [sent] = mock.requests("/chat/completions")
    # The gateway's azure provider maps the model to its own deployment and holds the key.
    assert sent["path"].endswith(f"/openai/deployments/{AZURE_DEPLOYMENT}/chat/completions")
    assert sent["headers"]["api-key"] == "azure-test-key"


def test_the_azure_client_streams(azure_client):
    chunks = list(azure_client.chat.completions.create(
        model=AZURE_MODEL, messages=SAY_HELLO, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == MOCK_CONTENT


def test_an_unknown_azure_deployment_is_a_clear_400(azure_client):
    with pytest.raises(openai.BadRequestError) as info:
        azure_client.chat.completions.create(model="no-such-deployment", messages=SAY_HELLO)
    assert "no-such-deployment" in str(info.value)


def test_models_answer_in_the_callers_shape(stack):
    status, openai_shape = http_json("GET", f"{stack.gateway_url}/v1/models")
    assert status == 200 and openai_shape["object"] == "list"
    for path in ("/v1/models", "/litellm/v1/models"):
        req = urllib.request.Request(f"{stack.gateway_url}{path}?limit=2",
                                     headers={"anthropic-version": "2023-06-01"})
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req) as resp:
            page = json.loads(resp.read())
        assert len(page["data"]) == 2 and page["has_more"] is True, page
        assert page["data"][0]["type"] == "model"
