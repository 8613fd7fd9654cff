"""Exporting stored sessions as YAML or JSON documents built on the turn serde.

A session export is ``{session: {...}, turns: [{seq, index, outcome, ..., turn: <turn>}]}``
where each ``turn`` is the reference turn mapping (what ``geppetto turns show`` reads). With
``latest_only`` the export is just the latest turn, as a plain turn file.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
import yaml

from geppetto.store.store import TurnStore
from geppetto.turns.serde import to_json, to_yaml

ExportFormat = Literal["yaml", "json"]

_YamlDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def session_document(store: TurnStore, session_id: str) -> dict[str, Any]:
    info = store.session_info(session_id)
    records = store.list_turns(session_id, with_turns=True)
    return {"session": info.to_dict(), "turns": [record.to_dict() for record in records]}


def export_session(
    store: TurnStore, session_id: str, fmt: ExportFormat = "yaml", *, latest_only: bool = False
) -> str:
    """The session (or only its latest turn) as YAML or JSON text."""
    if latest_only:
        turn = store.get_turn(session_id).turn
        assert turn is not None
        return to_json(turn) + "\n" if fmt == "json" else to_yaml(turn)
    document = session_document(store, session_id)
    if fmt == "json":
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    text: str = yaml.dump(
        document, Dumper=_YamlDumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return text
