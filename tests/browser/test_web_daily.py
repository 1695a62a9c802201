"""What people expect of a chat today, in the web page, in a real browser: alerts for
mentions and private messages (asked on a click, remembered), links, pasted lines, command
output as a block, finding and joining groups (``docs/web-client.md``).

Same set-up as :mod:`tests.browser.test_web_client` (its fixtures and :class:`Page`): the
real server on free ports, headless Chromium, TCP users on the other side. The browser's
Notification API is replaced by a recorder before the page loads (a headless browser
shows no notifications, and the test must see what the page asked and showed), and
``document.hidden`` can be set by the test; everything else is the page as shipped.
``POLLCHAT_BROWSER_SHOTS=DIR`` also saves a screenshot of each new piece to ``DIR``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser import support
from tests.browser.test_web_client import Page, browser, page, server, tcp_users  # noqa: F401 (fixtures)

# Runs before the page's own scripts: a Notification that records what is asked and
# shown (its permission kept in sessionStorage, so a reload keeps the browser's answer,
# as a real browser does), and a document.hidden the test can set.
FAKE_BROWSER = """
window.__asked = 0;
window.__shown = [];
window.__hidden = false;
Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => window.__hidden });
window.Notification = class {
  static get permission() { return sessionStorage.getItem("test-permission") || "default"; }
  static requestPermission() {
    window.__asked += 1;
    sessionStorage.setItem("test-permission", "granted");
    return Promise.resolve("granted");
  }
  constructor(title, options) { window.__shown.push({ title, body: options.body, tag: options.tag }); }
  close() {}
};
"""


def shot(page: Page, name: str) -> None:
    """Save a screenshot when POLLCHAT_BROWSER_SHOTS is set (to look at, not a check)."""
    out = os.environ.get("POLLCHAT_BROWSER_SHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.driver.save_screenshot(str(Path(out) / f"{name}.png"))


@pytest.fixture
def fake_page(browser: Any, server: support.ServerProcess) -> Page:  # noqa: F811
    """The page, with the recording Notification and a settable document.hidden."""
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": FAKE_BROWSER})
    return Page(browser, server.url).open()


def stored_alerts(page: Page) -> Any:
    raw = page.driver.execute_script("return localStorage.getItem('pollchat.alerts')")
    return json.loads(raw) if raw else None


def test_alerts_are_asked_on_a_click_remembered_and_shown_while_hidden(fake_page: Page, server: support.ServerProcess,
                                                                       tcp_users: Any) -> None:
    page = fake_page
    page.log_in("alice")
    assert page.driver.execute_script("return window.__asked") == 0  # never on load
    assert page.css("#alerts-open").text == "Alerts: off"
    assert stored_alerts(page) is None

    page.css("#alerts-open").click()
    page.until(lambda: page.css("#alerts").is_displayed(), "the alerts dialog")
    page.css("#alerts-enabled").click()
    page.until(lambda: page.driver.execute_script("return window.__asked") == 1, "the permission asked on the click")
    page.until(lambda: "while this tab is hidden" in page.css("#alerts-note").text, "the note saying alerts are on")
    assert stored_alerts(page) == {"enabled": True, "sound": True}
    shot(page, "alerts-dialog")
    page.css("#alerts-sound").click()
    page.until(lambda: stored_alerts(page) == {"enabled": True, "sound": False}, "the sound turned off and remembered")
    page.css("#alerts-close").click()
    page.until(lambda: page.css("#alerts-open").text == "Alerts: on, silent", "the header button")

    # a private message and a mention while the tab is hidden: notifications
    bob = tcp_users(server.port, "bob")
    page.driver.execute_script("window.__hidden = true")
    bob.send("/msg alice are you there?")
    bob.send("@alice lunch?")
    shown = page.until(lambda: len(page.driver.execute_script("return window.__shown")) == 2
                       and page.driver.execute_script("return window.__shown"), "two notifications")
    assert shown == [
        {"title": "bob wrote to you", "body": "are you there?", "tag": "pollchat:bob"},
        {"title": "bob mentioned you in the main chat", "body": "@alice lunch?", "tag": "pollchat:"},
    ]
    # visible again: the bar is enough, no notification
    page.driver.execute_script("window.__hidden = false")
    bob.send("/msg alice still there?")
    page.until(lambda: page.css("#chats button[data-conv='bob']").get_attribute("data-unread") == "2", "the unread count")
    assert len(page.driver.execute_script("return window.__shown")) == 2

    # a reload remembers the choice and asks nothing
    page.driver.refresh()
    page.until(lambda: page.css("#login-name").is_displayed(), "the login form again")
    state = page.driver.execute_script(
        "return [document.getElementById('alerts-enabled').checked, document.getElementById('alerts-sound').checked,"
        " document.getElementById('alerts-open').textContent, window.__asked]"
    )
    assert state == [True, False, "Alerts: on, silent", 0]


def test_urls_in_messages_are_safe_links(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    page.log_in("alice")
    bob = tcp_users(server.port, "bob")
    text = "docs at https://example.org/a?b=1&c=2. not javascript:alert(1) nor data:text/html,x"
    bob.send(text)
    page.wait_line(text, sender="bob")
    anchors = page.driver.execute_script(
        "return [...document.querySelectorAll('#messages li.msg .msg-text a')].map(a => ({href: a.getAttribute('href'),"
        " text: a.textContent, rel: a.rel, target: a.target, kids: a.children.length}))"
    )
    assert anchors == [{"href": "https://example.org/a?b=1&c=2", "text": "https://example.org/a?b=1&c=2",
                        "rel": "noopener noreferrer nofollow", "target": "_blank", "kids": 0}]
    page.no_alert()
    shot(page, "links")
    if os.environ.get("POLLCHAT_BROWSER_SHOTS"):
        page.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
        )
        page.until(lambda: page.css("#pane-tabs").is_displayed(), "the phone layout")
        shot(page, "links-phone")


def paste(page: Page, text: str) -> None:
    """Paste `text` into the input box as the browser would (a paste event with it)."""
    page.driver.execute_script(
        "const box = document.getElementById('message-input'); box.focus();"
        "const data = new DataTransfer(); data.setData('text/plain', arguments[0]);"
        "box.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));",
        text,
    )


def alice_lines(bob: support.TcpUser) -> list[str]:
    return [line for line in bob.seen if line.startswith("alice: ")]


def test_pasted_lines_are_sent_one_by_one_asking_above_five(page: Page, server: support.ServerProcess,
                                                            tcp_users: Any) -> None:
    page.log_in("alice")
    bob = tcp_users(server.port, "bob")
    page.wait_line("bob has entered the chat")
    paste(page, "one\ntwo\n/quit is text here\n")
    bob.expect("alice: /quit is text here")
    assert alice_lines(bob) == ["alice: one", "alice: two", "alice: /quit is text here"]
    assert page.connection_state() == "online"

    seven = "\n".join(f"line {n}" for n in range(1, 8))
    paste(page, seven)
    page.until(lambda: page.css("#paste-confirm").is_displayed(), "the confirm dialog")
    assert page.css("#paste-send").text == "Send 7 lines"
    assert page.css("#paste-preview").text == seven
    shot(page, "paste-confirm")
    page.css("#paste-cancel").click()
    page.until(lambda: not page.css("#paste-confirm").is_displayed(), "the dialog closed")
    page.css("#message-input").click()  # chromedriver types nowhere after a dialog closed until a click
    page.send("after cancel")
    bob.expect("alice: after cancel")  # nothing of the cancelled paste came before it
    assert alice_lines(bob)[-1:] == ["alice: after cancel"] and len(alice_lines(bob)) == 4

    paste(page, seven)
    page.until(lambda: page.css("#paste-confirm").is_displayed(), "the confirm dialog again")
    page.css("#paste-send").click()
    bob.expect("alice: line 7")
    assert alice_lines(bob)[4:] == [f"alice: line {n}" for n in range(1, 8)]
    page.until(lambda: [line["text"] for line in page.lines() if line["own"] == "true"][-7:]
               == [f"line {n}" for n in range(1, 8)], "the seven lines shown as the user's own")


def test_command_output_is_a_monospace_block(page: Page) -> None:
    page.log_in("alice")
    page.send("/help")
    page.until(lambda: page.all("#messages li.msg.block pre.msg-block"), "the /help answer as a block")
    block = page.css("#messages li.msg.block pre.msg-block")
    assert "\n" in block.get_attribute("textContent")
    style = page.driver.execute_script(
        "const s = getComputedStyle(arguments[0]); return [s.fontFamily, s.whiteSpace]", block
    )
    assert "mono" in style[0].lower() and style[1] == "pre"
    page.send("/who")
    page.until(lambda: any(b.get_attribute("textContent").startswith("online users")
                           for b in page.all("#messages pre.msg-block")), "the /who answer as a block")
    page.driver.execute_script("document.querySelector('#messages pre.msg-block').scrollIntoView()")
    shot(page, "command-block")


def test_find_a_public_group_and_join_it_with_a_click(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    bob = tcp_users(server.port, "bob")
    bob.send("/create #boardgames public", "/topic #boardgames thursdays at 8", "/create #secret private",
             "/create #quiet public")
    bob.expect("[#quiet] public group created")
    page.log_in("alice")
    page.css("#groups-find").click()
    page.until(lambda: len(page.all("#group-directory li.group-row")) == 2, "two public groups listed")
    rows = page.driver.execute_script(
        "return [...document.querySelectorAll('#group-directory li.group-row')].map(li => li.textContent)"
    )
    assert rows == ["#boardgamespublic · 1 memberthursdays at 8Join", "#quietpublic · 1 memberJoin"]
    shot(page, "find-groups")
    page.css("#group-filter").send_keys("thurs")
    page.until(lambda: len(page.all("#group-directory li.group-row")) == 1, "the filter")
    page.css("#group-directory button[data-group='boardgames']").click()
    page.until(lambda: page.title() == "#boardgames", "the group opened once joined")
    bob.expect("[#boardgames] alice has joined the group")
    assert not page.css("#group-finder").is_displayed()

    page.css("#groups-find").click()
    page.until(lambda: page.css("#group-directory button[data-group='boardgames']").text == "Open", "Open for a group one is in")
    assert page.css("#group-directory li[data-group='#boardgames']").text.count("2 members") == 1
