"""``runAsync``/``start`` stay active for JS until their promise settles (deterministic scripts).

Regression: ``s.runAsync(a); s.runAsync()`` with nobody handling the second promise sometimes
passed ``geppetto js run``. The rejection was always reported when it happened; but a fast engine
could finish on the asyncio thread between the two statements, so the second call sometimes
started a new run instead of failing. JS now sees a run as active until its promise settles.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from geppetto.cli.js import main as js_main
from geppetto.js.module.session_api import JSSession

from .conftest import JSHarness
from .test_jsapi_cli import geppetto_js

pytestmark = pytest.mark.timeout(120)

SECOND_RUN_UNHANDLED = """\
const g = require("geppetto");
const s = g.createSession({engine: g.engines.echo({reply: "hi there"})});
const p = s.runAsync(g.turns.newTurn({blocks: [g.turns.newUserBlock("q2")]}));
try { s.runAsync(); } catch (err) { console.log("second:", err.message, err.code); }
p.then(t => 1);
"""
MESSAGE = "Unhandled promise rejection: Error: session already has an active inference"
SEED = "({blocks: [g.turns.newUserBlock('hi')]})"


def test_unhandled_second_run_async_fails_geppetto_js_run(tmp_path: Path) -> None:
    script = tmp_path / "second.js"
    script.write_text(SECOND_RUN_UNHANDLED)
    result = geppetto_js(script)
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip() == MESSAGE  # and no bogus "second.js:<line>" frame
    assert "PASS" not in result.stdout


def test_unhandled_second_run_async_fails_every_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same command in-process, many times: the outcome must not depend on thread timing."""
    monkeypatch.delenv("PINOCCHIO_PROFILE", raising=False)
    script = tmp_path / "second.js"
    script.write_text(SECOND_RUN_UNHANDLED)
    for _ in range(30):
        assert js_main(["run", str(script)]) == 1
        out, err = capsys.readouterr()
        assert err.strip() == MESSAGE and "PASS" not in out


def _wait_for_inference_end(js: JSHarness) -> list[bool]:
    """``inferenceEnded(s)`` blocks the owner until the Python inference of ``s`` is over (its
    promise cannot settle meanwhile) and reports whether the Python session is still running."""
    python_running: list[bool] = []

    def ended(js_session: Any) -> None:
        assert isinstance(js_session, JSSession)
        run = js_session._unsettled_run
        assert run is not None
        run.handle.wait(10)
        python_running.append(js_session.session.is_running)

    js.runtime.set_global("inferenceEnded", ended)
    return python_running


def test_run_async_is_active_until_its_promise_settles(js: JSHarness) -> None:
    python_running = _wait_for_inference_end(js)
    running, sync, after_cancel, in_then, second, count, rerun = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.echo()}});
        const p = s.runAsync({SEED});
        inferenceEnded(s);
        report(s.isRunning());
        const second = s.runAsync().catch((e) => e.code);  // no await yet: p could settle meanwhile
        try {{ s.run() }} catch (e) {{ report(e.code) }}
        s.cancelActive();  // finished already: nothing to cancel, not an error
        report(s.isRunning());
        await p.then(() => report(s.isRunning()));
        report(await second);
        report(s.turnCount());
        report(s.run().blocks.length);
        """
    )
    assert python_running == [False]  # Python was idle while JS still saw the run as active
    assert running is True
    assert second == sync == "session_already_active"
    assert after_cancel is True
    assert in_then is False  # idle in the promise's own reactions
    assert count == 1 and rerun == 3  # the rejected calls appended nothing


def test_start_handle_is_active_until_its_promise_settles(js: JSHarness) -> None:
    python_running = _wait_for_inference_end(js)
    running, second, settled = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.echo()}});
        const h = s.start({SEED});
        inferenceEnded(s);
        report(s.isRunning());
        const second = s.runAsync({SEED}).catch((e) => e.message);
        await h.promise;
        report(await second);
        report(s.isRunning());
        """
    )
    assert python_running == [False]
    assert running is True
    assert second == "session already has an active inference"
    assert settled is False


def test_failed_run_async_ends_before_its_rejection_is_seen(js: JSHarness) -> None:
    running, again = js.run(
        """
        const bad = g.engines.fromFunction(() => { throw new Error('engine exploded') });
        const s = g.createSession({engine: bad});
        try { await s.runAsync({blocks: [g.turns.newUserBlock('x')]}) } catch (e) { report(s.isRunning()) }
        try { await s.runAsync() } catch (e) { report(e.message) }
        """
    )
    assert running is False
    assert again.endswith("engine exploded")  # a new run started, not "already active"


def test_back_to_back_awaited_runs_never_collide(js: JSHarness) -> None:
    release = threading.Event()
    js.runtime.set_global("noop", release.set)
    counts = js.one(
        f"""
        const s = g.createSession({{engine: g.engines.echo()}});
        const counts = [];
        for (let i = 0; i < 20; i++) {{ await s.runAsync({SEED}); counts.push(s.turnCount()); }}
        noop();
        report(counts);
        """
    )
    assert counts == list(range(1, 21))
    assert release.is_set()
