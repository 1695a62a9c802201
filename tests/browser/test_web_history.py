"""History in the web page, in a real browser: scrolling to the top loads older
messages page by page, keeping the reader's place (``docs/web-client.md``).

Same set-up as :mod:`tests.browser.test_web_client` (its fixtures and :class:`Page`): the
real server on free ports, headless Chromium, TCP users on the other side.
``POLLCHAT_BROWSER_SHOTS=DIR`` also saves screenshots to ``DIR``.
"""

from __future__ import annotations

from typing import Any

from tests.browser import support
from tests.browser.test_web_client import Page, browser, page, server, tcp_users  # noqa: F401 (fixtures)
from tests.browser.test_web_daily import shot


def texts_shown(page: Page) -> list[str]:
    return [line["text"] for line in page.lines() if line["sender"] == "bob"]


def test_scrolling_to_the_top_loads_older_messages_keeping_the_place(page: Page, server: support.ServerProcess,
                                                                     tcp_users: Any) -> None:
    bob = tcp_users(server.port, "bob")
    bob.send(*[f"line {i}" for i in range(130)])
    bob.send("/whois bob")
    bob.expect("bob: ")  # every line before it was read, so stored
    page.log_in("alice")
    page.until(lambda: "line 129" in texts_shown(page) and len(texts_shown(page)) == 100, "the last 100 lines")
    assert texts_shown(page)[0] == "line 30"
    anchor = "line 30"
    top_of = (
        "return [...document.querySelectorAll('#messages li.msg')].find(li => "
        "li.querySelector('.msg-text').textContent.trim() === arguments[0]).getBoundingClientRect().top"
    )
    page.driver.execute_script("document.getElementById('messages').scrollTop = 0")
    page.until(lambda: texts_shown(page)[0] == "line 0", "the older page")
    assert texts_shown(page) == [f"line {i}" for i in range(130)]
    pane_top = page.driver.execute_script("return document.getElementById('messages').getBoundingClientRect().top")
    # line 30, at the top of the pane when it was scrolled there, is still there: the
    # reader keeps their place while the older lines come in above
    assert abs(page.driver.execute_script(top_of, anchor) - pane_top) < 60
    shot(page, "scrollback")
    # at the start: the page says so and asks no more
    page.driver.execute_script("document.getElementById('messages').scrollTop = 0")
    page.until(
        lambda: page.driver.execute_script(
            "return document.querySelector('#messages li').textContent.includes('start of the history')"
        ),
        "the start of the history",
    )
    assert texts_shown(page) == [f"line {i}" for i in range(130)]
