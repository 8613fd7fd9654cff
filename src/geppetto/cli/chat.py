"""``geppetto chat``: an interactive REPL with streamed replies, saved to the turn store.

Input
    One line is one message. A line ending in ``\\`` continues on the next line (the backslash is
    dropped); a line that is exactly ``\"\"\"`` starts a block that ends at the next ``\"\"\"`` line
    (for pasting text). A line starting with ``/`` is a command; start a message with a space to
    send a literal ``/``.

Commands
    ``/help``, ``/exit`` (``/quit``), ``/fork [TURN]`` (continue in a new session forked at the
    latest or the given turn), ``/system [TEXT | --clear]`` (show, set or remove the system
    prompt for the next replies), ``/save PATH`` (the latest turn as YAML, or JSON for ``.json``),
    ``/session`` (id, turn count, store), ``/attach FILE|URL`` (an image for the next message;
    ``/attach`` alone lists them, ``/attach --clear`` drops them).

Keys
    Ctrl-C during a reply stops it: the partial reply stays in the conversation and is stored as
    a cancelled run (finish class ``interrupted``); the REPL goes on. Ctrl-C or Ctrl-D at the
    prompt quits.

Resume with ``geppetto chat --continue`` (latest session) or ``--session ID``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from geppetto.cli.sessions import ReportingPersister, open_store, parse_turn_ref, plural, warn
from geppetto.errors import ConfigError, GeppettoError, InferenceCancelled
from geppetto.events.sinks import PrinterSink
from geppetto.prompts import REFERENCE_SYSTEM_PROMPT
from geppetto.session import EngineBuilder, ExecutionHandle, Session, TurnPersister
from geppetto.store import TurnStore
from geppetto.store.continuation import continuation
from geppetto.terminal_text import safe_text
from geppetto.turns import Block, BlockKind, Turn, save_turn

if TYPE_CHECKING:
    from geppetto.cli.mcp import CommandTools

# The same default as ``geppetto infer --system``: small local models answer plain questions
# briefly with it and ramble without it.
DEFAULT_SYSTEM_PROMPT = REFERENCE_SYSTEM_PROMPT
PROMPT = "> "
CONTINUATION = "... "
BLOCK_FENCE = '"""'

HELP = """\
commands:
  /help                   this help
  /exit, /quit            leave (Ctrl-D and Ctrl-C at the prompt too)
  /fork [TURN]            continue in a new session forked at the latest turn (or index/id TURN)
  /system [TEXT|--clear]  show, set or remove the system prompt for the next replies
  /save PATH              save the latest turn (YAML; JSON when PATH ends in .json)
  /session                show the session id, turn count and store
  /attach FILE|URL        attach an image to your next message (/attach lists, /attach --clear drops)
  /tools                  list the tools the model may call (MCP servers: --mcp, --mcp-config)
input: end a line with \\ to continue it; put \"\"\" alone on a line before and after a multi-line message.
Ctrl-C during a reply stops it and keeps the partial reply.
"""

Reader = Callable[[str], str]


def read_message(read: Reader) -> str:
    """One message from the user, joining continued lines and ``\"\"\"`` blocks; EOFError at the end."""
    first = read(PROMPT)
    if first.strip() == BLOCK_FENCE:
        lines: list[str] = []
        while (line := read(CONTINUATION)).strip() != BLOCK_FENCE:
            lines.append(line)
        return "\n".join(lines)
    lines = []
    line = first
    while line.endswith("\\"):
        lines.append(line[:-1])
        line = read(CONTINUATION)
    lines.append(line)
    return "\n".join(lines)


def next_turn(
    latest: Turn | None, prompt: str, system: str | None, images: list[dict[str, Any]] | None = None
) -> Turn:
    """The turn for the next reply: history, the system prompt if it changed, the new user block."""
    turn = continuation(latest)
    if system is not None:
        turn.blocks = [block for block in turn.blocks if block.kind is not BlockKind.SYSTEM]
        if system:
            turn.blocks.insert(0, Block.system(system))
    turn.blocks.append(Block.user(prompt, images))
    return turn


def current_system(turn: Turn | None) -> str | None:
    if turn is None:
        return None
    for block in turn.blocks_of(BlockKind.SYSTEM):
        return block.text or ""
    return None


