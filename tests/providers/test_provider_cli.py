"""``geppetto infer`` against the replay server, one provider family at a time, configured by flags."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import orjson
import pytest
from provider_harness import KEY
from provider_replay import ReplayServer

CLI = [sys.executable, "-c", "import sys; from geppetto.cli import main; sys.exit(main())"]


def _clean_env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("PINOCCHIO_")
    }
    env["HOME"] = env.get("HOME", "/tmp")
    return env


CASES = [
    ("openai", "gpt-4o-mini", "/v1", "openai_chat/geppetto/text_only.sse", "Hello"),
    (
        "openai-responses",
        "gpt-5.5",
        "/v1",
        "openai_responses/responses_gpt55_text_after_tool_result.sse",
        "2,869,461",
    ),
    ("claude", "claude-haiku-4-5", "", "anthropic/anthropic_haiku45_text.sse", "Hello"),
    ("gemini", "gemini-2.5-flash-lite", "", "gemini/gemini20_text_alt_sse.sse", "Paris"),
    ("ollama", "llama3.2", "", "ollama/DOCS_ollama_chat_stream.ndjson", "The"),
]


@pytest.mark.parametrize(("api_type", "model", "path", "fixture", "expected"), CASES)
async def test_infer_with_provider_flags(
    replay: ReplayServer, api_type: str, model: str, path: str, fixture: str, expected: str
) -> None:
    replay.enqueue(fixture)
    args = [
        "infer",
        "hi",
        "--ai-api-type",
        api_type,
        "--ai-engine",
        model,
        f"--{api_type}-base-url",
        replay.base_url + path,
        f"--{api_type}-api-key",
        KEY,
        "--output",
        "json",
    ]
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_clean_env()
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    turn = orjson.loads(stdout)
    texts = [b["payload"].get("text", "") for b in turn["blocks"] if b["kind"] == "llm_text"]
    assert texts and expected in texts[-1]
    assert KEY not in stdout.decode() and KEY not in stderr.decode()
    assert len(replay.requests) == 1
