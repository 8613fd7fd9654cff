"""The MCP command line: ``infer``/``js run`` with ``--mcp``/``--mcp-config`` running a scripted
model that calls a real MCP server's tool, ``geppetto mcp list|call`` (text and ``--json``),
one-line errors for bad config files, and no server process left behind (also on Ctrl-C)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mcp.cli_support import (
    SERVER,
    assert_no_server_left,
    cli_command,
    env,
    new_tag,
    run,
    server_command,
    wait_for_server,
    write_config,
)
from tests.signals import default_sigint

GEPPETTO = [sys.executable, "-m", "geppetto"]


@pytest.fixture
def cli(tmp_path: Path) -> list[str]:
    return cli_command(tmp_path)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in result.stderr


# -- infer and js run with a scripted model ------------------------------------------------------


@pytest.mark.parametrize("how", ["--mcp", "--mcp-config"])
def test_infer_calls_an_mcp_tool_and_answers_with_its_result(
    cli: list[str], tmp_path: Path, how: str
) -> None:
    tag = new_tag()
    source = server_command(tag) if how == "--mcp" else str(write_config(tmp_path / "m.json", tag))
    result = run(cli, "infer", "add 20 and 22", "--ai-api-type", "mcp-scripted", "--no-store",
                 "--output", "json", how, source)  # fmt: skip
    assert result.returncode == 0, result.stderr
    turn = json.loads(result.stdout)
    kinds = [block["kind"] for block in turn["blocks"]]
    assert kinds[-3:] == ["tool_call", "tool_use", "llm_text"], kinds
    tool_use = turn["blocks"][-2]["payload"]
    assert tool_use["error"] == ""
    assert "42" in json.dumps(tool_use["result"])
    answer = turn["blocks"][-1]["payload"]["text"]
    assert "tool said" in answer and "42" in answer
    if how == "--mcp-config":
        assert turn["blocks"][-3]["payload"]["name"] == "calc_add"
    assert_no_server_left(tag)


def test_js_run_uses_mcp_tools_from_the_command_line(tmp_path: Path) -> None:
    tag = new_tag()
    script = tmp_path / "mcp.js"
    script.write_text(
        """
        const g = require('geppetto');
        const registry = g.toolRegistry().useHostTools();
        const add = registry.list().map((t) => t.name).find((n) => n.endsWith('_add'));
        const model = g.engines.fromFunction((turn) => {
          const used = turn.blocks.filter((b) => b.kind === 'tool_use');
          if (used.length) {
            const said = JSON.stringify(used[0].payload.result);
            turn.blocks.push(g.turns.newAssistantBlock('tool said ' + said));
          } else {
            turn.blocks.push(g.turns.newToolCallBlock('c1', add, {a: 20, b: 22}));
          }
          return turn;
        });
        const session = g.createSession({engine: model, tools: registry, toolLoop: {maxIterations: 3}});
        const out = session.run({blocks: [g.turns.newUserBlock('add')]});
        console.log(out.blocks[out.blocks.length - 1].payload.text);
        """
    )
    result = run(GEPPETTO, "js", "run", str(script), "--no-store", "--mcp", server_command(tag))
    assert result.returncode == 0, result.stderr
    assert "tool said" in result.stdout and "42" in result.stdout
    assert "PASS: mcp.js" in result.stdout
    assert_no_server_left(tag)


def test_js_add_mcp_registers_a_server_from_the_script(tmp_path: Path) -> None:
    tag = new_tag()
    script = tmp_path / "addmcp.js"
    script.write_text(
        """
        const g = require('geppetto');
        const registry = g.toolRegistry().addMCP({
          name: 'calc', command: %s, args: [%s, %s], exclude: ['fail'],
        });
        console.log(JSON.stringify(registry.list().map((t) => t.name).sort()));
        console.log('sum ' + JSON.stringify(registry.call('calc_add', {a: 1, b: 2})));
        let message = '';
        try { registry.addMCP({name: 'calc', command: %s, args: [%s, %s]}); }
        catch (e) { message = e.message; }
        console.log('again: ' + message);
        """
        % ((json.dumps(sys.executable), json.dumps(SERVER), json.dumps(tag)) * 2)
    )
    result = run(GEPPETTO, "js", "run", str(script), "--no-store")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert json.loads(lines[0]) == ["calc_add", "calc_shout"]
    assert lines[1].startswith("sum ") and "3" in lines[1]
    assert lines[2].startswith("again: ") and "named calc" in lines[2] and "already registered" in lines[2]
    assert_no_server_left(tag)


def test_ctrl_c_stops_the_servers_and_exits_130(cli: list[str], tmp_path: Path) -> None:
    tag = new_tag()
    proc = subprocess.Popen(
        [*cli, "infer", "hi", "--ai-api-type", "mcp-hang", "--no-store", "--mcp", server_command(tag)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        preexec_fn=default_sigint,
    )
    assert proc.stderr is not None
    wait_for_server(tag, proc)
    assert proc.stderr.readline().strip() == "ENGINE-STARTED"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert_no_server_left(tag)


# -- geppetto mcp list / call --------------------------------------------------------------------


def test_mcp_list_prints_tools_descriptions_and_schemas(tmp_path: Path) -> None:
    tag = new_tag()
    config = str(write_config(tmp_path / "m.json", tag))
    result = run(GEPPETTO, "mcp", "list", config)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("calc: 3 tools")
    assert "add  (as calc_add)" in out and "Add two whole numbers." in out
    assert '"required": ["a", "b"]' in out
    assert "shout" in out and "\x1b" not in out and "\x07" not in out  # a description is data
    assert "\u241b" in out  # ESC shown as its control picture
    assert_no_server_left(tag)

    listed = run(GEPPETTO, "mcp", "list", config, "--json")
    assert listed.returncode == 0, listed.stderr
    servers = json.loads(listed.stdout)["servers"]
    assert [s["name"] for s in servers] == ["calc"]
    tools = {t["name"]: t for t in servers[0]["tools"]}
    assert set(tools) == {"add", "shout", "fail"}
    assert tools["add"]["qualified_name"] == "calc_add"
    assert tools["add"]["input_schema"]["required"] == ["a", "b"]
    assert tools["shout"]["description"].endswith("\x1b]0;not a title\x07")  # exact in JSON
    assert_no_server_left(tag)


def test_mcp_call_prints_the_result(tmp_path: Path) -> None:
    tag = new_tag()
    config = str(write_config(tmp_path / "m.json", tag))
    text = run(GEPPETTO, "mcp", "call", "calc", "shout", '{"text": "hi"}', "--mcp-config", config)
    assert text.returncode == 0, text.stderr
    assert "HI!" in text.stdout
    add = ["mcp", "call", "calc", "add", '{"a": 2, "b": 3}']
    as_json = run(GEPPETTO, *add, "--mcp-config", config, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert "5" in json.dumps(json.loads(as_json.stdout))
    assert_no_server_left(tag)


def test_mcp_call_errors_are_one_line(tmp_path: Path) -> None:
    tag = new_tag()
    config = str(write_config(tmp_path / "m.json", tag))
    failing = run(GEPPETTO, "mcp", "call", "calc", "fail", '{"reason": "tests"}', "--mcp-config", config)
    assert failing.returncode == 1 and "failed on purpose: tests" in failing.stderr, failing
    assert "Traceback" not in failing.stderr
    unknown = run(GEPPETTO, "mcp", "call", "calc", "nope", "{}", "--mcp-config", config)
    assert_one_line_error(unknown, "no tool 'nope'", "add")
    server = run(GEPPETTO, "mcp", "call", "other", "add", "{}", "--mcp-config", config)
    assert_one_line_error(server, "no MCP server named 'other'", "calc")
    bad_json = run(GEPPETTO, "mcp", "call", "calc", "add", "{a: 1}", "--mcp-config", config)
    assert_one_line_error(bad_json, "not valid JSON")
    not_object = run(GEPPETTO, "mcp", "call", "calc", "add", "[1]", "--mcp-config", config)
    assert_one_line_error(not_object, "must be an object")
    assert_no_server_left(tag)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"servers": {}}',
        '{"mcpServers": {"x": {"args": ["a"]}}}',
        '{"mcpServers": {"x": {"command": "python", "args": "not a list"}}}',
    ],
)
def test_bad_config_files_are_one_line_errors(cli: list[str], tmp_path: Path, content: str) -> None:
    config = tmp_path / "bad.json"
    config.write_text(content)
    assert_one_line_error(run(GEPPETTO, "mcp", "list", str(config)), "bad.json")
    infer = run(cli, "infer", "hi", "--ai-api-type", "mcp-scripted", "--no-store", f"--mcp-config={config}")
    assert_one_line_error(infer, "bad.json")


def test_missing_config_file_and_duplicate_names(tmp_path: Path) -> None:
    assert_one_line_error(run(GEPPETTO, "mcp", "list", str(tmp_path / "nope.json")), "nope.json")
    tag = new_tag()
    config = str(write_config(tmp_path / "m.json", tag))
    twice = run(GEPPETTO, "mcp", "list", config, "--mcp-config", config)
    assert_one_line_error(twice, "'calc'", "given twice")
    assert_no_server_left(tag)


def test_help_and_plain_runs_do_not_import_mcp(tmp_path: Path) -> None:
    code = (
        "import sys, contextlib, io\n"
        "from geppetto.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['infer', '--help'])\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['infer', 'hi', '--ai-api-type', 'echo', '--no-store']) == 0\n"
        "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith(('mcp.', 'geppetto.mcp'))))\n"
    )
    isolated = {**env(), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=isolated, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_chat_shows_the_mcp_servers_and_tools(cli: list[str], tmp_path: Path) -> None:
    tag = new_tag()
    config = str(write_config(tmp_path / "m.json", tag))
    stdin = "/tools\nadd 20 and 22\n/exit\n"
    result = run(cli, "chat", "--ai-api-type", "mcp-scripted", "--no-store", "--mcp-config", config,
                 stdin=stdin)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "MCP servers: calc " in out
    assert "  calc_add  Add two whole numbers.\n" in out
    assert "  calc_shout  Upper-case a text. \u241b]0;not a title\u2407\n" in out  # shown, not obeyed
    assert "\x1b" not in out and "\x07" not in out
    assert "tool said" in out and "42" in out
    assert_no_server_left(tag)


def test_rpc_runs_with_mcp_tools(cli: list[str], tmp_path: Path) -> None:
    tag = new_tag()
    request = {"id": 1, "method": "run", "params": {"prompt": "add 20 and 22"}}
    result = run(cli, "rpc", "--ai-api-type", "mcp-scripted", "--no-store", "--mcp", server_command(tag),
                 stdin=json.dumps(request) + "\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "tool said" in result.stdout and "42" in result.stdout
    assert_no_server_left(tag)


def test_config_file_mcp_servers_key(cli: list[str], tmp_path: Path) -> None:
    tag = new_tag()
    config = tmp_path / "config.yaml"
    entry = {"command": sys.executable, "args": [SERVER, tag], "include": ["add"]}
    config.write_text(json.dumps({"mcpServers": {"calc": entry}}))  # JSON is YAML
    listed = run(GEPPETTO, "mcp", "list", "--config-file", str(config), "--json")
    assert listed.returncode == 0, listed.stderr
    assert [t["name"] for t in json.loads(listed.stdout)["servers"][0]["tools"]] == ["add"]
    result = run(cli, "infer", "add", "--ai-api-type", "mcp-scripted", "--no-store", "--output", "json",
                 "--config-file", str(config))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["blocks"][-3]["payload"]["name"] == "calc_add"
    assert_no_server_left(tag)

    config.write_text("mcpServers: 3\n")
    bad = run(cli, "infer", "add", "--ai-api-type", "mcp-scripted", "--no-store", f"--config-file={config}")
    assert_one_line_error(bad, "config.yaml", "mcpServers must be a mapping")


def test_ctrl_c_in_js_run_stops_add_mcp_servers(tmp_path: Path) -> None:
    tag = new_tag()
    script = tmp_path / "busy.js"
    script.write_text(
        "const g = require('geppetto');\n"
        f"const r = g.toolRegistry().addMCP({{name: 'calc', command: {json.dumps(sys.executable)}, "
        f"args: [{json.dumps(SERVER)}, {json.dumps(tag)}]}});\n"
        "r.list();\n"
        "for (;;) {}\n"
    )
    proc = subprocess.Popen(
        [*GEPPETTO, "js", "run", str(script), "--no-store"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        preexec_fn=default_sigint,
    )
    wait_for_server(tag, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert_no_server_left(tag)


def test_profile_mcp_servers_key(cli: list[str], tmp_path: Path) -> None:
    """A registry profile's ``mcpServers`` (merged along its stack) gives infer its servers."""
    tag = new_tag()
    entry = {"command": sys.executable, "args": [SERVER, tag], "include": ["add"]}
    registry = tmp_path / "profiles.yaml"
    registry.write_text(json.dumps({
        "slug": "work",
        "profiles": {
            "base": {"mcpServers": {"calc": {"command": "not-run", "args": []}}},
            "tools": {"stack": [{"profile_slug": "base"}], "mcpServers": {"calc": entry}},
        },
    }))  # fmt: skip
    result = run(cli, "infer", "add", "--ai-api-type", "mcp-scripted", "--no-store", "--output", "json",
                 "--profile-registries", str(registry), "--profile", "tools")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["blocks"][-3]["payload"]["name"] == "calc_add"
    assert_no_server_left(tag)
    chat = run(cli, "chat", "--ai-api-type", "mcp-scripted", "--no-store", "--profile-registries",
               str(registry), "--profile", "tools", stdin="/tools\nadd 20 and 22\n/exit\n")  # fmt: skip
    assert chat.returncode == 0, chat.stderr
    assert "MCP servers: calc " in chat.stdout and "  calc_add  " in chat.stdout
    assert "tool said" in chat.stdout and "42" in chat.stdout
    assert_no_server_left(tag)


