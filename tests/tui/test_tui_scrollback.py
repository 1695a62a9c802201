"""The TUI's scrollback (pollchat.client.base.request_older and the chat state's
``older`` pages): PgUp at the top of a conversation asks ``/older`` for the page before
its oldest line, the page goes in before the other lines without moving what is on
screen, and the start of the history stops the asking."""

from __future__ import annotations

from pollchat import texts
from pollchat.client.state import MAIN, EntryKind
from pollchat.client.ui import Key
from pollchat.protocol.events import Error, Message, Older, PrivateMessage, StoredMessage
from pollchat.protocol.render import format_ts
from pollchat.texts import ErrorCode
from tests.tui.test_tui_app import T, chatting, label_of, unlabelled
from tests.tui.tui_scenes import feed


def page_up(app) -> list[str]:  # type: ignore[no-untyped-def]
    app.key(Key.PGUP, T)
    return app.drain().lines


def stored(message_id: int, text: str, ts: float, conversation: str = "", sender: str = "bob") -> StoredMessage:
    return StoredMessage(message_id, conversation, "message", sender, "", text, False, ts)


def test_page_up_at_the_top_asks_for_the_page_before_the_oldest_line() -> None:
    app = chatting()
    feed(app, Message("bob", "replayed", history=True, at=T - 100, id=40), T - 100)
    feed(app, Message("bob", "live"), T)
    sent = page_up(app)
    assert unlabelled(sent) == ["/older 40 100"]
    assert page_up(app) == []  # one page at a time
    feed(app, Older("", "40", (stored(38, "older one", T - 300), stored(39, "older two", T - 200)), True), T,
         label=label_of(sent[0]))
    assert [e.text for e in app.chat.main.entries if e.kind is EntryKind.MESSAGE] == [
        "older one", "older two", "replayed", "live",
    ]
    assert all(e.history for e in app.chat.main.entries[:3]) and app.chat.main.unread == 0
    again = page_up(app)
    assert unlabelled(again) == ["/older 38 100"]
    feed(app, Older("", "38", (), False), T, label=label_of(again[0]))
    assert app.chat.main.entries[0].text == texts.CLIENT_HISTORY_START
    assert page_up(app) == []  # nothing older is kept


def test_without_ids_the_time_of_the_oldest_line_is_the_cursor() -> None:
    app = chatting()
    feed(app, PrivateMessage("bob", "alice", "psst"), T + 1.5)
    app.key(Key.TAB, T)  # (any pane: PgUp scrolls the open conversation)
    app.drain()
    app.chat.open(app.chat.conversation_with("bob").key)
    sent = page_up(app)
    assert unlabelled(sent) == [f"/older @bob {format_ts(T + 1.5)} 100"]
    assert app.chat.older_cursor(MAIN) == "now"  # nothing in the main chat yet


def test_a_refused_page_stops_the_asking() -> None:
    app = chatting()
    app.chat.open(app.chat.group_conversation("club").key)
    sent = page_up(app)
    assert unlabelled(sent) == ["/older #club now 100"]
    feed(app, Error.of(ErrorCode.NOT_MEMBER, group="club"), T, label=label_of(sent[0]))
    assert page_up(app) == []
