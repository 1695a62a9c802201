"""The TUI's search results view (after ``/search``): the results listed newest first,
Enter opens the conversation at the message -- marked and on screen, fetched with
scrollback pages when it is further back than what is loaded -- and Esc closes."""

from __future__ import annotations

from datetime import timezone

from pollchat.client.screen import render
from pollchat.client.ui import Key
from pollchat.protocol.events import Message, Older, SearchResults, StoredMessage
from tests.tui.test_tui_app import T, chatting, label_of, send, unlabelled
from tests.tui.tui_scenes import feed


def result(message_id: int, text: str, ts: float, conversation: str = "", sender: str = "bob") -> StoredMessage:
    kind = "private" if conversation.startswith("@") else "message"
    return StoredMessage(message_id, conversation, kind, sender, "alice" if kind == "private" else "", text, False, ts)


def test_results_are_listed_and_enter_opens_the_message_on_screen() -> None:
    app = chatting()
    for n in range(60):
        feed(app, Message("bob", f"line {n}", history=True, at=T - 600 + n, id=100 + n), T)
    sent = send(app, "/search line 7")
    assert unlabelled(sent) == ["/search line 7"]
    found = SearchResults("line 7", "*", (result(107, "line 7", T - 593), result(9, "line 7 (older)", T - 5000)), 20)
    feed(app, found, T)  # (a typed line: no label)
    assert app.ui.search
    screen = render(app, 100, 30, T, timezone.utc).text()
    assert "search: line 7" in screen and "main chat bob: line 7" in screen and "line 7 (older)" in screen
    app.key(Key.ENTER, T)
    assert not app.ui.search and app.ui.marked == 107 and app.drain().lines == []  # loaded already: no request
    screen = render(app, 100, 30, T, timezone.utc)
    assert screen.jump_scroll is not None and screen.jump_scroll > 0
    app.ui.scroll, app.ui.jump = screen.jump_scroll, 0  # what the curses front end does
    shown = render(app, 100, 30, T, timezone.utc)
    marked = [row for row in shown.rows if any(s.style == "selected" and "line 7" in s.text for s in row)]
    assert marked, shown.text()


def test_a_result_further_back_is_fetched_page_by_page() -> None:
    app = chatting()
    feed(app, Message("bob", "recent", history=True, at=T - 10, id=500), T)
    feed(app, SearchResults("old", "*", (result(42, "old news", T - 9000, "@bob"),), 20), T)
    app.key(Key.ENTER, T)
    assert app.chat.open_key == "bob"
    sent = app.drain().lines
    assert unlabelled(sent) == ["/older @bob now 100"]
    feed(app, Older("@bob", "now", (result(300, "later", T - 100, "@bob"),), True), T, label=label_of(sent[0]))
    again = [line for line in app.drain().lines if not line.startswith("/read ")]  # (bob's line is read)
    assert unlabelled(again) == ["/older @bob 300 100"]
    feed(app, Older("@bob", "300", (result(42, "old news", T - 9000, "@bob"),), True), T, label=label_of(again[0]))
    assert [line for line in app.drain().lines if "/older" in line] == []  # found: no more pages
    assert app.ui.marked == 42 and [e.text for e in app.chat.current.entries][:1] == ["old news"]


def test_esc_closes_the_results_and_nothing_found_says_so() -> None:
    app = chatting()
    feed(app, SearchResults("zebra", "*", (), 20), T)
    assert "no messages match" in render(app, 100, 30, T, timezone.utc).text()
    app.key(Key.ESC, T)
    assert not app.ui.search and app.drain().lines == []
