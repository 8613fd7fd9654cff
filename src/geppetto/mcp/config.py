"""MCP server configuration: :class:`MCPServer` and the ``mcpServers`` JSON format.

The format is the one Claude Desktop, Cursor and others use::

    {"mcpServers": {
        "fs":  {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
                "env": {"DEBUG": "1"}, "cwd": "/tmp"},
        "api": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ${API_TOKEN}"}}}}

plus our keys ``include``/``exclude`` (tool names or glob patterns, unprefixed), ``timeout`` and
``startTimeout`` (seconds) and ``disabled``. ``${VAR}`` in ``env`` and ``headers`` values is replaced from our
environment when the server is started, so the config object (and its repr, and every error
message) holds only the template, never the secret.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from geppetto.errors import ConfigError

Transport = Literal["stdio", "http"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")
# Interpreters and launchers whose first script/package argument names the server better.
_LAUNCHERS = frozenset(
    {"python", "python3", "py", "node", "deno", "bun", "uv", "uvx", "npx", "pnpx", "bunx", "pipx", "docker"}
)
_LAUNCHER_WORDS = frozenset({"run", "-m", "exec", "x", "tool"})
DEFAULT_TIMEOUT = 30.0


def sanitize_name(name: str) -> str:
    """``name`` reduced to ``[A-Za-z0-9_]`` (what provider APIs accept in tool names)."""
    return _NOT_NAME.sub("_", name).strip("_")


@dataclass(frozen=True, slots=True)
class MCPServer:
    """One MCP server to connect to (immutable). Build with :meth:`stdio` or :meth:`http`.

    ``name`` prefixes the server's tools (``fs`` + ``read_file`` -> ``fs_read_file``).
    ``include``/``exclude`` filter the server's tool names (glob patterns allowed).
    ``timeout`` bounds each request, in seconds; ``start_timeout`` bounds starting the server
    and its handshake (default: ``timeout``, but at least 30 s, since interpreters and ``npx``
    downloads start slowly).
    """

    name: str
    transport: Transport
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    start_timeout: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not sanitize_name(self.name):
            raise ConfigError(f"MCP server name {self.name!r} is empty: give each server a name")
        for label, seconds in (("timeout", self.timeout), ("start_timeout", self.start_timeout)):
            if seconds is None and label == "start_timeout":
                continue
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
                raise ConfigError(f"MCP server {self.name!r}: {label} must be a positive number of seconds")
        for key, value in (*self.env.items(), *self.headers.items()):
            if not isinstance(key, str) or not isinstance(value, str):
                raise ConfigError(f"MCP server {self.name!r}: env and headers must map strings to strings")
        if self.transport == "stdio":
            if not isinstance(self.command, str) or not self.command.strip():
                raise ConfigError(f"MCP server {self.name!r}: 'command' is empty")
        elif self.transport == "http":
            from geppetto.settings.outbound import check_outbound_url

            try:
                check_outbound_url(self.url, resolve=False)
            except ConfigError as exc:
                raise ConfigError(f"MCP server {self.name!r}: {exc}") from None
        else:
            raise ConfigError(f"MCP server {self.name!r}: unknown transport {self.transport!r}")

    @classmethod
    def stdio(
        cls,
        name: str,
        command: str,
        args: Iterable[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        start_timeout: float | None = None,
    ) -> MCPServer:
        """A server we start as a child process and talk to over its stdin/stdout.

        The child's environment is ``PATH`` and ``HOME`` plus ``env`` only (never our keys).
        """
        if isinstance(args, str):
            raise ConfigError(f"MCP server {name!r}: args must be a list of strings, not one string")
        return cls(
            name,
            "stdio",
            command=command,
            args=tuple(str(a) for a in args),
            env=dict(env or {}),
            cwd=os.fspath(cwd) if cwd is not None else None,
            include=_patterns(include),
            exclude=_patterns(exclude) or (),
            timeout=float(timeout),
            start_timeout=None if start_timeout is None else float(start_timeout),
        )

    @classmethod
    def http(
        cls,
        name: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        start_timeout: float | None = None,
    ) -> MCPServer:
        """A Streamable HTTP server at ``url``; ``headers`` (e.g. a bearer token) may use ``${VAR}``."""
        return cls(
            name,
            "http",
            url=url,
            headers=dict(headers or {}),
            include=_patterns(include),
            exclude=_patterns(exclude) or (),
            timeout=float(timeout),
            start_timeout=None if start_timeout is None else float(start_timeout),
        )

    @property
    def effective_start_timeout(self) -> float:
        return self.start_timeout if self.start_timeout is not None else max(self.timeout, DEFAULT_TIMEOUT)

    @property
    def prefix(self) -> str:
        """What this server's tool names start with: the sanitized name and ``_``."""
        return sanitize_name(self.name) + "_"

    def wants(self, tool_name: str) -> bool:
        """Whether ``include``/``exclude`` keep the server's tool ``tool_name``."""
        if self.include is not None and not any(fnmatchcase(tool_name, p) for p in self.include):
            return False
        return not any(fnmatchcase(tool_name, p) for p in self.exclude)

    def resolved_env(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The child's environment: PATH and HOME from ours, plus ``env`` with ``${VAR}`` expanded."""
        source = os.environ if environ is None else environ
        out = {key: source[key] for key in ("PATH", "HOME") if key in source}
        out.update({key: self._expand(value, source, f"env {key}") for key, value in self.env.items()})
        return out

    def resolved_headers(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        source = os.environ if environ is None else environ
        return {key: self._expand(value, source, f"header {key}") for key, value in self.headers.items()}

    def _expand(self, value: str, environ: Mapping[str, str], where: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            var = match.group(1)
            if var not in environ:
                raise ConfigError(f"MCP server {self.name!r}: {where} uses ${{{var}}}, which is not set")
            return environ[var]

        return _VAR.sub(substitute, value)

    def describe(self) -> str:
        """A one-line description without secrets (env and header values are left out)."""
        if self.transport == "stdio":
            return shlex.join([self.command, *self.args])
        return self.url

    def __hash__(self) -> int:
        return hash((self.name, self.transport, self.command, self.args, self.url))

    def __repr__(self) -> str:
        where = f"command={self.describe()!r}" if self.transport == "stdio" else f"url={self.url!r}"
        keys = sorted(self.env) if self.transport == "stdio" else sorted(self.headers)
        hidden = f", {'env' if self.transport == 'stdio' else 'headers'}={keys!r}" if keys else ""
        return f"MCPServer({self.name!r}, {self.transport}, {where}{hidden})"


def _patterns(value: Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def parse_mcp_command(command: str, name: str | None = None, **options: Any) -> MCPServer:
    """One stdio server from a command line (``--mcp 'python srv.py --flag'``).

    Without ``name`` it is derived from the command: the script or package a launcher runs
    (``python tools/srv.py`` -> ``srv``, ``npx -y @org/server-git`` -> ``server_git``), else the
    program's name. ``options`` go to :meth:`MCPServer.stdio` (env, cwd, include, exclude, timeout).
    """
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(f"invalid MCP command {command!r}: {exc}") from None
    if not words:
        raise ConfigError("MCP command is empty: give the server's command line, e.g. 'python server.py'")
    return MCPServer.stdio(name or derive_name(words), words[0], words[1:], **options)


def derive_name(words: list[str]) -> str:
    """A server name from its command words (see :func:`parse_mcp_command`)."""
    program = Path(words[0]).name
    base = re.sub(r"[\d.]*(\.exe)?$", "", program)  # python3.12 -> python
    candidate = Path(program).stem if program.endswith((".py", ".js", ".ts", ".exe")) else program
    if base in _LAUNCHERS or program in _LAUNCHERS:
        rest = [w for w in words[1:] if not w.startswith("-") and w not in _LAUNCHER_WORDS]
        if rest:
            candidate = rest[0]
            module = "-m" in words[1:] and words[words.index("-m") + 1 : words.index("-m") + 2] == [candidate]
            if not module:
                candidate = candidate.rstrip("/")
                if candidate.startswith("@"):  # @scope/package@version
                    candidate = candidate.split("/", 1)[-1]
                candidate = candidate.split("@", 1)[0] or candidate
                name = Path(candidate).name
                candidate = Path(name).stem if Path(name).suffix in (".py", ".js", ".ts", ".mjs") else name
    return sanitize_name(candidate) or "mcp"


def load_mcp_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> list[MCPServer]:
    """Servers from an ``mcpServers`` object: a file path, JSON text, or an already parsed mapping.

    A mapping (or file) may be the whole document (``{"mcpServers": {...}}``, also ``servers``) or
    the servers object itself. Relative ``cwd`` values in a file are taken relative to the file.
    Servers with ``"disabled": true`` are skipped.
    """
    base: Path | None = None
    if isinstance(source, Mapping):
        document: Any = source
        where = "MCP config"
    elif isinstance(source, str) and source.lstrip().startswith("{"):
        document, where = _parse_json(source, "MCP config"), "MCP config"
    else:
        path = Path(source)
        where = f"MCP config {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read {where}: {exc.strerror or exc}") from None
        document, base = _parse_json(text, where), path.parent
    if not isinstance(document, Mapping):
        raise ConfigError(f"{where}: expected a JSON object with 'mcpServers'")
    servers = document.get("mcpServers", document.get("servers", document))
    if not isinstance(servers, Mapping):
        raise ConfigError(f"{where}: 'mcpServers' must be an object mapping names to servers")
    out: list[MCPServer] = []
    for name, entry in servers.items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: server {name!r} must be an object with 'command' or 'url'")
        if entry.get("disabled") is True:
            continue
        out.append(server_from_entry(str(name), entry, base=base, where=where))
    return out


def server_from_entry(
    name: str, entry: Mapping[str, Any], *, base: Path | None = None, where: str = "MCP config"
) -> MCPServer:
    """One :class:`MCPServer` from its ``mcpServers`` entry."""
    kind = str(entry.get("type", entry.get("transport", "")) or "").lower()
    common: dict[str, Any] = {
        "include": _string_list(entry, "include", name, where, optional=True),
        "exclude": _string_list(entry, "exclude", name, where, optional=True),
    }
    for key, field_name in (("timeout", "timeout"), ("startTimeout", "start_timeout")):
        if key in entry:
            common[field_name] = _number(entry[key], key, name, where)
    if kind == "sse":
        raise ConfigError(f"{where}: server {name!r} uses the SSE transport; use its Streamable HTTP URL")
    if "url" in entry or kind in ("http", "streamable-http", "streamable_http", "streamablehttp"):
        url = entry.get("url")
        if not isinstance(url, str) or not url:
            raise ConfigError(f"{where}: server {name!r} needs a 'url'")
        return MCPServer.http(name, url, headers=_string_map(entry, "headers", name, where), **common)
    command = entry.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ConfigError(f"{where}: server {name!r} needs a 'command' (stdio) or a 'url' (HTTP)")
    cwd = entry.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise ConfigError(f"{where}: server {name!r}: 'cwd' must be a string")
    if cwd and base is not None and not Path(cwd).is_absolute():
        cwd = str(base / cwd)
    return MCPServer.stdio(
        name,
        command,
        _string_list(entry, "args", name, where) or (),
        env=_string_map(entry, "env", name, where),
        cwd=cwd,
        **common,
    )


def _string_list(
    entry: Mapping[str, Any], key: str, name: str, where: str, *, optional: bool = False
) -> tuple[str, ...] | None:
    value = entry.get(key)
    if value is None:
        return None if optional else ()
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ConfigError(f"{where}: server {name!r}: '{key}' must be a list of strings")
    return tuple(str(v) for v in value)


def _string_map(entry: Mapping[str, Any], key: str, name: str, where: str) -> dict[str, str]:
    value = entry.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{where}: server {name!r}: '{key}' must be an object of strings")
    return {k: str(v) for k, v in value.items()}


def _number(value: Any, key: str, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: server {name!r}: '{key}' must be a number of seconds")
    return float(value)


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{where} is not valid JSON: {exc}") from None
