"""``python -m geppetto``: the same as the ``geppetto`` command."""

import sys

from geppetto.cli import main

sys.exit(main())
