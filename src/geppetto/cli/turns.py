"""``geppetto turns show``: pretty-print a YAML or JSON turn file."""

from __future__ import annotations

import argparse
import sys

from geppetto.turns import PrettyPrinter, format_turn, from_json, from_yaml, load_turn, to_json, to_yaml
from geppetto.turns.serde import detect_format


def show(args: argparse.Namespace) -> int:
    if args.file == "-":
        text = sys.stdin.read()
        turn = from_json(text) if detect_format("-", text) == "json" else from_yaml(text)
    else:
        turn = load_turn(args.file)
    if args.format == "yaml":
        sys.stdout.write(to_yaml(turn))
    elif args.format == "json":
        sys.stdout.write(to_json(turn) + "\n")
    elif args.format == "lines":
        sys.stdout.write(format_turn(turn))
    else:
        printer = PrettyPrinter(include_ids=args.ids, include_metadata=args.metadata)
        sys.stdout.write(printer.format(turn))
    return 0
