"""Host promises settled from other threads while the script has nothing else to do.

Regression guard for ``geppetto js run`` passing although a host-settled promise was rejected
and nobody handled it: whatever the thread timing, the rejection must fail the running script
(never land in ``uncaught_errors`` after the script returned).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from geppetto.errors import ToolError
from geppetto.js import HostPromise, JSRuntime, JSScriptError

pytestmark = pytest.mark.timeout(60)

ITERATIONS = 30


def _idle_then(rt: JSRuntime, settle: Any) -> None:
    """``pending()`` hands JS a fresh HostPromise; ``idle()`` (the script's last statement) lets a
    thread settle it, so the settlement races with the owner going idle."""
    box: list[HostPromise] = []

    def pending() -> HostPromise:
        box.append(rt.create_promise())
        return box[-1]

    def idle() -> None:
        promises = list(box)
        box.clear()
        threading.Thread(target=settle, args=(promises,)).start()

    rt.set_global("pending", pending)
    rt.set_global("idle", idle)


@pytest.mark.parametrize(
    "source",
    [
        "pending(); idle();",  # the host promise itself is never handled
        "pending().then((v) => v); idle();",  # its derived promise is never handled
        "const p = pending(); await null; p.then(() => 1); idle();",
    ],
    ids=["bare", "derived", "after-await"],
)
def test_rejection_from_another_thread_fails_the_idle_script(rt: JSRuntime, source: str) -> None:
    _idle_then(rt, lambda promises: promises[0].reject(ToolError("late failure")))
    for _ in range(ITERATIONS):
        with pytest.raises(JSScriptError) as info:
            rt.run_script(source, "idle.js")
        assert info.value.kind == "unhandledRejection"
        assert info.value.message == "late failure"
    assert rt.uncaught_errors == []


def test_resolved_and_rejected_from_different_threads(rt: JSRuntime) -> None:
    """Like ``s.runAsync(a); s.runAsync(b)``: one promise handled and resolved, one unhandled and
    rejected, settled concurrently in either order."""

    def settle(promises: list[HostPromise]) -> None:
        ok, bad = promises
        threads = [
            threading.Thread(target=ok.resolve, args=("fine",)),
            threading.Thread(target=bad.reject, args=(ValueError("second failed"),)),
        ]
        for t in threads:
            t.start()

    _idle_then(rt, settle)
    for _ in range(ITERATIONS):
        with pytest.raises(JSScriptError, match="second failed"):
            rt.run_script("const a = pending(); pending(); a.then((v) => v); idle();", "pair.js")
    assert rt.uncaught_errors == []


def test_handled_rejection_from_another_thread_passes(rt: JSRuntime, console: Any) -> None:
    _idle_then(rt, lambda promises: promises[0].reject(ValueError("expected")))
    for _ in range(ITERATIONS):
        rt.run_script("pending().catch((e) => console.log(e.message)); idle();", "handled.js")
    assert console.texts() == ["expected"] * ITERATIONS
    assert rt.uncaught_errors == []


def test_host_rejection_stack_has_no_bogus_script_frame(rt: JSRuntime) -> None:
    """Errors built while settling a host promise must not point into the script (bridge frames
    used to show up as ``at settle (<script>:<bridge line>)``)."""
    _idle_then(rt, lambda promises: promises[0].reject(ValueError("no frame")))
    with pytest.raises(JSScriptError) as info:
        rt.run_script("pending(); idle();", "frames.js")
    assert "frames.js" not in info.value.stack
    assert info.value.format() == "Unhandled promise rejection: Error: no frame"


def test_before_hook_runs_on_the_owner_just_before_js_sees_the_settlement(
    rt: JSRuntime, console: Any
) -> None:
    state = {"ended": False}
    hp = rt.create_promise()
    seen: list[bool] = []

    def end() -> None:
        seen.append(rt.is_owner_thread())
        state["ended"] = True

    rt.set_global("pending", lambda: hp)
    rt.set_global("ended", lambda: state["ended"])
    settler = threading.Thread(target=hp.resolve, args=(1,), kwargs={"before": end})
    rt.set_global("go", settler.start)
    rt.run_script("console.log(ended()); pending().then(() => console.log(ended())); go();")
    assert console.texts() == ["false", "true"]
    assert seen == [True]
    assert hp.resolve(2, before=end) is False and seen == [True]  # already settled: hook not run


def test_before_hook_error_still_settles_the_promise(rt: JSRuntime, console: Any) -> None:
    hp = rt.create_promise()

    def broken() -> None:
        raise RuntimeError("hook broke")

    rt.set_global("pending", lambda: hp)
    settler = threading.Thread(target=hp.reject, args=(ValueError("x"),), kwargs={"before": broken})
    rt.set_global("go", settler.start)
    with pytest.raises(JSScriptError, match="hook broke"):
        rt.run_script("pending().catch((e) => console.log('caught', e.message)); go();")
    assert console.texts() == ["caught x"]
