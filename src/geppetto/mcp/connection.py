"""``MCPConnection``: one live client session to one MCP server.

The ``mcp`` SDK is built on anyio task groups and context managers that must be entered and
left by the same task, so each connection is owned by one task (``_serve``) on the event loop
that first needed it: it starts the transport, runs the handshake, then waits until it is told
to stop; leaving its ``async with`` blocks stops the child process (the SDK closes stdin, then
terminates and kills the process group). Requests are sent from the callers' own tasks. A
caller on another loop (another thread) is served by hopping onto the owner's loop.

Faults end the connection, so the next request starts a fresh one: the process exiting or the
stream closing (:class:`MCPServerExited`), a line that is not JSON-RPC
(:class:`MCPProtocolError`), no answer within ``timeout`` (:class:`MCPTimeoutError`; a hung
server is stopped, not left running).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import IO, TYPE_CHECKING, Any, TypeVar

from geppetto.errors import ConfigError
from geppetto.mcp.config import MCPServer
from geppetto.mcp.errors import (
    MCPError,
    MCPProtocolError,
    MCPServerExited,
    MCPStartError,
    MCPTimeoutError,
)
from geppetto.telemetry import state as telemetry_state
from geppetto.tools.watchdog import Deadline, Watchdog, watchdog

if TYPE_CHECKING:
    from mcp import ClientSession

log = logging.getLogger("geppetto.mcp")

T = TypeVar("T")
# JSON-RPC / MCP error code the SDK uses when the connection closed under a pending request.
_CONNECTION_CLOSED = -32000


class MCPConnection:
    """A lazily started connection to ``server``. Not shared between event loops at once."""

    __slots__ = (
        "_dog",
        "_fault",
        "_loop",
        "_on_tools_changed",
        "_owner",
        "_session",
        "_starting",
        "_stop",
        "_tripped",
        "_waiting",
        "errlog",
        "outbound_policy",
        "server",
    )

    def __init__(
        self,
        server: MCPServer,
        *,
        outbound_policy: str = "permissive",
        on_tools_changed: Callable[[], None] | None = None,
        errlog: IO[str] | None = None,
    ) -> None:
        self.server = server
        self.outbound_policy = outbound_policy
        self.errlog = errlog
        self._on_tools_changed = on_tools_changed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dog: Watchdog | None = None  # the owner loop's watchdog, found at the first request
        self._session: ClientSession | None = None
        self._starting: asyncio.Future[ClientSession] | None = None
        self._owner: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._fault: asyncio.Future[MCPError] | None = None
        # Requests in flight: the fault they wait on and their task's cancel count at the start.
        self._waiting: dict[asyncio.Task[Any], tuple[asyncio.Future[MCPError], int]] = {}
        self._tripped: set[asyncio.Task[Any]] = set()

    @property
    def is_running(self) -> bool:
        return self._owner is not None and not self._owner.done()

    # -- requests ----------------------------------------------------------------------------

    async def client_session(self) -> ClientSession:
        """The SDK's ``ClientSession`` of the running server (started if needed), for requests
        geppetto does not wrap (resources, prompts). Use it on the loop that owns the server."""
        return await self._ensure()

    async def list_tools(self) -> list[Any]:
        """Every tool the server offers (``mcp.types.Tool``), following pagination."""

        async def fetch(session: ClientSession) -> list[Any]:
            from mcp.types import PaginatedRequestParams

            tools: list[Any] = []
            cursor: str | None = None
            while True:
                params = PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await session.list_tools(params=params)
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    return tools

        def send() -> Awaitable[list[Any]]:
            return self._on_owner_loop(lambda: self._request(fetch, None))

        tracer = telemetry_state.mcp  # None unless geppetto.telemetry is on
        if tracer is not None:
            listed: list[Any] = await tracer.request(self.server, "tools/list", send)
            return listed
        return await send()

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        """``tools/call``; returns the ``mcp.types.CallToolResult``."""
        return await self.tool_call(name, arguments)

    def tool_call(
        self, name: str, arguments: dict[str, Any], finish: Callable[[Any], T] | None = None
    ) -> Awaitable[Any]:
        """:meth:`call_tool` as an awaitable to await directly (the tool loop's path: no frame of
        its own); ``finish`` maps the ``CallToolResult`` once the request is over."""

        def call(session: ClientSession) -> Awaitable[Any]:
            return session.call_tool(name, arguments)

        tracer = telemetry_state.mcp  # None unless geppetto.telemetry is on
        if tracer is None and self._loop is _running_loop():  # the common case: no hop
            return self._request(call, name, finish)

        async def slow() -> Any:
            def send() -> Awaitable[Any]:
                return self._on_owner_loop(lambda: self._request(call, name))

            if tracer is not None:
                result = await tracer.request(self.server, "tools/call", send, tool=name, arguments=arguments)
            else:
                result = await send()
            return result if finish is None else finish(result)

        return slow()

    async def aclose(self) -> None:
        """Stop the server (idempotent). Safe to call from any loop while the owner loop runs."""
        loop = self._loop
        if loop is None or self._owner is None:
            return
        if loop.is_closed():
            self._reset()
            return
        if _running_loop() is not loop:
            if not loop.is_running():
                self._reset()
                return
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.aclose(), loop))
            return
        owner = self._owner
        if self._stop is not None:
            self._stop.set()
        await asyncio.shield(owner)

    def close_threadsafe(self, timeout: float = 10.0) -> None:
        """Blocking close for code outside the owner loop (exit handlers)."""
        loop = self._loop
        if loop is None or self._owner is None or loop.is_closed() or not loop.is_running():
            return
        if _running_loop() is loop:
            raise RuntimeError("close_threadsafe() called on the connection's own loop; await aclose()")
        future = asyncio.run_coroutine_threadsafe(self.aclose(), loop)
        try:
            future.result(timeout)
        except Exception as exc:  # an exit handler must not raise
            log.warning("stopping MCP server %r failed: %s", self.server.name, exc)

    # -- internals ---------------------------------------------------------------------------

    async def _on_owner_loop(self, make: Callable[[], Awaitable[T]]) -> T:
        loop = self._loop
        current = asyncio.get_running_loop()
        if loop is not None and loop is not current:
            if loop.is_running():
                return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_call(make), loop))
            self._reset()  # the old loop is gone; its process was stopped when its tasks were
        return await make()

    async def _request(
        self,
        send: Callable[[ClientSession], Awaitable[Any]],
        tool: str | None,
        finish: Callable[[Any], T] | None = None,
    ) -> Any:
        """One request (``tools/call tool``, or ``tools/list`` when ``tool`` is None) under the
        server's timeout; ``finish`` maps its result after the request is over."""
        session = self._session
        fault = self._fault
        owner = self._owner
        if session is None or owner is None or owner.done() or fault is None or fault.done():
            session = await self._ensure()
            fault = self._fault
        task = asyncio.current_task()
        assert fault is not None and task is not None
        # Both ways a request ends early cancel the caller's task, which tells them apart from
        # an outside cancel afterwards: the timeout through the watchdog, a fault (garbage line,
        # connection closed) through ``_trip_waiting``. Per call that is two dict entries, no timer.
        cancelling = task.cancelling()
        self._waiting[task] = (fault, cancelling)
        dog = self._dog
        if dog is None:
            dog = self._dog = watchdog()
        deadline = dog.watch(task, self.server.timeout)
        try:
            result = await send(session)
        except asyncio.CancelledError:
            timed_out = deadline.expired()
            tripped = task in self._tripped and task.uncancel() <= cancelling
            self._release(task, deadline)
            if timed_out:
                error = MCPTimeoutError(
                    self.server.name, f"no answer to {_what(tool)} within {self.server.timeout:g}s"
                )
                self._fail(error)
                await self.aclose()
                raise error from None
            if tripped:
                raise fault.result() from None
            raise
        except Exception as exc:
            self._release(task, deadline)  # before translating, which may close the connection
            raise await self._translate(exc, _what(tool)) from exc
        finally:
            self._release(task, deadline)
        return result if finish is None else finish(result)

    def _release(self, task: asyncio.Task[Any], deadline: Deadline) -> None:
        deadline.forget()
        self._waiting.pop(task, None)
        self._tripped.discard(task)

    def _trip_waiting(self, fault: asyncio.Future[MCPError]) -> None:
        """A fault fails at once every request still waiting on the connection it ended."""
        for task, (their_fault, _) in list(self._waiting.items()):
            if their_fault is fault and task not in self._tripped:
                self._tripped.add(task)
                task.cancel()

    async def _translate(self, exc: Exception, what: str) -> MCPError:
        if isinstance(exc, MCPError):
            return exc
        from mcp.shared.exceptions import MCPError as SDKError

        fault = self._fault
        if fault is not None and fault.done():
            return fault.result()
        if isinstance(exc, SDKError) and exc.code == _CONNECTION_CLOSED:
            error: MCPError = MCPServerExited(self.server.name, f"connection closed during {what}")
            self._fail(error)
            await self.aclose()
            return error
        if isinstance(exc, SDKError):
            return MCPError(self.server.name, f"{what} failed: {exc.message}")
        return MCPProtocolError(self.server.name, f"{what} failed: {type(exc).__name__}: {exc}")

    async def _ensure(self) -> ClientSession:
        if self._session is not None and self.is_running and not _failed(self._fault):
            return self._session
        if self._owner is not None and (self._starting is None or self._starting.done()):
            await self.aclose()  # a failed connection: reap it before starting a new one
        if self._starting is None:
            loop = asyncio.get_running_loop()
            if loop is not self._loop:
                self._dog = None
            self._loop = loop
            self._starting = loop.create_future()
            self._fault = loop.create_future()
            self._fault.add_done_callback(self._trip_waiting)
            self._stop = asyncio.Event()
            self._owner = loop.create_task(self._serve(self._starting), name=f"mcp-{self.server.name}")
            _live.add(self)
        return await asyncio.shield(self._starting)

    async def _serve(self, ready: asyncio.Future[ClientSession]) -> None:
        stop = self._stop
        assert stop is not None
        try:
            async with AsyncExitStack() as stack:
                session = await self._connect(stack)
                self._session = session
                ready.set_result(session)
                await stop.wait()
        except BaseException as exc:  # everything becomes the start error or a log line
            if not ready.done():
                ready.set_exception(self._start_error(exc))
            elif not isinstance(exc, asyncio.CancelledError):
                log.debug("MCP server %r connection ended: %r", self.server.name, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._fail(MCPServerExited(self.server.name, "connection closed"))
            self._session = None
            self._starting = None
            _live.discard(self)

    async def _connect(self, stack: AsyncExitStack) -> ClientSession:
        try:
            import anyio

            from mcp import ClientSession
        except ModuleNotFoundError:
            raise ConfigError(
                "MCP servers need the 'mcp' package: pip install 'geppetto[mcp]'"
            ) from None

        server = self.server
        if server.transport == "stdio":
            from mcp.client.stdio import StdioServerParameters, stdio_client

            env = server.resolved_env()
            command, args = _exact_env_command(server, env)
            params = StdioServerParameters(command=command, args=args, env=env, cwd=server.cwd)
            read, write = await stack.enter_async_context(stdio_client(params, errlog=self._errlog()))
        else:
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            from geppetto.settings.outbound import acheck_outbound_url

            await acheck_outbound_url(server.url, self.outbound_policy)
            client = create_mcp_http_client(headers=server.resolved_headers())
            await stack.enter_async_context(client)
            transport = streamable_http_client(server.url, http_client=client)
            read, write = await stack.enter_async_context(transport)
        client_session = ClientSession(read, write, message_handler=self._on_message)
        session = await stack.enter_async_context(client_session)
        with anyio.fail_after(server.effective_start_timeout):
            await session.initialize()
        return session

    def _start_error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, asyncio.CancelledError):
            return exc
        if isinstance(exc, MCPError | ConfigError):
            return exc
        fault = self._fault
        if fault is not None and fault.done() and isinstance(fault.result(), MCPProtocolError):
            return MCPStartError(self.server.name, f"failed to start: {fault.result().args[0]}")
        if _contains(exc, TimeoutError):
            why = f"no answer to initialize within {self.server.effective_start_timeout:g}s"
        else:
            why = _describe(exc)
            if "Connection closed" in why:
                why = "the server exited or closed the connection before the handshake completed"
        where = self.server.describe()
        return MCPStartError(self.server.name, f"failed to start ({where}): {why}")

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            text = str(message)
            text = text if len(text) <= 200 else text[:200] + "..."
            self._fail(MCPProtocolError(self.server.name, f"malformed message from server: {text}"))
            if self._stop is not None:
                self._stop.set()
            return
        if getattr(message, "method", "") == "notifications/tools/list_changed" and self._on_tools_changed:
            self._on_tools_changed()

    def _fail(self, error: MCPError) -> None:
        fault = self._fault
        if fault is not None and not fault.done():
            fault.set_result(error)

    def _reset(self) -> None:
        self._loop = self._owner = self._stop = self._starting = self._fault = None
        self._dog = None
        self._session = None
        _live.discard(self)

    def _errlog(self) -> Any:
        target = self.errlog if self.errlog is not None else sys.stderr
        try:
            target.fileno()
        except (AttributeError, OSError, ValueError):
            return open(os.devnull, "w")  # lives as long as the child
        return target