def _profile_registry(path: Path, tag: str) -> Path:
    """Profile ``tools`` names the calc server (add only); ``plain`` names none."""
    entry = {"command": sys.executable, "args": [SERVER, tag], "include": ["add"]}
    path.write_text(json.dumps({
        "slug": "work",
        "profiles": {
            "plain": {"inference_settings": {"chat": {"api_type": "echo", "engine": "echo"}}},
            "tools": {"mcpServers": {"calc": entry}},
        },
    }))  # fmt: skip
    return path


def test_js_run_takes_the_selected_profiles_mcp_servers(tmp_path: Path) -> None:
    tag = new_tag()
    registry = _profile_registry(tmp_path / "profiles.yaml", tag)
    script = tmp_path / "names.js"
    script.write_text(
        "const g = require('geppetto');\n"
        "const r = g.toolRegistry().useHostTools();\n"
        "console.log(JSON.stringify(r.list().map((t) => t.name)));\n"
        "console.log(JSON.stringify(r.call('calc_add', {a: 20, b: 22})));\n"
    )
    result = run(GEPPETTO, "js", "run", str(script), "--no-store", "--profile-registries", str(registry),
                 "--profile", "tools")  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert json.loads(lines[0]) == ["calc_add"] and "42" in lines[1]
    assert_no_server_left(tag)
    # another profile, or no profile at all: no servers
    for extra in (["--profile-registries", str(registry), "--profile", "plain"], []):
        plain = run(GEPPETTO, "js", "run", str(script), "--no-store", *extra)
        assert plain.returncode == 1 and "no go tool registry configured" in plain.stderr, plain.stderr
    assert_no_server_left(tag)


