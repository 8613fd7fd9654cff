"""``geppetto js run``: run a script with ``require("geppetto")`` and the lab globals."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geppetto.errors import ConfigError
from geppetto.js.errors import format_bytes

if TYPE_CHECKING:
    from geppetto.js import JSRuntime
    from geppetto.js.module import GeppettoHost
    from geppetto.store.store import TurnStore
    from geppetto.tools.registry import ToolRegistry

# How long a stopped script waits for its cancelled runs to be persisted.
_CANCEL_GRACE_SECONDS = 5.0

# The function is named __gp_* so its frames stay out of the stacks users see.
_CAPTURE = """
Object.defineProperty(globalThis, '__gp_capture', {
  value: async function __gp_capture(v) {
    v = await v;
    __geppetto_set_result(v === undefined ? 'null' : JSON.stringify(v));
  },
  enumerable: false, configurable: true,
});
"""


def _is_plain_script(runtime: JSRuntime, source: str) -> bool:
    """Whether ``source`` parses as a script (no top-level await or return), checked by parsing
    it inside a block that never runs."""
    parses = runtime.eval(
        "(src) => { try { eval('if (false) {\\n' + src + '\\n}'); return true; }"
        " catch (e) { return false; } }"
    )
    return bool(parses(source))


def load_host_tools(paths: list[str]) -> ToolRegistry:
    """Every ``@geppetto.tool`` definition found at the top level of each Python file."""
    from geppetto.tools.definition import ToolDefinition
    from geppetto.tools.registry import ToolRegistry

    registry = ToolRegistry()
    for index, path in enumerate(paths):
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"--host-tools: no such file: {path}")
        spec = importlib.util.spec_from_file_location(f"geppetto_host_tools_{index}", file)
        if spec is None or spec.loader is None:
            raise ConfigError(f"--host-tools: cannot load {path} as Python")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise ConfigError(f"--host-tools: {path} failed to load: {type(exc).__name__}: {exc}") from exc
        found = [value for value in vars(module).values() if isinstance(value, ToolDefinition)]
        if not found:
            raise ConfigError(f"--host-tools: {path} defines no @geppetto.tool functions")
        for definition in found:
            registry.register(definition)
    return registry


def store_opener(args: argparse.Namespace) -> Callable[[], TurnStore] | None:
    """The turn store of ``--store``/``--no-store`` as a function: opened only if a script asks for it,
    so scripts that never use a store create no database file."""
    if getattr(args, "no_store", False):
        return None

    def open_turn_store() -> TurnStore:
        from geppetto.cli.sessions import open_store

        store = open_store(args)
        assert store is not None
        return store

    return open_turn_store


def script_path(args: argparse.Namespace) -> Path:
    """SCRIPT.js or ``--script FILE`` (the reference's spelling, also after its word ``run``)."""
    positional, option = args.script, args.script_option
    if option is not None and positional not in (None, "run"):
        raise ConfigError(f"give the script once: either SCRIPT.js ({positional}) or --script ({option})")
    chosen = option if option is not None else positional
    if chosen is None:
        raise ConfigError("no script to run: geppetto js run SCRIPT.js (or --script FILE)")
    return Path(chosen)


def example_globals(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    """``GEPPETTO_EXAMPLE`` as the reference runner sets it (scripts read their profile and
    per-run timeout from it)."""
    import os

    from geppetto.cli.js_commands import REFERENCE_TIMEOUT_MS

    raw = args.profile_registries or os.environ.get("PINOCCHIO_PROFILE_REGISTRIES")
    registries: list[str] = []
    if raw:  # imported only then: the profiles package is not cheap
        from geppetto.profiles.sources import split_sources

        registries = split_sources(raw)
    return {
        "script": str(path.resolve()),
        "profile": args.profile or os.environ.get("PINOCCHIO_PROFILE") or "default",
        "profileRegistries": registries,
        "timeoutMs": REFERENCE_TIMEOUT_MS if args.timeout_ms is None else args.timeout_ms,
    }


def selected_profile(args: argparse.Namespace) -> Any:
    """The resolved settings of the profile ``js run`` selects, for its ``mcpServers``: only when
    a profile or its sources are named (``--profile``, ``--profile-file``,
    ``--profile-registries`` or their environment variables), so a plain script starts without
    reading any profile. A ``--profile`` no source defines is a model name for the script's
    ``fromProfile``: no servers then."""
    import os

    name = args.profile or os.environ.get("PINOCCHIO_PROFILE")
    sources = args.profile_file or args.profile_registries or os.environ.get("PINOCCHIO_PROFILE_REGISTRIES")
    if not name and not sources:
        return None
    from geppetto.profiles.resolve import lookup_profile, resolve_run_settings

    options = {
        "profile_file": args.profile_file,
        "profile_registries": args.profile_registries,
        "config_file": args.config_file,
    }
    if name:
        return lookup_profile(name, **options)
    return resolve_run_settings(**options)


def run(args: argparse.Namespace) -> int:
    from geppetto.inputs import LIMITS, read_file_text
    from geppetto.js import JSRuntime, JSScriptError, JSScriptMemoryError, JSScriptTimeout
    from geppetto.js.module import install_geppetto_module
    from geppetto.js.module.lab import install_lab_globals

    path = script_path(args)
    try:
        source = read_file_text(path, LIMITS.script, "script")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read script {path}: {exc}") from None
    from geppetto.cli.mcp import command_tools

    host_tools = load_host_tools(args.host_tools) if args.host_tools else None
    # --mcp / --mcp-config tools and the selected profile's mcpServers join the host tools
    # (useHostTools). Not the config files' mcpServers: reading them would slow every script's
    # start, and scripts name their servers with addMCP.
    args.resolved_settings = selected_profile(args)
    mcp = command_tools(args, configured=False, profile=True)
    result: list[str] = []
    runtime = JSRuntime(memory_limit_bytes=args.max_memory or None)
    host = None
    try:
        if mcp is not None:  # started now: useHostTools() copies the tools by name
            host_tools = mcp.registry(host_tools)
            mcp.prepare(host_tools)
        host = install_geppetto_module(
            runtime,
            host_tools=host_tools,
            store=store_opener(args),
            default_profile=args.profile,
            profile_file=args.profile_file,
            profile_registries=args.profile_registries,
            config_file=args.config_file,
        )
        install_lab_globals(runtime)
        example = example_globals(args, path)
        runtime.set_global("GEPPETTO_EXAMPLE", example)
        # what the reference's turn-store example (34) reads from its host
        runtime.set_global("GEPPETTO_PROFILE", example["profile"])
        runtime.set_global("GEPPETTO_TIMEOUT_MS", example["timeoutMs"])
        # A plain script's completion value is captured with eval; a script with top-level
        # await or return runs as a module and its returned value is printed instead.
        capture = args.print_result and _is_plain_script(runtime, source)
        if capture:
            runtime.set_global("__geppetto_set_result", result.append)
            runtime.eval(_CAPTURE)
            source = "return __gp_capture(eval(" + json.dumps(source) + "));"
        deadline = args.timeout_ms / 1000 if args.timeout_ms else None
        try:
            returned = runtime.run_script(source, str(path), timeout=deadline)
        except JSScriptTimeout:  # the runtime is interrupted: no more JS runs
            print(f"error: script exceeded --timeout-ms {args.timeout_ms}", file=sys.stderr)
            _stop_inferences(host)
            return 1
        except JSScriptMemoryError as exc:
            runtime.interrupt()  # an engine at its memory limit runs nothing more reliably
            limit = format_bytes(exc.limit_bytes)
            print(f"error: script exceeded the memory limit of {limit} (--max-memory)", file=sys.stderr)
            if exc.stack.strip():
                print(exc.stack.rstrip(), file=sys.stderr)
            _stop_inferences(host)
            return 1
        except JSScriptError as exc:
            if capture:
                exc.stack = _captured_stack(exc.stack, str(path))
            print(exc.format(), file=sys.stderr)
            _stop_inferences(host)  # what the failed script left running
            return 1
        except KeyboardInterrupt:
            runtime.interrupt()  # stops busy JS too: the owner thread is free at once
            _stop_inferences(host)
            raise
    finally:
        runtime.close()
        if host is not None:
            host.close_stores()
        if mcp is not None:
            mcp.close()
    if capture:
        print(result[0] if result else "null")
    elif args.print_result:
        print(json.dumps(returned, ensure_ascii=False))
    print(f"PASS: {path.name}")
    return 0


def _captured_stack(stack: str, path: str) -> str:
    """A stack of a script run through ``eval`` for ``--print-result``: eval'd code is named
    ``<input>`` (here it is the script) and the last frame is the one-line wrapper, not the script."""
    lines = stack.replace("<input>", path).splitlines()
    if lines and lines[-1].strip().startswith(f"at <anonymous> ({path}:1:"):
        lines.pop()
    return "\n".join(lines)


def _stop_inferences(host: GeppettoHost) -> None:
    """Cancel the script's running inferences and give them a moment to reach the store."""
    if host.cancel_all():
        host.wait_idle(_CANCEL_GRACE_SECONDS)


def main(argv: list[str] | None = None) -> int:
    """``python -m geppetto.cli.js run SCRIPT.js ...``: the ``js`` command on its own."""
    import os

    from geppetto.cli.errors import run_guarded
    from geppetto.cli.js_commands import add_js_commands

    parser = argparse.ArgumentParser(prog="geppetto")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    add_js_commands(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(["js", *(sys.argv[1:] if argv is None else argv)])
    if getattr(args, "handler", None) is None:
        args.subparser.print_help(sys.stderr)
        return 2
    return run_guarded(args.handler, args, debug=args.debug or bool(os.environ.get("GEPPETTO_DEBUG")))


if __name__ == "__main__":
    sys.exit(main())
