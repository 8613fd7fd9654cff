"""``geppetto infer``: one inference, printed the way the reference ``simple-inference`` prints it."""

from __future__ import annotations

import argparse
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
    return sys.stdin.read().strip()


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
    from geppetto.cli.profiles import engine_from_args
    from geppetto.cli.sessions import ReportingPersister, open_store, warn
    from geppetto.session import EngineBuilder, Session

    prompt = read_prompt(args)
    if not prompt.strip():
        raise ConfigError("the prompt is empty: pass a non-empty PROMPT")
    images = load_image_args(getattr(args, "images", None))
    try:
        engine = engine_from_args(args)
    except GeppettoError as exc:
        raise ConfigError(f"failed to create engine: {exc}") from None
    store = open_store(args)
    try:
        persister = ReportingPersister(store, warn) if store is not None else None
        return _run_session(Session(EngineBuilder(engine), store=persister), prompt, args, images)
    finally:
        if store is not None:
            store.close()


def _run_session(
    session: Session, prompt: str, args: argparse.Namespace, images: list[dict[str, Any]] | None = None
) -> int:
    seed = Turn.builder().system(args.system).user(prompt, images).build()
    sinks: list[EventSink] = [PrinterSink(sys.stdout)] if args.stream else []
    try:
        turn = session.run(seed, sinks=sinks)
    except KeyboardInterrupt:
        partial = session.latest()
        if partial is not None:
            print_final_turn(partial, args.output)
        raise
    except InferenceCancelled:
        raise
    except GeppettoError as exc:
        raise GeppettoError(f"inference failed: {exc}") from exc
    print_final_turn(turn, args.output)
    return 0
