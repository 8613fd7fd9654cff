"""Correlation ids and the core lifecycle events' JSON form (after the reference's
``correlation_builders_test.go`` and ``canonical_events_test.go``)."""

from __future__ import annotations

import pytest

from geppetto.events import (
    CanonicalEvent,
    Correlation,
    EventMetadata,
    ProviderCallFinishedEvent,
    ProviderCallMetadataUpdatedEvent,
    ReasoningSegmentFinishedEvent,
    ReasoningSegmentStartedEvent,
    RunFailedEvent,
    RunFinishedEvent,
    RunStartedEvent,
    RunStoppedEvent,
    TextDeltaEvent,
    TextSegmentFinishedEvent,
    TextSegmentStartedEvent,
    ToolCallArgumentsDeltaEvent,
    ToolCallRequestedEvent,
    ToolCallStartedEvent,
    Usage,
    check_correlation,
    event_from_dict,
    reference_view,
)
from geppetto.events.correlation import (
    SEGMENT_TEXT,
    provider_call_correlation,
    run_correlation,
    segment_correlation,
    tool_correlation,
)


def test_provider_call_correlation_names_the_call_by_provider_run_and_index() -> None:
    corr = provider_call_correlation("claude", "inference-1", 3)
    assert corr.run_id == "inference-1"
    assert corr.provider_call_id == "claude:inference-1:provider-call:3"


def test_provider_call_correlation_needs_provider_and_run() -> None:
    assert provider_call_correlation("", "inference-1", 0).provider_call_id == ""
    assert provider_call_correlation("openai", " ", 0).provider_call_id == ""


def test_segment_correlation_keeps_the_parent_and_names_the_segment() -> None:
    parent = provider_call_correlation("openai", "inference-1", 1)
    segment = segment_correlation(parent, "item_1", 2, SEGMENT_TEXT)
    assert (segment.run_id, segment.provider_call_id) == (parent.run_id, parent.provider_call_id)
    assert segment.segment_id == "openai:inference-1:provider-call:1:item_1:2:text"
    assert segment_correlation(parent, "", 0, SEGMENT_TEXT).segment_id == (
        "openai:inference-1:provider-call:1:segment:0:text"
    )
    # no provider call, no segment id (ids are explicit, never invented)
    assert segment_correlation(Correlation(run_id="r"), "", 0, SEGMENT_TEXT).segment_id == ""


def test_run_and_tool_correlation() -> None:
    run = run_correlation(" s1 ", "r1", "t1")
    assert run.to_dict() == {"session_id": "s1", "run_id": "r1", "turn_id": "t1"}
    tool = tool_correlation(run, " call_1 ")
    assert tool.to_dict() == {"session_id": "s1", "run_id": "r1", "turn_id": "t1", "tool_call_id": "call_1"}


def test_correlation_json_leaves_out_empty_ids() -> None:
    assert Correlation().to_dict() == {}
    assert Correlation(run_id="r", segment_id="x").to_dict() == {"run_id": "r", "segment_id": "x"}


META = EventMetadata(message_id="m1", session_id="session-1", inference_id="inference-1", turn_id="turn-1")
CORR = Correlation("session-1", "run-1", "turn-1", "provider-call-1", "segment-1", "tool-1")
USAGE = Usage(input_tokens=10, output_tokens=20, cache_creation_input_tokens=1, cache_read_input_tokens=2)

CANONICAL: list[CanonicalEvent] = [
    RunStartedEvent(META, CORR, "prompt"),
    RunFinishedEvent(META, CORR, "completed"),
    RunStoppedEvent(META, CORR, "cancelled"),
    RunFailedEvent(META, CORR, "boom"),
    ProviderCallMetadataUpdatedEvent(META, CORR, "tool_use", "", USAGE),
    ProviderCallFinishedEvent(META, CORR, "tool_use", "tool_calls_pending", USAGE, 42, True),
    TextSegmentStartedEvent(META, CORR, "assistant"),
    TextDeltaEvent(META, CORR, "hello", "hello", 1),
    TextSegmentFinishedEvent(META, CORR, "hello", "content_block_stop"),
    ReasoningSegmentStartedEvent(META, CORR, "provider"),
    ReasoningSegmentFinishedEvent(META, CORR, "why", "done", "summary"),
    ToolCallStartedEvent(META, CORR, "tool-1", "sql_doc"),
    ToolCallArgumentsDeltaEvent(META, CORR, "tool-1", '{"a":', '{"a":', 1),
    ToolCallRequestedEvent(META, CORR, "tool-1", "sql_doc", '{"a":1}'),
]


@pytest.mark.parametrize("event", CANONICAL, ids=lambda e: e.type.value)
def test_lifecycle_events_round_trip_with_their_correlation(event: CanonicalEvent) -> None:
    raw = event.to_dict()
    assert raw["correlation"] == CORR.to_dict()
    decoded = event_from_dict(raw)
    assert type(decoded) is type(event)
    assert decoded == event
    assert decoded.corr == CORR
    assert decoded.seed is False
    for payload in reference_view(decoded):
        check_correlation(payload)


def test_reasoning_source_survives_the_round_trip() -> None:
    event = ReasoningSegmentFinishedEvent(META, CORR, "why", "done", "summary")
    decoded = event_from_dict(event.to_dict())
    assert isinstance(decoded, ReasoningSegmentFinishedEvent)
    assert decoded.source == "summary"


def test_unknown_types_are_refused_with_the_known_ones_named() -> None:
    with pytest.raises(ValueError, match="run-started"):
        event_from_dict({"type": "no-such-event"})


@pytest.mark.parametrize(
    ("payload", "missing"),
    [
        ({"type": "text-delta", "correlation": {"run_id": "r", "provider_call_id": "p"}}, "segment_id"),
        ({"type": "provider-call-finished", "correlation": {"run_id": "r"}}, "provider_call_id"),
        ({"type": "tool-call-requested", "correlation": {"run_id": "r"}}, "tool_call_id"),
        ({"type": "text-delta", "correlation": {"run_id": "r", "segment_id": "s"}}, "provider_call_id"),
        ({"type": "run-finished"}, "run_id"),
    ],
)
def test_check_correlation_rejects_missing_ids(payload: dict[str, object], missing: str) -> None:
    with pytest.raises(ValueError, match=f"event {payload['type']} missing {missing}"):
        check_correlation(payload)


def test_check_correlation_ignores_uncorrelated_types() -> None:
    check_correlation({"type": "log", "level": "info", "message": "x"})
