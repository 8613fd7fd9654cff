"""The web chat in a real headless Chromium (Debian's chromium + chromium-driver, via Selenium):
stream a reply, stop it, reload and find the session, fork it, switch profile, render Markdown
without letting model output inject markup, delete. The browser and server are shared by the
module; each test opens the page itself. Waits poll for a state, never for an amount of time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from geppetto.serve.web import add_web_chat
from geppetto.serve.web.views import PROFILE_KEY
from geppetto.store import TurnStore
from tests.webchat.support import BackgroundServer, chromium, make_profiles

WAIT_S = 30


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TurnStore]:
    with TurnStore(tmp_path_factory.mktemp("webchat") / "turns.db") as turn_store:
        yield turn_store


@pytest.fixture(scope="module")
def server(store: TurnStore) -> Iterator[BackgroundServer]:
    app = web.Application()
    add_web_chat(app, store=store, profiles=make_profiles(slow_delay_ms=120))
    with BackgroundServer(app) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shared() -> dict[str, str]:
    """Ids the tests of this module hand on (the stopped session, its fork)."""
    return {}


def earlier(shared: dict[str, str], key: str) -> str:
    if key not in shared:
        pytest.fail(f"this test continues an earlier one in this module (no {key!r} session): run the module")
    return shared[key]


def until(browser: Any, check: Callable[[Any], Any], what: str) -> Any:
    return WebDriverWait(browser, WAIT_S, poll_frequency=0.05).until(check, f"waiting for {what}")


def ready(browser: Any) -> bool:
    return bool(browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")


def open_page(browser: Any, url: str) -> None:
    browser.get(url)
    until(browser, ready, "the page")


def send(browser: Any, text: str) -> None:
    box = browser.find_element(By.ID, "input")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.ID, "send").click()


def last_reply(browser: Any) -> Any:
    return browser.find_elements(By.CSS_SELECTOR, "#messages .msg.assistant")[-1]


def words(element: Any) -> int:
    return len(element.find_element(By.CSS_SELECTOR, ".body").text.split())


def current_session(browser: Any) -> str:
    label = browser.find_element(By.ID, "session-label").text
    assert label.startswith("session "), label
    return str(label.removeprefix("session "))


def test_a_reply_streams_and_stop_keeps_the_partial_reply(
    browser: Any, server: BackgroundServer, store: TurnStore, shared: dict[str, str]
) -> None:
    open_page(browser, server.url)
    Select(browser.find_element(By.ID, "profile")).select_by_value("slow")
    send(browser, "count slowly")
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#messages .msg.assistant"), "a reply")
    first = until(browser, lambda b: words(last_reply(b)) >= 3 and words(last_reply(b)), "three words")
    until(browser, lambda b: words(last_reply(b)) > first, "the reply to grow")  # it streams
    assert browser.find_element(By.ID, "stop").is_displayed()
    assert not browser.find_element(By.ID, "send").is_displayed()
    browser.find_element(By.ID, "stop").click()
    until(browser, lambda b: "stopped" in last_reply(b).text, "the stopped badge")
    assert browser.find_element(By.ID, "send").is_displayed()
    shown = last_reply(browser).find_element(By.CSS_SELECTOR, ".body").text
    assert shown.startswith("word0 word1 word2")
    sid = current_session(browser)
    shared["stopped"] = sid

    def stored_cancelled() -> Any:
        infos = [i for i in store.list_sessions() if i.id == sid]
        return infos and infos[0].last_outcome == "cancelled"

    until(browser, lambda _: stored_cancelled(), "the server to store the stopped run")
    stored = store.get_turn(sid)
    assert stored.turn is not None
    partial = stored.turn.assistant_text()
    assert partial.startswith(shown.split()[0]) and len(partial.split()) < 400  # cancelled server-side
    assert stored.turn.metadata[PROFILE_KEY] == "slow"


def test_reload_finds_the_session_and_opens_it(
    browser: Any, server: BackgroundServer, shared: dict[str, str]
) -> None:
    sid = earlier(shared, "stopped")
    browser.refresh()  # the address keeps #session=<id>: the page reopens it
    until(browser, ready, "the reloaded page")
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, f'#sessions li[data-id="{sid}"]'), "session")
    assert current_session(browser) == sid
    assert "stopped" in last_reply(browser).text
    open_page(browser, server.url)  # a fresh page: find it in the list and open it
    assert browser.find_elements(By.CSS_SELECTOR, "#messages .msg") == []
    item = until(browser, lambda b: b.find_element(By.CSS_SELECTOR, f'#sessions li[data-id="{sid}"]'), "item")
    assert "count slowly" in item.text and "cancelled" in item.text
    item.find_element(By.CSS_SELECTOR, ".open").click()
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#messages .msg.user"), "the conversation")
    assert browser.find_element(By.CSS_SELECTOR, "#messages .msg.user .body").text == "count slowly"
    assert last_reply(browser).find_element(By.CSS_SELECTOR, ".body").text.startswith("word0 word1")
    picker = Select(browser.find_element(By.ID, "profile"))
    assert picker.first_selected_option.get_attribute("value") == "slow"


def test_fork_continues_in_a_new_session(
    browser: Any, server: BackgroundServer, store: TurnStore, shared: dict[str, str]
) -> None:
    sid = earlier(shared, "stopped")
    open_page(browser, server.url + f"/#session={sid}")
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#messages .msg.user"), "the session")
    assert current_session(browser) == sid
    before = len(browser.find_elements(By.CSS_SELECTOR, "#sessions li"))
    browser.find_element(By.CSS_SELECTOR, f'#sessions li[data-id="{sid}"] .fork').click()
    until(browser, lambda b: current_session(b) != sid, "the fork to open")
    fork = current_session(browser)
    shared["fork"] = fork
    until(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#sessions li")) == before + 1, "listing")
    item = browser.find_element(By.CSS_SELECTOR, f'#sessions li[data-id="{fork}"]')
    assert "fork" in item.text and "active" in item.get_attribute("class")
    assert browser.find_element(By.CSS_SELECTOR, "#messages .msg.user .body").text == "count slowly"
    assert store.session_info(fork).forked_from_session == sid
    Select(browser.find_element(By.ID, "profile")).select_by_value("fast")  # continue the fork
    send(browser, "and now quickly")
    until(browser, lambda b: "Hello from the fast profile." in last_reply(b).text, "the fork's reply")
    until(browser, lambda b: b.find_element(By.ID, "send").is_displayed(), "the reply to end")
    assert [b.text for b in store.load_turns(fork)[-1].blocks if b.kind.value == "user"] == [
        "count slowly",
        "and now quickly",
    ]
    assert store.session_info(sid).turn_count == 1  # the original is untouched


def test_switching_profile_runs_tools_and_renders_markdown_safely(
    browser: Any, server: BackgroundServer, store: TurnStore
) -> None:
    open_page(browser, server.url)
    Select(browser.find_element(By.ID, "profile")).select_by_value("tools")
    send(browser, "add 2 and 3")
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#messages .msg.assistant h2"), "the heading")
    until(browser, lambda b: b.find_element(By.ID, "send").is_displayed(), "the reply to end")
    reply = last_reply(browser)
    reasoning = reply.find_element(By.CSS_SELECTOR, "details.reasoning")
    tool = reply.find_element(By.CSS_SELECTOR, "details.tool")
    assert reasoning.get_attribute("open") is None and tool.get_attribute("open") is None  # collapsed
    assert tool.find_element(By.TAG_NAME, "summary").text == "Tool call: add"
    tool.find_element(By.TAG_NAME, "summary").click()
    assert tool.find_element(By.CSS_SELECTOR, "pre.result").text == "5"
    reasoning.find_element(By.TAG_NAME, "summary").click()
    assert reasoning.find_element(By.TAG_NAME, "pre").text == "I should call <b>add</b>."
    body = reply.find_element(By.CSS_SELECTOR, ".body")
    assert body.find_element(By.TAG_NAME, "h2").text == "Result"
    assert body.find_element(By.TAG_NAME, "strong").text == "sum"
    assert [li.text for li in body.find_elements(By.CSS_SELECTOR, "ul li")] == ["one", "two"]
    assert body.find_element(By.CSS_SELECTOR, "pre code.language-python").text == "print(2 + 3)"
    links = body.find_elements(By.TAG_NAME, "a")
    assert [a.get_attribute("href") for a in links] == ["https://example.com/sum"]
    assert links[0].get_attribute("rel") == "noopener noreferrer nofollow"
    # the hostile HTML at the end of the reply is text, not elements, and nothing ran
    assert '<img src=x onerror="window.__pwned=1">' in body.text
    assert body.find_elements(By.CSS_SELECTOR, "img, script, iframe") == []
    assert browser.execute_script("return window.__pwned === undefined")
    code_copy = body.find_element(By.CSS_SELECTOR, ".code .copy-code")
    code_copy.click()
    until(browser, lambda _: code_copy.text == "Copied", "the copy button to confirm")
    assert reply.find_element(By.CSS_SELECTOR, "button.copy").is_displayed()
    sid = current_session(browser)
    stored = store.get_turn(sid)
    assert stored.turn is not None and stored.turn.metadata[PROFILE_KEY] == "tools"


def test_markdown_renderer_builds_only_safe_nodes(browser: Any, server: BackgroundServer) -> None:
    open_page(browser, server.url)
    cases = {
        "[x](javascript:alert(1)) [y](data:text/html,hi) <b>bold</b> `<i>code</i>`": None,
        "| a | <img src=x> |\n|---|---|\n| 1 | **2** |": "table",
        "1. one\n2. two\n   - nested <svg onload=alert(1)>\n\n> quote *it*": "ol",
        "```\nunclosed <script>alert(1)</script>": "pre",
    }
    allowed = {"p", "br", "strong", "em", "del", "code", "pre", "a", "ul", "ol", "li", "blockquote", "h2",
               "table", "thead", "tbody", "tr", "th", "td", "div", "span", "button", "hr"}
    for source, tag in cases.items():
        tags, attributes, hrefs, text = browser.execute_script(
            "const box = document.createElement('div');"
            "box.appendChild(window.GeppettoMarkdown.render(arguments[0]));"
            "const all = [...box.querySelectorAll('*')];"
            "return [all.map(e => e.tagName.toLowerCase()),"
            "        all.flatMap(e => [...e.attributes].map(a => a.name)),"
            "        all.filter(e => e.href).map(e => e.href), box.textContent];",
            source,
        )
        assert set(tags) <= allowed, (source, tags)
        assert not [name for name in attributes if name.startswith("on") or name == "style"], attributes
        assert all(href.startswith(("http:", "https:", "mailto:")) for href in hrefs), hrefs
        if tag is not None:
            assert tag in tags, (source, tags)
    text = browser.execute_script(
        "const box = document.createElement('div');"
        "box.appendChild(window.GeppettoMarkdown.render(arguments[0])); return box.textContent;",
        "<b>bold</b> and <svg onload=alert(1)>",
    )
    assert text == "<b>bold</b> and <svg onload=alert(1)>"  # shown as typed
    assert browser.execute_script("return window.__pwned === undefined")


def test_delete_removes_the_session_after_a_confirming_second_click(
    browser: Any, server: BackgroundServer, store: TurnStore, shared: dict[str, str]
) -> None:
    fork = earlier(shared, "fork")
    open_page(browser, server.url + f"/#session={fork}")
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#messages .msg.user"), "the fork")
    button = browser.find_element(By.CSS_SELECTOR, f'#sessions li[data-id="{fork}"] .delete')
    button.click()
    assert button.text == "Sure?"
    assert fork in [i.id for i in store.list_sessions()]
    button.click()
    gone = f'#sessions li[data-id="{fork}"]'
    until(browser, lambda b: not b.find_elements(By.CSS_SELECTOR, gone), "the session to leave the list")
    assert fork not in [i.id for i in store.list_sessions()]
    assert browser.find_element(By.ID, "session-label").text == "new session"
    assert browser.find_elements(By.CSS_SELECTOR, "#messages .msg") == []


def test_a_server_that_needs_a_key_gets_it_from_the_user(browser: Any, store: TurnStore) -> None:
    @web.middleware
    async def needs_key(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/api/") and request.headers.get("Authorization") != "Bearer s3cret":
            refusal = {"error": {"message": "invalid API key", "code": "unauthorized"}}
            return web.json_response(refusal, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[needs_key])
    add_web_chat(app, store=store, profiles=make_profiles())
    with BackgroundServer(app) as keyed:
        open_page(browser, keyed.url)
        assert browser.find_element(By.ID, "key-form").is_displayed()
        assert "API key" in browser.find_element(By.ID, "status").text
        assert browser.find_elements(By.CSS_SELECTOR, "#profile option") == []
        browser.find_element(By.ID, "api-key").send_keys("s3cret")
        browser.find_element(By.ID, "key-save").click()
        until(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#profile option")) == 3, "profiles")
        assert not browser.find_element(By.ID, "key-form").is_displayed()
        send(browser, "with a key")
        until(browser, lambda b: "Hello from the fast profile." in last_reply(b).text, "the reply")
        browser.refresh()  # the key stays for this tab
        until(browser, ready, "the reloaded page")
        assert not browser.find_element(By.ID, "key-form").is_displayed()
        until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#sessions li"), "the sessions")


def test_screenshot_script_writes_a_png(tmp_path: Path) -> None:
    from scripts.screenshot_webchat import write_screenshot

    out = write_screenshot(tmp_path / "chat.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
