"""The translation conformance matrix: every inbound dialect's official SDK, against every serving
provider, in four scenarios (plain, stream, tools, tools in a stream). The drivers in `inbound/`
hold the dialect-specific assertions; this test adds that the request really reached the
provider the model names (the mock recorded it on that provider's path). The outcomes become the
matrix in docs/compatibility.md (see conformance.py).
"""

from __future__ import annotations

import pytest

from conformance import INBOUND, SCENARIOS
from conftest import MOCK_CONTENT
from inbound import DRIVERS
from test_providers import PROVIDERS

_CASES = [(inbound, provider, scenario)
          for inbound, _ in INBOUND if inbound in DRIVERS
          for provider in sorted(PROVIDERS)
          for scenario, _ in SCENARIOS]


@pytest.fixture(scope="module")
def drivers(stack):
    made = {name: driver(stack.gateway_url, MOCK_CONTENT) for name, driver in DRIVERS.items()}
    yield made
    for driver in made.values():
        driver.close()


@pytest.mark.parametrize(("inbound", "provider", "scenario"), _CASES,
                         ids=["-".join(case) for case in _CASES])
def test_conformance(drivers, mock, inbound, provider, scenario):
    serving = PROVIDERS[provider]
    driver = drivers[inbound]
    getattr(driver, scenario)(serving.ref)
    native = driver.native_paths.get(provider)
    if native is not None:
        assert mock.requests(native), f"nothing reached {provider} at {native}"
    else:
        assert serving.requests(mock), f"nothing reached {provider} at {serving.path}"
