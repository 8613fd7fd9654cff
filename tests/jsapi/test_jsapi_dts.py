"""``geppetto.d.ts`` matches the real module: every declared export, member and method exists, and
everything that exists is declared (``consts`` values included)."""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path
from typing import Any

from .conftest import JSHarness, make_harness

DTS = importlib.resources.files("geppetto.js").joinpath("geppetto.d.ts").read_text(encoding="utf-8")


def _block(text: str, header: str) -> str:
    """The body of the ``{ ... }`` block that follows ``header`` (brace matching)."""
    start = text.index(header) + len(header)
    start = text.index("{", start - 1) + 1
    depth = 1
    for pos in range(start, len(text)):
        if text[pos] == "{":
            depth += 1
        elif text[pos] == "}":
            depth -= 1
            if depth == 0:
                return text[start:pos]
    raise AssertionError(f"unbalanced block after {header!r}")


def _top_level(body: str) -> str:
    """Only depth-0 text of a block body (nested object types and blocks removed)."""
    out, depth = [], 0
    for char in body:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


MODULE = _block(DTS, 'declare module "geppetto" {')


def declared_exports() -> set[str]:
    top = _top_level(MODULE)
    return set(re.findall(r"export (?:const|function|namespace) (\w+)", top))


def namespace_members(name: str) -> set[str]:
    body = _top_level(_block(MODULE, f"export namespace {name} {{"))
    return set(re.findall(r"(?:function|const) (\w+)", body))


def members_of(body: str) -> set[str]:
    """Member names of an object type body (properties and methods; comments and nested types skipped)."""
    body = re.sub(r"/\*.*?\*/", "", _top_level(body), flags=re.S)
    return set(re.findall(r"^\s+(?:readonly\s+)?(\w+)\??\s*[(:<]", body, flags=re.M))


def interface_members(name: str, module: str = MODULE) -> set[str]:
    """Members of ``interface name``, including those of the interfaces it extends."""
    match = re.search(rf"export interface {name}\b(?: extends ([\w, ]+))? \{{", module)
    assert match is not None, f"interface {name} is not declared"
    members = members_of(_block(module, match.group(0)))
    for base in (match.group(1) or "").split(","):
        if base.strip():
            members |= interface_members(base.strip(), module)
    return members


def const_members(name: str, module: str = MODULE) -> set[str]:
    """Members of ``export const name: {...}`` or ``export const name: Interface``."""
    match = re.search(rf"export const {name}: (\{{|\w+)", module)
    assert match is not None, f"const {name} is not declared"
    if match.group(1) == "{":
        return members_of(_block(module, match.group(0)))
    return interface_members(match.group(1), module)


def declared_consts() -> dict[str, dict[str, str]]:
    body = _block(MODULE, "export namespace consts {")
    out: dict[str, dict[str, str]] = {}
    for name in namespace_members("consts"):
        members = _block(body, f"const {name}: {{")
        out[name] = dict(re.findall(r'readonly (\w+): "([^"]*)"', members))
    return out


def real_shapes(js: JSHarness) -> dict[str, Any]:
    return js.one(
        """
        const protoNames = (o) => Object.getOwnPropertyNames(Object.getPrototypeOf(o));
        const members = (o) => [...new Set([...Object.keys(o), ...protoNames(o)])];
        const e = g.engines.echo();
        const b = g.createBuilder();
        const s = g.createSession({engine: e});
        const r = g.tools.createRegistry();
        const h = s.start({blocks: [{kind: 'user'}]});
        const sb = g.schema.object();
        const tb = g.tool('t').handler(() => 1);
        report({
          exports: Object.keys(g),
          namespaces: {turns: Object.keys(g.turns), engines: Object.keys(g.engines),
                       middlewares: Object.keys(g.middlewares), tools: Object.keys(g.tools)},
          consts: g.consts,
          constObjects: {schema: Object.keys(g.schema)},
          Engine: members(e), Builder: members(b), Session: members(s), ToolRegistry: members(r),
          ToolRegistryBuilder: members(g.toolRegistry()),
          Schema: members(sb.build()), SchemaBuilder: members(sb), ToolBuilder: members(tb),
          ToolSpec: members(tb.build()),
          RunHandle: Object.keys(h),
          middlewareObjects: [Object.keys(g.middlewares.fromJS(() => 1)),
            Object.keys(g.middlewares.go('x', {}))],
        });
        """
    )


