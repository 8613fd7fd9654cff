"""Running items: :func:`run_item` for one (what any executor calls, a Ray actor included) and
:func:`run` for many with bounded concurrency, as an async iterator of results.

An item's failure is its result (``status: "error"`` and the message), never an exception out of
the batch. Retries are the engines' own policy (``max-retries`` and the SDKs' backoff); the batch
adds rate limits in front of each call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from geppetto.batch.context import BatchConfig, BatchContext
from geppetto.batch.items import BatchItem, Template, parse_item
from geppetto.batch.result import ERROR, BatchResult
from geppetto.cost import turn_cost
from geppetto.engines.tokens import estimate_tokens
from geppetto.errors import GeppettoError
from geppetto.turns.keys import DataKeys, TurnMetaKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Turn
from geppetto.turns.serde import turn_from_dict, turn_to_dict

if TYPE_CHECKING:
    from geppetto.engines.base import Engine
    from geppetto.session import Session

_STRUCTURED_OUTPUT = DataKeys.STRUCTURED_OUTPUT_CONFIG.id
_INFERENCE_RESULT = TurnMetaKeys.INFERENCE_RESULT.id
_LLM_TEXT = BlockKind.LLM_TEXT


def seed_turn(item: BatchItem, ctx: BatchContext) -> Turn:
    """The turn an item starts from: its own turn JSON, or system + prompt; plus the schema."""
    config = ctx.config
    if item.turn is not None:
        turn = turn_from_dict(item.turn)
    else:
        turn = Turn.builder().system(item.system or config.system).user(item.prompt).build()
    if config.schema is not None:
        turn.data[_STRUCTURED_OUTPUT] = {
            "mode": "json_schema",
            "name": config.schema_name,
            "schema": config.schema,
            "strict": True,
        }
    return turn


def _new_text(turn: Turn, before: int) -> str:
    texts = [b.text for b in turn.blocks[before:] if b.kind is _LLM_TEXT and b.text]
    return texts[0] if len(texts) == 1 else "\n".join(texts)


def _inference_result(turn: Turn) -> dict[str, Any]:
    value = turn.metadata.get(_INFERENCE_RESULT)
    return value if isinstance(value, dict) else {}


def _fill(result: BatchResult, turn: Turn, before: int, ctx: BatchContext) -> dict[str, Any]:
    info = _inference_result(turn)
    result.answer = _new_text(turn, before)
    result.finish_class = str(info.get("finish_class") or "unknown")
    usage = info.get("usage")
    result.usage = {k: int(v) for k, v in usage.items()} if isinstance(usage, dict) else None
    result.cost = turn_cost(turn)
    if ctx.config.full:
        result.turn = turn_to_dict(turn)
    return info


def _check_schema(result: BatchResult) -> None:
    result.has_parsed = True
    try:
        result.parsed = orjson.loads(result.answer)
    except orjson.JSONDecodeError as exc:
        result.status = ERROR
        result.error = f"the answer is not the JSON the schema asks for: {exc}"


async def run_item(item: BatchItem, ctx: BatchContext) -> BatchResult:
    """Run one item to its result; every failure is recorded in the result, none raised
    (except cancellation)."""
    result = BatchResult(id=item.id)
    try:
        engine, profile_key = ctx.engine_for(item)
        seed = seed_turn(item, ctx)
    except (GeppettoError, ValueError) as exc:
        result.status, result.error, result.finish_class = ERROR, str(exc), "error"
        return result
    result.profile = None if profile_key == "(default)" else profile_key
    limiter = ctx.limiter(profile_key)
    try:  # create the client now, so the rate-limited slot is spent on the request
        ctx.prepare(engine)
    except Exception as exc:
        result.status, result.finish_class = ERROR, "error"
        result.error = f"cannot create the client: {exc}"
        return result
    # The reservation is the one documented estimate (geppetto.engines.tokens), computed only for
    # a limiter that counts tokens (a local one without a tokens/min limit does not).
    reserved = estimate_tokens(seed) if getattr(limiter, "counts_tokens", True) else 0
    await limiter.acquire(reserved)
    session = _session_class()(ctx.builder(engine, profile_key))
    started = time.perf_counter()
    before = len(seed.blocks)
    try:
        turn = await session.arun(seed)
    except Exception as exc:  # the item's failure, recorded; cancellation still propagates
        result.duration_ms = round((time.perf_counter() - started) * 1000)
        message = str(exc) or type(exc).__name__
        if not isinstance(exc, GeppettoError):
            message = f"unexpected {type(exc).__name__}: {message}"
        result.status, result.error = ERROR, message
        partial = session.latest()
        if partial is not None:
            _fill(result, partial, before, ctx)
        result.finish_class = "error"
        limiter.settle(reserved, result.tokens)
        return result
    result.duration_ms = round((time.perf_counter() - started) * 1000)
    info = _fill(result, turn, before, ctx)
    limiter.settle(reserved, result.tokens)
    extra = info.get("extra")
    headers = extra.get("rate_limits") if isinstance(extra, dict) else None
    if isinstance(headers, dict) and headers:
        limiter.observe({str(k): str(v) for k, v in headers.items()})
    if ctx.config.schema is not None:
        _check_schema(result)
    return result


def _session_class() -> type[Session]:
    """:class:`geppetto.session.Session`, imported once on first use (not with this module)."""
    global _SESSION
    if _SESSION is None:
        from geppetto.session import Session

        _SESSION = Session
    return _SESSION


_SESSION: type[Session] | None = None


def _as_item(
    raw: BatchItem | Mapping[str, Any], index: int, template: Template | None
) -> BatchItem | BatchResult:
    if isinstance(raw, BatchItem):
        return raw
    try:
        return parse_item(dict(raw), f"item {index + 1}", template)
    except ValueError as exc:
        raw_id = raw.get("id") if isinstance(raw, Mapping) else None
        item_id = raw_id if isinstance(raw_id, (str, int)) else f"#{index + 1}"
        return BatchResult(id=item_id, status=ERROR, error=str(exc), finish_class="error")


async def run(
    items: Iterable[BatchItem | Mapping[str, Any]],
    *,
    config: BatchConfig | None = None,
    engine: Engine | None = None,
    context: BatchContext | None = None,
    concurrency: int = 8,
    ordered: bool = False,
    skip: Collection[str] = (),
    template: str | None = None,
) -> AsyncGenerator[BatchResult, None]:
    """Run ``items`` with at most ``concurrency`` in flight; yield each result as it completes
    (``ordered=True``: in input order). Items may be :class:`BatchItem` or mappings in the input
    format (``{"id": ..., "prompt": ...}``); an invalid mapping yields an error result. ``skip``
    holds id keys (``str(id)``) already done. Closing the iterator early cancels the items in
    flight. Use ``context`` to share engines and limiters between calls, else ``config`` and/or
    ``engine`` make a new one (closed at the end)."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    own = context is None
    ctx = context or BatchContext(config, engine=engine)
    tpl = Template(template) if template else None
    source = enumerate(items)
    done: asyncio.Queue[tuple[int, BatchResult | None] | BaseException | None] = asyncio.Queue()
    skipped = frozenset(skip)
    running = concurrency

    async def worker() -> None:
        nonlocal running
        try:
            for index, raw in source:
                item = _as_item(raw, index, tpl)
                if isinstance(item, BatchResult):
                    done.put_nowait((index, item))
                elif item.key in skipped:
                    done.put_nowait((index, None))  # keeps the order of the rest
                else:
                    done.put_nowait((index, await run_item(item, ctx)))
        except Exception as exc:  # a bug, not an item's failure: end the batch with it
            done.put_nowait(exc)
        finally:
            running -= 1
            if running == 0:
                done.put_nowait(None)

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    waiting: dict[int, BatchResult | None] = {}
    next_index = 0
    try:
        while True:
            entry = await done.get()
            if entry is None:
                break
            if isinstance(entry, BaseException):
                raise entry
            index, result = entry
            if not ordered:
                if result is not None:
                    yield result
                continue
            waiting[index] = result
            while next_index in waiting:
                ready = waiting.pop(next_index)
                next_index += 1
                if ready is not None:
                    yield ready
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if own:
            await ctx.aclose()
