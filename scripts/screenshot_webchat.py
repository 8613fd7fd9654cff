"""Write a screenshot of the web chat (``docs/webchat.png``) from a real headless Chromium.

Run from the repository root: ``PYTHONPATH=src python scripts/screenshot_webchat.py [OUT.png]``.
Needs Debian's ``chromium`` and ``chromium-driver`` and Selenium. The chat runs on scripted test
engines (no model, no network) against a temporary turn store, so the picture is reproducible.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REPLY = (
    "## Adding numbers\n\n"
    "I called the **add** tool, which returned `5`. In Python:\n\n"
    "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n\nprint(add(2, 3))  # 5\n```\n\n"
    "- tool calls and reasoning stay collapsed above\n"
    "- every code block has its own *Copy* button\n"
)


def write_screenshot(out: Path) -> Path:
    from aiohttp import web
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    from tests.webchat.support import BackgroundServer, ScriptedEngine, chromium, make_profiles

    from geppetto.serve.web import add_web_chat
    from geppetto.session import EngineBuilder
    from geppetto.store import TurnStore

    profiles = make_profiles(slow_delay_ms=20)
    registry_builder = profiles.builders["tools"]
    registry = registry_builder().tool_registry
    profiles.builders["tools"] = lambda: EngineBuilder(ScriptedEngine(REPLY)).with_tools(registry)
    with tempfile.TemporaryDirectory() as tmp, TurnStore(Path(tmp) / "turns.db") as store:
        app = web.Application()
        add_web_chat(app, store=store, profiles=profiles)
        with BackgroundServer(app) as server:
            browser = chromium(1280, 820)
            try:
                wait = WebDriverWait(browser, 30, poll_frequency=0.05)
                browser.get(server.url)
                wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
                for text in ("Say hello", "Plan a picnic"):
                    _send(browser, wait, text)
                    browser.find_element(By.ID, "new-chat").click()
                Select(browser.find_element(By.ID, "profile")).select_by_value("tools")
                _send(browser, wait, "What is 2 + 3? Show it in Python too.")
                tool = browser.find_elements(By.CSS_SELECTOR, "#messages details.tool summary")[-1]
                tool.click()
                out.parent.mkdir(parents=True, exist_ok=True)
                browser.save_screenshot(str(out))
            finally:
                browser.quit()
    return out


def _send(browser: object, wait: object, text: str) -> None:
    from selenium.webdriver.common.by import By

    box = browser.find_element(By.ID, "input")  # type: ignore[attr-defined]
    box.send_keys(text)
    browser.find_element(By.ID, "send").click()  # type: ignore[attr-defined]
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#messages .msg.assistant"))  # type: ignore[attr-defined]
    wait.until(lambda b: b.find_element(By.ID, "send").is_displayed())  # type: ignore[attr-defined]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "webchat.png"
    print(write_screenshot(target))
