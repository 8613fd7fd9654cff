"""``geppetto turns show``: pretty-print a YAML or JSON turn file."""

from __future__ import annotations

import argparse
import sys

from geppetto.errors import TurnError
from geppetto.inputs import LIMITS, read_stream_text
from geppetto.turns import PrettyPrinter, Turn, format_turn, load_turn, to_json, to_yaml
from geppetto.turns.printers import compact_json, format_block_line
from geppetto.turns.serde import detect_format, parse_turn


def read_turn(source: str) -> Turn:
    """The turn in file ``source`` (``-``: stdin), strictly: an empty document is an error."""
    if source != "-":
        return load_turn(source, strict=True)
    text = read_stream_text(sys.stdin, LIMITS.turn_file, "turn on stdin")
    try:
        return parse_turn(text, detect_format("-", text), strict=True)
    except TurnError as exc:
        raise TurnError(f"turn on stdin: {exc}") from None


def format_lines(turn: Turn, *, ids: bool, metadata: bool) -> str:
    """The one-line-per-block form, with ids and metadata when asked for."""
    lines = [f"turn id={turn.id}"] if ids and turn.id else []
    for block in turn.blocks:
        prefix = f"id={block.id} " if ids and block.id else ""
        line = prefix + format_block_line(block)
        if metadata and block.metadata:
            line += f" metadata={compact_json(block.metadata)}"
        lines.append(line)
    if metadata:
        for title, mapping in (("metadata", turn.metadata), ("data", turn.data)):
            if mapping:
                lines.append(f"{title}: {compact_json(mapping)}")
    return "".join(line + "\n" for line in lines)


def show(args: argparse.Namespace) -> int:
    turn = read_turn(args.file)
    if args.format == "yaml":
        sys.stdout.write(to_yaml(turn))
    elif args.format == "json":
        sys.stdout.write(to_json(turn) + "\n")
    elif args.format == "lines":
        if args.ids or args.metadata:
            sys.stdout.write(format_lines(turn, ids=args.ids, metadata=args.metadata))
        else:
            sys.stdout.write(format_turn(turn))
    else:
        printer = PrettyPrinter(include_ids=args.ids, include_metadata=args.metadata)
        sys.stdout.write(printer.format(turn))
    return 0
