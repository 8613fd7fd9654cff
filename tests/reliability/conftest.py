"""Fixtures shared by the reliability tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.jsapi.conftest import JSHarness, make_harness


@pytest.fixture
def js() -> Iterator[JSHarness]:
    """A fresh runtime with ``require("geppetto")`` per test, closed afterwards (the fuzz tests
    keep their own module-wide one)."""
    runtime, harness = make_harness()
    yield harness
    runtime.close()
