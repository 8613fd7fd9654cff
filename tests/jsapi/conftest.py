"""Fixtures for the ``require("geppetto")`` tests: a runtime with the module and lab globals.

``js.run(source)`` runs a script (``g`` is the module, ``report(v)`` hands values to Python) and
returns what it reported; a failing script raises :class:`JSScriptError`. ``js.eval(expr)``
evaluates an expression in the same runtime.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from geppetto.js import JSRuntime
from geppetto.js.module import GeppettoHost, install_geppetto_module
from geppetto.js.module.lab import install_lab_globals
from geppetto.tools import ToolRegistry, tool

PRELUDE = "const g = require('geppetto');\n"

REPO = Path(__file__).resolve().parents[2]
# The reference's current declarations, examples and fixtures: ``shared/`` lies beside the
# repository (CI lays a copy beside its clone). Read from there, never copied.
REFERENCE_HEAD = REPO.parent / "shared" / "spec" / "reference-head"


def reference_head(relative: str) -> Path:
    """``shared/spec/reference-head/<relative>``; fails saying what is missing when it is not there."""
    path = REFERENCE_HEAD / relative
    assert path.exists(), f"missing from the shared folder: {path} (CI lays ../shared beside its clone)"
    return path


class JSHarness:
    def __init__(self, runtime: JSRuntime, host: GeppettoHost) -> None:
        self.runtime = runtime
        self.host = host
        self.reports: list[Any] = []
        self.console: list[tuple[str, str]] = []
        runtime.set_global("report", self.reports.append)

    def run(self, source: str, *, timeout: float = 30) -> list[Any]:
        self.reports.clear()
        self.runtime.run_script(PRELUDE + textwrap.dedent(source), "test.js", timeout=timeout)
        return list(self.reports)

    def one(self, source: str) -> Any:
        """Run and return the single reported value."""
        values = self.run(source)
        assert len(values) == 1, values
        return values[0]

    def eval(self, code: str) -> Any:
        return self.runtime.eval(PRELUDE.replace("const", "var") + code)


def host_registry() -> ToolRegistry:
    @tool
    def go_double(n: int) -> dict[str, int]:
        """Double a number."""
        return {"value": 2 * n}

    @tool
    def go_concat(a: str, b: str) -> dict[str, str]:
        """Concatenate."""
        return {"value": a + b}

    return ToolRegistry([go_double, go_concat])


def make_harness(**options: Any) -> tuple[JSRuntime, JSHarness]:
    console: list[tuple[str, str]] = []
    runtime = JSRuntime(on_console=lambda level, text: console.append((level, text)))
    host = install_geppetto_module(runtime, **options)
    install_lab_globals(runtime, environ={"GEPPETTO_TEST": "1"})
    harness = JSHarness(runtime, host)
    harness.console = console
    return runtime, harness


@pytest.fixture
def js(monkeypatch: pytest.MonkeyPatch) -> Iterator[JSHarness]:
    monkeypatch.delenv("PINOCCHIO_PROFILE", raising=False)
    runtime, harness = make_harness(host_tools=host_registry())
    yield harness
    runtime.close()
