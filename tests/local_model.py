"""Test modules that need the embedded local model call :func:`require_local_model` at import."""

from __future__ import annotations

import pytest

from geppetto.engines.local_model import LocalModelNotInstalled, bundled_model_path, import_runtime


def require_local_model() -> None:
    """Skip the calling module when llama.cpp or the bundled model is missing (CI installs both)."""
    try:
        import_runtime()
        bundled_model_path()
    except LocalModelNotInstalled as exc:  # pragma: no cover - CI installs both
        pytest.skip(f"local model not installed: {exc}", allow_module_level=True)
