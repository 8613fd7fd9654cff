"""Which profiles the web chat offers, and the engine pipeline each one runs.

:class:`WebProfiles` is the seam: the page lists ``choices()`` and every run asks ``builder(name)``
for a fresh :class:`~geppetto.session.EngineBuilder`. :class:`CatalogProfiles` resolves them exactly
as the CLI does (profile files, registries, config files, environment; ``--profile`` as the
default); an application or a test can pass any other implementation (scripted engines, tools).
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from geppetto.errors import ConfigError

if TYPE_CHECKING:
    from geppetto.engines.base import Engine
    from geppetto.profiles.catalog import Catalog
    from geppetto.profiles.model import ProfileEntry
    from geppetto.profiles.model_info import ModelInfo
    from geppetto.session import EngineBuilder

# The choice that runs what a run without --profile would: the default profile if one is
# configured, else the factory default (the embedded local model).
DEFAULT_CHOICE = ""


@dataclass(frozen=True, slots=True)
class ProfileChoice:
    """One entry of the page's profile picker (no settings values: those may hold keys)."""

    name: str
    provider: str = ""
    model: str = ""
    error: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "provider": self.provider, "model": self.model, "error": self.error}


class WebProfiles(Protocol):
    """What the web chat needs from profile resolution."""

    def choices(self) -> list[ProfileChoice]:
        """The profiles to offer, in display order."""
        ...

    def default(self) -> str:
        """The name preselected in the picker (``""``: the default settings)."""
        ...

    def builder(self, name: str) -> EngineBuilder:
        """A pipeline for one run of profile ``name``; :class:`ConfigError` when it cannot be built."""
        ...


def _same(text: str) -> str:
    return text


def redactor(profiles: WebProfiles, name: str) -> Callable[[str], str]:
    """What scrubs profile ``name``'s secrets out of error text shown on the page: the profiles'
    ``redact(name)`` when they offer one (an application's own :class:`WebProfiles` may not)."""
    redact = getattr(profiles, "redact", None)
    if redact is None:
        return _same
    found: Callable[[str], str] = redact(name)
    return found


class CatalogProfiles:
    """Profiles from the same sources the CLI reads; engines are built once per profile and shared
    by the runs that use it (they hold provider clients). Two first runs of a profile at once
    share one build: the first makes a future, the others wait on it."""

    def __init__(
        self,
        *,
        default_profile: str | None = None,
        profile_file: str | os.PathLike[str] | None = None,
        profile_registries: str | Sequence[str] | None = None,
        config_file: str | os.PathLike[str] | None = None,
        flags: Mapping[str, object] | None = None,
    ) -> None:
        self._default = (default_profile or "").strip()
        self._sources: dict[str, Any] = {
            "profile_file": profile_file,
            "profile_registries": profile_registries,
            "config_file": config_file,
        }
        self._flags = dict(flags or {})
        self._engines: dict[str, concurrent.futures.Future[Engine]] = {}
        self._pricing: dict[str, tuple[ModelInfo | None, str]] = {}
        self._redact: dict[str, Callable[[str], str]] = {}
        self._lock = threading.Lock()

    def choices(self) -> list[ProfileChoice]:
        from geppetto.profiles.resolve import load_catalog

        catalog = load_catalog(**self._sources)
        listed = [_choice(catalog, name, entry) for name, entry in catalog.listing()]
        names = {choice.name for choice in listed}
        if self._default and self._default not in names:
            listed.insert(0, ProfileChoice(self._default))
        if not self._default:
            listed.insert(0, ProfileChoice(DEFAULT_CHOICE, "(default settings)"))
        return listed

    def default(self) -> str:
        return self._default

    def engine(self, name: str) -> Engine:
        """The shared engine of profile ``name`` (``""``: the default selection)."""
        key = name.strip() or self._default
        with self._lock:
            future = self._engines.get(key)
            building = future is None
            if future is None:
                future = self._engines[key] = concurrent.futures.Future()
        if not building:
            return future.result()
        try:
            engine = self._build(key)
        except BaseException as exc:
            with self._lock:  # a failed build is not kept: the next run tries again
                self._engines.pop(key, None)
            future.set_exception(exc)
            raise
        future.set_result(engine)
        return engine

    def _build(self, key: str) -> Engine:
        from geppetto.engines.from_settings import engine_for
        from geppetto.profiles.resolve import resolve_run_settings

        resolved = resolve_run_settings(profile=key or None, flags=self._flags, **self._sources)
        with self._lock:
            self._redact[key] = resolved.redact
        try:
            engine = engine_for(resolved)
        except ConfigError as exc:
            message = resolved.redact(str(exc))
            raise ConfigError(f"profile {key or '(default)'} cannot run: {message}") from None
        with self._lock:
            self._pricing.setdefault(key, (resolved.pricing(), resolved.profile or ""))
        return engine

    def redact(self, name: str) -> Callable[[str], str]:
        """Scrubs profile ``name``'s secrets from a text (identity until the profile was resolved)."""
        key = name.strip() or self._default
        with self._lock:
            found = self._redact.get(key)
        if found is not None:
            return found
        return lambda text: self._redact.get(key, _same)(text)

    def builder(self, name: str) -> EngineBuilder:
        """A builder around the profile's shared engine; its runs are priced and labelled."""
        from geppetto.session import EngineBuilder

        engine = self.engine(name)
        info, profile = self._pricing.get(name.strip() or self._default, (None, ""))
        return EngineBuilder(engine).with_model_info(info, profile=profile or None)


def _choice(catalog: Catalog, name: str, entry: ProfileEntry) -> ProfileChoice:
    """Provider and model of a profile with its stack merged (what ``profiles list`` shows)."""
    provider, model, problem = catalog.summary(entry)
    return ProfileChoice(name, provider, model, problem or entry.error)
