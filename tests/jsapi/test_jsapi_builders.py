"""``schema.*``, ``tool(name)`` and ``toolRegistry()`` (reference HEAD: api_schema_builders.go,
api_tool_builders.go), including every error message the reference throws for them."""

from __future__ import annotations

from typing import Any

from .conftest import JSHarness
from .test_jsapi_tools import MODEL


def _errors(js: JSHarness, calls: list[str]) -> list[Any]:
    body = "".join(
        f"try {{ {c}; report('no error') }} catch (e) {{ report([e.name, e.message]) }}\n" for c in calls
    )
    return js.run(body)


def test_schema_builders_make_json_schema(js: JSHarness) -> None:
    got = js.one(
        """
        const s = g.schema;
        const obj = s.object()
          .description('A thing')
          .property('name', s.string().description('Its name'))
          .property('tags', s.array().items(s.string()))
          .property('size', s.enum('s', 'm', 'l'))
          .property('count', {type: 'integer', minimum: 0})
          .property('nested', s.object().property('ok', s.boolean()).build())
          .required('name', ['count', ' '], '  tags ');
        const kinds = ['string', 'integer', 'number', 'boolean', 'array', 'object'];
        report({kinds: kinds.map((k) => s[k]().toJSON()),
                obj: obj.toJSON(), built: obj.build().toJSON(), json: JSON.parse(JSON.stringify(obj))});
        """
    )
    assert got["kinds"] == [
        {"type": "string"},
        {"type": "integer"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array"},
        {"type": "object", "properties": {}},
    ]
    expected = {
        "type": "object",
        "description": "A thing",
        "properties": {
            "name": {"type": "string", "description": "Its name"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "size": {"enum": ["s", "m", "l"]},
            "count": {"type": "integer", "minimum": 0},
            "nested": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
        },
        "required": ["name", "count", "tags"],
    }
    assert got["obj"] == got["built"] == got["json"] == expected


def test_schema_builders_are_immutable(js: JSHarness) -> None:
    got = js.one(
        """
        const base = g.schema.object().property('a', g.schema.string());
        const more = base.property('b', g.schema.number()).required('a');
        const built = more.build();
        const copy = built.toJSON(); copy.properties.a.type = 'changed';
        const clone = built.clone();
        const viewed = base.toJSON(); viewed.properties.x = 1;
        const req = more.required('b');
        report({base: base.toJSON(), more: more.toJSON(), built: built.toJSON(), cloneSame: clone !== built &&
                JSON.stringify(clone.toJSON()) === JSON.stringify(built.toJSON()), req: req.toJSON().required,
                frozen: Object.isFrozen(base), description: base.description().toJSON()});
        """
    )
    assert got["base"] == {"type": "object", "properties": {"a": {"type": "string"}}}
    assert got["more"] == got["built"] == {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "number"}},
        "required": ["a"],
    }
    assert got["cloneSame"] is True
    assert got["req"] == ["b"]  # required() replaces the list, as the reference does
    assert got["frozen"] is True
    assert got["description"] == got["base"]  # description() without text changes nothing


def test_schema_errors(js: JSHarness) -> None:
    assert _errors(
        js,
        [
            "g.schema.object().property('a')",
            "g.schema.object().property('  ', g.schema.string())",
            "g.schema.object().property('a', 'string')",
            "g.schema.object().property('a', [1])",
            "g.schema.array().items()",
            "g.schema.array().items(7)",
            "g.schema.string().description.call({}, 'x')",
        ],
    ) == [
        ["TypeError", "schema.object().property requires name and schema"],
        ["TypeError", "schema property name must not be empty"],
        ["Error", "expected schema wrapper"],
        ["Error", "expected schema wrapper"],
        ["TypeError", "schema.array().items requires schema"],
        ["Error", "expected schema wrapper"],
        ["TypeError", "schema method called on something that is not a schema builder"],
    ]


