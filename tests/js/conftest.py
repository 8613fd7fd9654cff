"""Fixtures for the JS host tests: a runtime whose console lines are captured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from geppetto.js import JSRuntime


class Console:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, level: str, text: str) -> None:
        self.lines.append((level, text))

    def texts(self) -> list[str]:
        return [text for _, text in self.lines]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def rt(console: Console) -> Iterator[JSRuntime]:
    runtime = JSRuntime(on_console=console)
    yield runtime
    runtime.close()
