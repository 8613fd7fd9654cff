"""Bounded reading of everything a user hands in: turn files, prompts on stdin, rpc lines, scripts,
profile and config files.

Each kind of input has a documented size limit (README, "Input limits"). Readers take at most the
limit plus one byte, so an endless source (``/dev/zero``, a runaway pipe) costs a bounded amount
of memory and ends in :class:`InputTooLarge`, which says what was too large and what the limit is.
Only the standard library is imported here: every layer may use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from geppetto.errors import ConfigError

MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class InputLimits:
    """Largest accepted size, in bytes, of each kind of input."""

    turn_file: int = 64 * MiB  # geppetto turns show, load_turn (inline images make turns large)
    prompt: int = 16 * MiB  # a prompt piped on stdin
    rpc_line: int = 64 * MiB  # one request line of geppetto rpc (a whole seed turn may ride in it)
    script: int = 16 * MiB  # a JS script for geppetto js run
    profile_file: int = 16 * MiB  # profile registries, profiles.yaml, config.yaml
    text_file: int = 256 * MiB  # the inputs of geppetto embed --file and rerank --docs


LIMITS = InputLimits()


class InputTooLarge(ConfigError):
    """An input is larger than its documented limit."""

    code = "input_too_large"


def describe_size(size: int) -> str:
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


def too_large(what: str, limit: int) -> InputTooLarge:
    return InputTooLarge(f"{what} is larger than the {describe_size(limit)} limit")


def read_file_bytes(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of ``path``; :class:`InputTooLarge` if there is more.

    :class:`OSError` passes through for the caller to word (missing file, permissions)."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise too_large(f"{what} {os.fspath(path)}", limit)
    return data


def read_file_text(path: str | os.PathLike[str], limit: int, what: str) -> str:
    """:func:`read_file_bytes` decoded as UTF-8 (:class:`UnicodeDecodeError` passes through)."""
    return read_file_bytes(path, limit, what).decode("utf-8")


def read_stream_text(stream: TextIO | BinaryIO, limit: int, what: str) -> str:
    """All of ``stream`` (text or binary; binary is decoded as UTF-8) up to ``limit`` bytes.

    For a text stream the underlying binary buffer is read when there is one, so the limit
    counts bytes; otherwise characters are counted (close enough for a guard)."""
    buffer = getattr(stream, "buffer", None)
    source = buffer if buffer is not None else stream
    data = source.read(limit + 1)
    if len(data) > limit:
        raise too_large(what, limit)
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data


def read_line(stream: BinaryIO, limit: int) -> tuple[bytes, bool]:
    """The next line of ``stream`` and whether it fit in ``limit`` bytes (newline excluded).

    A line that does not fit is read to its end in pieces and dropped, so memory stays at about
    ``limit``; the caller then answers it with an error and goes on. ``b""`` means end of input."""
    line = stream.readline(limit + 1)
    if len(line) <= limit or line.endswith(b"\n"):
        return line, True
    while True:  # skip the rest of an overlong line
        piece = stream.readline(MiB)
        if not piece or piece.endswith(b"\n"):
            return b"", False