class ChatRepl:
    """The REPL state: the session being continued, the store, the pending system prompt."""

    def __init__(
        self,
        builder: EngineBuilder,
        session: Session,
        store: TurnStore | None,
        *,
        persister: TurnPersister | None = None,
        system: str | None,
        out: TextIO,
        err: TextIO,
        read: Reader = input,
    ) -> None:
        self.builder = builder
        self.session = session
        self.store = store
        self.persister = persister or store
        self.pending_system = system
        self.pending_images: list[dict[str, Any]] = []
        self.out, self.err, self.read = out, err, read

    def loop(self) -> int:
        while True:
            try:
                text = read_message(self.read)
            except (EOFError, KeyboardInterrupt):
                self.out.write("\n")
                return 0
            if text.startswith("/"):
                if not self.command(text.strip()):
                    return 0
            elif text.strip():
                self.reply(text.strip())

    # -- replies ---------------------------------------------------------------------------

    def reply(self, prompt: str) -> None:
        seed = next_turn(self.session.latest(), prompt, self.pending_system, self.pending_images)
        self.pending_system = None
        self.pending_images = []
        session = self.session
        sink = PrinterSink(self.out, show_errors=False, on_broken=lambda: _cancel(session))
        try:
            handle = self.session.start(seed, sinks=[sink])
        except GeppettoError as exc:
            self.err.write(f"error: {safe_text(str(exc))}\n")
            return
        try:
            handle.wait()
        except KeyboardInterrupt:
            self._stop(handle)
        except InferenceCancelled:
            if sink.broken:
                raise BrokenPipeError("stdout was closed") from None
            self.out.write("[interrupted]\n")
        except GeppettoError as exc:
            self.err.write(f"error: {safe_text(str(exc))}\n")
        self.out.flush()

    def _stop(self, handle: ExecutionHandle) -> None:
        """Cancel the reply and wait until it is recorded; further Ctrl-Cs only repeat the cancel."""
        while True:
            handle.cancel()
            try:
                handle.wait()
            except KeyboardInterrupt:
                continue
            except GeppettoError:
                pass
            break
        self.out.write("[interrupted]\n")

    # -- commands --------------------------------------------------------------------------

    def command(self, line: str) -> bool:
        """Run a slash command; ``False`` means leave the REPL."""
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        if name in ("/exit", "/quit"):
            return False
        if name == "/help":
            self.out.write(HELP)
        elif name == "/system":
            self._system(rest)
        elif name == "/save":
            self._save(rest)
        elif name == "/fork":
            self._fork(rest)
        elif name == "/attach":
            self._attach(rest)
        elif name == "/tools":
            self._tools()
        elif name == "/session":
            where = self.store.path if self.store is not None else "not stored (--no-store)"
            count = plural(self.session.turn_count, "turn")
            self.out.write(f"session {self.session.id}: {count}, store: {where}\n")
        else:
            self.err.write(f"unknown command {name}; /help lists the commands\n")
        return True

    def _tools(self) -> None:
        registry = self.builder.tool_registry
        if registry is not None and registry.mcp_toolsets:
            try:  # starts the MCP servers if no reply has yet
                _on_runtime_loop(registry.aprepare(strict=False))
            except GeppettoError as exc:
                self.err.write(f"error: {safe_text(str(exc))}\n")
            for toolset in registry.mcp_toolsets:
                for name, error in toolset.errors.items():
                    self.err.write(safe_text(f"MCP server {name} is unavailable: {error}") + "\n")
        tools = registry.list_tools() if registry is not None else []
        if not tools:
            self.out.write("no tools; give MCP servers with --mcp 'COMMAND ARGS' or --mcp-config FILE\n")
        for definition in tools:  # a server's names and descriptions are data: shown, never obeyed
            summary = (definition.description or "").strip().splitlines()
            line = f"  {definition.name}  {summary[0] if summary else ''}".rstrip()
            self.out.write(safe_text(line) + "\n")

    def _system(self, text: str) -> None:
        if not text:
            shown = self.pending_system
            if shown is None:
                shown = current_system(self.session.latest())
            self.out.write(f"system prompt: {shown!r}\n" if shown else "no system prompt\n")
        elif text == "--clear":
            self.pending_system = ""
            self.out.write("system prompt removed for the next replies\n")
        else:
            self.pending_system = text
            self.out.write("system prompt set for the next replies\n")

    def _attach(self, spec: str) -> None:
        from geppetto.cli.images import load_image_args
        from geppetto.turns.images import describe_images

        if not spec:
            shown = describe_images(self.pending_images)
            self.out.write(f"attached to the next message: {shown}\n" if shown else "no images attached\n")
            return
        if spec == "--clear":
            self.pending_images = []
            self.out.write("attachments dropped\n")
            return
        try:
            images = load_image_args(_attach_args(spec), "/attach")
        except GeppettoError as exc:
            self.err.write(f"error: {exc}\n")
            return
        self.pending_images.extend(images)
        count = len(self.pending_images)
        self.out.write(f"attached {describe_images(images)}; {count} image(s) go with your next message\n")

    def _save(self, path: str) -> None:
        latest = self.session.latest()
        if not path:
            self.err.write("usage: /save PATH\n")
        elif latest is None:
            self.err.write("nothing to save yet\n")
        else:
            try:
                save_turn(path, latest)
            except (OSError, GeppettoError) as exc:
                self.err.write(f"error: cannot save {path}: {exc}\n")
                return
            self.out.write(f"saved the latest turn to {path}\n")

    def _fork(self, ref_text: str) -> None:
        ref = parse_turn_ref(ref_text or None)
        try:
            if self.store is not None:
                fork_id = self.store.fork(self.session.id, at=ref)
                forked = resume(self.builder, self.store, fork_id, persister=self.persister)
            else:
                forked = Session(self.builder, turns=[_pick(self.session.turns(), ref)])
        except GeppettoError as exc:
            self.err.write(f"error: cannot fork: {exc}\n")
            return
        self.out.write(f"forked session {self.session.id} into {forked.id}; now chatting in {forked.id}\n")
        self.session = forked


