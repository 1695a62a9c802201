"""End-to-end tests of the web client (seed 003) in a real browser.

Each test starts the real server (``python -m pollchat.server --port 0 --web-port 0``,
see :mod:`tests.browser.support`), opens its page in headless Chromium through Selenium,
and checks what a person would see, with TCP users on the other side. The page's
elements have stable ids and ``data-*`` attributes for this (``docs/web-client.md``).

Skipped, with the reason, when Debian's ``chromium`` / ``chromium-driver`` are not
installed, when selenium is not (``pip install -e '.[test]'``), or while the server has
no web endpoint yet (``ServerConfig.web_port``). Every wait is a ``WebDriverWait`` or a
bounded socket read; nothing sleeps.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import support

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        "install Debian's chromium and chromium-driver: apt-get install chromium chromium-driver",
        allow_module_level=True,
    )
pytest.importorskip("selenium", reason="selenium is in the test extra: pip install -e '.[test]'")
if not support.web_endpoint_wired():
    pytest.skip("the web endpoint is not wired yet", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException, NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

WAIT = 10.0
"""Seconds a page change may take."""
RECONNECT_WAIT = 45.0
"""Seconds the page may take to come back after a server restart (its back-off grows
1, 2, 4... s with jitter; a restart costs a few tries)."""
XSS = "<img src=x onerror=alert(1)>"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[support.ServerProcess]:
    """A running server with its web client, on free ports."""
    process = support.ServerProcess(tmp_path / "data").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def tcp_users() -> Iterator[Callable[..., support.TcpUser]]:
    """``make(port, name, password="pw")``: TCP users, all closed at the end."""
    made: list[support.TcpUser] = []

    def make(port: int, name: str, password: str = "pw", register: bool = True) -> support.TcpUser:
        user = support.TcpUser(port, name, password, register=register)
        made.append(user)
        return user

    yield make
    for user in made:
        user.close()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile and a 1280x800 viewport. At the end, the
    console must hold no CSP violation and no uncaught error."""
    profile = tempfile.mkdtemp(prefix="pollchat-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,800")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(WAIT)
        driver.set_script_timeout(WAIT)
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False}
        )
        yield driver
        problems = [
            entry["message"]
            for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"] or "Uncaught" in entry["message"]
        ]
        assert not problems, f"browser console: {problems}"
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# --- the page, as a user sees it ------------------------------------------------------------


