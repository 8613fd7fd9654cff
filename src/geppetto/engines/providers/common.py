"""What every provider adapter shares: resolved config, tools, images, tool results, clients.

Provider engines are built from a :class:`ProviderConfig` (settings plus the key, base URL and
model the factory resolved) and keep one SDK client per event loop, because the aiohttp session
under each SDK client is bound to the loop that created it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime
import email.utils
import random
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson

from geppetto.engines.heap import freeze_startup_heap
from geppetto.settings.apitypes import ApiTypeSpec
from geppetto.settings.outbound import OutboundPolicy, acheck_outbound_url
from geppetto.settings.sections import Settings
from geppetto.turns.images import ImagePart, block_image_parts
from geppetto.turns.keys import DataKeys
from geppetto.turns.kinds import PayloadKey
from geppetto.turns.model import Block, Turn


@dataclass(slots=True)
class ProviderConfig:
    """Everything an engine needs; ``api_key`` never appears in ``repr``."""

    spec: ApiTypeSpec
    model: str
    base_url: str
    api_key: str = field(default="", repr=False)
    settings: Settings = field(default_factory=Settings)

    @property
    def provider(self) -> str:
        return self.spec.name

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.api_key,) if self.api_key else ()

    @property
    def strict(self) -> bool:
        return OutboundPolicy.parse(self.settings.api.outbound_policy) is OutboundPolicy.STRICT

    async def check_url(self) -> None:
        """Apply the outbound policy (strict mode resolves the host on every run).

        Under the permissive policy the check is a pure function of the URL (its shape only),
        so a URL that passed once is not parsed again on every run."""
        policy = self.settings.api.outbound_policy
        key = (self.base_url, policy)
        if key in _PASSED_PERMISSIVE:
            return
        await acheck_outbound_url(self.base_url, policy)
        if OutboundPolicy.parse(policy) is OutboundPolicy.PERMISSIVE:
            if len(_PASSED_PERMISSIVE) >= 256:
                _PASSED_PERMISSIVE.clear()
            _PASSED_PERMISSIVE.add(key)


# (base URL, policy) pairs that passed the permissive check: it never resolves names.
_PASSED_PERMISSIVE: set[tuple[str, Any]] = set()


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


def tool_specs(tools: Any) -> list[ToolSpec]:
    """Tools to advertise: ``ctx.tools`` is ``None`` or a registry with ``list_tools()``."""
    if tools is None:
        return []
    lister = getattr(tools, "list_tools", None)
    items = lister() if callable(lister) else tools
    specs = []
    for tool in items or ():
        params = getattr(tool, "parameters", None)
        if not isinstance(params, dict) or not params:
            params = {"type": "object", "properties": {}}
        specs.append(ToolSpec(str(tool.name), str(getattr(tool, "description", "") or ""), params))
    return specs


def tool_choice(turn: Turn) -> str | None:
    """``tool_choice`` from the turn's tool config (``auto``, ``none``, ``required``), if any."""
    config = turn.data.get(DataKeys.TOOL_CONFIG.id)
    if isinstance(config, dict):
        choice = config.get("tool_choice")
        if isinstance(choice, str) and choice.strip():
            return choice.strip().lower()
    return None


def args_json(args: Any) -> str:
    """Tool-call arguments as the JSON string providers expect (strings are kept)."""
    if isinstance(args, str):
        return args if args.strip() else "{}"
    if args is None:
        return "{}"
    return orjson.dumps(args).decode()


def args_object(args: Any) -> dict[str, Any]:
    """Tool-call arguments as an object (Anthropic, Gemini, Ollama want objects)."""
    if isinstance(args, dict):
        return args
    if isinstance(args, str) and args.strip():
        try:
            value = orjson.loads(args)
        except orjson.JSONDecodeError:
            return {"_raw": args}
        return value if isinstance(value, dict) else {"value": value}
    return {}


def tool_result_text(block: Block) -> str:
    """The reference rule: the result as a string (JSON-encoded if needed), or
    ``{"error": ..., "result": ...}`` when the tool failed."""
    result = block.payload.get(PayloadKey.RESULT)
    error = block.payload.get(PayloadKey.ERROR) or ""
    if error:
        return orjson.dumps({"error": str(error), "result": result}).decode()
    if isinstance(result, str):
        return result
    if result is None:
        return ""
    return orjson.dumps(result).decode()


def block_text(block: Block) -> str:
    """The block's text, trimmed; non-string text is JSON-encoded (the reference rule)."""
    value = block.payload.get(PayloadKey.TEXT)
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return orjson.dumps(value).decode()


def block_images(block: Block) -> list[ImagePart]:
    """The images of a user block, validated: a malformed entry raises :class:`TurnError` (a
    ``ValueError``, which ``ProviderEngine.run`` reports as a config error naming the provider)."""
    if PayloadKey.IMAGES not in block.payload:
        return []
    return block_image_parts(block.payload, f"{block.kind} block {block.id or '?'} images")


def unsupported_image(api: str, image: ImagePart, what: str) -> ValueError:
    """The error for an image form an API cannot take; ``what`` says which forms it takes."""
    if image.file_id:
        form = f"a file_id image ({image.file_id})"
    elif image.file_uri:
        form = f"a file_uri image ({image.file_uri})"
    elif image.url:
        form = f"an image URL ({image.url[:200]})"
    else:
        form = "an inline image"
    return ValueError(f"{api} cannot take {form}; it accepts {what}")


