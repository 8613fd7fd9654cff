"""Provider batch APIs (--provider-batch) against loopback servers with the documented shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from batch_servers import AnthropicBatchServer, OpenAIBatchServer

from geppetto.batch.provider import (
    ProviderBatchOutcome,
    ProviderBatchProgress,
    ProviderBatchRequest,
    run_provider_batch,
)
from geppetto.engines.providers import ProviderEngine, create_provider_engine
from geppetto.settings import Settings, apply_fields
from geppetto.turns.keys import BlockMetaKeys, TurnMetaKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn

KEY = "sk-test-BATCHSECRET0123456789"


_ENGINES: list[ProviderEngine] = []


@pytest.fixture(autouse=True)
async def _close_engines() -> AsyncIterator[None]:
    yield
    while _ENGINES:
        await _ENGINES.pop().aclose()


def engine(api_type: str, base_url: str, model: str) -> ProviderEngine:
    values = {
        "ai-api-type": api_type,
        "ai-engine": model,
        f"{api_type}-base-url": base_url,
        f"{api_type}-api-key": KEY,
        "max-retries": 0,
    }
    built = create_provider_engine(apply_fields(Settings(), values), environ={})
    _ENGINES.append(built)
    return built


def turn(text: str, system: str = "") -> Turn:
    blocks = [Block.system(system)] if system else []
    return Turn(blocks=[*blocks, Block.user(text)])


def answer(outcome: ProviderBatchOutcome) -> str:
    assert outcome.turn is not None, outcome.error
    return "".join(
        str(block.payload.get("text") or "")
        for block in outcome.turn.blocks
        if block.kind is BlockKind.LLM_TEXT
    )


async def collect(
    items: list[ProviderBatchRequest], **options: Any
) -> tuple[dict[str, ProviderBatchOutcome], list[ProviderBatchProgress]]:
    progress: list[ProviderBatchProgress] = []
    out: dict[str, ProviderBatchOutcome] = {}
    async for outcome in run_provider_batch(items, poll_interval=0, on_progress=progress.append, **options):
        assert outcome.id not in out, f"{outcome.id} reported twice"
        out[outcome.id] = outcome
    return out, progress


@pytest.fixture
async def openai_server() -> AsyncIterator[OpenAIBatchServer]:
    async with OpenAIBatchServer() as server:
        yield server


@pytest.fixture
async def anthropic_server() -> AsyncIterator[AnthropicBatchServer]:
    async with AnthropicBatchServer() as server:
        yield server


async def test_openai_chat_batch_maps_results_back_to_ids(openai_server: OpenAIBatchServer) -> None:
    chat = engine("openai", openai_server.base_url + "/v1", "gpt-4o-mini")
    items = [
        ProviderBatchRequest("a", turn("hello", system="be brief"), chat),
        ProviderBatchRequest("b/with spaces", turn("please FAIL"), chat),
        ProviderBatchRequest("c", turn("call a TOOL"), chat),
        ProviderBatchRequest("d", turn("world"), chat),
    ]
    out, progress = await collect(items)
    assert sorted(out) == ["a", "b/with spaces", "c", "d"]
    assert answer(out["a"]) == "echo: hello" and answer(out["d"]) == "echo: world"
    assert out["a"].turn is not None
    result = TurnMetaKeys.INFERENCE_RESULT.get(out["a"].turn.metadata)
    assert result["finish_class"] == "completed" and result["provider"] == "openai"
    assert result["usage"]["input_tokens"] == 5 and result["usage"]["output_tokens"] == 3
    assert result["request_id"] == "req_3"  # answered last: the server reverses the order
    error = out["b/with spaces"].error
    assert error is not None and "HTTP 400" in str(error) and "cannot answer 'please FAIL'" in str(error)
    assert KEY not in str(error)
    tool_turn = out["c"].turn
    assert tool_turn is not None
    [call] = [b for b in tool_turn.blocks if b.kind is BlockKind.TOOL_CALL]
    assert call.payload["name"] == "lookup" and call.payload["args"] == {"q": 1}
    assert TurnMetaKeys.INFERENCE_RESULT.get(tool_turn.metadata)["finish_class"] == "tool_calls_pending"
    # What went over the wire: one JSONL upload of non-streaming chat bodies, one batch.
    [upload_id] = [file_id for file_id in openai_server.files if file_id == "file_0001"]
    lines = [orjson.loads(line) for line in openai_server.files[upload_id].splitlines()]
    assert [line["url"] for line in lines] == ["/v1/chat/completions"] * 4
    assert all("stream" not in line["body"] and "stream_options" not in line["body"] for line in lines)
    assert lines[0]["body"]["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
    ]
    assert len({line["custom_id"] for line in lines}) == 4
    [batch] = openai_server.batches.values()
    assert batch.endpoint == "/v1/chat/completions"
    # Progress: reported on every poll, ending with every request counted.
    assert len(progress) >= 2 and progress[-1].ended
    assert (progress[-1].total, progress[-1].succeeded, progress[-1].failed) == (4, 3, 1)
    assert not progress[0].ended and progress[0].total == 4


async def test_openai_responses_batch_uses_the_responses_endpoint(openai_server: OpenAIBatchServer) -> None:
    responses = engine("openai-responses", openai_server.base_url + "/v1", "gpt-4o-mini")
    out, _ = await collect([ProviderBatchRequest("x", turn("hi"), responses)])
    assert answer(out["x"]) == "echo: hi"
    [batch] = openai_server.batches.values()
    assert batch.endpoint == "/v1/responses"
    assert batch.requests[0]["body"]["input"][0]["role"] == "user"


async def test_openai_batch_that_fails_validation_fails_every_item(openai_server: OpenAIBatchServer) -> None:
    openai_server.fail_validation = True
    chat = engine("openai", openai_server.base_url + "/v1", "gpt-4o-mini")
    out, progress = await collect([ProviderBatchRequest(i, turn(i), chat) for i in ("p", "q")])
    assert sorted(out) == ["p", "q"]
    for outcome in out.values():
        assert outcome.turn is None and outcome.error is not None
        assert "line 1 is not valid" in str(outcome.error) and outcome.batch_id in str(outcome.error)
    assert progress[-1].batches[0].status == "failed"


async def test_anthropic_batch(anthropic_server: AnthropicBatchServer) -> None:
    claude = engine("claude", anthropic_server.base_url, "claude-haiku-4-5")
    items = [
        ProviderBatchRequest("one", turn("hello", system="be brief"), claude),
        ProviderBatchRequest("two", turn("FAIL now"), claude),
        ProviderBatchRequest("three", turn("THINK then use a TOOL"), claude),
        ProviderBatchRequest("id with ünïcode and / slashes", turn("world"), claude),
    ]
    out, progress = await collect(items)
    assert len(out) == 4
    assert answer(out["one"]) == "echo: hello"
    assert answer(out["id with ünïcode and / slashes"]) == "echo: world"
    error = out["two"].error
    assert error is not None and "invalid_request_error" in str(error) and "cannot answer" in str(error)
    three = out["three"].turn
    assert three is not None
    kinds = [block.kind for block in three.blocks[1:]]
    assert kinds == [BlockKind.REASONING, BlockKind.TOOL_CALL]
    reasoning = three.blocks[1]
    assert BlockMetaKeys.CLAUDE_ORIGINAL_CONTENT.get(reasoning.metadata) == [
        {"type": "thinking", "thinking": "let me see", "signature": "sig-123"}
    ]
    assert three.blocks[2].payload["args"] == {"q": 1}
    result = TurnMetaKeys.INFERENCE_RESULT.get(three.metadata)
    assert result["stop_reason"] == "tool_use" and result["finish_class"] == "tool_calls_pending"
    [batch] = anthropic_server.batches.values()
    first = batch.requests[0]
    assert first["params"]["system"] == "be brief" and "stream" not in first["params"]
    assert progress[-1].ended and (progress[-1].succeeded, progress[-1].failed) == (3, 1)


async def test_resume_polls_the_submitted_batch_instead_of_resubmitting(
    anthropic_server: AnthropicBatchServer, tmp_path: Path
) -> None:
    claude = engine("claude", anthropic_server.base_url, "claude-haiku-4-5")
    state = tmp_path / "out.jsonl.provider-batch.json"
    items = [ProviderBatchRequest(i, turn(i), claude) for i in ("r1", "r2", "r3")]

    # First run: stopped after the first poll (like a kill while the batch is in progress).
    def stop(progress: ProviderBatchProgress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        async for _ in run_provider_batch(items, poll_interval=0, on_progress=stop, state_path=state):
            pass
    assert len(anthropic_server.batches) == 1 and state.exists()
    [batch_id] = anthropic_server.batches
    assert anthropic_server.batches[batch_id].status == "in_progress"  # left running: the state has it
    assert orjson.loads(state.read_bytes())["batches"][0]["batch_id"] == batch_id

    # Second run: r1 was already written by the caller, so only r2 and r3 are asked for.
    out, _ = await collect(items[1:], state_path=state)
    assert sorted(out) == ["r2", "r3"] and answer(out["r3"]) == "echo: r3"
    assert len(anthropic_server.batches) == 1  # nothing resubmitted
    assert all(o.batch_id == batch_id for o in out.values())
    assert not state.exists()


async def test_stopping_without_a_state_file_cancels_the_provider_batch(
    openai_server: OpenAIBatchServer,
) -> None:
    chat = engine("openai", openai_server.base_url + "/v1", "gpt-4o-mini")
    openai_server.polls = 100

    def stop(progress: ProviderBatchProgress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        async for _ in run_provider_batch([ProviderBatchRequest("z", turn("z"), chat)], on_progress=stop):
            pass
    [batch] = openai_server.batches.values()
    assert batch.status == "cancelling"
    assert openai_server.paths("POST")[-1] == f"/v1/batches/{batch.id}/cancel"


async def test_items_of_engines_without_a_batch_api_fail_alone(openai_server: OpenAIBatchServer) -> None:
    chat = engine("openai", openai_server.base_url + "/v1", "gpt-4o-mini")
    ollama = engine("ollama", "http://127.0.0.1:9", "llama3")
    items = [ProviderBatchRequest("o", turn("x"), ollama), ProviderBatchRequest("c", turn("y"), chat)]
    out, _ = await collect(items)
    assert answer(out["c"]) == "echo: y"
    error = out["o"].error
    assert error is not None and "has no batch API" in str(error) and "--provider-batch" in str(error)


async def test_mixed_engines_make_one_batch_each(
    openai_server: OpenAIBatchServer, anthropic_server: AnthropicBatchServer
) -> None:
    chat = engine("openai", openai_server.base_url + "/v1", "gpt-4o-mini")
    claude = engine("claude", anthropic_server.base_url, "claude-haiku-4-5")
    items = [ProviderBatchRequest(f"i{n}", turn(f"t{n}"), chat if n % 2 else claude) for n in range(6)]
    out, progress = await collect(items)
    assert {key: answer(value) for key, value in out.items()} == {f"i{n}": f"echo: t{n}" for n in range(6)}
    assert len(openai_server.batches) == 1 and len(anthropic_server.batches) == 1
    assert {batch.provider for batch in progress[-1].batches} == {"openai", "claude"}


async def test_items_are_cut_into_batches_by_count_and_by_size(
    openai_server: OpenAIBatchServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geppetto.batch.provider.openai_batch import OpenAIBatchBackend

    chat = engine("openai", openai_server.base_url + "/v1", "gpt-4o-mini")
    monkeypatch.setattr(OpenAIBatchBackend, "max_requests", 2)
    out, progress = await collect([ProviderBatchRequest(f"n{i}", turn(f"t{i}"), chat) for i in range(5)])
    assert {key: answer(value) for key, value in out.items()} == {f"n{i}": f"echo: t{i}" for i in range(5)}
    assert [len(batch.requests) for batch in openai_server.batches.values()] == [2, 2, 1]
    assert len(progress[-1].batches) == 3 and progress[-1].total == 5

    monkeypatch.setattr(OpenAIBatchBackend, "max_requests", 100)
    monkeypatch.setattr(OpenAIBatchBackend, "max_bytes", 700)  # about two of these bodies
    before = len(openai_server.batches)
    out, _ = await collect([ProviderBatchRequest(f"s{i}", turn("x" * 200), chat) for i in range(3)])
    assert len(out) == 3 and all(o.turn is not None for o in out.values())
    sizes = [len(batch.requests) for batch in list(openai_server.batches.values())[before:]]
    assert sum(sizes) == 3 and len(sizes) >= 2


async def test_a_busy_status_read_is_retried_on_the_next_poll(openai_server: OpenAIBatchServer) -> None:
    chat = engine("openai", openai_server.base_url + "/v1", "gpt-4o-mini")
    openai_server.retrieve_statuses = [503, 503]
    out, _ = await collect([ProviderBatchRequest("b", turn("busy"), chat)])
    assert answer(out["b"]) == "echo: busy"


async def test_a_batch_that_is_gone_fails_its_items_and_leaves_the_state(
    openai_server: OpenAIBatchServer, tmp_path: Path
) -> None:
    chat = engine("openai", openai_server.base_url + "/v1", "gpt-4o-mini")
    state = tmp_path / "state.json"
    openai_server.retrieve_statuses = [404]
    out, _ = await collect([ProviderBatchRequest("g", turn("gone"), chat)], state_path=state)
    error = out["g"].error
    assert error is not None and "HTTP 404" in str(error)
    assert out["g"].batch_id in str(error)  # named, so it can be looked up at the provider
    assert not state.exists()  # a re-run submits anew instead of asking for it again


async def test_results_that_cannot_be_downloaded_stay_collectable(
    openai_server: OpenAIBatchServer, tmp_path: Path
) -> None:
    chat = engine("openai", openai_server.base_url + "/v1", "gpt-4o-mini")
    state = tmp_path / "state.json"
    openai_server.content_status = 500
    out, _ = await collect([ProviderBatchRequest("d", turn("down"), chat)], state_path=state)
    error = out["d"].error
    assert error is not None and "HTTP 500" in str(error) and "file storage unavailable" in str(error)
    assert state.exists()  # the batch is done at the provider: a re-run collects it
    openai_server.content_status = None
    out, _ = await collect([ProviderBatchRequest("d", turn("down"), chat)], state_path=state)
    assert answer(out["d"]) == "echo: down"
    assert len(openai_server.batches) == 1 and not state.exists()


async def test_state_records_of_finished_items_are_dropped(
    anthropic_server: AnthropicBatchServer, tmp_path: Path
) -> None:
    claude = engine("claude", anthropic_server.base_url, "claude-haiku-4-5")
    state = tmp_path / "state.json"
    stale = {"provider": "claude", "model": "m", "batch_id": "msgbatch_old", "requests": {"item-0": "done"}}
    state.write_bytes(orjson.dumps({"version": 1, "batches": [stale]}))
    out, _ = await collect([ProviderBatchRequest("new", turn("n"), claude)], state_path=state)
    assert answer(out["new"]) == "echo: n"
    assert not any("msgbatch_old" in path for path in anthropic_server.paths()) and not state.exists()


async def test_a_damaged_state_file_is_refused_with_what_to_do(
    anthropic_server: AnthropicBatchServer, tmp_path: Path
) -> None:
    from geppetto.errors import ConfigError

    claude = engine("claude", anthropic_server.base_url, "claude-haiku-4-5")
    state = tmp_path / "state.json"
    state.write_bytes(b'{"batches": [tru')
    with pytest.raises(ConfigError, match="not a provider batch state file: remove it"):
        await collect([ProviderBatchRequest("x", turn("x"), claude)], state_path=state)
    assert anthropic_server.batches == {}
