"""Events as JS listeners see them.

The seed ``start()`` handle payloads (the 2026-02-20 RunHandle shape, spec §9) are
``geppetto.events.seed_view``; the reference's ``GeppettoEvent`` payloads are
``geppetto.events.reference_view``. This module only adapts them to the JS run handle.
"""

from __future__ import annotations

from typing import Any

from geppetto.events.types import Event, EventType
from geppetto.events.views import reference_types, reference_view

SEED_NAMES = frozenset(kind.value for kind in EventType)
_DELTAS = frozenset(("text-delta", "reasoning-delta"))


def reference_payloads(
    event: Event, wanted: set[str] | frozenset[str], delivered: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """The reference payloads of ``event`` whose type is in ``wanted`` (rendered only if any is).

    With ``delivered`` (segment id -> last delta sequence the JS side received), a delta that
    directly follows one JS already has is sent without ``text``; the handle's JS rebuilds it
    (previous text + delta), so a long stream does not cross the bridge as O(n^2) text.
    """
    if not wanted:
        return []
    names = reference_types(event)
    if wanted.isdisjoint(names):
        return []
    if delivered is not None and len(names) == 1 and names[0] in _DELTAS:
        corr = event.corr
        sequence = getattr(event, "sequence", 0)
        if corr is not None and corr.segment_id and sequence:
            lean = delivered.get(corr.segment_id, 0) == sequence - 1
            delivered[corr.segment_id] = sequence
            return reference_view(event, delta_text=not lean)
    return [payload for payload in reference_view(event) if payload["type"] in wanted]

