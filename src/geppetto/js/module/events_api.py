"""Events as JS listeners see them.

The seed ``start()`` handle payloads (the 2026-02-20 RunHandle shape, spec §9) are
``geppetto.events.seed_view``; the reference's ``GeppettoEvent`` payloads are
``geppetto.events.reference_view``. This module only adapts them to the JS run handle.
"""

from __future__ import annotations

from typing import Any

from geppetto.events.types import Event, EventType
from geppetto.events.views import reference_types, reference_view, seed_view

SEED_NAMES = frozenset(kind.value for kind in EventType)


def event_payload(event: Event) -> dict[str, Any]:
    """The seed listener payload for ``event`` (seed-view events only)."""
    payload = seed_view(event)
    if payload is None:
        raise ValueError(f"{event.type.value} events have no seed payload")
    return payload


def reference_payloads(event: Event, wanted: set[str] | frozenset[str]) -> list[dict[str, Any]]:
    """The reference payloads of ``event`` whose type is in ``wanted`` (rendered only if any is)."""
    if not wanted or wanted.isdisjoint(reference_types(event)):
        return []
    return [payload for payload in reference_view(event) if payload["type"] in wanted]
