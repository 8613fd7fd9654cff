"""Sinks that declare ``event_types`` get those events; publishers skip building the rest."""

from __future__ import annotations

import asyncio

from geppetto.engines import EchoEngine
from geppetto.events.canonical import RunFinishedEvent, RunStartedEvent, TextSegmentStartedEvent
from geppetto.events.sinks import wanted_types
from geppetto.events.types import Event, FinalEvent, PartialEvent, StartEvent
from geppetto.session import EngineBuilder, Session
from geppetto.turns import Block, Turn


class Recorder:
    def __init__(self, event_types: frozenset[type] | None = None) -> None:
        if event_types is not None:
            self.event_types = event_types
        self.events: list[Event] = []

    def publish(self, event: Event) -> None:
        self.events.append(event)


def _run(*sinks: Recorder) -> Turn:
    seed = Turn([Block.user("hi")])
    return asyncio.run(Session(EchoEngine("one two three")).arun(seed, sinks=sinks))


def test_a_sink_for_deltas_gets_only_deltas_and_the_turn_is_unchanged() -> None:
    deltas = Recorder(frozenset({PartialEvent}))
    turn = _run(deltas)
    assert [type(e) for e in deltas.events] == [PartialEvent] * 3
    assert [e.delta for e in deltas.events] == ["one", " two", " three"]  # type: ignore[attr-defined]
    assert turn.blocks[-1].text == "one two three"
    # provider, model, stop reason, inference result...: written alike with or without events
    assert set(turn.metadata) == set(_run(Recorder()).metadata)


def test_one_sink_without_a_declaration_means_every_event_is_built() -> None:
    deltas, everything = Recorder(frozenset({PartialEvent})), Recorder()
    _run(deltas, everything)
    kinds = {type(e) for e in everything.events}
    assert {RunStartedEvent, StartEvent, TextSegmentStartedEvent, FinalEvent, RunFinishedEvent} <= kinds
    assert deltas.events == everything.events  # the router hands both sinks every event


def test_declared_types_are_unioned() -> None:
    assert wanted_types([Recorder(frozenset({PartialEvent})), Recorder(frozenset({FinalEvent}))]) == {
        PartialEvent,
        FinalEvent,
    }
    assert wanted_types([Recorder(frozenset({PartialEvent})), Recorder()]) is None
    assert wanted_types([]) == frozenset()


def test_a_sink_for_run_events_sees_the_run_lifecycle_only() -> None:
    runs = Recorder(frozenset({RunStartedEvent, RunFinishedEvent}))
    builder = EngineBuilder(EchoEngine("x")).with_sink(runs)
    asyncio.run(Session(builder).arun(Turn([Block.user("hi")])))
    assert [type(e) for e in runs.events] == [RunStartedEvent, RunFinishedEvent]


def test_seed_view_sinks_declare_the_seed_classes_and_see_what_they_saw_before() -> None:
    from geppetto.events import CallbackSink, CollectingSink, EventType
    from geppetto.events.canonical import TextSegmentFinishedEvent

    seed, core = CollectingSink(), CollectingSink(view="core")
    assert seed.event_types is not None and TextSegmentFinishedEvent not in seed.event_types
    assert {PartialEvent, FinalEvent, StartEvent} <= seed.event_types
    assert core.event_types is None
    assert CallbackSink(print, types=[EventType.PARTIAL]).event_types == {PartialEvent}

    _run(seed)  # alone: the run builds no lifecycle event
    _run(core)  # every event built
    as_seen = [(type(e), getattr(e, "delta", None)) for e in seed.events]
    assert as_seen == [(type(e), getattr(e, "delta", None)) for e in core.events if e.seed]
    assert len(core.events) > len(seed.events)
