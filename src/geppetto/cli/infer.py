"""``geppetto infer``: one inference, printed the way the reference ``simple-inference`` prints it.

``--stream`` prints the reply as it arrives on stdout; with ``--output json`` or ``yaml`` stdout
carries only the final document, so the live text goes to stderr when that is a terminal (and is
not printed otherwise). Errors are printed once, on stderr. When stdout's reader goes away, the
run is cancelled (its partial turn is stored) and the command exits 141 without a word.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING, Any

from geppetto.errors import ConfigError, GeppettoError, InferenceCancelled
from geppetto.events.sinks import EventSink, PrinterSink
from geppetto.turns import Turn, format_turn, to_json, to_yaml

if TYPE_CHECKING:
    from geppetto.session import Session


def read_prompt(args: argparse.Namespace) -> str:
    if args.prompt is not None:
        return str(args.prompt)
    if sys.stdin is None or sys.stdin.isatty():
        raise ConfigError("missing PROMPT: pass it as an argument or pipe it on stdin")
    from geppetto.inputs import LIMITS, read_stream_text

    return read_stream_text(sys.stdin, LIMITS.prompt, "prompt on stdin").strip()


def print_final_turn(turn: Turn, output: str) -> None:
    if output == "yaml":
        sys.stdout.write(to_yaml(turn))
    elif output == "json":
        sys.stdout.write(to_json(turn) + "\n")
    else:
        sys.stdout.write("\n=== Final Turn ===\n")
        sys.stdout.write(format_turn(turn))
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    from geppetto.cli.images import load_image_args
    from geppetto.cli.mcp import command_tools
    from geppetto.cli.profiles import builder_from_args
    from geppetto.cli.sessions import ReportingPersister, open_store, warn
    from geppetto.session import Session

    prompt = read_prompt(args)
    if not prompt.strip():
        raise ConfigError("the prompt is empty: pass a non-empty PROMPT")
    images = load_image_args(args.images)
    try:
        builder = builder_from_args(args)
    except GeppettoError as exc:
        raise ConfigError(f"failed to create engine: {exc}") from None
    mcp = command_tools(args)  # --mcp / --mcp-config: the servers stop in the finally below
    store = None
    try:
        if mcp is not None:
            builder.with_tools(mcp.registry())
        store = open_store(args)
        persister = ReportingPersister(store, warn) if store is not None else None
        return _run_session(Session(builder, store=persister), prompt, args, images)
    finally:
        if store is not None:
            store.close()
        if mcp is not None:
            mcp.close()


def stream_sink(args: argparse.Namespace, session: Session) -> PrinterSink | None:
    """Where ``--stream`` prints: stdout for text output, else stderr if it is a terminal."""
    if not args.stream:
        return None
    out = sys.stdout
    if args.output != "text":
        if sys.stderr is None or not sys.stderr.isatty():
            return None
        out = sys.stderr
    return PrinterSink(out, show_errors=False, on_broken=lambda: _cancel(session))


def _cancel(session: Session) -> None:
    with contextlib.suppress(GeppettoError):
        session.cancel_active()


def _run_session(
    session: Session, prompt: str, args: argparse.Namespace, images: list[dict[str, Any]] | None = None
) -> int:
    seed = Turn.builder().system(args.system).user(prompt, images).build()
    sink = stream_sink(args, session)
    sinks: list[EventSink] = [sink] if sink is not None else []
    try:
        turn = session.run(seed, sinks=sinks)
    except InferenceCancelled:
        if sink is not None and sink.broken:
            raise BrokenPipeError("stdout was closed") from None
        raise
    except KeyboardInterrupt:
        partial = session.latest()
        if partial is not None:
            print_final_turn(partial, args.output)
        raise
    except GeppettoError as exc:
        raise GeppettoError(f"inference failed: {exc}") from exc
    print_final_turn(turn, args.output)
    return 0
