"""Our ``geppetto.d.ts`` declares everything the reference's current ``geppetto.d.ts`` declares.

The reference's declarations are read from ``shared/spec/reference-head/types/geppetto.d.ts`` beside
the repository (never copied). Every exported name, every interface member and every member of an
exported object type must be declared here too (our declarations may add more: the seed API and
this runtime's extras). That our declarations match the real module is checked by
``test_jsapi_dts.py``; together they make "declared by the reference" imply "present at runtime".
"""

from __future__ import annotations

import re

import pytest

from .conftest import reference_head
from .test_jsapi_dts import MODULE, _block, _top_level, const_members, interface_members, members_of

# What the reference declares and this runtime does not have yet (nothing now). Each entry is
# "export NAME", "interface NAME", "interface NAME.MEMBER",
# "const NAME.MEMBER" or "type NAME"; test_not_yet_ours_entries_are_still_missing says which became
# stale once declared.
NOT_YET_OURS: frozenset[str] = frozenset()


def reference_dts() -> str:
    return reference_head("types/geppetto.d.ts").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference() -> str:
    return _block(reference_dts(), 'declare module "geppetto" {')


def reference_items(module: str) -> dict[str, set[str]]:
    """Entries of the reference module: exports, interfaces with members, object-typed consts, types."""
    top = _top_level(module)
    items: dict[str, set[str]] = {}
    for name in re.findall(r"export (?:const|function) (\w+)", top):
        items[f"export {name}"] = set()
    for name in re.findall(r"export interface (\w+)", top):
        items[f"interface {name}"] = members_of(_block(module, f"export interface {name} {{"))
    for name in re.findall(r"export const (\w+): \{", module):
        items[f"const {name}"] = members_of(_block(module, f"export const {name}: {{"))
    for name in re.findall(r"export type (\w+)", top):
        items[f"type {name}"] = set()
    return items


def _ours_declares(kind: str, name: str) -> bool:
    top = _top_level(MODULE)
    if kind == "export":
        return re.search(rf"export (?:const|function|namespace) {name}\b", top) is not None
    return re.search(rf"export (?:interface|type) {name}\b", top) is not None


def _our_members(kind: str, name: str) -> set[str]:
    if kind == "const":
        if re.search(rf"export namespace {name} \{{", MODULE):
            body = _top_level(_block(MODULE, f"export namespace {name} {{"))
            return set(re.findall(r"(?:function|const) (\w+)", body))
        return const_members(name)
    alias = re.search(rf"export type {name} = (\w+);", MODULE)
    return interface_members(alias.group(1) if alias else name)


def missing_from_ours(module: str) -> set[str]:
    missing: set[str] = set()
    for key, members in reference_items(module).items():
        kind, name = key.split(" ", 1)
        declared = _ours_declares("export" if kind in ("export", "const") else kind, name)
        if not declared:
            missing.add(key)
            continue
        if members:
            missing |= {f"{key}.{member}" for member in members - _our_members(kind, name)}
    return missing


def test_every_reference_declaration_is_ours(reference: str) -> None:
    missing = {
        key
        for key in missing_from_ours(reference)
        if key not in NOT_YET_OURS and key.rsplit(".", 1)[0] not in NOT_YET_OURS
    }
    assert missing == set(), f"declared by the reference, not by our geppetto.d.ts: {sorted(missing)}"


def test_not_yet_ours_entries_are_still_missing(reference: str) -> None:
    """An entry here that is now declared should leave NOT_YET_OURS."""
    missing = missing_from_ours(reference)
    parents = {key.rsplit(".", 1)[0] for key in missing}
    stale = {key for key in NOT_YET_OURS if key not in missing and key not in parents}
    assert stale == set(), f"now declared: remove from NOT_YET_OURS: {sorted(stale)}"


def test_the_reference_parser_sees_what_it_should(reference: str) -> None:
    """Guards the checks above against a parser that silently finds nothing."""
    items = reference_items(reference)
    assert {"export agent", "export schema", "export toolRegistry", "export version"} <= set(items)
    assert items["interface ToolRegistryBuilder"] == {"add", "addGo", "list", "call"}
    assert items["const schema"] == {"string", "integer", "number", "boolean", "array", "object", "enum"}
    assert items["interface EventEmitterLike"] == {"on", "once", "off", "emit"}
    assert "RunMetadataKeys" in items["const consts"] and "type GeppettoEvent" in items
    assert len(items) >= 60
