"""The SSE and NDJSON decoders: framing rules and independence from how bytes are split."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from provider_replay import load_fixture

from geppetto.engines.providers.sse import NDJSONDecoder, SSEDecoder, SSEEvent

BODY = (
    ": keep-alive\r\n\r\n"
    'event: message\r\ndata: {"text": "h\u00e9llo \u2603"}\r\n\r\n'
    "data: line one\ndata:line two\n\n"
    "id: 7\rretry: 100\rdata: cr only\r\r"
    'data: {"last": true}'  # no trailing blank line
).encode()


def decode(body: bytes, cuts: list[int], **options: bool) -> list[SSEEvent]:
    decoder = SSEDecoder(**options)
    events: list[SSEEvent] = []
    start = 0
    for cut in sorted(set(cuts)):
        events += decoder.feed(body[start:cut])
        start = cut
    events += decoder.feed(body[start:])
    return events + decoder.close()


def test_framing_rules() -> None:
    events = decode(BODY, [])
    assert events == [
        ("message", '{"text": "h\u00e9llo \u2603"}'),
        ("", "line one\nline two"),
        ("", "cr only"),
        ("", '{"last": true}'),
    ]


@given(st.lists(st.integers(min_value=0, max_value=len(BODY)), max_size=12))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    assert decode(BODY, cuts) == decode(BODY, [])


@given(st.lists(st.integers(min_value=0, max_value=4000), max_size=8))
def test_recorded_crlf_fixture_any_split(cuts: list[int]) -> None:
    body = load_fixture("gemini/gemini20_text_alt_sse.sse").body
    assert decode(body, cuts) == decode(body, [])
    assert len(decode(body, [])) == 3


def test_comments_are_counted_as_activity() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n") == []
    assert decoder.comments == 2


def test_raw_json_lines_are_collected_until_complete() -> None:
    body = b'data: {"a": 1}\r\n\r\n{\n  "error": {\n    "code": 503\n  }\n}\n'
    assert decode(body, [], raw_json=True) == [
        ("", '{"a": 1}'),
        ("raw", '{\n  "error": {\n    "code": 503\n  }\n}'),
    ]
    assert decode(body, [3, 25, 30], raw_json=True) == decode(body, [], raw_json=True)


@given(st.lists(st.integers(min_value=0, max_value=60), max_size=6))
def test_ndjson_any_split(cuts: list[int]) -> None:
    body = b'{"a":1}\n\n{"b":"\xc3\xa9"}\n{"c":3}'
    decoder = NDJSONDecoder()
    lines: list[bytes] = []
    start = 0
    for cut in sorted(set(cuts)):
        lines += decoder.feed(body[start:cut])
        start = cut
    lines += decoder.feed(body[start:]) + decoder.close()
    assert lines == [b'{"a":1}', b'{"b":"\xc3\xa9"}', b'{"c":3}']
