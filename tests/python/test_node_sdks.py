"""The official Node SDKs (`openai`, `@anthropic-ai/sdk`, pinned in tests/node/package.json) as
clients of the running gateway: each `tests/node/*.test.mjs` file runs under `node --test` against
this session's gateway and mock, and must pass whole. scripts/test.sh installs the packages
(`npm ci`)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import MOCK_CONTENT, REPO_ROOT

NODE_DIR = REPO_ROOT / "tests" / "node"
FILES = sorted(p.name for p in NODE_DIR.glob("*.test.mjs"))


@pytest.mark.parametrize("test_file", FILES)
def test_node_sdk(stack, test_file):
    node = shutil.which("node")
    assert node, "node is not installed (Node 20+ is needed for the Node SDK tests)"
    assert (NODE_DIR / "node_modules").is_dir(), (
        f"run `npm ci --prefix {NODE_DIR}` first (scripts/test.sh does)")
    env = {**os.environ, "GATEWAY_URL": stack.gateway_url, "MOCK_CONTENT": MOCK_CONTENT}
    run = subprocess.run([node, "--test", "--test-reporter=spec", test_file], cwd=NODE_DIR,
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"node --test {test_file} failed:\n{run.stdout}\n{run.stderr}"
