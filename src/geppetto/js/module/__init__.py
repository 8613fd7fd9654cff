"""``require("geppetto")``: the reference JS inference API, hosted on a :class:`~geppetto.js.JSRuntime`.

>>> rt = JSRuntime()
>>> install_geppetto_module(rt, host_tools=registry)
>>> rt.run_script('const g = require("geppetto"); ...')

The module surface (spec §1.2-§1.10 plus ``consts``, ``session.start()`` and §9 ``turnStores``) is
described for editors in ``geppetto/js/geppetto.d.ts``. ``module.js`` holds the JS half (argument
checks, prototypes, run handles); :mod:`geppetto.js.module.host` the Python half it calls.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from geppetto.js.events import install_events_module
from geppetto.js.module.host import GeppettoHost
from geppetto.js.module.profile import ProfileDefaults

if TYPE_CHECKING:
    from geppetto.js.runtime import JSRuntime
    from geppetto.middleware.registry import MiddlewareFactory
    from geppetto.store.store import TurnStore
    from geppetto.tools.registry import ToolRegistry

MODULE_NAME = "geppetto"


@functools.cache
def module_source() -> str:
    """``module.js`` followed by the API objects in ``parts/*.js`` (file-name order).

    The parts share ``module.js``'s scope (``call``, ``isObject``, ``hide``, ``methodOf``...) and add
    their own ``exports``, so each API object of the reference keeps one JS file.
    """
    root = importlib.resources.files(__name__)
    parts = sorted(
        (entry for entry in root.joinpath("parts").iterdir() if entry.name.endswith(".js")),
        key=lambda entry: entry.name,
    )
    return "\n".join(entry.read_text(encoding="utf-8") for entry in [root.joinpath("module.js"), *parts])


def install_geppetto_module(
    runtime: JSRuntime,
    *,
    host_tools: ToolRegistry | None = None,
    host_middlewares: Mapping[str, MiddlewareFactory] | None = None,
    store: TurnStore | Callable[[], TurnStore] | None = None,
    turn_stores: Mapping[str, TurnStore | Callable[[], TurnStore]] | None = None,
    default_profile: str | None = None,
    profile_file: str | None = None,
    profile_registries: str | None = None,
    config_file: str | None = None,
) -> GeppettoHost:
    """Make ``require("geppetto")`` available in ``runtime``.

    ``host_tools`` is the registry ``useGoTools``/``useHostTools`` import from; ``host_middlewares``
    are named factories for ``middlewares.go(name)`` (they win over the built-ins); ``store`` is
    the default turn store (``turnStores.default()``, the session options ``store: true``,
    ``resumeLatest`` and ``fork``) and ``turn_stores`` the named ones (``turnStores.get(name)``):
    each a :class:`~geppetto.store.TurnStore`, or a function that opens one the first time a script
    needs it (:meth:`GeppettoHost.close_stores` closes those); ``default_profile`` is what
    ``engines.fromProfile()`` uses when the script names none (before ``$PINOCCHIO_PROFILE``), and
    ``profile_file``/``profile_registries``/``config_file`` where it looks profiles up (default: the
    usual places).
    """
    host = GeppettoHost(
        runtime,
        host_tools=host_tools,
        host_middlewares=host_middlewares,
        store=store,
        turn_stores=turn_stores,
        profile_defaults=ProfileDefaults(default_profile, profile_file, profile_registries, config_file),
    )
    for name, fn in host.functions().items():
        runtime.register_function(name, fn)
    runtime.add_close_hook(host.cancel_all)  # like the reference: closing the runtime cancels its runs
    runtime.define_js_module(MODULE_NAME, module_source())
    install_events_module(runtime)  # agent().events(emitter) takes require("events") emitters
    return host


__all__ = ["MODULE_NAME", "GeppettoHost", "install_geppetto_module", "module_source"]
