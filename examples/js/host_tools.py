"""Host tools for examples/js/host_tools.js (``geppetto js run --host-tools examples/js/host_tools.py``).

Every ``@geppetto.tool`` function here becomes available to scripts through
``registry.useHostTools()`` (or the reference name ``useGoTools()``). These two mirror the
reference lab's ``go_double`` and ``go_concat``.
"""

import geppetto


@geppetto.tool
def go_double(n: int) -> dict[str, int]:
    """Double a number.

    Args:
        n: the number to double
    """
    return {"value": 2 * n}


@geppetto.tool
def go_concat(a: str, b: str) -> dict[str, str]:
    """Concatenate two strings.

    Args:
        a: first part
        b: second part
    """
    return {"value": a + b}