def _exact_env_command(server: MCPServer, env: dict[str, str]) -> tuple[str, list[str]]:
    """The command line that starts ``server`` with exactly ``env``.

    The SDK's stdio client adds its default environment (``LOGNAME``, ``SHELL``, ``TERM``,
    ``USER``) to ours; ``env -u NAME ...`` takes each of those back out as the server starts
    (only names on its command line, never values). The command is looked up first, on the
    child's ``PATH``, so a missing one is still "command not found", not an early exit.
    """
    from mcp.client.stdio import DEFAULT_INHERITED_ENV_VARS

    extra = [k for k in DEFAULT_INHERITED_ENV_VARS if k not in env and os.environ.get(k) is not None]
    runner = shutil.which("env") if extra and os.name == "posix" else None
    if runner is None:
        return server.command, list(server.args)
    command = server.command
    why = ""
    if os.sep not in command:
        found = shutil.which(command, path=env.get("PATH", os.defpath))
        why = "" if found is not None else f"command not found: {command}"
        command = found or command
    else:  # a path, relative to the server's cwd: what exec would find there
        path = os.path.join(str(server.cwd or os.getcwd()), command)
        if not os.path.exists(path):
            why = f"command not found: {command}"
        elif os.path.isdir(path) or not os.access(path, os.X_OK):
            why = os.strerror(13)  # Permission denied, as exec would say
    if why:
        raise MCPStartError(server.name, f"failed to start ({server.describe()}): {why}")
    unset = [arg for key in extra for arg in ("-u", key)]
    return runner, [*unset, "--", command, *server.args]


def _what(tool: str | None) -> str:
    return "tools/list" if tool is None else f"tools/call {tool}"


def _failed(fault: asyncio.Future[MCPError] | None) -> bool:
    return fault is None or fault.done()


def _contains(exc: BaseException, kind: type[BaseException]) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return any(_contains(e, kind) for e in exc.exceptions)
    return isinstance(exc, kind)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc) or type(exc).__name__


async def _call(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_live: set[MCPConnection] = set()


def close_all_threadsafe() -> None:
    """Stop every connection whose loop runs in another thread (the exit handler)."""
    for connection in list(_live):
        connection.close_threadsafe()
