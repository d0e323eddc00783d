#!/usr/bin/env bash
# Runs the whole test suite: Rust unit and integration tests (cargo-nextest), then the
# compatibility tests that drive the real gateway binary with the official Python SDKs.
# Works on a fresh machine: installs what it needs (nextest, a Python venv with the SDKs, a
# PostgreSQL server for the config-store tests).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "== installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

venv="$root/tests/python/.venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating the Python venv for the SDK tests"
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt

# LangChain and LiteLLM need an older openai than the SDK tests pin: their own venv.
frameworks="$root/tests/python/.venv-frameworks"
if [ ! -x "$frameworks/bin/python" ]; then
  echo "== creating the Python venv for the framework tests"
  python3 -m venv "$frameworks"
fi
"$frameworks/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r tests/python/requirements-frameworks.txt

# The config-store tests run against a real PostgreSQL.
scripts/ensure-postgres.sh

echo "== installing the Node SDKs"
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error

echo "== building the gateway and the mock"
cargo build --locked -p asbru -p asbru-mock

echo "== Rust tests"
cargo nextest run --locked --workspace --profile ci
cargo test --locked --doc --workspace --quiet

echo "== the library example runs"
cargo run --locked --quiet -p asbru-engine --example library
cargo run --locked --quiet -p asbru-engine --example plugin

echo "== Python SDK tests"
ASBRU_BIN="$CARGO_TARGET_DIR/debug/asbru" ASBRU_MOCK_BIN="$CARGO_TARGET_DIR/debug/asbru-mock" \
  "$venv/bin/python" -m pytest -q tests/python

echo "== LangChain and LiteLLM as clients"
ASBRU_BIN="$CARGO_TARGET_DIR/debug/asbru" ASBRU_MOCK_BIN="$CARGO_TARGET_DIR/debug/asbru-mock" \
  "$frameworks/bin/python" -m pytest -q tests/python/test_langchain.py tests/python/test_litellm.py