def structured_output(turn: Turn, settings: Settings) -> dict[str, Any] | None:
    """The JSON-schema output request, from Turn.Data ``structured_output_config`` or settings.

    Returns ``{name, description, schema, strict}`` or ``None``. An invalid configuration is
    ignored unless ``require_valid`` is set, in which case :class:`ValueError` says what is wrong.
    """
    chat = settings.chat
    config: dict[str, Any] = {
        "mode": chat.structured_output_mode,
        "name": chat.structured_output_name,
        "description": chat.structured_output_description,
        "schema": chat.structured_output_schema,
        "strict": chat.structured_output_strict,
        "require_valid": chat.structured_output_require_valid,
    }
    override = turn.data.get(DataKeys.STRUCTURED_OUTPUT_CONFIG.id)
    if isinstance(override, dict):
        config.update({key: value for key, value in override.items() if value is not None})
    if str(config.get("mode") or "off").lower() != "json_schema":
        return None
    schema = config.get("schema")
    if isinstance(schema, str):
        try:
            schema = orjson.loads(schema) if schema.strip() else None
        except orjson.JSONDecodeError:
            schema = None
    name = str(config.get("name") or "")
    problem = "" if isinstance(schema, dict) and schema else "structured output needs a JSON-object schema"
    if not problem and not name:
        problem = "structured output needs a name"
    if problem:
        if config.get("require_valid"):
            raise ValueError(problem)
        return None
    return {
        "name": name,
        "description": str(config.get("description") or ""),
        "schema": schema,
        "strict": bool(config.get("strict", True)),
    }


def backoff_delay(retries_taken: int) -> float:
    """The SDKs' backoff: ``min(0.5 * 2**n, 8)`` shortened by up to 25 % jitter."""
    return float(min(0.5 * 2**retries_taken, 8.0) * (1 - 0.25 * random.random()))


# The longest Retry-After the SDKs wait for (openai's MAX_RETRY_AFTER_DELAY); longer ones back off.
MAX_RETRY_AFTER = 120.0


def retry_after(headers: Any) -> float | None:
    """Seconds a response asks the client to wait: ``retry-after-ms``, then ``Retry-After``
    (seconds or an HTTP date), read the way the SDKs read them."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            pass
        if scale == 1.0:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            return (when - datetime.datetime.now(when.tzinfo or datetime.UTC)).total_seconds()
    return None


def retry_delay(retries_taken: int, asked: float | None) -> float:
    """The SDKs' rule: a server-asked delay up to :data:`MAX_RETRY_AFTER` is honoured, else back off."""
    return asked if asked is not None and 0 < asked <= MAX_RETRY_AFTER else backoff_delay(retries_taken)


C = TypeVar("C")


class ClientPool(Generic[C]):
    """One client per running event loop, created on first use and closed by :meth:`aclose`.

    Clients still open when the pool is dropped (its engine was garbage-collected, or the
    interpreter exits) are closed on their loops if those still run (the runtime's background
    loop does), so aiohttp does not warn about unclosed sessions.
    """

    def __init__(self, factory: Callable[[], C], closer: Callable[[C], Awaitable[None]]) -> None:
        self._factory = factory
        self._closer = closer
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, C] = weakref.WeakKeyDictionary()
        weakref.finalize(self, _close_clients, self._clients, closer)

    def get(self) -> C:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._factory()
            freeze_startup_heap()  # the SDK is imported now: see geppetto.engines.heap
        return client

    async def aclose(self) -> None:
        """Close the client of the running loop (others are closed when the pool goes away)."""
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await self._closer(client)


def _close_clients(
    clients: weakref.WeakKeyDictionary[Any, Any], closer: Callable[[Any], Awaitable[None]]
) -> None:
    try:
        current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    for loop, client in list(clients.items()):
        if loop.is_closed() or not loop.is_running():
            continue
        if current is not None and loop is current:
            current.create_task(_close_quietly(closer, client))
            continue
        future = asyncio.run_coroutine_threadsafe(_close_quietly(closer, client), loop)
        with contextlib.suppress(Exception):
            future.result(1.0)
    clients.clear()


async def _close_quietly(closer: Callable[[Any], Awaitable[None]], client: Any) -> None:
    with contextlib.suppress(Exception):
        await closer(client)


# Requests sent to a provider during the current run, each SDK retry included: the timeout error
# then says how many attempts the time went into ("after 5s per attempt, 3 attempts, 17.6s in all").
_REQUESTS_SENT: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "geppetto_requests_sent", default=None
)


def count_request() -> None:
    """Record one HTTP request sent (called by the transports for every attempt)."""
    counter = _REQUESTS_SENT.get()
    if counter is not None:
        counter[0] += 1


class counting_requests:
    """Count the requests sent inside the block (the run's task and what it awaits).

    A class, not ``@contextmanager``: the generator machinery was a measurable part of a run."""

    __slots__ = ("_counter", "_token")

    def __enter__(self) -> list[int]:
        self._counter = [0]
        self._token = _REQUESTS_SENT.set(self._counter)
        return self._counter

    def __exit__(self, *exc_info: object) -> None:
        _REQUESTS_SENT.reset(self._token)
