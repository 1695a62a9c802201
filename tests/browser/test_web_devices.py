"""Several devices and /ignore in the web page, in a real (headless) browser: the page
and a netcat user as two devices of one account (``--sessions-per-account 2``), a
refusal past the limit said in words, and the person dialog's Ignore button.

Same set-up as :mod:`tests.browser.test_web_client` (its fixtures and :class:`Page`).
``POLLCHAT_BROWSER_SHOTS=DIR`` also saves a screenshot of the person dialog to ``DIR``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import support
from tests.browser.test_web_client import Page, browser, tcp_users  # noqa: F401 (fixtures)
from tests.browser.test_web_daily import shot


class DevicesServer(support.ServerProcess):
    """The test server, with two sessions per account."""

    def args(self) -> list[str]:
        return [*super().args(), "--sessions-per-account", "2", "--no-irc"]


@pytest.fixture
def devices_server(tmp_path: Path) -> Iterator[support.ServerProcess]:
    process = DevicesServer(tmp_path / "devices").start()
    try:
        yield process
    finally:
        process.stop()


def test_the_page_and_a_netcat_user_are_two_devices_of_one_account(
    browser: Any, devices_server: support.ServerProcess, tcp_users: Any  # noqa: F811
) -> None:
    page = Page(browser, devices_server.url).open()
    page.log_in("alice", "wonderland")
    bob = tcp_users(devices_server.port, "bob")
    page.wait_line("bob has entered the chat")
    phone = support.TcpUser(devices_server.port, "alice", "wonderland", register=False)
    try:
        phone.expect("active users are: alice bob")
        phone.send("sent from the phone")
        bob.expect("alice: sent from the phone")
        assert page.wait_line("sent from the phone", sender="alice")["own"] == "true"
        bob.send("/msg alice psst")
        phone.expect("[private] bob: psst")
        page.open_chat("bob")
        page.wait_line("psst", sender="bob")
        page.open_chat("")  # before a line that changes the chats list under the click
    finally:
        phone.close()
    bob.send("still here")
    page.wait_line("still here", sender="bob")
    assert not any("alice has left" in line["text"] for line in page.lines())  # the page is still alice


def test_past_the_limit_the_page_says_the_account_is_online_elsewhere(
    browser: Any, devices_server: support.ServerProcess, tcp_users: Any  # noqa: F811
) -> None:
    tcp_users(devices_server.port, "carol", "pw")
    second = support.TcpUser(devices_server.port, "carol", "pw", register=False)
    try:
        page = Page(browser, devices_server.url).open()
        page.submit_login("carol", "pw", register=False)
        page.until(
            lambda: "carol is already logged in on as many devices as the server allows" in page.css("#login-error").text,
            "too many sessions",
        )
    finally:
        second.close()


def test_ignore_is_on_the_persons_dialog(
    browser: Any, devices_server: support.ServerProcess, tcp_users: Any  # noqa: F811
) -> None:
    server = devices_server
    page = Page(browser, server.url).open()
    page.log_in("alice")
    bob = tcp_users(server.port, "bob")
    cy = tcp_users(server.port, "cy")
    page.wait_line("cy has entered the chat")
    page.until(lambda: page.person("bob").get_attribute("data-online") == "true", "bob online")
    page.person("bob").find_element("css selector", "button[data-user]").click()
    button = page.until(lambda: page.css("#user-info-ignore") if page.css("#user-info-ignore").is_displayed() else None, "the Ignore button")
    assert button.text == "Ignore"
    button.click()
    page.until(lambda: page.css("#user-info-ignore").text == "Unignore", "the button turned over")
    assert page.css("#user-info-ignored").is_displayed()
    shot(page, "person-dialog-ignored")
    page.css("#user-info-close").click()
    bob.send("alice cannot read this")
    bob.send("/msg alice nor this")
    bob.expect("[private to alice] nor this")  # as if delivered
    cy.send("but this one")
    page.wait_line("but this one", sender="cy")
    texts = [line["text"] for line in page.lines()]
    assert "alice cannot read this" not in texts
    page.person("bob").find_element("css selector", "button[data-user]").click()
    page.until(lambda: page.css("#user-info-ignore").text == "Unignore", "the dialog knows")
    page.css("#user-info-ignore").click()
    page.until(lambda: page.css("#user-info-ignore").text == "Ignore", "unignored")
    page.css("#user-info-close").click()
    bob.send("readable again")
    page.wait_line("readable again", sender="bob")