def test_exports_match(js: JSHarness) -> None:
    real = real_shapes(js)
    assert declared_exports() == set(real["exports"])
    for name, members in real["namespaces"].items():
        assert namespace_members(name) == set(members), name
    for name, members in real["constObjects"].items():
        assert const_members(name) == set(members), name


def test_object_methods_match(js: JSHarness) -> None:
    real = real_shapes(js)
    for name in ("Engine", "Builder", "Session", "ToolRegistry", "RunHandle", "ToolRegistryBuilder",
                 "Schema", "SchemaBuilder", "ToolBuilder", "ToolSpec"):
        # metadata/modelInfo are optional: only engines built from InferenceSettings carry them.
        optional = {"metadata", "modelInfo"} if name == "Engine" else set()
        assert interface_members(name) == set(real[name]) | optional, name
    js_keys, go_keys = real["middlewareObjects"]
    assert interface_members("JSMiddleware") == set(js_keys)
    assert interface_members("HostMiddleware") == set(go_keys)


def test_turn_store_objects_match(tmp_path: Path) -> None:
    """``turnStores`` and its wrapper (the store is never opened: the provider is never called)."""
    opened: list[bool] = []
    runtime, harness = make_harness(store=lambda: opened.append(True))  # type: ignore[arg-type,func-returns-value]
    try:
        namespace, wrapper = harness.run(
            """
            const ts = g.turnStores.default();
            report(Object.keys(g.turnStores));
            const proto = Object.getOwnPropertyNames(Object.getPrototypeOf(ts));
            report([...new Set([...Object.keys(ts), ...proto])]);
            """
        )
    finally:
        runtime.close()
    assert const_members("turnStores") == set(namespace)
    assert interface_members("TurnStore") == set(wrapper)
    assert opened == []


def test_snapshot_and_turn_wrapper_match(tmp_path: Path) -> None:
    from geppetto.store import TurnStore

    with TurnStore(tmp_path / "turns.db") as store:
        runtime, harness = make_harness(store=store)
        try:
            snapshot, wrapper = harness.run(
                """
                const members = (o) => [...new Set([...Object.keys(o),
                  ...Object.getOwnPropertyNames(Object.getPrototypeOf(o))])];
                g.createSession({engine: g.engines.echo(), store: true}).run({blocks: [{kind: 'user'}]});
                const snap = g.turnStores.default().loadLatest();
                report(members(snap)); report(members(snap.turn));
                """
            )
        finally:
            runtime.close()
    assert interface_members("TurnStoreSnapshot") == set(snapshot)
    assert interface_members("TurnWrapper") == set(wrapper)


def test_consts_match(js: JSHarness) -> None:
    assert declared_consts() == real_shapes(js)["consts"]


def test_the_parser_sees_what_it_should() -> None:
    """Guards the checks above against a parser that silently finds nothing."""
    assert {"createSession", "turns", "consts", "version"} <= declared_exports()
    assert "newToolUseBlock" in namespace_members("turns")
    assert {"run", "runAsync", "start", "id"} <= interface_members("Session")
    assert declared_consts()["EventType"]["TOOL_CALL"] == "tool-call"
    assert {"add", "addGo", "register", "call"} <= interface_members("ToolRegistryBuilder")  # via extends
    assert const_members("schema") >= {"string", "enum"} and const_members("turnStores") == {"default", "get"}

