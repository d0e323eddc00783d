"""Fixtures for the SDK compatibility tests: the real gateway binary in front of the mock upstream.

One mock (`asbru-mock`) and one gateway (`asbru serve`) are started per session, on ephemeral
ports read from their startup lines. Every test starts from a clean mock (no faults, no recorded
requests), so the tests do not depend on each other's order.

The binaries come from ASBRU_BIN / ASBRU_MOCK_BIN (scripts/test.sh sets both); when unset, the
debug builds under $CARGO_TARGET_DIR, then under <repo>/target, are used if they exist.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
from conformance import Conformance
from matrix import Matrix
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# What the mock answers to every completion; the tests assert on it.
MOCK_CONTENT = "Greetings from the asbru mock upstream."
# The key the gateway holds for the `openai` provider; the client sends something else.
OPENAI_KEY = "sk-test"
# The key the gateway holds for the `anthropic` provider.
ANTHROPIC_KEY = "sk-ant-test"
# The key the gateway holds for the `gemini` provider.
GEMINI_KEY = "AIza-gemini-test"
# The key the gateway holds for the `cohere` provider.
COHERE_KEY = "co-test-key"
# The `api-key` the gateway holds for the `azure` provider, and the deployment of its model.
AZURE_KEY = "azure-test-key"
AZURE_MODEL = "gpt-4o"
AZURE_DEPLOYMENT = "gpt-4o-prod"
AZURE_EMBEDDING_MODEL = "text-embedding-3-small"
# The `vertex` provider's service account: its key file (pointing at the mock's token endpoint)
# is built in `_config`; the mock learns the public key over its control route. The test RSA
# keys are the providers crate's fixtures; `other-key.pem` signs for the `vertex-badkey` provider,
# whose assertions the mock therefore refuses.
OAUTH_FIXTURES = REPO_ROOT / "crates" / "providers" / "tests" / "fixtures" / "oauth"
VERTEX_EMAIL = "gateway@asbru-test.iam.gserviceaccount.com"
VERTEX_PROJECT = "asbru-test"
VERTEX_REGION = "us-central1"
# The first (and only) token the mock issues in a session: the `vertex` provider's.
VERTEX_TOKEN = "ya29.mock-1"
# Claude on Vertex is named with its version (also keeps injected faults off the anthropic provider).
VERTEX_CLAUDE = "claude-sonnet-4-5@20250929"
VERTEX_MODELS = ["gemini-2.5-flash", VERTEX_CLAUDE, "gemini-embedding-001", "text-embedding-005"]
# A key the mock refuses, held by the `*-badkey` providers (one per dialect) to provoke a real 401.
BEDROCK_ACCESS_KEY = "AKIDASBRUPYTEST"
BEDROCK_SECRET_KEY = "asbru/python+test/SECRET0123456789"
BEDROCK_MODEL = "anthropic.claude-3-7-sonnet-20250219-v1:0"
BEDROCK_EMBEDDING_MODEL = "amazon.titan-embed-text-v2:0"

WRONG_KEY = "sk-wrong-key-0123456789"
# Whole-request timeout of the `mistral` provider, used to provoke a 504.
SLOW_PROVIDER_TIMEOUT_S = 1

STARTUP_TIMEOUT_S = 20.0
LISTENING = re.compile(r"listening on (http://[0-9A-Za-z.\[\]:-]+:\d+)")

# Requests to the two local servers must never go through a proxy from the environment, neither
# from this process (SDK, urllib) nor from the gateway to the mock.
for _var in ("NO_PROXY", "no_proxy"):
    _hosts = [h for h in os.environ.get(_var, "").split(",") if h]
    os.environ[_var] = ",".join(_hosts + ["127.0.0.1", "localhost"])
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --------------------------------------------------------------------------------------------
# Locating the binaries
# --------------------------------------------------------------------------------------------


def _binary(env_var: str, name: str) -> Path:
    explicit = os.environ.get(env_var)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            pytest.fail(f"{env_var}={explicit} does not exist; build it with "
                        f"`cargo build -p asbru -p asbru-mock`", pytrace=False)
        return path
    candidates = []
    target_dir = os.environ.get("CARGO_TARGET_DIR")
    if target_dir:
        candidates.append(Path(target_dir) / "debug" / name)
    candidates.append(REPO_ROOT / "target" / "debug" / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    pytest.fail(
        f"{env_var} is not set and no `{name}` binary was found (looked at "
        f"{', '.join(str(c) for c in candidates)}). Run scripts/test.sh, or build with "
        f"`cargo build -p asbru -p asbru-mock` and set ASBRU_BIN and ASBRU_MOCK_BIN to the "
        f"built binaries.",
        pytrace=False,
    )


# --------------------------------------------------------------------------------------------
# Subprocesses
# --------------------------------------------------------------------------------------------


class Server:
    """A child process whose output is drained on a thread (so its pipe never fills) and kept
    for diagnostics; `wait_for_url` finds the `listening on URL` line in it."""

    def __init__(self, name: str, argv: list[str], stream: str) -> None:
        self.name = name
        self.argv = argv
        self.lines: list[str] = []
        self._urls: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
            stderr=subprocess.PIPE if stream == "stderr" else subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        pipe = self.proc.stdout if stream == "stdout" else self.proc.stderr
        assert pipe is not None
        self._reader = threading.Thread(target=self._drain, args=(pipe,), daemon=True)
        self._reader.start()

    def _drain(self, pipe) -> None:
        for line in pipe:
            self.lines.append(line.rstrip("\n"))
            m = LISTENING.search(line)
            if m:
                self._urls.put(m.group(1))
        self._urls.put(None)

    def output(self, last: int = 40) -> str:
        return "\n".join(self.lines[-last:])

    def wait_for_url(self, timeout: float = STARTUP_TIMEOUT_S) -> str:
        try:
            url = self._urls.get(timeout=timeout)
        except queue.Empty:
            url = None
        if url is None:
            self.stop()
            pytest.fail(
                f"{self.name} did not report `listening on http://…` within {timeout}s "
                f"(exit code {self.proc.poll()}).\ncommand: {' '.join(self.argv)}\n"
                f"output:\n{self.output()}",
                pytrace=False,
            )
        return url

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            pytest.fail(f"{self.name} exited with code {code}; output:\n{self.output()}",
                        pytrace=False)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=2)


def http_json(method: str, url: str, body: Any = None, timeout: float = 5.0) -> tuple[int, Any]:
    """A small JSON-over-HTTP helper for the control routes and raw checks, without the SDK."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with _NO_PROXY_OPENER.open(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, text


