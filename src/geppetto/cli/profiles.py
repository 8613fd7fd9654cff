"""``geppetto profiles list|show|resolve`` and the profile-aware engine of the run commands.

Everything printed goes through the redacting views of :mod:`geppetto.profiles.result`: API keys
show as ``***`` in tables, JSON and error messages alike.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from geppetto.errors import ConfigError

if TYPE_CHECKING:
    from geppetto.engines.base import Engine
    from geppetto.profiles.result import ResolvedSettings
    from geppetto.session import EngineBuilder


def _source_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "profile_file": getattr(args, "profile_file", None),
        "profile_registries": getattr(args, "profile_registries", None),
        "config_file": getattr(args, "config_file", None),
    }


def resolve_from_args(args: argparse.Namespace) -> ResolvedSettings:
    """The run settings for parsed arguments: profile options plus every settings flag given."""
    from geppetto.cli import settings_options
    from geppetto.profiles.resolve import resolve_run_settings

    flags: dict[str, object] = dict(settings_options(args))
    for name in ("ai_api_type", "ai_engine"):
        value = getattr(args, name, None)
        if value:
            flags[name] = value
    return resolve_run_settings(profile=getattr(args, "profile", None), flags=flags, **_source_options(args))


def engine_from_args(args: argparse.Namespace) -> Engine:
    """The engine ``geppetto infer`` (and ``chat``, ``js run``) runs: profiles, config, env, flags."""
    return builder_from_args(args).engine  # type: ignore[return-value]


def builder_from_args(args: argparse.Namespace) -> EngineBuilder:
    """A session builder around :func:`engine_from_args`'s engine that prices runs with the
    profile's ``model_info.cost`` and labels them with the profile (see geppetto.cost)."""
    from geppetto.engines.from_settings import engine_for
    from geppetto.session import EngineBuilder

    resolved = resolve_from_args(args)
    for warning in resolved.warnings:
        print(f"warning: {resolved.redact(warning)}", file=sys.stderr)
    args.resolved_settings = resolved  # the command's MCP servers read the profile's mcpServers
    return EngineBuilder(engine_for(resolved)).with_model_info(
        resolved.pricing(), profile=resolved.profile or ""
    )


# -- list --------------------------------------------------------------------------------------


def _selected(args: argparse.Namespace) -> tuple[str | None, str | None]:
    from geppetto.profiles.resolve import resolve_run_settings

    try:
        resolved = resolve_run_settings(profile=getattr(args, "profile", None), **_source_options(args))
    except ConfigError:
        return None, None
    return resolved.registry, resolved.profile


def list_profiles(args: argparse.Namespace) -> int:
    from geppetto.profiles.resolve import load_catalog

    catalog = load_catalog(**_source_options(args))
    selected = _selected(args)
    rows: list[dict[str, Any]] = []
    for name, entry in catalog.listing():
        provider, model, problem = catalog.summary(entry)
        rows.append(
            {
                "name": name,
                "registry": entry.registry,
                "provider": provider,
                "model": model,
                "source": entry.source,
                "selected": (entry.registry, entry.slug) == selected,
                "error": problem,
            }
        )
    errors = [source.error for source in catalog.broken()]
    if args.json:
        print(json.dumps({"profiles": rows, "errors": errors}, indent=2))
        return 0
    table = [["NAME", "PROVIDER", "MODEL", "SOURCE"]]
    for row in rows:
        table.append(
            [("* " if row["selected"] else "  ") + row["name"], row["provider"], row["model"], row["source"]]
        )
    table[0][0] = "  " + table[0][0]
    _print_table(table)
    for row in rows:
        if row["error"]:
            print(f"warning: profile {row['name']}: {row['error']}", file=sys.stderr)
    for error in errors:
        print(f"warning: {error}", file=sys.stderr)
    return 0


# -- show / resolve ----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(line.rstrip())


def _print_resolved(resolved: ResolvedSettings, *, include_defaults: bool, header: list[str]) -> None:
    for line in header:
        print(resolved.redact(line))
    if resolved.lineage:
        stack = " -> ".join(f"{e.registry}/{e.profile}" for e in resolved.lineage)
        print(f"stack: {stack}")
    print()
    table = [["FIELD", "VALUE", "SET BY"]]
    for name, value, origin in resolved.values(include_defaults=include_defaults):
        table.append([name, resolved.redact(_cell(value)), origin.describe()])
    if len(table) == 1:
        print("(every field at its default)")
    else:
        _print_table(table)
    for warning in resolved.warnings:
        print(f"warning: {resolved.redact(warning)}", file=sys.stderr)


def _engine_line(resolved: ResolvedSettings) -> str:
    from geppetto.profiles.result import engine_api_type

    api_type = engine_api_type(resolved)
    if not api_type:
        from geppetto.engines.factory import DEFAULT_API_TYPE

        api_type = f"{DEFAULT_API_TYPE} (default)"
    model = resolved.settings.chat.engine or "(engine default)"
    return f"engine: {api_type}, model: {model}"


def show(args: argparse.Namespace) -> int:
    from geppetto.profiles.resolve import profile_settings

    resolved = profile_settings(args.name, **_source_options(args))
    if args.json:
        print(json.dumps(resolved.to_dict(), indent=2, default=str))
        return 0
    header = [
        f"profile: {resolved.profile} (registry {resolved.registry})",
        f"source: {resolved.profile_source}",
        _engine_line(resolved),
    ]
    _print_resolved(resolved, include_defaults=args.all, header=header)
    return 0


def resolve(args: argparse.Namespace) -> int:
    resolved = resolve_from_args(args)
    if args.json:
        print(json.dumps(resolved.to_dict(), indent=2, default=str))
        return 0
    if resolved.profile is None:
        header = ["profile: none (no profile selected and no 'default' profile)"]
    else:
        header = [
            f"profile: {resolved.profile} (registry {resolved.registry}, selected by {resolved.selected_by})",
            f"source: {resolved.profile_source}",
        ]
    header.append(_engine_line(resolved))
    _print_resolved(resolved, include_defaults=args.all, header=header)
    return 0
