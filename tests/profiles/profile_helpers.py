"""Helpers for the profile tests: example files, file writers, a CLI runner.

Nothing here reads the real home directory or the real environment: every resolution gets an
explicit ``home`` and ``environ``, and CLI subprocesses get a scrubbed environment.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

# The example from the reference (seed-system.md §7.1), byte for byte as users have it.
PINOCCHIO_EXAMPLE = """\
gemini-2.5-flash-lite:
  ai-chat:
    ai-engine: gemini-2.5-flash-lite
    ai-api-type: gemini
mixtral:
  openai-chat:
    openai-base-url: https://api.endpoints.anyscale.com/v1
    openai-api-key: XXX
  ai-chat:
    ai-engine: mistralai/Mixtral-8x7B-Instruct-v0.1
    ai-api-type: openai
"""

CANARY = "canary-7f3a9c1e5b2d4f60-secret"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def pinocchio_profiles(home: Path) -> Path:
    return home / ".config" / "pinocchio" / "profiles.yaml"


def geppetto_profiles(home: Path) -> Path:
    return home / ".config" / "geppetto" / "profiles.yaml"


def geppetto_config(home: Path) -> Path:
    return home / ".config" / "geppetto" / "config.yaml"


def pinocchio_config(home: Path) -> Path:
    return home / ".config" / "pinocchio" / "config.yaml"


def _cli_prefix() -> list[str]:
    """``python -m geppetto`` once ``profiles`` is registered there, else the commands' own entry."""
    from geppetto.cli import build_parser

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(["profiles", "list"])
    except SystemExit:
        return [sys.executable, "-m", "geppetto.cli.profile_commands"]
    return [sys.executable, "-m", "geppetto"]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    if "GEPPETTO_STORE" in os.environ:
        env["GEPPETTO_STORE"] = os.environ["GEPPETTO_STORE"]
    env.update(extra)
    return env


RunCli = Callable[..., subprocess.CompletedProcess[str]]


def make_runner(home: Path) -> RunCli:
    prefix = _cli_prefix()

    def run(
        *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *args],
            env=clean_env(home, **(env or {})),
            cwd=cwd or home,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run
