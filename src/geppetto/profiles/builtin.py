"""Built-in profiles, available without any file: ``echo`` and ``local``.

They rank below every file, so a user's own ``echo`` or ``local`` profile replaces them.
"""

from __future__ import annotations

from geppetto.profiles.model import BUILTIN_SOURCE, ProfileEntry, Registry, Source

BUILTIN_REGISTRY = "builtin"

_PROFILES = {
    "echo": ("echo", "the echo test engine: replies READY, no network"),
    "local": ("local", "the embedded local model, run in-process (the default with nothing configured)"),
}


def builtin_source() -> Source:
    registry = Registry(slug=BUILTIN_REGISTRY, source=BUILTIN_SOURCE, kind="builtin")
    for slug, (api_type, description) in _PROFILES.items():
        registry.profiles[slug] = ProfileEntry(
            slug=slug,
            registry=BUILTIN_REGISTRY,
            source=BUILTIN_SOURCE,
            fields={"ai-api-type": api_type},
            description=description,
        )
    return Source(label=BUILTIN_SOURCE, role="builtin", registries=[registry])
