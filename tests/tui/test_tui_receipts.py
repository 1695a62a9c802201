"""The TUI's read receipts: the user's private messages show ``✓`` once the server has
them and ``✓✓`` once the other person has read them; a private message shown in the open
conversation is reported read (``/read``), once."""

from __future__ import annotations

from datetime import timezone

from pollchat.client.screen import render
from pollchat.client.ui import Key
from pollchat.protocol.events import PrivateMessage, Receipt
from pollchat.protocol.render import format_ts
from tests.tui.test_tui_app import T, chatting
from tests.tui.tui_scenes import feed


def test_checks_for_sent_and_read_and_reading_is_reported() -> None:
    app = chatting()
    app.chat.open(app.chat.conversation_with("bob").key)
    feed(app, PrivateMessage("alice", "bob", "lunch?", outgoing=True), T)
    feed(app, PrivateMessage("alice", "bob", "at noon?", outgoing=True), T + 10)
    def shown() -> str:
        return render(app, 100, 30, T + 20, timezone.utc).text()

    assert "you: lunch? ✓ " in shown() and "you: at noon? ✓ " in shown()
    feed(app, Receipt("bob", T + 5), T + 20)
    assert "you: lunch? ✓✓" in shown() and "you: at noon? ✓ " in shown()
    app.drain()
    feed(app, PrivateMessage("bob", "alice", "yes!"), T + 30)
    assert app.drain().lines == [f"/read @bob {format_ts(T + 30)}"]
    feed(app, Receipt("bob", T + 5), T + 31)  # nothing new from bob: nothing reported again
    assert app.drain().lines == []


def test_nothing_is_reported_while_another_conversation_is_open() -> None:
    app = chatting()
    feed(app, PrivateMessage("bob", "alice", "psst"), T)
    assert [line for line in app.drain().lines if line.startswith("/read")] == []
    app.key(Key.TAB, T)
    app.key(Key.TAB, T)
    app.key(Key.DOWN, T)
    app.key(Key.ENTER, T)  # open bob's chat from the chats pane
    assert f"/read @bob {format_ts(T)}" in app.drain().lines
