"""examples/mcp runs as the README says: the Python and the JS example, offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def test_python_example() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mcp" / "mcp_tools.py")],
        capture_output=True, text=True, timeout=90, check=False, env=ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "tools: calc_add, calc_word_count" in result.stdout
    assert '"words":4' in result.stdout


def test_js_example_from_a_checkout_with_its_venv(tmp_path: Path) -> None:
    # The example names .venv/bin/python relative to the repository root, as the README installs it.
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1], target_is_directory=True)
    result = subprocess.run(
        [sys.executable, "-m", "geppetto", "js", "run", "examples/mcp/mcp_tools.js", "--no-store"],
        capture_output=True, text=True, timeout=90, check=False, env=ENV, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "tools: calc_add" in result.stdout and "42" in result.stdout
    assert "PASS: mcp_tools.js" in result.stdout
