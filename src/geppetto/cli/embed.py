"""``geppetto embed``: vectors for a text, stdin, or a JSONL file, from the profile's embeddings.

One text prints its vector as a JSON array; ``--file`` prints one JSON line per input
(``{"id", "embedding"}``); ``--json`` prints one document with the model and every vector. A
progress bar (rich, on stderr) appears only when stderr is a terminal and the input is long.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from geppetto.errors import ConfigError

if TYPE_CHECKING:
    from geppetto.embeddings.types import Embedder

CHUNK = 1024  # texts per call to the embedder (the bar moves between calls)
PROGRESS_MIN = 200  # fewer texts than this: no bar


def add_embed_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from geppetto.cli.profile_commands import add_profile_options

    embed = commands.add_parser("embed", help="embed texts with the profile's embeddings section")
    embed.add_argument("text", nargs="?", default=None, metavar="TEXT", help="the text ('-': read stdin)")
    embed.add_argument(
        "--file",
        metavar="JSONL",
        default=None,
        help="one input per line: a JSON string, or an object with text (and id); '-' for stdin",
    )
    add_profile_options(embed)
    embed.add_argument("--json", action="store_true", help="print one JSON document with the model")
    embed.add_argument("--no-cache", action="store_true", help="skip the profile's embeddings cache")
    embed.set_defaults(handler="geppetto.cli.embed:run")

    from geppetto.cli.rerank import add_rerank_command

    add_rerank_command(commands)


def read_lines(source: str, what: str = "--file") -> list[str]:
    """The lines of ``source`` (a path, or ``-`` for stdin), at most ``LIMITS.text_file`` bytes."""
    import io

    from geppetto.inputs import LIMITS, read_file_text, read_stream_text

    if source == "-":
        text = read_stream_text(sys.stdin, LIMITS.text_file, f"{what} on stdin")
    else:
        text = read_file_text(source, LIMITS.text_file, what)
    return list(io.StringIO(text, newline=None))  # the lines a text-mode file gives: \n, \r\n, \r


def read_inputs(source: str, what: str = "--file") -> list[tuple[str, str]]:
    """``(id, text)`` per non-blank line: a JSON string, an object with ``text`` (and ``id``), or
    (not JSON) the line itself. Ids default to the line number."""
    import orjson

    items: list[tuple[str, str]] = []
    try:
        lines = read_lines(source, what)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {source}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {source} is not UTF-8 text") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value: Any = orjson.loads(line)
        except orjson.JSONDecodeError:
            value = line.rstrip("\n")
        if isinstance(value, dict):
            text, ident = value.get("text"), value.get("id", number)
        else:
            text, ident = value, number
        if not isinstance(text, str):
            raise ConfigError(f"{what} line {number}: expected a string or an object with a string text")
        items.append((str(ident), text))
    return items


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A rich bar on stderr when it is a terminal and ``total`` is large; else a no-op."""
    if total < PROGRESS_MIN or not sys.stderr.isatty():
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


async def embed_all(
    embedder: Embedder, texts: list[str], advance: Callable[[int], None]
) -> list[list[float]]:
    vectors: list[list[float]] = []
    try:
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            vectors.extend(await embedder.embed(chunk))
            advance(len(chunk))
    finally:
        await embedder.aclose()
    return vectors


def run(args: argparse.Namespace) -> int:
    import asyncio

    from geppetto.cli.profiles import resolve_from_args
    from geppetto.embeddings.factory import embedder_from_settings

    if (args.text is None) == (args.file is None):
        raise ConfigError("give a TEXT (or - for stdin) or --file JSONL, not both and not neither")
    if args.file is not None:
        items = read_inputs(args.file)
    elif args.text == "-":
        from geppetto.inputs import LIMITS, read_stream_text

        items = [("1", read_stream_text(sys.stdin, LIMITS.prompt, "text on stdin"))]
    else:
        items = [("1", args.text)]
    import orjson

    embedder = embedder_from_settings(resolve_from_args(args), cache=not args.no_cache)
    model = embedder.model()
    with progress_bar(len(items), "embedding") as advance:
        vectors = asyncio.run(embed_all(embedder, [text for _, text in items], advance))
    out = sys.stdout
    if args.json:
        doc = {
            "model": model.to_dict(),
            "data": [
                {"id": ident, "embedding": vector} for (ident, _), vector in zip(items, vectors, strict=True)
            ],
        }
        out.write(orjson.dumps(doc).decode() + "\n")
    elif args.file is not None:
        for (ident, _), vector in zip(items, vectors, strict=True):
            out.write(orjson.dumps({"id": ident, "embedding": vector}).decode() + "\n")
    else:
        out.write(orjson.dumps(vectors[0]).decode() + "\n")
    return 0
