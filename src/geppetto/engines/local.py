"""The ``local`` engine: a GGUF chat model run in-process, the offline default.

Generation runs on a worker thread inside llama.cpp (``xllamacpp``), which streams OpenAI-shaped
chunks to a callback. The callback queues deltas and wakes the event loop at most once per batch
(not at all until the end when nobody listens to events), and its return value is the stop flag:
cancelling the asyncio task returns at once and llama.cpp stops at its next token, or, while it
is still reading a long prompt, after the current 256-token chunk of it.

Turns map to chat messages: system, user and ``llm_text`` blocks keep their roles, tool calls and
tool results become plain text (these small models cannot call tools), reasoning is skipped.
The chat template is the one in the GGUF metadata (llama.cpp falls back to ChatML when a file has
none), unless ``chat_template`` names another.

Context window: a prompt longer than the window is rejected with :class:`ContextOverflowError`
(nothing is truncated); when the prompt fits but the reply reaches the end of the window the
run ends with stop reason ``length``. Replies are capped at :data:`DEFAULT_MAX_TOKENS` unless
``max_tokens`` says otherwise.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.engines.local_model import (
    BUNDLED_NAME,
    ContextOverflowError,
    GGUFInfo,
    LoadedModel,
    LoadOptions,
    LocalModelError,
    default_context,
    default_threads,
    import_runtime,
    load_model,
    read_gguf_info,
    resolve_model_path,
    shutdown_models,
)
from geppetto.engines.local_workers import POOL, PoolClosedError
from geppetto.engines.turn_settings import sampling_overrides
from geppetto.errors import ConfigError
from geppetto.events.types import Usage
from geppetto.turns.keys import DataKeys
from geppetto.turns.kinds import BlockKind, PayloadKey
from geppetto.turns.model import Block, Turn

if TYPE_CHECKING:
    from geppetto.engines.tokens import TokenCount

# SmolLM2's template injects "You are a helpful AI assistant named SmolLM..." when a chat has no
# system message; with it the 135M model rambles on plain questions, with this one it answers.
BUNDLED_SYSTEM_PROMPT = "You are a helpful assistant."
BUNDLED_TEMPERATURE = 0.0
# Without a cap a small model can loop until the context window is full (4,000 tokens, minutes of
# CPU) on a plain question. The same figure as the ai-max-response-tokens default for providers;
# --ai-max-response-tokens, a profile, the engine's max_tokens or the turn's inference config
# change it.
DEFAULT_MAX_TOKENS = 1000

OPTIONS = (
    "temperature",
    "max_tokens",
    "top_p",
    "seed",
    "stop",
    "json_schema",
    "n_ctx",
    "n_threads",
    "chat_template",
    "default_system_prompt",
)


class LocalEngine:
    """Runs a GGUF chat model in this process; the model is loaded on first use and shared."""

    name = "local"

    def __init__(
        self,
        model_path: Path,
        *,
        model_name: str = "",
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: list[str] | None = None,
        json_schema: dict[str, Any] | None = None,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        chat_template: str = "",
        default_system_prompt: str = "",
    ) -> None:
        import_runtime()  # fail now, with the install command, rather than at the first prompt
        self.info: GGUFInfo = read_gguf_info(model_path)
        self.model = model_name or model_path.stem
        self.temperature = _check_range("temperature", temperature, 0.0, 2.0)
        self.top_p = _check_range("top_p", top_p, 0.0, 1.0)
        self.max_tokens = _check_positive("max_tokens", max_tokens) or DEFAULT_MAX_TOKENS
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = seed
        self.stop = _check_stop(stop)
        self.json_schema = _check_schema(json_schema, "json_schema") if json_schema is not None else None
        self.default_system_prompt = default_system_prompt
        self.load_options = LoadOptions(
            n_ctx=_check_positive("n_ctx", n_ctx) or default_context(self.info),
            n_threads=_check_positive("n_threads", n_threads) or default_threads(),
            chat_template=chat_template.strip(),
        )
        self._loaded: LoadedModel | None = None
        # the engine's own sampling options, fixed at construction: not rebuilt per request
        self._sampling: dict[str, Any] = {
            key: value
            for key, value in (
                ("temperature", self.temperature),
                ("top_p", self.top_p),
                ("max_tokens", self.max_tokens),
                ("seed", self.seed),
                ("stop", self.stop),
            )
            if value is not None
        }

    def load(self) -> LoadedModel:
        """Load the model now (or fetch it from the process cache); blocking, thread-safe."""
        if self._loaded is None or self._loaded.closed:
            self._loaded = load_model(self.info, self.load_options)
        return self._loaded

    def build_request(self, turn: Turn) -> dict[str, Any]:
        """The chat-completion request for ``turn`` (messages, sampling, structured output)."""
        messages = turn_to_messages(turn.blocks)
        if not any(message["role"] != "system" for message in messages):
            raise ConfigError("the turn has no user or assistant message for the local model to answer")
        if self.default_system_prompt and messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": self.default_system_prompt})
        request: dict[str, Any] = {
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            # progress chunks during a long prompt give the callback a chance to stop it
            "return_progress": True,
        }
        request.update(self._sampling)
        request.update(sampling_overrides(turn))  # the turn's inference_config wins
        response_format = self._response_format(turn)
        if response_format is not None:
            request["response_format"] = response_format
        return request

    async def count_tokens(self, turn: Turn, tools: Any = None) -> TokenCount:
        """The prompt tokens of ``turn`` by this model's own template and tokenizer (exact)."""
        from geppetto.engines.local_tokens import local_count_tokens

        return await local_count_tokens(self, turn)

    def _response_format(self, turn: Turn) -> dict[str, Any] | None:
        """Turn.data ``structured_output_config`` wins over the engine's ``json_schema``."""
        config = DataKeys.STRUCTURED_OUTPUT_CONFIG.get(turn.data)
        name, description, strict = "response", "", True
        schema = self.json_schema
        if config:
            mode = str(config.get("mode") or "off").strip().lower()
            if mode == "off":
                schema = None
            elif mode == "json_schema":
                try:
                    schema = _check_schema(config.get("schema"), "structured_output_config.schema")
                except ConfigError:
                    if config.get("require_valid"):
                        raise
                    schema = self.json_schema  # reference behaviour: invalid config is only a warning
                else:
                    name = str(config.get("name") or name)
                    description = str(config.get("description") or "")
                    strict = bool(config.get("strict", True))
            else:
                raise ConfigError(
                    f"structured_output_config.mode {mode!r} is not supported: use 'json_schema' or 'off'"
                )
        if schema is None:
            return None
        spec: dict[str, Any] = {"name": name, "schema": schema, "strict": strict}
        if description:
            spec["description"] = description
        return {"type": "json_schema", "json_schema": spec}

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        acc = StreamAccumulator(turn, ctx, provider="local", model=self.model, max_tokens=self.max_tokens)
        with acc:
            acc.start()
            request = self.build_request(turn)
            acc.max_tokens = request.get("max_tokens")
            loaded = self._loaded
            if loaded is None or loaded.closed:
                loaded = await asyncio.to_thread(self.load)
            acc.extra["n_ctx"] = loaded.options.n_ctx
            acc.extra["chat_template"] = _template_source(loaded)
            if request.get("response_format"):
                acc.extra["structured_output"] = True
            stream = _Stream(asyncio.get_running_loop(), acc, live=ctx.sink is not None)
            # Not a daemon, and joined by _shutdown_local_runtime at exit: a thread killed inside
            # llama.cpp (or a process exiting under it) aborts the process.
            stream.start(loaded, request)
            try:
                await stream.done
            except asyncio.CancelledError:
                stream.stop()  # llama.cpp stops at its next token; do not wait for it
                stream.flush()  # keep the text that arrived but was not handed over yet
                raise
            _finish_stats(acc, stream.state, loaded.options.n_ctx)
            if acc.extra.get("structured_output"):
                acc.extra["structured_output_valid"] = _is_json(acc.text)
            return acc.finish()