def test_tool_builder(js: JSHarness) -> None:
    got = js.one(
        """
        const base = g.tool('  lookup ');
        const described = base.description('Look it up');
        const spec = described.input(g.schema.object().property('q', g.schema.string()).required('q'))
          .handler((args) => args.q).build();
        const plain = g.tool('plain').input({type: 'object', properties: {n: {type: 'number'}}})
          .handler(() => 1).build();
        const bare = g.tool('bare').handler(() => 1).build();
        report({spec: [spec.name, spec.description, spec.toJSON()], plain: plain.toJSON(),
                bare: bare.toJSON(),
                keys: Object.keys(spec), json: JSON.parse(JSON.stringify(spec)).name,
                baseUnchanged: base.build === undefined ? null : (() => {
                  try { base.build(); return 'built'; } catch (e) { return e.message; } })()});
        """
    )
    assert got["spec"] == [
        "lookup",
        "Look it up",
        {
            "name": "lookup",
            "description": "Look it up",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    ]
    assert got["plain"] == {
        "name": "plain",
        "description": "",
        "parameters": {"type": "object", "properties": {"n": {"type": "number"}}},
    }
    assert got["bare"] == {"name": "bare", "description": "", "parameters": None}
    assert got["keys"] == ["name", "description"]
    assert got["json"] == "lookup"
    assert got["baseUnchanged"] == "tool handler is required"  # handler() on a copy left base alone


def test_tool_builder_errors(js: JSHarness) -> None:
    assert _errors(
        js,
        [
            "g.tool()",
            "g.tool('')",
            "g.tool('   ')",
            "g.tool('t').build()",
            "g.tool('t').input()",
            "g.tool('t').input(5)",
            "g.tool('t').handler()",
            "g.tool('t').handler('fn')",
        ],
    ) == [
        ["TypeError", "tool(name) requires name"],
        ["TypeError", "tool name must not be empty"],
        ["TypeError", "tool name must not be empty"],
        ["TypeError", "tool handler is required"],
        ["TypeError", "tool.input requires schema"],
        ["Error", "expected schema wrapper"],
        ["TypeError", "tool.handler requires function"],
        ["TypeError", "tool.handler argument must be callable"],
    ]


def test_tool_registry_add_list_call(js: JSHarness) -> None:
    listing, called, ctx, plain, invalid, seed_style = js.run(
        """
        const echo = g.tool('echo_value').description('Echo').input(
          g.schema.object().property('value', g.schema.string()).required('value').build())
          .handler((args, ctx) => ({echoed: args.value, ctx})).build();
        const registry = g.toolRegistry();
        report(registry.add(echo) === registry ? registry.list() : 'not chained');
        const out = registry.call('echo_value', {value: 'hardcut'});
        report(out.echoed); report(out.ctx);
        registry.add({name: 'plain', description: 'Plain', parameters: g.schema.object().property('n',
          g.schema.number()), handler: (a) => a.n * 2});
        report(registry.call('plain', {n: 21}));
        try { registry.call('echo_value', {}); } catch (e) { report(e.message); }
        registry.register({name: 'seed', handler: () => 'seed'});
        report([registry.call('seed'), registry.list().map((t) => t.name)]);
        """
    )
    assert listing == [{"name": "echo_value", "description": "Echo", "version": "", "tags": []}]
    assert called == "hardcut"
    assert (ctx["toolName"], ctx["callName"], ctx["tags"]) == ("echo_value", "echo_value", {})
    assert isinstance(ctx["timestampMs"], int) and ctx["timestampMs"] > 0 and ctx["callId"]
    assert set(ctx) <= {"toolName", "timestampMs", "sessionId", "inferenceId", "tags", "callId", "callName",
                        "deadlineMs"}
    assert plain == 42
    assert "missing required value" in invalid
    assert seed_style == ["seed", ["echo_value", "plain", "seed"]]


def test_tool_registry_errors(js: JSHarness) -> None:
    assert _errors(
        js,
        [
            "g.toolRegistry().add()",
            "g.toolRegistry().add({handler: () => 1})",
            "g.toolRegistry().add({name: 'x'})",
            "g.toolRegistry().add('x')",
            "g.toolRegistry().add({name: 'x', handler: () => 1, parameters: 3})",
            "g.toolRegistry().addGo('no_such_tool')",
            "g.toolRegistry().add.call({}, {})",
        ],
    ) == [
        ["TypeError", "toolRegistry.add requires tool spec"],
        ["Error", "tool name is required"],
        ["Error", "tool x handler must be a function"],
        ["Error", "tool name is required"],
        ["Error", "expected schema wrapper"],
        ["Error", "tool not found: no_such_tool"],
        ["TypeError", "ToolRegistry.add called on something that is not a ToolRegistry"],
    ]


def test_add_go_imports_host_tools(js: JSHarness) -> None:
    named, all_tools, doubled = js.run(
        """
        report(g.toolRegistry().addGo('go_double', ['go_concat'], '', ' ').list().map((t) => t.name));
        const every = g.toolRegistry().addGo();
        report(every.list().map((t) => t.name).sort());
        report(every.call('go_double', {n: 4}));
        """
    )
    assert named == ["go_double", "go_concat"]
    assert all_tools == ["go_concat", "go_double"]
    assert doubled == {"value": 8}


def test_add_go_without_host_registry(js: JSHarness) -> None:
    from .conftest import make_harness

    runtime, bare = make_harness()
    try:
        assert _errors(bare, ["g.toolRegistry().addGo('x')"]) == [
            ["Error", "no go tool registry configured"]
        ]
    finally:
        runtime.close()


def test_tool_registry_is_the_seed_registry_class(js: JSHarness) -> None:
    """``builder.withTools`` (and agents) accept ``toolRegistry()``; its tools run in the loop."""
    got = js.one(
        MODEL
        + """
        const add = g.tool('add').input(g.schema.object().property('x', g.schema.number())
          .property('y', g.schema.number()))
          .handler((a, ctx) => ({sum: a.x + a.y, callId: ctx.callId})).build();
        const registry = g.toolRegistry().add(add);
        const seedRegistry = g.tools.createRegistry();
        const session = g.createBuilder()
          .withEngine(model([['c1', 'add', {x: 2, y: 3}]]))
          .withTools(registry, {maxIterations: 3})
          .buildSession();
        const out = session.run(SEED());
        report([Object.getPrototypeOf(registry) === Object.getPrototypeOf(seedRegistry),
                typeof seedRegistry.add, lastText(out)]);
        """
    )
    assert got == [True, "function", [["c1", '{"callId":"c1","sum":5}', ""]]]
