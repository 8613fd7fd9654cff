"""``serve/`` sits beside ``cli/``, not above it: importing the server never loads the CLI."""

from __future__ import annotations

import subprocess
import sys


def test_serve_and_web_chat_do_not_import_the_cli() -> None:
    code = (
        "import sys, geppetto.serve, geppetto.serve.web\n"
        "print(sorted(m for m in sys.modules if m == 'geppetto.cli' or m.startswith('geppetto.cli.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
