"""The embedded local model streams through the accumulator: its reference view is well formed."""

from __future__ import annotations

from tests.local_model import require_local_model

from geppetto.engines.base import RunContext
from geppetto.engines.local import create_local_engine
from geppetto.events import CollectingSink, check_correlation, reference_view
from geppetto.turns import Turn

require_local_model()


async def test_local_model_reference_events() -> None:
    engine = create_local_engine("", temperature=0.0, max_tokens=8)
    core = CollectingSink(view="core")
    ctx = RunContext(session_id="s", inference_id="run-1", turn_id="t", sink=core)
    out = await engine.run(Turn.builder().user("Say hello.").build(), ctx)
    payloads = [p for event in core.events for p in reference_view(event)]
    for payload in payloads:
        check_correlation(payload)
    names = [p["type"] for p in payloads]
    assert names[:3] == ["provider-call-started", "text-segment-started", "text-delta"]
    assert names[-2:] == ["text-segment-finished", "provider-call-finished"]
    deltas = [p for p in payloads if p["type"] == "text-delta"]
    assert deltas[-1]["text"] == "".join(d["delta"] for d in deltas) == out.assistant_text()
    assert payloads[-1]["finishClass"] in ("completed", "max_tokens")
    assert payloads[0]["correlation"]["provider_call_id"] == "local:run-1:provider-call:0"
