"""Fixtures for the provider-batch and Ray executor tests (helpers live beside the tests)."""

from __future__ import annotations

import sys
from pathlib import Path

# This directory has no __init__.py; make its helper modules importable by the tests here.
sys.path.insert(0, str(Path(__file__).resolve().parent))