# -- streaming bridge ------------------------------------------------------------------------

# Text that arrives within this long of the last wake-up of the event loop waits for the next
# token (or the end of the stream). Every wake-up costs the loop thread CPU that, on a small
# machine, is taken from llama.cpp's decoding threads: a 100+ tokens/s model now wakes the loop
# every second or third token. The first text is handed over at once, a model slower than this
# still wakes it per token, and no text waits much longer than this plus one token.
COALESCE_SECONDS = 0.015


@dataclass(slots=True)
class _StreamState:
    finish_reason: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    response_id: str = ""


class _Stream:
    """Carries one generation from llama.cpp's callback thread to the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, acc: StreamAccumulator, *, live: bool) -> None:
        self.loop = loop
        self.acc = acc
        self.live = live  # someone listens to partial events: hand deltas over as they come
        self.done: asyncio.Future[None] = loop.create_future()
        self.state = _StreamState()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._scheduled = False
        self._woken = -COALESCE_SECONDS  # when the loop was last woken for text (monotonic)
        self._chunk_error: BaseException | None = None
        self._final: tuple[BaseException | None] | None = None
        self.thread: threading.Thread | None = None
        # Set when the worker has left llama.cpp. Waited on instead of Thread.join, which a
        # KeyboardInterrupt can leave believing a running thread has ended (CPython 3.11).
        self.finished = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def start(self, loaded: LoadedModel, request: dict[str, Any]) -> None:
        """Run the generation on a pooled worker thread (registered before it is handed over, so
        the exit hook always sees it). The worker gets the model, not its server: only
        :class:`LoadedModel` may hold the server for longer than a call, so that closing the
        model frees it."""
        with _ACTIVE_LOCK:
            _ACTIVE.add(self)
        try:
            POOL.submit(partial(self.work, loaded, request))
        except BaseException as exc:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self)
            self.finished.set()
            if isinstance(exc, PoolClosedError):
                raise LocalModelError("the local model runtime has shut down (process exit)") from None
            raise

    # worker thread ------------------------------------------------------------------------

    def work(self, loaded: LoadedModel, request: dict[str, Any]) -> None:
        self.thread = threading.current_thread()
        error: BaseException | None = None
        try:
            server = loaded.server
            if server is None:
                raise LocalModelError("the local model was closed because the process is exiting")
            try:
                if not self._stop.is_set():  # else cancelled (or exiting) before a worker was free
                    server.handle_chat_completions(request, self._on_chunk)
            finally:
                del server
            error = self._chunk_error
            if error is None and not self.state.finish_reason and not self._stop.is_set():
                error = LocalModelError("the local model's stream ended without a finish reason")
        except ValueError as exc:
            error = _template_error(str(exc)) or ConfigError(f"the local model rejected the request: {exc}")
        except Exception as exc:
            error = _template_error(str(exc)) or LocalModelError(f"the local model failed: {exc}")
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self)
            self.finished.set()
        self._post(None, (error,))

    def _on_chunk(self, chunk: dict[str, Any]) -> bool:
        """Called by llama.cpp for every chunk; returning True stops generation."""
        if self._stop.is_set():
            return True
        try:
            error = chunk.get("error")
            if error is not None:
                self._chunk_error = _chunk_error(error)
                return True
            state = self.state
            state.response_id = state.response_id or str(chunk.get("id") or "")
            text = ""
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                text += delta.get("content") or ""
                state.finish_reason = choice.get("finish_reason") or state.finish_reason
            if "usage" in chunk:
                state.usage = chunk.get("usage") or {}
                state.timings = chunk.get("timings") or {}
            return bool(text) and not self._post(text, None)
        except Exception as exc:  # the binding swallows callback errors, so keep ours
            self._chunk_error = LocalModelError(f"bad chunk from the local model: {exc}")
            return True

    def _post(self, text: str | None, final: tuple[BaseException | None] | None) -> bool:
        """Queue a delta (or the end of the stream) and wake the loop once per batch, at most
        once per :data:`COALESCE_SECONDS` while text flows; with no listener, deltas just wait
        for the end of the stream."""
        with self._lock:
            if text:
                self._pending.append(text)
            if final is not None:
                self._final = final
            elif not self.live:
                return True
            if self._scheduled:
                return True
            if final is None:
                now = time.monotonic()
                if now - self._woken < COALESCE_SECONDS:
                    return True  # handed over with the next token, or at the end
                self._woken = now
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._stop.set()
            return False
        return True

    # event loop ---------------------------------------------------------------------------

    def flush(self) -> None:
        """On the loop, after a cancellation: record the deltas that were still queued."""
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            self.acc.add_text("".join(pending))

    def _drain(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            final = self._final
            self._scheduled = False
        if self.done.done():
            self._stop.set()  # cancelled: the accumulator has already recorded the partial text
            return
        if pending:  # one partial event per batch, not per token
            self.acc.add_text(pending[0] if len(pending) == 1 else "".join(pending))
        if final is not None:
            if final[0] is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(final[0])


_ACTIVE: set[_Stream] = set()
_ACTIVE_LOCK = threading.Lock()


def _stop_all_streams() -> list[_Stream]:
    """Make running generations return at their next token; the streams asked."""
    with _ACTIVE_LOCK:
        streams = list(_ACTIVE)
    for stream in streams:
        stream.stop()
    return streams


def _shutdown_local_runtime() -> None:
    """At interpreter exit (Ctrl-C included), in order: stop the generations, wait for their
    worker threads to leave llama.cpp, then close the models so llama.cpp's own loop thread ends
    before the process tears the C++ runtime down. Skipping the last step is what made Ctrl-C
    abort with ``FATAL: exception not rethrown`` or a segfault: the native thread was still
    decoding the cancelled request while the process exited. Another Ctrl-C meanwhile does not
    cut this short: finishing it is what makes the exit safe, and it takes one token."""
    while True:
        try:
            for stream in _stop_all_streams():
                if stream.thread is not threading.current_thread():
                    stream.finished.wait()
            shutdown_models()
            POOL.close()  # idle workers end now; interpreter shutdown then joins them
            return
        except KeyboardInterrupt:
            continue


# threading's exit hooks run while the interpreter is whole, before shutdown joins non-daemon
# threads; atexit would run after.
_register_exit_hook = getattr(threading, "_register_atexit", None)
if _register_exit_hook is not None:
    _register_exit_hook(_shutdown_local_runtime)
else:  # pragma: no cover - other interpreters
    atexit.register(_shutdown_local_runtime)


def _chunk_error(error: Any) -> BaseException:
    if not isinstance(error, dict):
        return LocalModelError(f"the local model failed: {error}")
    message = str(error.get("message") or error)
    if error.get("type") == "exceed_context_size_error":
        prompt_tokens, n_ctx = error.get("n_prompt_tokens"), error.get("n_ctx")
        return ContextOverflowError(
            f"the prompt is {prompt_tokens} tokens but the local model's context window is {n_ctx} tokens; "
            "shorten the conversation or load the model with a larger n_ctx",
            prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
            n_ctx=n_ctx if isinstance(n_ctx, int) else None,
        )
    template_error = _template_error(message)
    if template_error is not None:
        return template_error
    if error.get("code") == 400 or error.get("type") == "invalid_request_error":
        return ConfigError(f"the local model rejected the request: {message}")
    return LocalModelError(f"the local model failed: {message}")


def _template_source(loaded: LoadedModel) -> str:
    """Where the prompt format came from; a base model without a template answers poorly."""
    if loaded.options.chat_template:
        return "option"
    return "gguf" if loaded.info.has_chat_template else "chatml-fallback"


def _template_error(message: str) -> ConfigError | None:
    """Template and schema problems are configuration errors with a known fix."""
    lowered = message.lower()
    if "json schema" in lowered:
        return ConfigError(
            f"llama.cpp rejected the JSON schema for structured output ({message}); fix the schema"
        )
    if "template" not in lowered:
        return None
    return ConfigError(
        f"llama.cpp could not apply the chat template ({message}); pass chat_template as a built-in "
        "template name such as 'chatml' or 'llama3', or as a full Jinja template"
    )


def _finish_stats(acc: StreamAccumulator, state: _StreamState, n_ctx: int) -> None:
    usage = state.usage
    if usage:
        details = usage.get("prompt_tokens_details") or {}
        acc.set_usage(
            Usage(
                input_tokens=int(usage.get("prompt_tokens") or 0),
                output_tokens=int(usage.get("completion_tokens") or 0),
                cached_tokens=int(details.get("cached_tokens") or 0),
            )
        )
    reason = state.finish_reason
    total = int(usage.get("total_tokens") or 0) if usage else 0
    if reason == "stop" and total >= n_ctx:
        reason = "length"  # llama.cpp reports a full context window as a normal stop
        acc.extra["context_full"] = True
    acc.set_stop_reason(reason)
    acc.response_id = state.response_id
    speed = state.timings.get("predicted_per_second")
    if isinstance(speed, int | float):
        acc.extra["tokens_per_second"] = round(float(speed), 1)


# -- turn to messages ------------------------------------------------------------------------


def turn_to_messages(blocks: list[Block]) -> list[dict[str, str]]:
    """Chat messages for llama.cpp; consecutive messages of one role are merged (templates that
    require alternating roles then still render)."""
    messages: list[dict[str, str]] = []
    for block in blocks:
        mapped = _block_message(block)
        if mapped is None:
            continue
        role, content = mapped
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += "\n\n" + content
        else:
            messages.append({"role": role, "content": content})
    return messages


# Enum member lookups cost a fraction of a microsecond each on CPython 3.11: done once here.
_TEXT_ROLES = {BlockKind.SYSTEM: "system", BlockKind.USER: "user", BlockKind.LLM_TEXT: "assistant"}
_USER = BlockKind.USER


def _block_message(block: Block) -> tuple[str, str] | None:
    payload = block.payload
    kind = block.kind
    role = _TEXT_ROLES.get(kind)
    if role is not None:
        if kind is _USER and payload.get(PayloadKey.IMAGES):
            raise ConfigError(
                "the local model is text-only and cannot take images; remove them or use a "
                "vision-capable provider (--ai-api-type openai, openai-responses, claude, gemini or ollama)"
            )
        text = block.text or ""
        return (role, text) if text else None
    if kind is BlockKind.TOOL_CALL:
        args = _json_text(payload.get(PayloadKey.ARGS))
        name, call_id = payload.get(PayloadKey.NAME), payload.get(PayloadKey.ID)
        return "assistant", f"[called tool {name} (id {call_id}) with {args}]"
    if kind is BlockKind.TOOL_USE:
        error = payload.get(PayloadKey.ERROR)
        outcome = f"failed: {error}" if error else _json_text(payload.get(PayloadKey.RESULT))
        return "user", f"[tool result for call {payload.get(PayloadKey.ID)}: {outcome}]"
    return None  # reasoning and unknown blocks carry nothing the model should see again


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


# -- option checks ---------------------------------------------------------------------------


def _check_range(name: str, value: float | None, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{name} must be a number between {low} and {high}, got {value!r}")
    return float(value)


def _check_positive(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_stop(stop: list[str] | None) -> list[str] | None:
    if stop is None:
        return None
    if isinstance(stop, str):
        stop = [stop]
    if not all(isinstance(item, str) and item for item in stop):
        raise ConfigError(f"stop must be a list of non-empty strings, got {stop!r}")
    return list(stop) or None


def _check_schema(schema: Any, where: str) -> dict[str, Any]:
    if isinstance(schema, str):
        try:
            schema = orjson.loads(schema)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(schema, dict) or not schema:
        raise ConfigError(f"{where} must be a non-empty JSON schema object, got {type(schema).__name__}")
    return schema


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


# -- factory ---------------------------------------------------------------------------------


def create_local_engine(model: str = "", **options: Any) -> LocalEngine:
    """Build the engine for ``model``: ``""``/``smollm2`` is the bundled model, else a ``.gguf`` path."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"the local engine does not support option(s) {', '.join(unknown)}; "
            f"supported: {', '.join(OPTIONS)}"
        )
    path, bundled = resolve_model_path(model)
    if bundled:
        # The 135M model is only coherent near greedy decoding; settings can still override this.
        options.setdefault("temperature", BUNDLED_TEMPERATURE)
        options.setdefault("default_system_prompt", BUNDLED_SYSTEM_PROMPT)
    return LocalEngine(path, model_name=BUNDLED_NAME if bundled else "", **options)
