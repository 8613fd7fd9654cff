"""``geppetto js run``: the examples, exit codes, error output, --host-tools, --print-result, --profile."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.signals import default_sigint

from .conftest import REPO

EXAMPLES = REPO / "examples" / "js"


def js_command() -> list[str]:
    """``geppetto js`` when the main CLI has the command, else the stand-alone module entry."""
    from geppetto.cli import build_parser

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(["js", "run", "x.js"])
    except SystemExit:
        return [sys.executable, "-m", "geppetto.cli.js"]
    return [sys.executable, "-m", "geppetto", "js"]


def geppetto_js(
    *args: str | Path, cwd: Path | None = None, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``geppetto js run ARGS``; ``env`` adds to (and overrides) the inherited environment."""
    env = {k: v for k, v in os.environ.items() if k != "PINOCCHIO_PROFILE"} | (env or {})
    return subprocess.run(
        [*js_command(), "run", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or REPO,
        env=env,
    )


def interrupt_js_run(script: Path, *args: str, timeout: float = 30) -> tuple[int, str, str]:
    """Run ``geppetto js run SCRIPT ARGS``, wait for its first line ``started``, press Ctrl-C
    (SIGINT) and return the exit code, the rest of stdout and stderr."""
    proc = subprocess.Popen(
        [*js_command(), "run", str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        preexec_fn=default_sigint,  # a suite run in the background would otherwise ignore SIGINT
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err


def example_args(script: Path, tmp: Path) -> list[str]:
    """Extra arguments an example declares in a ``// geppetto-js-args: ...`` line (``.py`` paths are
    relative to it; ``$TMP`` is a fresh temporary directory, e.g. for ``--store $TMP/turns.db``)."""
    match = re.search(r"^// geppetto-js-args: (.+)$", script.read_text(encoding="utf-8"), flags=re.M)
    if match is None:
        return []
    args = [a.replace("$TMP", str(tmp)) for a in match.group(1).split()]
    return [str(script.parent / a) if a.endswith(".py") else a for a in args]


EXAMPLE_SCRIPTS = sorted(EXAMPLES.glob("*.js"))


def test_examples_cover_every_namespace() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in EXAMPLE_SCRIPTS)
    for needle in (
        "turns.",
        "engines.",
        "middlewares.",
        "tools.createRegistry",
        "withToolHooks",
        "runAsync",
        ".start(",
        "cancel",
        "consts.",
        "useHostTools",
        "turnStores.",
        "resumeLatest",
        "fork:",
    ):
        assert needle in text, needle


@pytest.mark.parametrize("script", EXAMPLE_SCRIPTS, ids=lambda p: p.name)
def test_example_runs(script: Path, tmp_path: Path) -> None:
    # an example that uses the default store without --store writes to tmp_path, never the user's
    result = geppetto_js(
        script, *example_args(script, tmp_path), env={"GEPPETTO_STORE": str(tmp_path / "d.db")}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"PASS: {script.name}")


def test_uncaught_error_exit_code_and_stack(tmp_path: Path) -> None:
    script = tmp_path / "fails.js"
    script.write_text(
        "const g = require('geppetto');\n\nfunction inner() {\n  g.turns.normalize();\n}\ninner();\n"
    )
    result = geppetto_js(script)
    assert result.returncode == 1
    assert "TypeError: turns.normalize requires turn" in result.stderr
    assert "fails.js:4" in result.stderr  # the stack points at the script line
    assert "PASS" not in result.stdout


def test_unhandled_rejection_fails(tmp_path: Path) -> None:
    script = tmp_path / "rejects.js"
    script.write_text(
        "const g = require('geppetto');\n"
        "const bad = g.engines.fromFunction(() => { throw new Error('engine exploded') });\n"
        "const s = g.createSession({engine: bad});\n"
        "s.runAsync({blocks: [{kind: 'user'}]});\n"
    )
    result = geppetto_js(script)
    assert result.returncode == 1
    assert "Unhandled promise rejection" in result.stderr and "engine exploded" in result.stderr


def test_syntax_error_and_missing_script(tmp_path: Path) -> None:
    script = tmp_path / "broken.js"
    script.write_text("const = ;\n")
    broken = geppetto_js(script)
    assert broken.returncode == 1 and "SyntaxError" in broken.stderr
    missing = geppetto_js(tmp_path / "nope.js")
    assert missing.returncode == 1 and "cannot read script" in missing.stderr


def test_print_result(tmp_path: Path) -> None:
    script = tmp_path / "value.js"
    script.write_text(
        "const g = require('geppetto');\n"
        "const s = g.createSession({engine: g.engines.echo({reply: 'yes'})});\n"
        "({reply: s.run({blocks: [g.turns.newUserBlock('q')]}).blocks[1].payload.text, n: 2 ** 40});\n"
    )
    result = geppetto_js(script, "--print-result")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['{"reply":"yes","n":1099511627776}', "PASS: value.js"]


def test_print_result_of_a_script_with_top_level_await_is_what_it_returns(tmp_path: Path) -> None:
    script = tmp_path / "awaits.js"
    script.write_text(
        "const g = require('geppetto');\n"
        "const s = g.createSession({engine: g.engines.echo({reply: 'later'})});\n"
        "const out = await s.runAsync({blocks: [g.turns.newUserBlock('q')]});\n"
        "return {reply: out.blocks[1].payload.text, big: 2 ** 53};\n"
    )
    result = geppetto_js(script, "--print-result")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['{"reply": "later", "big": 9007199254740992}', "PASS: awaits.js"]

    no_return = tmp_path / "no_return.js"
    no_return.write_text("await Promise.resolve(1);\n'ignored completion value';\n")
    result = geppetto_js(no_return, "--print-result")
    assert result.stdout.splitlines() == ["null", "PASS: no_return.js"]

    unprintable = tmp_path / "bigint.js"
    unprintable.write_text("await 0;\nreturn {n: 10n};\n")
    result = geppetto_js(unprintable, "--print-result")
    assert result.returncode == 1 and "JSON cannot hold (bigint)" in result.stderr


def test_host_tools_file(tmp_path: Path) -> None:
    tools = tmp_path / "mytools.py"
    tools.write_text(
        "import geppetto\n\n@geppetto.tool\ndef shout(text: str) -> str:\n    '''Upper-case.'''\n"
        "    return text.upper()\n\nNOT_A_TOOL = 3\n"
    )
    script = tmp_path / "use.js"
    script.write_text(
        "const g = require('geppetto');\n"
        "const r = g.tools.createRegistry().useHostTools();\n"
        "assert(JSON.stringify(r.list().map((t) => t.name)) === '[\"shout\"]', 'listed');\n"
        "assert(r.call('shout', {text: 'hi'}) === 'HI', 'called');\n"
    )
    result = geppetto_js(script, "--host-tools", tools)
    assert result.returncode == 0, result.stderr
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    bad = geppetto_js(script, "--host-tools", empty)
    assert bad.returncode == 1 and "defines no @geppetto.tool functions" in bad.stderr
    without = geppetto_js(script)
    assert without.returncode == 1 and "no go tool registry configured" in without.stderr


def test_profile_flag(tmp_path: Path) -> None:
    script = tmp_path / "profile.js"
    script.write_text(
        "const g = require('geppetto');\n"
        "console.log(g.engines.fromProfile(undefined, {apiType: 'echo'}).name);\n"
    )
    result = geppetto_js(script, "--profile", "my-profile")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "profile:my-profile"


def test_profile_file_and_registries_reach_from_profile(tmp_path: Path) -> None:
    """Profiles only the flags name: fromProfile finds them there (not in ~/.config)."""
    (tmp_path / "profiles.yaml").write_text("team-echo:\n  ai-chat:\n    ai-api-type: echo\n")
    (tmp_path / "registry.yaml").write_text(
        "slug: team\nprofiles:\n  reg-echo:\n    inference_settings: {chat: {api_type: echo}}\n"
    )
    script = tmp_path / "profile_file.js"
    script.write_text(
        "const g = require('geppetto');\n"
        "for (const name of ['team-echo', 'reg-echo']) {\n"
        "  const s = g.createSession({engine: g.engines.fromProfile(name)});\n"
        "  console.log(name, s.run({blocks: [g.turns.newUserBlock('hi ' + name)]}).blocks[1].payload.text);\n"
        "}\n"
    )
    result = geppetto_js(
        script,
        "--profile-file",
        tmp_path / "profiles.yaml",
        "--profile-registries",
        tmp_path / "registry.yaml",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["team-echo READY", "reg-echo READY"]  # the echo engine
    config = tmp_path / "config.yaml"  # a --config-file can name the profile file instead
    config.write_text(f"profile-settings:\n  profile-file: {tmp_path / 'profiles.yaml'}\n")
    script.write_text(script.read_text().replace("'reg-echo'", "'team-echo'"))
    via_config = geppetto_js(script, "--config-file", config)
    assert via_config.returncode == 0, via_config.stderr
    assert via_config.stdout.splitlines()[:2] == ["team-echo READY", "team-echo READY"]
    without = geppetto_js(script)
    # not a model name either: the CLI's "not found" (issue 15, defect 11)
    assert without.returncode == 1 and "profile team-echo not found" in without.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_cancels_and_exits(tmp_path: Path) -> None:
    script = tmp_path / "long.js"
    script.write_text(
        "const g = require('geppetto');\n"
        "const s = g.createSession({engine: g.engines.echo({reply: 'never', delayMs: 600000})});\n"
        "setTimeout(() => console.log('started'), 0);\n"
        "s.run({blocks: [{kind: 'user'}]});\n"
    )
    code, _, err = interrupt_js_run(script)
    assert code == 130
    assert "interrupted" in err


def test_installing_the_module_stays_light() -> None:
    """``geppetto js run`` of a trivial script must not pay for asyncio and the engines (~50 ms):
    they load when a script first creates an engine."""
    code = (
        "import sys; from geppetto.js import JSRuntime;"
        "from geppetto.js.module import install_geppetto_module;"
        "rt = JSRuntime(); install_geppetto_module(rt); rt.run_script('const x = 1;'); rt.close();"
        "print(sorted(m for m in ('asyncio', 'geppetto.engines', 'openai') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ------------------------------------------------------------------ limits (issue 15, defect 8)


def test_timeout_ms_stops_a_busy_script(tmp_path: Path) -> None:
    script = tmp_path / "spin.js"
    script.write_text("console.log('started');\nfor (;;) {}\n")
    result = geppetto_js(script, "--timeout-ms", "300")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: script exceeded --timeout-ms 300"
    assert result.stdout.splitlines() == ["started"]


def test_timeout_ms_cancels_the_running_inference_and_stores_it(tmp_path: Path) -> None:
    from geppetto.store import TurnStore

    script = tmp_path / "slow.js"
    script.write_text(
        "const g = require('geppetto');\n"
        "const s = g.createSession({engine: g.engines.echo({reply: 'never', delayMs: 600000}),\n"
        "  sessionId: 'slow-session', store: true});\n"
        "await s.runAsync({blocks: [g.turns.newUserBlock('question')]});\n"
        "console.log('finished');\n"
    )
    db = tmp_path / "turns.db"
    # long enough for the run to start on a loaded machine (a limit that ends the script before
    # its run starts leaves nothing to store)
    result = geppetto_js(script, "--timeout-ms", "3000", "--store", db)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == "error: script exceeded --timeout-ms 3000"
    assert "finished" not in result.stdout
    store = TurnStore(db)
    try:
        (stored,) = store.list_turns("slow-session")
        assert stored.finish_class == "interrupted" and stored.outcome == "cancelled"
    finally:
        store.close()


def test_max_memory_stops_a_memory_bomb(tmp_path: Path) -> None:
    script = tmp_path / "bomb.js"
    script.write_text("const kept = [];\nfor (;;) kept.push({ n: [1, 2, 3] });\n")
    result = geppetto_js(script, "--max-memory", "64M")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: script exceeded the memory limit of 64 MiB (--max-memory)"
    # the default limit (1 GiB) applies without the flag: a big allocation fails at once
    huge = tmp_path / "huge.js"
    huge.write_text("const a = new Uint8Array(1200 * 1024 * 1024);\n")
    default = geppetto_js(huge)
    assert default.returncode == 1
    assert default.stderr.splitlines()[0] == "error: script exceeded the memory limit of 1 GiB (--max-memory)"
    assert "huge.js:1:" in default.stderr
    assert geppetto_js(huge, "--max-memory", "2G").returncode == 0
    assert geppetto_js(huge, "--max-memory", "0").returncode == 0


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--max-memory", "lots", "expected a size such as 512M or 2G"),
        ("--max-memory", "1M", "must be at least 8M"),
        ("--max-memory", "-5M", "expected a size such as 512M or 2G"),
        ("--timeout-ms", "-1", "must be 0 (no deadline) or more"),
        ("--timeout-ms", "1.5", "expected whole milliseconds"),
    ],
)
def test_bad_limit_flags_are_usage_errors(tmp_path: Path, flag: str, value: str, message: str) -> None:
    script = tmp_path / "ok.js"
    script.write_text("1;\n")
    result = geppetto_js(script, f"{flag}={value}")
    assert result.returncode == 2
    assert f"argument {flag}: {message}" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_a_script_blocked_in_a_host_call_before_it_runs_on(tmp_path: Path) -> None:
    """Ctrl-C interrupts the runtime: the waiting host call ends at once and the script stops
    there, uncatchably (before, it caught "JS runtime is closed" and spun until the close timeout)."""
    script = tmp_path / "stuck.js"
    script.write_text(
        "console.log('started');\n"
        "try { sleep(600000); } catch (e) { console.log('woken: ' + e.message); }\n"
        "for (;;) {}\n"
    )
    code, out, err = interrupt_js_run(script)
    assert code == 130
    assert out == ""  # neither the catch block nor anything after the call ran
    assert err.strip() == "interrupted"


def test_stack_positions_point_into_the_script_file(tmp_path: Path) -> None:
    script = tmp_path / "throw.js"
    script.write_text('throw new Error("boom");\n')
    result = geppetto_js(script)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["Error: boom", f"    at <anonymous> ({script}:1:11)"]
    printed = geppetto_js(script, "--print-result")  # evaluated through eval to get its value
    assert printed.stderr.splitlines() == ["Error: boom", f"    at <eval> ({script}:1:11)"]
    module_error = tmp_path / "module_error.js"
    module_error.write_text("const g = require('geppetto');\n\ng.turns.normalize();\n")
    result = geppetto_js(module_error)
    frames = result.stderr.splitlines()[1:]
    assert frames[-1].strip() == f"at <anonymous> ({module_error}:3:9)"
    assert all("(host:geppetto.js:" in frame for frame in frames[:-1]), frames


# ------------------------------------------------------------------ the reference runner's spelling


def test_reference_runner_flags_and_globals(tmp_path: Path) -> None:
    script = tmp_path / "example.js"
    script.write_text(
        "console.log(JSON.stringify(globalThis.GEPPETTO_EXAMPLE));\n"
        "console.log(GEPPETTO_PROFILE, GEPPETTO_TIMEOUT_MS);\n"
    )
    registry = tmp_path / "registry.yaml"
    registry.write_text("slug: team\nprofiles:\n  p:\n    inference_settings: {chat: {api_type: echo}}\n")
    expected = {
        "script": str(script),
        "profile": "p",
        "profileRegistries": [str(registry)],
        "timeoutMs": 120000,
    }
    for args in (
        ["--script", script, "--profile-registries", registry, "--profile", "p", "--timeout-ms", "120000"],
        ["run", "--script", script, "--profile-registries", registry, "--profile", "p"],  # `... run run`
        [script, "--profile-registries", registry, "--profile", "p"],
    ):
        result = geppetto_js(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert json.loads(result.stdout.splitlines()[0]) == expected
        assert result.stdout.splitlines()[1] == "p 120000"
    both = geppetto_js(script, "--script", script)
    assert both.returncode == 1 and "give the script once" in both.stderr
    neither = geppetto_js()
    assert neither.returncode == 1 and "no script to run" in neither.stderr
    for given in ("5000", "0"):
        short = geppetto_js("--script", script, "--timeout-ms", given)
        assert json.loads(short.stdout.splitlines()[0])["timeoutMs"] == int(given)


def test_a_rejected_promise_of_the_last_expression_fails_the_run(tmp_path: Path) -> None:
    """Like the reference's example 31: the whole script is an async IIFE expression statement."""
    script = tmp_path / "iife.js"
    script.write_text(
        "(async () => {\n"
        "  const g = require('geppetto');\n"
        "  const s = g.createSession({engine: g.engines.echo({reply: 'ok', delayMs: 20})});\n"
        "  const out = await s.runAsync({blocks: [g.turns.newUserBlock('q')]});\n"
        "  console.log('reply ' + out.blocks[1].payload.text);\n"
        "  if (globalThis.ENV.FAIL_IT) throw new Error('the example failed');\n"
        "})();\n"
    )
    passed = geppetto_js(script)
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.splitlines() == ["reply ok", "PASS: iife.js"]
    failed = geppetto_js(script, env={"FAIL_IT": "1"})
    assert failed.returncode == 1
    assert failed.stdout.splitlines() == ["reply ok"]
    assert failed.stderr.splitlines()[:2] == [
        "Unhandled promise rejection: Error: the example failed",
        f"    at <anonymous> ({script}:6:41)",
    ]


def test_js_run_of_a_trivial_script_stays_light(tmp_path: Path) -> None:
    """Cold start (budget 250 ms): the limits, GEPPETTO_EXAMPLE and the runner flags must not pull
    in asyncio, the engines or the profiles package for a script that uses none of them."""
    script = tmp_path / "trivial.js"
    script.write_text("const x = 1;\n")
    code = (
        "import sys; from geppetto.cli import main;"
        f"assert main(['js', 'run', {str(script)!r}, '--timeout-ms', '60000']) == 0;"
        "print(sorted(m for m in ('asyncio', 'geppetto.engines', 'geppetto.profiles', 'openai') "
        "if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINOCCHIO_")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512M", 512 << 20),
        ("512m", 512 << 20),
        ("1.5G", 3 << 29),
        ("2GiB", 2 << 30),
        ("64 MB", 64 << 20),
        ("16777216", 16 << 20),
        ("1T", 1 << 40),
        ("0", 0),
        ("none", 0),
        ("unlimited", 0),
    ],
)
def test_max_memory_sizes(text: str, size: int) -> None:
    from geppetto.cli.js_commands import memory_size

    assert memory_size(text) == size


def test_a_failing_script_cancels_the_inference_it_left_running(tmp_path: Path) -> None:
    from geppetto.store import TurnStore

    script = tmp_path / "throws.js"
    script.write_text(
        "const g = require('geppetto');\n"
        "const s = g.createSession({engine: g.engines.echo({reply: 'never', delayMs: 600000}),\n"
        "  sessionId: 'left-running', store: true});\n"
        "s.runAsync({blocks: [g.turns.newUserBlock('question')]}).catch(() => {});\n"
        "setTimeout(() => { throw new Error('gave up'); }, 50);\n"
    )
    db = tmp_path / "turns.db"
    result = geppetto_js(script, "--store", db)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "Error: gave up"
    store = TurnStore(db)
    try:
        (stored,) = store.list_turns("left-running")
        assert stored.outcome == "cancelled"
    finally:
        store.close()
