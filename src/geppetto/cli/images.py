"""``--images FILE|URL`` (``geppetto infer``) and ``/attach`` (``geppetto chat``): image arguments
to the payload dicts of :mod:`geppetto.turns.images`.

Like pinocchio's ``--images`` (a file-list flag), the option repeats and also takes a
comma-separated list; a ``data:`` URL (which contains a comma) and an existing file whose name
has a comma are kept whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from geppetto.errors import ConfigError, TurnError


def split_image_args(values: Iterable[str] | None) -> list[str]:
    """The individual image arguments of repeated and comma-separated ``--images`` values."""
    specs: list[str] = []
    for value in values or ():
        value = value.strip()
        if not value:
            continue
        whole = value.lower().startswith("data:") or "," not in value
        if whole or os.path.exists(os.path.expanduser(value)):
            specs.append(value)
        else:
            specs.extend(part.strip() for part in value.split(",") if part.strip())
    return specs


def load_image_args(values: Iterable[str] | None, flag: str = "--images") -> list[dict[str, Any]]:
    """Read every image argument now, so a bad file stops the command before any inference."""
    from geppetto.turns.images import load_image

    images = []
    for spec in split_image_args(values):
        try:
            images.append(load_image(spec))
        except TurnError as exc:
            raise ConfigError(f"{flag}: {exc}") from None
    return images