def _on_runtime_loop(coro: Any) -> Any:
    """Run ``coro`` on the session runtime's loop (where the MCP connections live) and wait."""
    import asyncio

    from geppetto.background import background_loop

    return asyncio.run_coroutine_threadsafe(coro, background_loop()).result()


def _attach_args(text: str) -> list[str]:
    """``/attach``'s argument: a path as typed (spaces allowed), or shell-quoted paths as a
    terminal pastes a dropped file (``'my cat.png'``, ``my\\ cat.png``)."""
    import os
    import shlex

    if os.path.exists(os.path.expanduser(text)):
        return [text]
    try:
        return shlex.split(text) or [text]
    except ValueError:
        return [text]


def _cancel(session: Session) -> None:
    """Stdout's reader went away mid-reply: stop generating for nobody."""
    with contextlib.suppress(GeppettoError):
        session.cancel_active()


def _pick(turns: list[Turn], ref: int | str | None) -> Turn:
    """The in-memory counterpart of the store's turn reference (``--no-store`` forks)."""
    if not turns:
        raise ConfigError("cannot fork an empty session")
    if ref is None:
        return turns[-1]
    if isinstance(ref, int):
        if not -len(turns) <= ref < len(turns):
            raise ConfigError(f"the session has {len(turns)} turns; index {ref} is out of range")
        return turns[ref]
    for turn in reversed(turns):
        if turn.id == ref:
            return turn
    raise ConfigError(f"the session has no turn with id {ref!r}")


def resume(
    builder: EngineBuilder, store: TurnStore, session_id: str, *, persister: TurnPersister | None = None
) -> Session:
    """A session continuing ``session_id`` from its stored turns, persisting to the same store."""
    turns = store.load_turns(session_id)
    return Session(builder, session_id=session_id, turns=turns, store=persister or store)


def run(args: argparse.Namespace) -> int:
    from geppetto.cli.mcp import command_tools
    from geppetto.cli.profiles import builder_from_args

    try:  # first: the selected profile's mcpServers are among the command's servers
        builder = builder_from_args(args)
    except GeppettoError as exc:
        raise ConfigError(f"failed to create engine: {exc}") from None
    mcp = command_tools(args)  # --mcp / --mcp-config: the servers stop when the chat ends
    try:
        return _run(args, builder, mcp)
    finally:
        if mcp is not None:
            mcp.close()


def _run(args: argparse.Namespace, builder: EngineBuilder, mcp: CommandTools | None) -> int:
    from geppetto.cli.mcp import describe_servers

    store = open_store(args)
    if store is None and (args.continue_latest or args.session):
        raise ConfigError("--continue and --session need a turn store; drop --no-store")
    engine = builder.engine
    if mcp is not None:
        builder.with_tools(mcp.registry())
    persister = ReportingPersister(store, warn) if store is not None else None
    resumed = False
    if store is not None and args.continue_latest:
        latest = store.latest_session_id()
        if latest is None:
            raise ConfigError(f"no stored session in {store.path}; start one with 'geppetto chat'")
        session, resumed = resume(builder, store, latest, persister=persister), True
    elif store is not None and args.session:
        session_id = store.resolve_session(args.session)
        session, resumed = resume(builder, store, session_id, persister=persister), True
    else:
        session = Session(builder, store=persister)
    system = args.system
    if system is None and not resumed:
        system = DEFAULT_SYSTEM_PROMPT  # like infer's; '--system ""' starts without one
    _enable_line_editing()
    out = sys.stdout
    engine_name = getattr(engine, "name", type(engine).__name__)
    state = f"resumed, {plural(session.turn_count, 'turn')}" if resumed else "new"
    out.write(f"geppetto chat · session {session.id} ({state}) · engine {engine_name}\n")
    if mcp is not None:
        servers = describe_servers(mcp.servers)
        out.write(f"MCP servers: {servers} (they start with the first reply; /tools lists their tools)\n")
    out.write('/help for commands, /exit or Ctrl-D to quit; end a line with \\ or use """ for more lines\n')
    out.flush()
    repl = ChatRepl(builder, session, store, persister=persister, system=system, out=out, err=sys.stderr)
    try:
        return repl.loop()
    finally:
        if store is not None:
            store.close()


def _enable_line_editing() -> None:
    """History and cursor keys at an interactive prompt (``input()`` picks readline up)."""
    if sys.stdin is not None and sys.stdin.isatty():
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401
