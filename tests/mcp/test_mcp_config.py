"""MCP server configuration: constructors, the mcpServers JSON format, --mcp command lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geppetto.errors import ConfigError
from geppetto.mcp import MCPServer, load_mcp_config, parse_mcp_command


def test_stdio_and_http_constructors_keep_their_settings() -> None:
    fs = MCPServer.stdio(
        "fs", "npx", ["-y", "pkg"], env={"A": "1"}, cwd="/tmp", include=["read_*"], timeout=5
    )
    assert (fs.transport, fs.command, fs.args) == ("stdio", "npx", ("-y", "pkg"))
    assert (dict(fs.env), fs.cwd) == ({"A": "1"}, "/tmp")
    assert fs.include == ("read_*",) and fs.exclude == () and fs.timeout == 5.0
    api = MCPServer.http("api", "https://example.com/mcp", headers={"Authorization": "Bearer ${TOKEN}"})
    assert (api.transport, api.url, api.prefix) == ("http", "https://example.com/mcp", "api_")
    with pytest.raises(AttributeError):
        api.url = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MCPServer.stdio("", "x"), "name"),
        (lambda: MCPServer.stdio("a", " "), "'command' is empty"),
        (lambda: MCPServer.stdio("a", "x", "one string"), "list of strings"),
        (lambda: MCPServer.stdio("a", "x", timeout=0), "timeout must be a positive"),
        (lambda: MCPServer.stdio("a", "x", start_timeout=-1), "start_timeout must be a positive"),
        (lambda: MCPServer.http("a", "ftp://host/mcp"), "http:// or https://"),
    ],
)
def test_bad_settings_raise_config_errors_naming_the_problem(build: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()  # type: ignore[operator]


def test_include_exclude_filter_tool_names_with_globs() -> None:
    server = MCPServer.stdio("fs", "x", include=["read_*", "stat"], exclude=["read_secret"])
    names = ("read_file", "read_secret", "stat", "write_file")
    assert [n for n in names if server.wants(n)] == ["read_file", "stat"]


def test_env_and_headers_expand_variables_at_start_and_never_show_values() -> None:
    server = MCPServer.stdio("s", "x", env={"TOKEN": "${MY_TOKEN}", "MODE": "fast"})
    environ = {"MY_TOKEN": "s3cret", "PATH": "/bin", "HOME": "/home/u", "OPENAI_API_KEY": "sk-canary"}
    expected = {"PATH": "/bin", "HOME": "/home/u", "TOKEN": "s3cret", "MODE": "fast"}
    assert server.resolved_env(environ) == expected
    assert "s3cret" not in repr(server) and "MY_TOKEN" not in repr(server) and "TOKEN" in repr(server)
    with pytest.raises(ConfigError, match=r"env TOKEN uses \$\{MY_TOKEN\}, which is not set") as info:
        server.resolved_env({})
    assert "s3cret" not in str(info.value)
    api = MCPServer.http("api", "http://127.0.0.1:1/mcp", headers={"Authorization": "Bearer ${TOK}"})
    assert api.resolved_headers({"TOK": "abc"}) == {"Authorization": "Bearer abc"}
    assert "Bearer" not in repr(api)


def test_load_mcp_config_reads_the_claude_desktop_format(tmp_path: Path) -> None:
    document = {
        "mcpServers": {
            "fs": {"command": "npx", "args": ["-y", "server-fs", "/tmp"], "env": {"X": "1"}, "cwd": "sub"},
            "api": {
                "url": "https://example.com/mcp",
                "headers": {"Authorization": "Bearer ${T}"},
                "timeout": 9,
            },
            "off": {"command": "never", "disabled": True},
            "git": {"type": "stdio", "command": "uvx", "args": ["mcp-server-git"], "exclude": ["git_push"]},
        }
    }
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps(document))
    servers = load_mcp_config(path)
    assert [(s.name, s.transport) for s in servers] == [("fs", "stdio"), ("api", "http"), ("git", "stdio")]
    assert servers[0].cwd == str(tmp_path / "sub") and servers[0].args == ("-y", "server-fs", "/tmp")
    assert servers[1].timeout == 9.0 and servers[1].effective_start_timeout == 30.0
    assert dict(servers[1].headers) == {"Authorization": "Bearer ${T}"}
    assert servers[2].exclude == ("git_push",)
    assert [s.name for s in load_mcp_config(str(path))] == ["fs", "api", "git"]
    assert [s.name for s in load_mcp_config(document)] == ["fs", "api", "git"]
    assert [s.name for s in load_mcp_config(document["mcpServers"])] == ["fs", "api", "git"]
    assert [s.name for s in load_mcp_config(json.dumps(document))] == ["fs", "api", "git"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"mcpServers": []}, "must be an object"),
        ({"mcpServers": {"a": {}}}, "needs a 'command'"),
        ({"mcpServers": {"a": {"command": "x", "args": "y"}}}, "'args' must be a list"),
        ({"mcpServers": {"a": {"url": "https://h/sse", "type": "sse"}}}, "SSE transport"),
        ({"mcpServers": {"a": {"command": "x", "env": {"K": 1}, "cwd": 3}}}, "'cwd' must be a string"),
        ({"mcpServers": {"a": {"command": "x", "timeout": "5"}}}, "'timeout' must be a number"),
    ],
)
def test_bad_config_files_say_what_to_fix(document: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_mcp_config(document)  # type: ignore[arg-type]


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read MCP config"):
        load_mcp_config(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("command", "name", "args"),
    [
        ("python tests/mcp/servers/basic.py --flag", "basic", ("tests/mcp/servers/basic.py", "--flag")),
        ("npx -y @modelcontextprotocol/server-filesystem /tmp", "server_filesystem", None),
        ("uvx mcp-server-git --repository .", "mcp_server_git", None),
        ("/usr/local/bin/my-server --port 3", "my_server", ("--port", "3")),
        ("python3.12 -m my_pkg.server", "my_pkg_server", None),
    ],
)
def test_parse_mcp_command_derives_a_name(command: str, name: str, args: tuple[str, ...] | None) -> None:
    server = parse_mcp_command(command)
    assert server.name == name and server.transport == "stdio"
    if args is not None:
        assert server.args == args
    assert parse_mcp_command(command, name="mine").name == "mine"


def test_parse_mcp_command_rejects_empty_and_unbalanced_quotes() -> None:
    with pytest.raises(ConfigError, match="empty"):
        parse_mcp_command("  ")
    with pytest.raises(ConfigError, match="invalid MCP command"):
        parse_mcp_command("python 'unclosed")


def test_long_tool_names_are_shortened_to_what_providers_accept_and_stay_unique() -> None:
    from geppetto.mcp.toolset import MAX_TOOL_NAME, qualified_name

    assert qualified_name("fs_", "read.file") == "fs_read_file"
    long_a = qualified_name("server_", "a" * 80 + "x")
    long_b = qualified_name("server_", "a" * 80 + "y")
    assert len(long_a) == len(long_b) == MAX_TOOL_NAME
    assert long_a != long_b and long_a.startswith("server_aaa")
    assert qualified_name("s_", "t" * (MAX_TOOL_NAME - 2)) == "s_" + "t" * (MAX_TOOL_NAME - 2)
