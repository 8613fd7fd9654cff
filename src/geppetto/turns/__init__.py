"""The turn model: blocks, kinds, typed keys, serde and printers."""

from typing import TYPE_CHECKING

from geppetto._lazy import lazy_exports
from geppetto.turns.keys import (
    BlockMetaKeys,
    DataKeys,
    Key,
    KeyScope,
    TurnMetaKeys,
    canonical_id,
    resolve_key,
    short_key,
)
from geppetto.turns.kinds import BlockKind, PayloadKey, Role
from geppetto.turns.model import Block, Turn, TurnBuilder, new_id
from geppetto.turns.printers import PrettyPrinter, format_block_line, format_turn, print_turn
from geppetto.turns.serde import (
    from_json,
    from_yaml,
    load_turn,
    save_turn,
    to_json,
    to_yaml,
    turn_from_dict,
    turn_to_dict,
)

__all__ = [
    "Block",
    "BlockKind",
    "BlockMetaKeys",
    "DataKeys",
    "Key",
    "KeyScope",
    "PayloadKey",
    "PrettyPrinter",
    "Role",
    "Turn",
    "TurnBuilder",
    "TurnMetaKeys",
    "canonical_id",
    "format_block_line",
    "format_turn",
    "from_json",
    "from_yaml",
    "image_bytes",
    "image_file",
    "image_url",
    "load_turn",
    "new_id",
    "print_turn",
    "resolve_key",
    "save_turn",
    "short_key",
    "to_json",
    "to_yaml",
    "turn_from_dict",
    "turn_to_dict",
]

# Image helpers load on first use: most runs carry no images, and start-up time is a budget.
_LAZY = {name: "geppetto.turns.images" for name in ("image_bytes", "image_file", "image_url")}
__getattr__ = lazy_exports(__name__, _LAZY)

if TYPE_CHECKING:
    from geppetto.turns.images import image_bytes, image_file, image_url
