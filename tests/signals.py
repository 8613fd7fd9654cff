"""Child processes in Ctrl-C tests get the default SIGINT disposition, as under a terminal.

A shell that runs the suite in the background (``cmd &``) makes its children ignore SIGINT, and
Python keeps an ignored SIGINT ignored: without this the tests would check nothing.
"""

from __future__ import annotations

import signal


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
