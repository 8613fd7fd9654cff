"""Text made safe to print for a person: control characters shown, never obeyed.

A model (or a hostile server) can put terminal escape sequences in its reply: clear the screen,
set the window title, hide a link behind OSC 8, write the clipboard with OSC 52, move the cursor
to overwrite what was printed. Every human-readable printer passes text through :func:`safe_text`,
which maps each control character, one character at a time, to a visible stand-in:

- C0 controls and DEL become their Unicode Control Pictures (ESC is ``␛``, CR is ``␍``, BEL
  ``␇``), one column wide like the character they replace; newline and tab are kept;
- C1 controls (U+0080-U+009F, e.g. the one-byte CSI U+009B) and the bidirectional overrides
  and isolates (the "Trojan source" characters) become ``\\x9b`` / ``\\u202e`` escapes.

Because the mapping is per character, a sequence split across streamed deltas is neutralised as
surely as a whole one, with no state to carry. Stored turns and JSON/YAML output stay exact; only
what is printed for people changes. Nothing here imports the rest of the package.
"""

from __future__ import annotations

_KEEP = frozenset("\n\t")
_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)


def _table() -> dict[int, str]:
    table: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20) if chr(code) not in _KEEP}
    table[0x7F] = "\u2421"
    table.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})
    table.update({code: f"\\u{code:04x}" for code in _BIDI})
    return table


_TABLE = _table()


def safe_text(text: str) -> str:
    """``text`` with every terminal control character replaced by a visible stand-in."""
    return text.translate(_TABLE)


def has_controls(text: str) -> bool:
    """Whether :func:`safe_text` would change ``text``."""
    return any(ord(char) in _TABLE for char in text)
