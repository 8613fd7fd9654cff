"""What every item of a batch shares: the configuration, the engines and the rate limiters.

:class:`BatchConfig` is plain, picklable data, so an executor in another process (a Ray actor)
rebuilds the same :class:`BatchContext` from it. Engines come from the one settings path every
run uses (:func:`geppetto.profiles.resolve.resolve_run_settings` then
:func:`geppetto.engines.from_settings.engine_for`): the batch's profile and flags, the item's
``profile`` instead of the batch's when it names one, and the item's ``settings`` on top as flags.
An engine is built once per distinct (profile, settings) pair. Rate limiters are per profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from geppetto.batch.items import BatchItem
from geppetto.batch.limits import Limiter, RateLimiter
from geppetto.errors import ConfigError

if TYPE_CHECKING:
    from geppetto.engines.base import Engine
    from geppetto.profiles.model_info import ModelInfo
    from geppetto.session import EngineBuilder

DEFAULT_PROFILE_KEY = "(default)"


@dataclass(slots=True)
class BatchConfig:
    """A batch's settings. ``flags`` are settings fields (``ai-api-type``, ``ai-engine``, ...) as
    the command line gives them; ``limits`` maps a profile name to its own ``(rpm, tpm)``."""

    profile: str | None = None
    profile_file: str | None = None
    profile_registries: str | None = None
    config_file: str | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    system: str = ""
    schema: dict[str, Any] | None = None
    schema_name: str = "output"
    full: bool = False
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    limits: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    environ: dict[str, str] | None = None


def _settings_key(settings: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(settings), option=orjson.OPT_SORT_KEYS).decode() if settings else ""


class BatchContext:
    """Engines (built once, cached) and limiters for a batch; one per process or actor.

    ``engine`` fixes one engine for every item (the Python API's shortcut: items must then not
    name a profile or settings). ``limiter_factory(profile_key, rpm, tpm)`` lets an executor share
    limiters across processes; the default makes a local :class:`RateLimiter`.
    """

    def __init__(
        self,
        config: BatchConfig | None = None,
        *,
        engine: Engine | None = None,
        limiter_factory: Callable[[str, float | None, float | None], Limiter] | None = None,
    ) -> None:
        self.config = config or BatchConfig()
        self.engine = engine
        self._limiter_factory = limiter_factory or (lambda _key, rpm, tpm: RateLimiter(rpm, tpm))
        self._engines: dict[tuple[str | None, str], tuple[Engine, str]] = {}
        self._failures: dict[tuple[str | None, str], str] = {}
        self._limiters: dict[str, Limiter] = {}
        self._pricing: dict[str, ModelInfo] = {}  # profile key -> its model_info (prices the runs)
        self._builders: dict[tuple[int, str], EngineBuilder] = {}  # (id(engine), profile key)
        self._prepared: dict[int, asyncio.AbstractEventLoop | None] = {}  # id(engine) -> loop

    def profile_of(self, item: BatchItem) -> str | None:
        return item.profile if item.profile is not None else self.config.profile

    def engine_for(self, item: BatchItem) -> tuple[Engine, str]:
        """The engine for ``item`` and its profile key; :class:`ConfigError` says what to fix."""
        if self.engine is not None:
            if item.profile is not None or item.settings:
                raise ConfigError(
                    "this batch runs one given engine: an item's 'profile' and 'settings' need a batch "
                    "built from settings (pass config=BatchConfig(...) without engine=)"
                )
            return self.engine, self.config.profile or DEFAULT_PROFILE_KEY
        profile = self.profile_of(item)
        key = (profile, _settings_key(item.settings))
        cached = self._engines.get(key)
        if cached is not None:
            return cached
        failure = self._failures.get(key)
        if failure is not None:
            raise ConfigError(failure)
        try:
            built = self._build(profile, item.settings)
        except ConfigError as exc:
            self._failures[key] = str(exc)
            raise
        self._engines[key] = built
        return built

    def _build(self, profile: str | None, overrides: Mapping[str, Any]) -> tuple[Engine, str]:
        from geppetto.engines.from_settings import engine_for
        from geppetto.profiles.resolve import resolve_run_settings

        cfg = self.config
        flags = dict(cfg.flags)
        for name, value in overrides.items():
            flags[str(name).replace("_", "-")] = value
        try:
            resolved = resolve_run_settings(
                profile=profile,
                profile_file=cfg.profile_file,
                profile_registries=cfg.profile_registries,
                config_file=cfg.config_file,
                flags=flags,
                environ=cfg.environ if cfg.environ is not None else os.environ,
            )
        except ConfigError as exc:
            where = "" if not overrides else " (with the item's settings)"
            raise ConfigError(f"{exc}{where}") from None
        engine = engine_for(resolved)
        key = resolved.profile or profile or DEFAULT_PROFILE_KEY
        pricing = resolved.pricing()
        if pricing is not None:
            self._pricing[key] = pricing
        return engine, key

    def pricing(self, profile_key: str) -> ModelInfo | None:
        """The ``model_info`` the runs of ``profile_key`` are priced with (``None``: unpriced)."""
        return self._pricing.get(profile_key)

    def builder(self, engine: Engine, profile_key: str) -> EngineBuilder:
        """The session builder for ``engine`` runs of ``profile_key`` (priced with its model_info):
        one per pair, shared by the items' sessions (a builder is only read by them)."""
        key = (id(engine), profile_key)
        built = self._builders.get(key)
        if built is None:
            from geppetto.session import EngineBuilder

            built = EngineBuilder(engine).with_model_info(self.pricing(profile_key), profile=profile_key)
            self._builders[key] = built
        return built

    def prepare(self, engine: Engine) -> None:
        """Call the engine's ``prepare()`` (create its client) once per event loop it runs on."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._prepared.get(id(engine), False) is loop:
            return
        prepare = getattr(engine, "prepare", None)
        if callable(prepare):
            prepare()
        self._prepared[id(engine)] = loop

    def check(self, item: BatchItem) -> str | None:
        """Why ``item`` cannot run (unknown profile, invalid settings), or ``None``."""
        try:
            self.engine_for(item)
        except ConfigError as exc:
            return str(exc)
        return None

    def limiter(self, profile_key: str) -> Limiter:
        limiter = self._limiters.get(profile_key)
        if limiter is None:
            rpm, tpm = self.config.limits.get(
                profile_key, (self.config.requests_per_minute, self.config.tokens_per_minute)
            )
            limiter = self._limiter_factory(profile_key, rpm, tpm)
            self._limiters[profile_key] = limiter
        return limiter

    async def aclose(self) -> None:
        """Release the engines' clients on the running loop."""
        for engine, _ in self._engines.values():
            close = getattr(engine, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):  # closing is best effort
                    await close()