def _wait_healthy(server: Server, url: str, timeout: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            status, last = http_json("GET", url, timeout=1.0)
            if status == 200:
                return
        except OSError as e:  # not accepting yet
            last = e
        time.sleep(0.05)
    server.stop()
    pytest.fail(f"{server.name} is not healthy at {url} after {timeout}s (last: {last!r});"
                f" output:\n{server.output()}", pytrace=False)


def _unused_port() -> int:
    """A port nothing listens on (bound then released), for a provider that cannot be reached."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# The mock's control routes
# --------------------------------------------------------------------------------------------


@dataclass
class Mock:
    """Drives the mock upstream over its `/__mock/` control routes."""

    url: str
    server: Server = field(repr=False)

    def _control(self, method: str, route: str, body: Any = None) -> Any:
        status, payload = http_json(method, f"{self.url}/__mock/{route}", body)
        assert status == 200, f"mock control {method} /__mock/{route} -> {status}: {payload}"
        return payload

    def push_fault(self, fault: dict, *, times: int | None = None, model: str | None = None,
                   sticky: bool = False) -> None:
        """Queues a one-shot fault (`times` copies), or sets it for every request to `model`
        (the upstream model name, without the provider prefix), or as the sticky default."""
        body: dict[str, Any] = {"fault": fault}
        if times is not None:
            body["times"] = times
        if model is not None:
            body["model"] = model
        if sticky:
            body["sticky"] = True
        self._control("POST", "faults", body)

    def faults(self) -> dict:
        return self._control("GET", "faults")

    def clear_faults(self) -> None:
        self._control("DELETE", "faults")

    def release(self) -> None:
        """Lets streams held by a `hold_stream` fault continue."""
        self._control("POST", "release")

    def requests(self, path_suffix: str | None = None) -> list[dict]:
        """Recorded requests, oldest first: `method`, `path`, `query`, `headers` (lower-case
        names), `body` (text) and `json` (parsed body or None). Optionally only those whose
        path ends with `path_suffix`."""
        reqs = self._control("GET", "requests")
        if path_suffix is not None:
            reqs = [r for r in reqs if r["path"].rstrip("/").endswith(path_suffix)]
        return reqs

    def clear_requests(self) -> None:
        self._control("DELETE", "requests")

    def reset(self) -> None:
        self.clear_faults()
        self.release()
        self.clear_requests()


@dataclass
class Stack:
    mock: Mock
    gateway_url: str
    gateway: Server = field(repr=False)
    config: dict = field(repr=False)
    config_path: Path = field(repr=False)


def _vertex_key_config(mock_url: str, private_key: str) -> dict:
    key_file = {
        "type": "service_account",
        "project_id": VERTEX_PROJECT,
        "private_key_id": "0123456789abcdef",
        "private_key": (OAUTH_FIXTURES / private_key).read_text(),
        "client_email": VERTEX_EMAIL,
        "client_id": "1234567890",
        "token_uri": f"{mock_url}/token",
    }
    return {"project_id": VERTEX_PROJECT, "region": VERTEX_REGION,
            "auth_credentials": json.dumps(key_file)}


def _config(mock_url: str, dead_url: str) -> dict:
    """Bifrost's config.json format. `openai` is the main provider; the others exist to provoke
    one failure mode each without touching the main one's settings."""
    return {
        "client": {
            # Refuse at once (429) when a provider's queue is full, instead of waiting.
            "drop_excess_requests": True,
            "max_request_body_size_mb": 1,
        },
        "providers": {
            "openai": {
                "keys": [{"name": "main", "value": OPENAI_KEY, "weight": 1}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
            },
            # Short request timeout, to get a 504 out of a delayed upstream.
            "mistral": {
                "keys": [{"name": "mistral", "value": "sk-mistral", "weight": 1}],
                "network_config": {
                    "base_url": mock_url,
                    "max_retries": 0,
                    "default_request_timeout_in_seconds": SLOW_PROVIDER_TIMEOUT_S,
                },
            },
            # Nothing listens there: 502.
            "groq": {
                "keys": [{"name": "groq", "value": "sk-groq", "weight": 1}],
                "network_config": {"base_url": dead_url, "max_retries": 0},
            },
            # One request in flight and one waiting, so a third one is refused with 429.
            "cerebras": {
                "keys": [{"name": "cerebras", "value": "sk-cerebras", "weight": 1}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
                "concurrency_and_buffer_size": {"concurrency": 1, "buffer_size": 1},
            },
            # The Anthropic Messages API, translated to and from the OpenAI dialect.
            "anthropic": {
                "keys": [{"name": "anthropic", "value": ANTHROPIC_KEY, "weight": 1}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
            },
            # The Gemini API, translated to and from the OpenAI dialect.
            "gemini": {
                "keys": [{"name": "gemini", "value": GEMINI_KEY, "weight": 1}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
            },
            # Cohere's v2 API, translated to and from the OpenAI dialect.
            "cohere": {
                "keys": [{"name": "cohere", "value": COHERE_KEY, "weight": 1}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
            },
            # Azure OpenAI: the mock's deployment routes, with `api-key` and `api-version`.
            "azure": {
                "keys": [{"name": "azure", "value": AZURE_KEY, "weight": 1,
                          "azure_key_config": {"endpoint": mock_url,
                                               "deployments": {
                                                   AZURE_MODEL: AZURE_DEPLOYMENT,
                                                   AZURE_EMBEDDING_MODEL: "embeddings-prod"}}}],
                "network_config": {"max_retries": 0},
            },
            # AWS Bedrock's Converse API, every request signed with SigV4 (the mock verifies it).
            "bedrock": {
                "keys": [{"name": "aws", "value": "", "weight": 1,
                          "models": [BEDROCK_MODEL, BEDROCK_EMBEDDING_MODEL],
                          "bedrock_key_config": {"access_key": BEDROCK_ACCESS_KEY,
                                                 "secret_key": BEDROCK_SECRET_KEY,
                                                 "region": "eu-west-1"}}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
            },
            # Vertex AI: a service account (token from the mock's token endpoint), Gemini and
            # Claude models by the project's publisher-model routes.
            "vertex": {
                "keys": [{"name": "vertex", "value": "", "weight": 1, "models": VERTEX_MODELS,
                          "vertex_key_config": _vertex_key_config(mock_url, "test-key.pem")}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
            },
            # One provider per dialect holding a key the mock refuses.
            "openai-badkey": {
                "keys": [{"name": "bad", "value": WRONG_KEY, "weight": 1}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
                "custom_provider_config": {"base_provider_type": "openai"},
            },
            "anthropic-badkey": {
                "keys": [{"name": "bad", "value": WRONG_KEY, "weight": 1}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
                "custom_provider_config": {"base_provider_type": "anthropic"},
            },
            "gemini-badkey": {
                "keys": [{"name": "bad", "value": WRONG_KEY, "weight": 1}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
                "custom_provider_config": {"base_provider_type": "gemini"},
            },
            "cohere-badkey": {
                "keys": [{"name": "bad", "value": WRONG_KEY, "weight": 1}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
                "custom_provider_config": {"base_provider_type": "cohere"},
            },
            # A service account signing with a key the token endpoint does not know.
            "vertex-badkey": {
                "keys": [{"name": "bad", "value": "", "weight": 1,
                          "vertex_key_config": _vertex_key_config(mock_url, "other-key.pem")}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
                "custom_provider_config": {"base_provider_type": "vertex"},
            },
            "azure-badkey": {
                "keys": [{"name": "bad", "value": WRONG_KEY, "weight": 1,
                          "azure_key_config": {"endpoint": mock_url,
                                               "deployments": {AZURE_MODEL: AZURE_DEPLOYMENT}}}],
                "network_config": {"max_retries": 0},
                "custom_provider_config": {"base_provider_type": "azure"},
            },
            # A Bedrock API key (bearer) the mock does not know.
            "bedrock-badkey": {
                "keys": [{"name": "bad", "value": WRONG_KEY, "weight": 1}],
                "network_config": {"base_url": mock_url, "max_retries": 0},
                "custom_provider_config": {"base_provider_type": "bedrock"},
            },
        },
    }

# Every key the configuration holds except WRONG_KEY; the mock accepts only these.
VALID_KEYS = [OPENAI_KEY, "sk-mistral", "sk-groq", "sk-cerebras", ANTHROPIC_KEY, GEMINI_KEY,
              AZURE_KEY, COHERE_KEY]


def _start_gateway(gateway_bin: Path, config_path: Path,
                   started: list[Server]) -> tuple[Server, str]:
    """`asbru serve` on `config_path`, appended to `started` before it is waited for (so that
    it is stopped whatever happens), and its URL once it is healthy."""
    gateway = Server(
        "asbru",
        [str(gateway_bin), "serve", "--config", str(config_path), "--host", "127.0.0.1",
         "--port", "0", "--log-level", "info", "--log-style", "pretty"],
        stream="stderr",
    )
    started.append(gateway)
    gateway_url = gateway.wait_for_url()
    _wait_healthy(gateway, f"{gateway_url}/health")
    return gateway, gateway_url


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory):
    gateway_bin = _binary("ASBRU_BIN", "asbru")
    mock_bin = _binary("ASBRU_MOCK_BIN", "asbru-mock")
    started: list[Server] = []
    try:
        mock_server = Server(
            "asbru-mock",
            [str(mock_bin), "--host", "127.0.0.1", "--port", "0", "--content", MOCK_CONTENT,
             *(arg for key in VALID_KEYS for arg in ("--valid-key", key)),
             "--aws-credentials", f"{BEDROCK_ACCESS_KEY}:{BEDROCK_SECRET_KEY}"],
            stream="stdout",
        )
        started.append(mock_server)
        mock_url = mock_server.wait_for_url()
        _wait_healthy(mock_server, f"{mock_url}/__mock/health")
        status, _ = http_json("POST", f"{mock_url}/__mock/oauth/google", {
            "client_email": VERTEX_EMAIL,
            "public_key_pem": (OAUTH_FIXTURES / "test-key.pub.pem").read_text()})
        assert status == 200, "registering the vertex service account with the mock"

        config = _config(mock_url, f"http://127.0.0.1:{_unused_port()}")
        config_path = tmp_path_factory.mktemp("asbru") / "config.json"
        config_path.write_text(json.dumps(config, indent=2))

        gateway, gateway_url = _start_gateway(gateway_bin, config_path, started)

        yield Stack(
            mock=Mock(mock_url, mock_server),
            gateway_url=gateway_url,
            gateway=gateway,
            config=config,
            config_path=config_path,
        )
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture
def fresh_stack(stack: Stack) -> Stack:
    """The session's mock behind a gateway of the test's own, with the same config.

    The session gateway's circuit breakers and key health outlive requests: failures provoked by
    one test (a 503 injected for a primary, a refused key) can open a circuit, and a later test
    then sees that provider skipped. A test that asserts which provider or key was tried, or
    that makes a provider fail in order to fall back, uses this gateway instead, so it neither
    depends on the tests before it nor leaves them anything."""
    started: list[Server] = []
    try:
        gateway, gateway_url = _start_gateway(_binary("ASBRU_BIN", "asbru"), stack.config_path,
                                              started)
        yield dataclasses.replace(stack, gateway_url=gateway_url, gateway=gateway)
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def fresh_client(fresh_stack: Stack):
    """The official SDK pointed at the test's own gateway (see `fresh_stack`)."""
    c = make_client(fresh_stack)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def mock(stack: Stack) -> Mock:
    return stack.mock


@pytest.fixture(autouse=True)
def _clean_mock(request: pytest.FixtureRequest):
    """Every test that uses the servers starts and ends with a clean mock, and fails loudly if
    either process died under it."""
    if "stack" not in request.fixturenames:
        yield
        return
    stack: Stack = request.getfixturevalue("stack")
    stack.mock.server.check_alive()
    stack.gateway.check_alive()
    stack.mock.reset()
    yield
    stack.mock.server.check_alive()
    stack.gateway.check_alive()
    stack.mock.reset()


def make_client(stack: Stack, **kwargs: Any) -> openai.OpenAI:
    """The official SDK pointed at the gateway. The key is deliberately not the provider's: the
    gateway holds the real one. No SDK retries, so each call maps to exactly one request."""
    options: dict[str, Any] = {"max_retries": 0, "timeout": 15.0}
    options.update(kwargs)
    return openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key="anything", **options)


@pytest.fixture
def client(stack: Stack):
    c = make_client(stack)
    try:
        yield c
    finally:
        c.close()


# --------------------------------------------------------------------------------------------
# The provider × capability matrix of docs/providers.md (see matrix.py)
# --------------------------------------------------------------------------------------------

# Per generated table: the test ids collected for it, and whether some were deselected.
_matrix_nodes: dict[str, set[str]] = {"providers": set(), "conformance": set()}
_matrix_deselected: set[str] = set()
_matrix_reports: list[tuple[str, str, list]] = []


def _matrix_of(nodeid: str) -> str | None:
    if Matrix.key(nodeid, _provider_names()):
        return "providers"
    if Conformance.key(nodeid):
        return "conformance"
    return None


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        table = _matrix_of(item.nodeid)
        if table:
            _matrix_nodes[table].add(item.nodeid)


def pytest_deselected(items):
    _matrix_deselected.update(t for t in map(_matrix_of, (i.nodeid for i in items)) if t)


def pytest_runtest_logreport(report):
    if _matrix_of(report.nodeid) is None:
        return
    # A failed setup or teardown counts as a failure; the call's outcome otherwise.
    if report.when == "call" or report.outcome == "failed":
        _matrix_reports.append((report.nodeid, report.outcome, list(report.user_properties)))


def pytest_sessionfinish(session, exitstatus):
    """Writes each generated table (docs/providers.md, docs/compatibility.md) when all of its
    tests were collected and ran; on CI a table that differs from the committed one fails."""
    ran = {nodeid for nodeid, _, _ in _matrix_reports}
    tables = {
        "providers": (Matrix(_provider_names()), REPO_ROOT / "docs" / "providers.md"),
        "conformance": (Conformance(_provider_names()), REPO_ROOT / "docs" / "compatibility.md"),
    }
    for name, (table, doc) in tables.items():
        nodes = _matrix_nodes[name]
        if name in _matrix_deselected or not nodes or not nodes <= ran:
            continue
        for nodeid, outcome, properties in _matrix_reports:
            if nodeid in nodes:
                table.record(nodeid, outcome, properties)
        problem = table.write(doc)
        if problem:
            session.config.pluginmanager.get_plugin("terminalreporter").write_line(
                problem, red=True)
            session.exitstatus = 1


def _provider_names() -> list[str]:
    from test_providers import PROVIDERS
    return sorted(PROVIDERS)


@contextlib.contextmanager
def gateway_with_config(config: dict, directory: Path):
    """Runs `asbru serve` with `config` (written into `directory`) and yields its URL once
    healthy; stops it afterwards. For tests that need a gateway of their own."""
    config_path = directory / "config.json"
    config_path.write_text(json.dumps(config, indent=2))
    server = Server("asbru", [str(_binary("ASBRU_BIN", "asbru")), "serve", "--config",
                              str(config_path), "--host", "127.0.0.1", "--port", "0"],
                    stream="stderr")
    try:
        url = server.wait_for_url()
        _wait_healthy(server, f"{url}/health")
        yield url
    finally:
        server.stop()