class Page:
    """The web client in ``driver``: what the tests click, type and read."""

    def __init__(self, driver: webdriver.Chrome, url: str) -> None:
        self.driver = driver
        self.url = url

    def css(self, selector: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def until(self, predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        """Wait for ``predicate()`` to be truthy (elements replaced meanwhile are retried)."""

        def check(_driver: Any) -> Any:
            try:
                return predicate()
            except (NoSuchElementException, StaleElementReferenceException):
                return False

        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(check, message=f"waiting for {what}")

    # login

    def open(self) -> Page:
        self.driver.get(self.url)
        self.until(lambda: self.css("#login-name").is_displayed(), "the login form")
        return self

    def submit_login(self, name: str, password: str, register: bool) -> None:
        self.css("#login-mode-register" if register else "#login-mode-login").click()
        field = self.css("#login-name")
        field.clear()
        field.send_keys(name)
        self.css("#login-password").clear()
        self.css("#login-password").send_keys(password)
        self.css("#login-submit").click()

    def log_in(self, name: str, password: str = "pw", register: bool = True) -> Page:
        self.submit_login(name, password, register)
        self.wait_online()
        return self

    def login_error(self) -> str:
        return self.until(lambda: self.css("#login-error").is_displayed() and self.css("#login-error").text, "a login error")

    def connection_state(self) -> str:
        return self.css("#connection-state").get_attribute("data-state") or ""

    def wait_online(self, timeout: float = WAIT) -> None:
        self.until(lambda: self.css("#chat-screen").is_displayed() and self.connection_state() == "online",
                   "the chat screen, connected", timeout)

    # the conversation

    def send(self, text: str) -> None:
        field = self.css("#message-input")
        field.send_keys(text)
        self.css("#send-button").click()
        self.until(lambda: self.css("#message-input").get_attribute("value") == "", "the input box to empty")

    def lines(self) -> list[dict[str, str]]:
        """The open conversation's lines: sender, text, kind and the data flags."""
        script = """
            return [...document.querySelectorAll('#messages li.msg')].map(li => ({
              sender: li.dataset.sender || '', kind: li.dataset.kind, own: li.dataset.own,
              history: li.dataset.history, mention: li.dataset.mention,
              text: li.querySelector('.msg-text').textContent.trim()}));
        """
        return self.driver.execute_script(script)

    def wait_line(self, text: str, sender: str | None = None, timeout: float = WAIT) -> dict[str, str]:
        def found() -> dict[str, str] | None:
            for line in self.lines():
                if line["text"] == text and (sender is None or line["sender"] == sender):
                    return line
            return None

        return self.until(found, f"the line {text!r} from {sender!r}", timeout)

    def title(self) -> str:
        return self.css("#conv-title").text

    def open_chat(self, key: str) -> None:
        self.until(lambda: self.css(f"#chats button[data-conv='{key}']"), f"the chat {key!r} in the list").click()
        self.until(lambda: self.css("#conversation-pane").get_attribute("data-conv") == key, f"conversation {key!r}")

    def person(self, name: str) -> WebElement:
        return self.css(f"#people li[data-user='{name}']")

    def no_alert(self) -> None:
        try:
            alert = self.driver.switch_to.alert
        except NoAlertPresentException:
            return
        text = alert.text
        alert.dismiss()
        pytest.fail(f"a script ran in the page (alert {text!r})")


@pytest.fixture
def page(browser: webdriver.Chrome, server: support.ServerProcess) -> Page:
    return Page(browser, server.url).open()


# --- scenarios --------------------------------------------------------------------------------


def test_the_page_is_served_with_its_files(page: Page) -> None:
    # the stylesheet and the script loaded (under the server's CSP): the page is styled
    # and the script filled in the server's address
    assert page.css("#login-server").text
    assert page.driver.execute_script("return getComputedStyle(document.body).margin") == "0px"


def test_register_and_chat_with_a_tcp_user(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    page.log_in("alice", "wonderland")
    bob = tcp_users(server.port, "bob")
    page.wait_line("bob has entered the chat")
    page.until(lambda: page.person("bob").get_attribute("data-online") == "true", "bob online")

    bob.send("hello alice")
    line = page.wait_line("hello alice", sender="bob")
    assert line["own"] == "false" and line["history"] == "false"

    page.send("hi bob, from a browser")
    bob.expect("alice: hi bob, from a browser")
    assert page.wait_line("hi bob, from a browser", sender="alice")["own"] == "true"


def test_login_errors_show_the_servers_words(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    tcp_users(server.port, "bob", "builder")
    page.submit_login("bob", "wrong", register=False)
    assert "Wrong Password" in page.login_error()
    page.submit_login("bob", "x", register=True)
    page.until(lambda: "username is already used" in page.css("#login-error").text, "name taken")
    page.submit_login("bob", "builder", register=False)
    # the page words seed 004's "Password already used" from its code, already_online
    page.until(lambda: "bob is already logged in elsewhere" in page.css("#login-error").text, "already online")
    assert page.css("#login-screen").is_displayed()


def test_history_is_replayed_at_login(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    bob = tcp_users(server.port, "bob")
    bob.send("said before alice came")
    bob.send("/who")
    bob.expect("online users")  # the line above is stored by now
    page.log_in("alice")
    line = page.wait_line("said before alice came", sender="bob")
    assert line["history"] == "true"


def test_private_chat(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    page.log_in("alice")
    bob = tcp_users(server.port, "bob")
    bob.send("/msg alice psst")
    button = page.until(lambda: page.css("#chats button[data-conv='bob']"), "a chat with bob")
    page.until(lambda: button.get_attribute("data-unread") == "1", "one unread message")
    page.until(lambda: "bob wrote to you" in page.css("#notification").text, "a notification")

    page.open_chat("bob")
    assert page.title() == "bob"
    page.wait_line("psst", sender="bob")
    page.until(lambda: page.css("#chats button[data-conv='bob']").get_attribute("data-unread") == "0", "read")
    page.send("see you at 8")
    bob.expect("[private] alice: see you at 8")


def test_mention_is_marked_and_notified(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    page.log_in("alice")
    bob = tcp_users(server.port, "bob")
    bob.send("/msg alice hi")
    page.open_chat("bob")
    bob.send("@alice can you book the table?")
    page.until(lambda: "bob mentioned you" in page.css("#notification").text, "a mention notification")
    page.open_chat("")
    assert page.wait_line("@alice can you book the table?", sender="bob")["mention"] == "true"


def test_online_list_follows_a_tcp_user_leaving(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    page.log_in("alice")
    bob = tcp_users(server.port, "bob")
    page.until(lambda: page.person("bob").get_attribute("data-online") == "true", "bob online")
    bob.send("/quit see you")
    page.until(lambda: page.person("bob").get_attribute("data-online") == "false", "bob offline")
    page.wait_line("bob has left the chat (see you)")


def test_status_and_whois(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    page.log_in("alice")
    bob = tcp_users(server.port, "bob")
    bob.send("/status away lunch")
    page.until(lambda: page.person("bob").get_attribute("data-status") == "away", "bob away")

    page.css("#status-message").send_keys("in a meeting")
    Select(page.css("#status-select")).select_by_value("busy")
    bob.expect("alice is now busy: in a meeting")

    page.css("#people li[data-user='bob'] button").click()
    answer = page.css("#user-info-text")  # the server's line (for screen readers once the list shows it)
    text = page.until(lambda: "registered account" in answer.get_attribute("textContent") and answer.get_attribute("textContent"),
                      "the /whois answer")
    assert text.startswith("bob: away: lunch")
    page.css("#user-info-message").click()
    page.until(lambda: page.title() == "bob", "the private chat opened from the dialog")


def test_group_created_and_join_request_accepted(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    page.log_in("alice")
    bob = tcp_users(server.port, "bob")
    page.css("#new-group-name").send_keys("familia")
    page.css("#new-group-private").click()
    page.css("#new-group-create").click()
    page.until(lambda: page.title() == "#familia", "the new group opened")

    bob.send("/join #familia")
    page.until(lambda: page.css("#requests button[data-accept='bob']"), "bob's join request").click()
    bob.expect("[#familia] your request to join was accepted by alice")
    page.wait_line("bob has joined the group")

    bob.send("#familia thanks")
    page.wait_line("thanks", sender="bob")
    page.send("welcome bob")
    bob.expect("[#familia] alice: welcome bob")


def test_a_rename_reaches_the_people_list(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    page.log_in("alice")
    bob = tcp_users(server.port, "bob")
    page.until(lambda: page.person("bob").get_attribute("data-online") == "true", "bob online")
    bob.send("/msg alice psst")
    page.until(lambda: page.css("#chats button[data-conv='bob']"), "a chat with bob")
    bob.send("/nick robert")
    page.wait_line("bob is now known as robert")
    page.until(lambda: page.person("robert").get_attribute("data-online") == "true", "robert online")
    page.until(lambda: page.css("#chats button[data-conv='robert']"), "the chat under the new name")
    # history keeps the names of its time: replayed, "bob" must not come back (the page
    # asks /history by itself after every reconnect)
    page.open_chat("robert")
    page.send("/history 10")
    page.send("/who")  # answered after the replay: its lines say the replay is over
    page.until(lambda: any(line["text"].startswith("online users") for line in page.lines()), "the /who answer")
    assert [line["text"] for line in page.lines()].count("psst") == 1
    # the old name is nobody now: not a contact, not a chat
    assert not page.all("#people li[data-user='bob']")
    assert not page.all("#chats button[data-conv='bob']")


def test_open_a_chat_checks_the_name_first(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    page.log_in("alice")
    tcp_users(server.port, "bob").close()  # registered, now offline
    page.until(lambda: page.person("bob").get_attribute("data-online") == "false", "bob offline")

    page.css("#new-chat-name").send_keys("zed")
    page.css("#new-chat-open").click()
    error = page.until(lambda: page.css("#side-error").is_displayed() and page.css("#side-error").text, "the refusal")
    assert "no such user: zed" in error
    assert not page.all("#people li[data-user='zed']")  # no contact for a name nobody has
    assert not page.all("#chats button[data-conv='zed']")
    assert page.title() == "main chat"

    page.css("#new-chat-name").send_keys("BOB")
    page.css("#new-chat-open").click()
    page.until(lambda: page.title() == "bob", "the chat with bob, under the server's spelling")
    assert not page.css("#side-error").is_displayed()


def test_online_counts_agree(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    page.log_in("alice")
    for name in ("bob", "carol", "dave", "erin"):
        tcp_users(server.port, name)
    page.until(lambda: len(page.all("#people li[data-online='true']")) == 4, "four people online")
    page.until(lambda: page.css("#online-count").text == "(4)", "the people title's count")
    assert page.css("#conv-detail").text == "4 online"  # the main chat's header: the same count
    page.css("#status-form")  # the page is drawn
    page.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    )
    page.until(lambda: page.css("#tab-people-count").text == "4", "the People tab's count")


def test_reconnects_after_a_server_restart(browser: webdriver.Chrome, tmp_path: Path, tcp_users: Any) -> None:
    process = support.ServerProcess(tmp_path / "data", port=support.free_port(), web_port=support.free_port()).start()
    try:
        page = Page(browser, process.url).open().log_in("alice", "wonderland")
        process.stop()
        page.until(lambda: page.connection_state() in ("reconnecting", "connecting"), "the reconnecting state")
        page.until(lambda: page.css("#reconnect-banner").is_displayed(), "the reconnecting banner")

        process.restart()
        page.wait_online(timeout=RECONNECT_WAIT)  # logged in again by itself
        assert not page.css("#reconnect-banner").is_displayed()
        page.wait_line("connected again as alice")
        bob = tcp_users(process.port, "bob")
        page.send("back again")
        bob.expect("alice: back again")
    finally:
        process.stop()


def test_markup_in_a_message_or_a_name_shows_as_text(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    page.submit_login("<img/src=x/onerror=alert(1)>", "pw", register=True)
    assert "Type the format user,password" in page.login_error()  # the server's words, as text
    page.no_alert()

    page.log_in("alice")
    bob = tcp_users(server.port, "bob")
    bob.send(XSS)
    page.wait_line(XSS, sender="bob")
    bob.send(f"/msg alice {XSS}")
    page.open_chat("bob")
    page.wait_line(XSS, sender="bob")
    page.no_alert()
    assert not page.all("#messages img, #chats img, #notification img")


def test_credentials_are_not_stored(page: Page) -> None:
    page.log_in("alice", "a-secret-password")
    stored = page.driver.execute_script(
        "return JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie,"
        " location.href])"
    )
    assert "a-secret-password" not in stored


@pytest.mark.skipif(os.environ.get("POLLCHAT_BROWSER_SHOTS") is None, reason="set POLLCHAT_BROWSER_SHOTS=DIR for screenshots")
def test_screenshots_at_desktop_and_phone_sizes(page: Page, server: support.ServerProcess, tcp_users: Any) -> None:
    """Not a check: saves PNGs to look at (docs/web-client.png came from such a run)."""
    out = Path(os.environ["POLLCHAT_BROWSER_SHOTS"])
    out.mkdir(parents=True, exist_ok=True)
    page.log_in("alice")
    bob = tcp_users(server.port, "bob")
    bob.send("hello @alice")
    page.wait_line("hello @alice", sender="bob")
    page.driver.save_screenshot(str(out / "desktop-1280x800.png"))
    page.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    )
    page.until(lambda: page.css("#pane-tabs").is_displayed(), "the phone layout")
    page.driver.save_screenshot(str(out / "phone-390x844.png"))