def test_serve_gives_each_profile_its_own_mcp_servers(tmp_path: Path) -> None:
    import argparse
    import asyncio

    from geppetto.cli.mcp import command_tools
    from geppetto.cli.serve import ProfileMCP

    tag = new_tag()
    registry = _profile_registry(tmp_path / "profiles.yaml", tag)
    args = argparse.Namespace(
        profiles=["tools", "plain"], profile_file=None, profile_registries=str(registry), config_file=None,
        mcp_config=None, mcp_command=None,
    )  # fmt: skip
    wiring = ProfileMCP(args, command_tools(args, configured=False))
    try:
        tools = wiring.tools()
        assert set(tools) == {"tools"}  # "plain" names no server: no server-side tools
        assert asyncio.run(tools["tools"].acall("calc_add", {"a": 20, "b": 22})) in (42, {"result": 42})
        # with --mcp too, every profile gets that server; "tools" also keeps its own
        args.mcp_command = [server_command(tag)]
        both = ProfileMCP(args, command_tools(args, configured=False))
        try:
            mapping = both.tools()
            assert set(mapping) == {"tools", "plain"}
            assert len(mapping["tools"].mcp_toolsets) == 2 and len(mapping["plain"].mcp_toolsets) == 1
        finally:
            both.close()
            both.flags.close()
    finally:
        wiring.close()
    assert_no_server_left(tag)
