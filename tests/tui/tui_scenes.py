"""Client states for the TUI's snapshot tests and for the screenshots in docs/client.md.

Each scene builds an :class:`~pollchat.client.app.App` by feeding it keys and server JSON
lines, exactly as the curses front end would, at a fixed time; :func:`render_scene`
draws it with UTC times. Snapshots live in ``tests/tui/snapshots/NAME-WxH.txt``.

Regenerate after an intended change of the screen::

    python -m tests.tui.tui_scenes            # rewrite tests/tui/snapshots/*.txt
    python -m tests.tui.tui_scenes --docs     # and the screenshots in docs/client.md
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import timezone

from pollchat import texts
from pollchat.client.app import App
from pollchat.client.config import ClientConfig, ServerEntry
from pollchat.client.reconnect import Backoff
from pollchat.client.screen import Screen, render
from pollchat.client.ui import Key
from pollchat.protocol.events import (
    Emote,
    Entered,
    GroupEntry,
    GroupEvent,
    GroupList,
    HistoryEnd,
    HistoryStart,
    Labelled,
    Mention,
    Message,
    ModeSwitched,
    PrivateMessage,
    StatusChanged,
    Typing,
    Welcome,
    WhoEntry,
    WhoList,
)
from pollchat.protocol.render import encode_json
from pollchat.texts import GroupChange
from tests import REPO_ROOT

SNAPSHOTS = REPO_ROOT / "tests" / "tui" / "snapshots"
DOCS = REPO_ROOT / "docs" / "client.md"
T0 = 1_763_726_400.0  # 2025-11-21 12:00:00 UTC
PASSWORD = "s3cr3t-ツ-pw"


def feed(app: App, event: object, ts: float, now: float | None = None, label: str | None = None) -> None:
    """Give ``app`` one server event as the JSON line the server would send (in answer
    to a line labelled ``label``, if given)."""
    if label is not None:
        event = Labelled(event, label)  # type: ignore[arg-type]
    app.server_line(encode_json(event, ts).decode("utf-8").removesuffix("\n"), ts if now is None else now)


def type_text(app: App, text: str, now: float) -> None:
    """Type ``text`` one key at a time."""
    for ch in text:
        app.key(ch, now)


def new_app(user: str | None = "alice", tls: bool = False) -> App:
    """A client for 127.0.0.1:3490 (with ``tls``, ``--tls`` and port 3491) with ``bob``
    pinned in its settings, jitter-free."""
    port = 3491 if tls else 3490
    config = ClientConfig(servers=(ServerEntry("127.0.0.1", port, "alice", ("bob",)),))
    return App("127.0.0.1", port, config, user, Backoff(rand=lambda: 0.5), tls=tls)


def logged_in(now: float = T0, tls: bool = False) -> App:
    """alice, logged in, with a lively main chat (see the scene list)."""
    app = new_app(tls=tls)
    type_text(app, PASSWORD, now - 300)
    app.key(Key.ENTER, now - 300)
    app.connecting()
    app.connected(now - 300)
    app.drain()
    feed(app, ModeSwitched("json"), now - 300)
    feed(app, Welcome("alice", ("juan", "ana", "alice", "pedro", "sofía", "李小龙", "maria")), now - 300)
    feed(app, HistoryStart(2), now - 300)
    feed(app, Message("carlos", "morning all", history=True, at=now - 7200), now - 300)
    feed(app, Emote("juan", "waves", history=True, at=now - 7100), now - 300)
    feed(app, HistoryEnd(), now - 300)
    feed(
        app,
        WhoList(
            (
                WhoEntry("juan", "active", "", 5),
                WhoEntry("ana", "away", "lunch", 300),
                WhoEntry("alice", "active", "", 0),
                WhoEntry("pedro", "busy", "meeting", 40),
                WhoEntry("sofía", "inactive", "", 3600),
                WhoEntry("李小龙", "active", "", 2),
                WhoEntry("maria", "active", "", 1),
            )
        ),
        now - 290,
    )
    feed(app, Message("juan", "who is up for lunch? " + texts.SHRUG), now - 240)
    feed(app, Message("李小龙", "我也去！ 🍜"), now - 230)
    type_text(app, "count me in", now - 200)
    app.key(Key.ENTER, now - 200)
    feed(app, Message("pedro", "mondays " + texts.TABLEFLIP), now - 180)
    feed(app, Entered("carlos"), now - 170)
    feed(app, PrivateMessage("bob", "alice", "are you coming tonight?"), now - 160)
    feed(app, PrivateMessage("maria", "alice", "¿Vamos al cine? ✅"), now - 150)
    feed(app, PrivateMessage("maria", "alice", "a las 8"), now - 140)
    app.key(Key.TAB, now - 130)  # online
    app.key(Key.TAB, now - 130)  # chats
    app.key(Key.DOWN, now - 130)  # bob (pinned, second)
    app.key(Key.ENTER, now - 130)  # open it: bob's unread is cleared
    app.key(Key.TAB, now - 130)
    app.key(Key.TAB, now - 130)  # chats
    app.key(Key.UP, now - 130)
    app.key(Key.ENTER, now - 130)  # back to the main chat
    feed(app, Message("carlos", "@alice can you book the table?"), now - 60)
    feed(app, Typing("ana", True), now - 3, now - 3)
    app.drain()
    return app


def scene_login(now: float = T0) -> App:
    """The login form, opened with --user alice: the cursor waits in the password."""
    app = new_app()
    type_text(app, PASSWORD, now)  # typed, never shown
    return app


def scene_login_waiting(now: float = T0) -> App:
    """Submitted while the server is down: the form shows the countdown."""
    app = new_app()
    type_text(app, PASSWORD, now - 5)
    app.key(Key.ENTER, now - 5)
    refused = texts.CLIENT_UNREACHABLE.format(host="127.0.0.1", port=3490, reason="Connection refused")
    for when in (now - 5, now - 4, now - 2):  # waits of 0.75 s, 1.5 s, then 3 s
        app.connecting()
        app.connection_failed(refused, when)
    return app


def scene_login_tls(now: float = T0) -> App:
    """The login form of ``--tls``: the lock shows before the password is sent."""
    app = new_app(tls=True)
    type_text(app, PASSWORD, now)
    return app


def scene_login_tls_refused(now: float = T0) -> App:
    """``--tls`` against a server whose certificate nobody trusts: the form is back with
    the one-line reason, and nothing retries by itself."""
    app = new_app(tls=True)
    type_text(app, PASSWORD, now - 1)
    app.key(Key.ENTER, now - 1)
    app.connecting()
    app.tls_failed("TLS: certificate verify failed: self-signed certificate (use --cafile FILE to trust it)", now)
    return app


def scene_main_tls(now: float = T0) -> App:
    """The main chat over TLS: the lock in the top bar."""
    return logged_in(now, tls=True)


def scene_main(now: float = T0) -> App:
    """The main chat: every status, history, wide characters, a mention, unread chats."""
    return logged_in(now)


def scene_private(now: float = T0) -> App:
    """A private chat with maria: her unread lines, a reply being typed, her typing."""
    app = logged_in(now)
    app.key(Key.TAB, now)
    app.key(Key.TAB, now)  # chats
    for _ in range(2):
        app.key(Key.DOWN, now)
    app.key(Key.ENTER, now)  # maria
    type_text(app, "¡Perfecto! 📍 see you at 8", now)
    feed(app, Message("carlos", "@alice did you book it?"), now - 1, now - 1)
    feed(app, Typing("maria", True, private=True), now, now)
    app.drain()
    return app


def scene_online(now: float = T0) -> App:
    """The online pane focused, searching for "a"."""
    app = logged_in(now)
    app.key(Key.TAB, now)
    type_text(app, "a", now)
    app.key(Key.DOWN, now)
    return app


def scene_reconnecting(now: float = T0) -> App:
    """The server restarted: the chat stays on screen with the countdown."""
    app = logged_in(now)
    app.connection_failed(texts.CLIENT_SERVER_CLOSED, now - 3)
    refused = texts.CLIENT_UNREACHABLE.format(host="127.0.0.1", port=3490, reason="Connection refused")
    for when in (now - 2, now - 1):  # then 1.5 s and 3 s
        app.connecting()
        app.connection_failed(refused, when)
    return app


def scene_help(now: float = T0) -> App:
    """F1."""
    app = logged_in(now)
    app.key(Key.F1, now)
    return app


def scene_chats_compact(now: float = T0) -> App:
    """A small terminal showing the chats pane (Tab twice)."""
    app = logged_in(now)
    app.key(Key.TAB, now)
    app.key(Key.TAB, now)
    return app


def scene_status(now: float = T0) -> App:
    """Statuses changing in the main chat (who's away, busy, back)."""
    app = logged_in(now)
    feed(app, StatusChanged("juan", "away", "coffee"), now - 20)
    return app


def open_chat(app: App, key: str, now: float) -> None:
    """Open conversation ``key`` from the chats pane with the keys a user would press."""
    while app.ui.focus.value != "chats":
        app.key(Key.TAB, now)
    target = [conv.key for conv in app.chat.chat_order()].index(key)
    while app.ui.chats_selected > target:
        app.key(Key.UP, now)
    while app.ui.chats_selected < target:
        app.key(Key.DOWN, now)
    app.key(Key.ENTER, now)


def with_groups(now: float = T0) -> App:
    """alice in two groups (the answer to the /groups sent at login), with a line in
    each and a server mention in grupo_trabajo."""
    app = logged_in(now)
    groups = (
        GroupEntry("books", "public", 12, "", ""),
        GroupEntry("familia", "private", 4, "owner", ""),
        GroupEntry("grupo_trabajo", "public", 6, "member", "Q4 report"),
    )
    feed(app, GroupList(groups), now - 290)
    feed(app, Message("maria", "¿quién trae el postre? 🍰", group="familia"), now - 50)
    feed(app, Message("carlos", "@alice the report is due friday", group="grupo_trabajo"), now - 40)
    feed(app, Mention("carlos", "@alice the report is due friday", "grupo_trabajo"), now - 40)
    app.drain()
    return app


def scene_group(now: float = T0) -> App:
    """The familia group open: its history (fetched on opening), a member joining, a
    line sent, someone typing; grupo_trabajo's mention waits in the top bar."""
    app = with_groups(now)
    open_chat(app, "#familia", now - 30)
    feed(app, HistoryStart(2), now - 30)
    feed(app, Message("juan", "domingo comida en casa", history=True, at=now - 5_400, group="familia"), now - 30)
    feed(app, Emote("ana", "trae el vino", history=True, at=now - 5_000, group="familia"), now - 30)
    feed(app, HistoryEnd(), now - 30)
    feed(app, GroupEvent("familia", GroupChange.JOINED, "sofía"), now - 20)
    type_text(app, "yo llevo el flan", now - 10)
    app.key(Key.ENTER, now - 10)
    feed(app, Typing("maria", True, group="familia"), now - 2, now - 2)
    app.drain()
    return app


def scene_group_chats(now: float = T0) -> App:
    """A small terminal showing the chats pane with groups: unread, a mention, one left."""
    app = with_groups(now)
    feed(app, GroupEvent("books", GroupChange.JOINED, "alice"), now - 30)  # opens it
    feed(app, GroupEvent("books", GroupChange.LEFT, "alice"), now - 25)
    app.key(Key.TAB, now)
    app.key(Key.TAB, now)
    return app


def scene_links(now: float = T0) -> App:
    """Web links in messages (underlined; OSC 8 hyperlinks where the terminal draws
    them) and the answers to /who and /groups, which keep their columns."""
    app = logged_in(now)
    feed(app, Message("juan", "menu at https://example.org/lunch?day=fri (see also http://bit.example/x)."), now - 50)
    type_text(app, "/who", now - 40)
    app.key(Key.ENTER, now - 40)
    who = [line for line in app.drain().lines if line.endswith("/who")][0]
    label = who.split()[0].removeprefix("@label=")
    feed(app, WhoList((WhoEntry("juan", "active", "", 5), WhoEntry("ana", "away", "lunch", 340),
                       WhoEntry("alice", "active", "", 0), WhoEntry("pedro", "busy", "meeting", 80),
                       WhoEntry("sofía", "inactive", "", 3640), WhoEntry("李小龙", "active", "", 42),
                       WhoEntry("maria", "active", "", 41), WhoEntry("carlos", "active", "", 40))), now - 40,
         label=label)
    feed(app, Message("carlos", "tickets: https://tickets.example.com/events/2025/11/concert-in-the-park-" + "x" * 12),
         now - 30)
    app.drain()
    return app


def scene_paste(now: float = T0) -> App:
    """Eight lines pasted in the main chat: the client asks before sending them."""
    app = logged_in(now)
    app.paste("\n".join(f"line {n} of the log" for n in range(1, 9)) + "\n", now)
    return app


def scene_finder(now: float = T0) -> App:
    """F3: the group finder, with the server's answer to /groups."""
    app = with_groups(now)
    app.key(Key.F3, now - 1)
    request = app.drain().lines[-1]
    groups = (
        GroupEntry("books", "public", 12, "", "what we read in november"),
        GroupEntry("familia", "private", 4, "owner", ""),
        GroupEntry("grupo_trabajo", "public", 6, "member", "Q4 report"),
        GroupEntry("jardín", "public", 3, "pending", ""),
        GroupEntry("música_en_vivo", "public", 41, "", "conciertos 🎸 y entradas"),
    )
    feed(app, GroupList(groups), now - 1, label=request.split()[0].removeprefix("@label="))
    app.key(Key.DOWN, now)
    app.key(Key.DOWN, now)
    app.key(Key.DOWN, now)
    app.key(Key.DOWN, now)
    return app


SCENES: dict[str, tuple[Callable[[float], App], tuple[tuple[int, int], ...]]] = {
    "login": (scene_login, ((80, 24), (40, 12))),
    "login-waiting": (scene_login_waiting, ((80, 24),)),
    "main": (scene_main, ((80, 24), (120, 40), (40, 12))),
    "private": (scene_private, ((80, 24), (120, 40), (40, 12))),
    "online": (scene_online, ((80, 24),)),
    "chats": (scene_chats_compact, ((40, 12),)),
    "reconnecting": (scene_reconnecting, ((80, 24),)),
    "help": (scene_help, ((80, 24),)),
    "group": (scene_group, ((80, 24), (120, 40), (40, 12))),
    "group-chats": (scene_group_chats, ((40, 12),)),
    "too-small": (scene_main, ((24, 6),)),
    "login-tls": (scene_login_tls, ((80, 24),)),
    "login-tls-refused": (scene_login_tls_refused, ((80, 24),)),
    "main-tls": (scene_main_tls, ((80, 24), (40, 12))),
    "links": (scene_links, ((80, 24),)),
    "paste": (scene_paste, ((80, 24),)),
    "groups": (scene_finder, ((80, 24), (40, 12))),
}
"""Scene name -> (builder, sizes snapshotted)."""


def render_scene(app: App, width: int, height: int, now: float = T0) -> Screen:
    """Draw ``app`` at ``width`` x ``height`` with UTC times."""
    return render(app, width, height, now, timezone.utc)


def snapshot_name(scene: str, width: int, height: int) -> str:
    """``main-80x24`` etc."""
    return f"{scene}-{width}x{height}"


def all_snapshots() -> dict[str, str]:
    """Every snapshot's name and text (trailing spaces stripped from each row)."""
    out: dict[str, str] = {}
    for scene, (build, sizes) in SCENES.items():
        for width, height in sizes:
            screen = render_scene(build(T0), width, height)
            out[snapshot_name(scene, width, height)] = "\n".join(line.rstrip() for line in screen.lines()) + "\n"
    return out


DOC_BLOCK = re.compile(r"(<!-- snapshot: (?P<name>[\w.-]+) -->\n```text\n)(?P<body>.*?)(```)", re.DOTALL)


def update_docs(snapshots: dict[str, str]) -> None:
    """Replace each ``<!-- snapshot: NAME -->`` block of docs/client.md by the snapshot."""
    text = DOCS.read_text(encoding="utf-8")
    text = DOC_BLOCK.sub(lambda m: m.group(1) + snapshots[m.group("name")] + m.group(4), text)
    DOCS.write_text(text, encoding="utf-8")


def main(argv: list[str]) -> int:
    """Rewrite the snapshot files (and with ``--docs`` the screenshots in the docs)."""
    SNAPSHOTS.mkdir(exist_ok=True)
    snapshots = all_snapshots()
    for name, text in snapshots.items():
        (SNAPSHOTS / f"{name}.txt").write_text(text, encoding="utf-8")
    if "--docs" in argv:
        update_docs(snapshots)
    print(f"{len(snapshots)} snapshots written to {SNAPSHOTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
