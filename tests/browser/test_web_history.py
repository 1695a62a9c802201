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


def test_search_lists_results_and_a_click_opens_the_message(page: Page, server: support.ServerProcess,
                                                            tcp_users: Any) -> None:
    bob = tcp_users(server.port, "bob")
    bob.send(*[("lunch on friday at noon?" if i == 5 else f"line {i}") for i in range(150)])
    bob.send("/whois bob")
    bob.expect("bob: ")
    page.log_in("alice")
    page.until(lambda: "line 149" in texts_shown(page), "the last lines")
    assert "lunch on friday at noon?" not in texts_shown(page)  # further back than the page loaded
    page.css("#search-open").click()
    page.until(lambda: page.css("#search").is_displayed(), "the search dialog")
    page.css("#search-words").send_keys("Friday LUNCH")
    page.css("#search-submit").click()
    result = page.until(lambda: page.all("#search-results button.search-result"), "the results")
    assert len(result) == 1 and "bob: lunch on friday at noon?" in result[0].text and "main chat" in result[0].text
    shot(page, "search-results")
    result[0].click()
    page.until(lambda: not page.css("#search").is_displayed(), "the dialog closed")
    marked = page.until(lambda: page.all("#messages li.msg.jumped"), "the message, marked")
    assert marked[0].find_element("css selector", ".msg-text").text == "lunch on friday at noon?"
    in_view = (
        "const r = arguments[0].getBoundingClientRect(), p = document.getElementById('messages').getBoundingClientRect();"
        " return r.top >= p.top && r.bottom <= p.bottom;"
    )
    page.until(lambda: page.driver.execute_script(in_view, marked[0]), "the message scrolled into view")
    shot(page, "search-jump")
    # typing /search in the box shows the same dialog
    page.send("/search noon")
    page.until(lambda: page.css("#search").is_displayed() and page.all("#search-results button.search-result"),
               "the results of a typed /search")


def test_a_private_message_shows_sent_then_read(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    page.log_in("alice")
    bob = tcp_users(server.port, "bob")
    page.send("/msg bob lunch at noon?")
    bob.expect("[private] alice: lunch at noon?")
    page.open_chat("bob")
    receipt = "return [...document.querySelectorAll('#messages li.msg .msg-receipt')].map(r => r.dataset.receipt)"
    page.until(lambda: page.driver.execute_script(receipt) == ["sent"], "the sent check")
    bob.send("/read @alice now")  # what a client does once it has shown the line
    page.until(lambda: page.driver.execute_script(receipt) == ["read"], "the read checks")
    assert page.css("#messages li.msg .msg-receipt").text == "✓✓"
    shot(page, "receipts")
