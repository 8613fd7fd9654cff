"""Which EventEmitter names a reference payload goes to (after the reference's
``TestEventEmitterNamesForPayloadOrderingAndErrorMapping``)."""

from __future__ import annotations

from geppetto.js.module.events_api import emitter_names


def test_every_payload_goes_to_event_first_then_its_type() -> None:
    assert emitter_names({"type": "text-delta"}) == ["event", "text-delta"]
    assert emitter_names({"type": "run-finished"}) == ["event", "run-finished"]


def test_errors_are_emitted_as_inference_error() -> None:
    assert emitter_names({"type": "error"}) == ["event", "inference-error"]


def test_untyped_payloads_only_reach_the_catch_all() -> None:
    assert emitter_names({}) == ["event"]
    assert emitter_names({"type": "event"}) == ["event"]
