"""What people expect of a chat today, in the TUI (pure parts): web links and OSC 8
hyperlinks (pollchat.client.links), pastes told from typing (pollchat.client.paste)
and sent as separate lines, command output kept in columns, the group finder (F3), and
the bell. The same in a real terminal: tests/tui/test_tui_e2e.py."""

from __future__ import annotations

import curses
from datetime import timezone
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pollchat import texts
from pollchat.client import cli
from pollchat.client.config import ClientConfig, dump_config, load_config
from pollchat.client.keys import PASTE_ASK
from pollchat.client.links import OSC8_CLOSE, find_links, hyperlink_overlay, links_wanted, osc8_open, osc8_uri
from pollchat.client.paste import MAX_PASTE, Paste, PasteDecoder
from pollchat.client.screen import Segment, conversation_rows, render
from pollchat.client.state import Entry, EntryKind
from pollchat.client.textwidth import text_width
from pollchat.client.ui import Key, Pane
from pollchat.protocol.events import GroupEntry, GroupEvent, GroupList, Message, PrivateMessage
from pollchat.texts import GroupChange
from tests.tui.test_tui_app import T, chatting, label_of, send, unlabelled
from tests.tui.tui_scenes import T0, feed, type_text

# --- finding links --------------------------------------------------------------------------------


def links_in(text: str) -> list[str]:
    return [text[start:end] for start, end in find_links(text)]


def test_only_http_and_https_urls_are_links() -> None:
    assert links_in("see https://example.org/a?b=1 and http://x.example") == [
        "https://example.org/a?b=1", "http://x.example"]
    assert links_in("HTTPS://EXAMPLE.ORG/") == ["HTTPS://EXAMPLE.ORG/"]
    for text in ("file:///etc/passwd", "javascript:alert(1)", "ssh://host", "ftp://x.org", "mailto:a@b.org",
                 "https://", "xhttps://example.org", "data:text/html,https"):
        assert links_in(text) == [], text


def test_trailing_punctuation_and_brackets_stay_out_of_a_link() -> None:
    assert links_in("(see https://x.org/a).") == ["https://x.org/a"]
    assert links_in("https://en.wikipedia.org/wiki/Python_(language), ok") == [
        "https://en.wikipedia.org/wiki/Python_(language)"]
    assert links_in('"https://x.org/q"?') == ["https://x.org/q"]
    assert links_in("https://x.org/a!!") == ["https://x.org/a"]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_links_are_well_formed_spans(text: str) -> None:
    spans = find_links(text)
    assert spans == sorted(spans)
    for start, end in spans:
        assert text[start:end].lower().startswith(("http://", "https://")) and not any(c.isspace() for c in text[start:end])


def test_osc8_uri_holds_only_printable_ascii() -> None:
    assert osc8_uri("https://example.org/a b") == "https://example.org/a%20b"
    assert osc8_uri("https://ja.example/日本") == "https://ja.example/%E6%97%A5%E6%9C%AC"
    assert osc8_open("https://x.org/") == "\x1b]8;;https://x.org/\x1b\\"
    assert OSC8_CLOSE == "\x1b]8;;\x1b\\"


def test_links_are_on_for_terminals_known_to_draw_them_only() -> None:
    assert links_wanted("auto", {"TERM": "xterm-256color", "VTE_VERSION": "7200"})
    assert links_wanted("auto", {"TERM": "xterm-256color", "TERM_PROGRAM": "iTerm.app"})
    assert links_wanted("auto", {"TERM": "xterm-kitty"})
    assert links_wanted("auto", {"TERM": "tmux-256color", "TERM_PROGRAM": "tmux", "TERM_PROGRAM_VERSION": "3.4"})
    assert not links_wanted("auto", {"TERM": "screen", "TERM_PROGRAM": "tmux", "TERM_PROGRAM_VERSION": "3.3a"})
    assert not links_wanted("auto", {"TERM": "xterm-256color", "VTE_VERSION": "4802"})
    assert not links_wanted("auto", {"TERM": "xterm-256color"})  # unknown: off
    assert not links_wanted("auto", {"TERM": "linux", "VTE_VERSION": "7200"})
    assert links_wanted("on", {"TERM": "linux"}) and not links_wanted("off", {"TERM": "xterm-kitty"})


def test_links_setting_and_flag(tmp_path: Path) -> None:
    assert ClientConfig().links == "auto"
    path = tmp_path / "client.toml"
    for written, read in (("false", "off"), ("true", "on"), ('"on"', "on"), ('"blue"', "auto"), ("3", "auto")):
        path.write_text(f"links = {written}\n")
        assert load_config(path)[0].links == read
    path.write_text(dump_config(ClientConfig(links="off")))
    assert load_config(path)[0].links == "off"
    assert cli.build_parser().parse_args(["h", "--links", "on"]).links == "on"
    assert cli.build_parser().parse_args(["h"]).links is None


# --- links on screen ------------------------------------------------------------------------------


def test_a_link_is_its_own_segment_with_its_url_even_when_wrapped() -> None:
    url = "https://example.org/a/very/long/path/that/wraps"
    entry = Entry(EntryKind.MESSAGE, T0, f"look {url} now", "bob")
    rows = conversation_rows([entry], 30, timezone.utc)
    linked = [segment for row in rows for segment in row if segment.link]
    assert {segment.link for segment in linked} == {url}
    assert "".join(segment.text for segment in linked) == url  # every piece, none twice
    assert all(segment.style == "link" for segment in linked)
    assert ["".join(s.text for s in row) for row in rows] == [
        "[12:00] bob: look https://exam", "        ple.org/a/very/long/pa", "        th/that/wraps now"]


def test_links_do_not_change_what_is_drawn_or_its_widths() -> None:
    app = chatting()
    feed(app, Message("bob", "https://ex.org/m?d=1 ok"), T)
    feed(app, Message("bob", "hxxps://ex.org/m?d=1 ok"), T)
    screen = render(app, 80, 24, T, timezone.utc)
    assert all(sum(text_width(s.text) for s in row) == 80 for row in screen.rows)
    lines = screen.lines()
    assert any("bob: https://ex.org/m?d=1 ok" in line for line in lines)
    linked = [(y, s) for y, row in enumerate(screen.rows) for s in row if s.link]
    assert [s.link for _, s in linked] == ["https://ex.org/m?d=1"]


def test_the_overlay_rewrites_each_link_in_place_and_puts_the_cursor_back() -> None:
    rows = [[Segment("ab"), Segment("中 "), Segment("https://x.org", "link", "https://x.org"), Segment(" z")],
            [Segment("none")]]
    out = hyperlink_overlay(rows, lambda y, x: f"<{y},{x}>", text_width, (5, 7))
    assert out == "<0,5>\x1b]8;;https://x.org\x1b\\\x1b[4mhttps://x.org\x1b[0m\x1b]8;;\x1b\\<5,7>"
    assert hyperlink_overlay([[Segment("plain")]], lambda y, x: "?", text_width, (0, 0)) == ""


# --- command output keeps its columns -------------------------------------------------------------


def test_a_multi_line_notice_keeps_its_columns_and_cuts_long_lines_below_their_indent() -> None:
    text = "groups (2):\n  #books     - public, 12 member(s)\n  #familia   - private, 4 member(s), owner; topic: x y z"
    rows = ["".join(s.text for s in row) for row in conversation_rows([Entry(EntryKind.SYSTEM, T0, text)], 50,
                                                                       timezone.utc)]
    assert rows == [
        "[12:00] -- groups (2):",
        "             #books     - public, 12 member(s)",
        "             #familia   - private, 4 member(s), ow",
        "               ner; topic: x y z",
    ]


@given(st.lists(st.text(alphabet=" ab中-", max_size=40), min_size=2, max_size=5), st.integers(10, 60))
def test_block_rows_never_exceed_the_width(lines: list[str], width: int) -> None:
    rows = conversation_rows([Entry(EntryKind.SYSTEM, T, "\n".join(lines))], width, timezone.utc)
    assert all(sum(text_width(s.text) for s in row) <= width for row in rows)


# --- pastes ---------------------------------------------------------------------------------------


def test_the_decoder_finds_a_paste_among_keys() -> None:
    keys: list[int | str] = ["a", *"\x1b[200~", *"x\ny", curses.KEY_ENTER, *"z\x1b[201~", "b", curses.KEY_UP]
    assert PasteDecoder().feed(keys) == ["a", Paste("x\ny\nz"), "b", curses.KEY_UP]


@given(st.text(alphabet="ab \n\x1b[~20", max_size=30), st.lists(st.integers(0, 40), max_size=4))
def test_a_paste_arriving_in_pieces_is_the_same_paste(text: str, cuts: list[int]) -> None:
    text = text.replace("\x1b[201~", "")
    keys = ["k", *"\x1b[200~", *text, *"\x1b[201~", "j"]
    whole = PasteDecoder().feed(keys)
    decoder = PasteDecoder()
    pieces: list[object] = []
    start = 0
    for cut in sorted(min(c, len(keys)) for c in cuts if c != 2):  # not right after the Esc: see PasteDecoder
        pieces += decoder.feed(keys[start:cut])
        start = max(start, cut)
    pieces += decoder.feed(keys[start:])
    assert pieces == whole and whole[-2:] == [Paste(text), "j"] and not decoder.in_paste


def test_a_huge_paste_is_bounded() -> None:
    result = PasteDecoder().feed([*"\x1b[200~", *("x" * (MAX_PASTE + 500)), *"\x1b[201~"])
    assert result == [Paste("x" * MAX_PASTE)]


def test_pasted_lines_are_sent_as_lines_in_order_never_merged() -> None:
    app = chatting()
    type_text(app, "before: ", T)
    app.paste("one\n/quit is text\n\nthree\n", T)
    sent = [line for line in app.drain().lines if not line.startswith("/typing")]
    assert sent == ["before: one", "//quit is text", "three"]  # a pasted /line is text
    assert [e.text for e in app.chat.main.entries[-3:]] == ["before: one", "/quit is text", "three"]
    assert app.ui.input.text == ""


def test_one_pasted_line_waits_in_the_box_as_if_typed() -> None:
    app = chatting()
    type_text(app, "ab", T)
    app.key(Key.LEFT, T)
    app.paste("XY\tZ", T)
    assert app.ui.input.text == "aXY Zb" and app.ui.input.cursor == 5
    assert not [line for line in app.drain().lines if not line.startswith("/typing")]


def test_a_long_paste_is_sent_only_after_enter_and_esc_cancels_it() -> None:
    app = chatting()
    lines = [f"line {n}" for n in range(PASTE_ASK + 2)]
    app.paste("\r\n".join(lines), T)
    assert app.ui.paste == lines and not [x for x in app.drain().lines if not x.startswith("/typing")]
    screen = render(app, 80, 24, T, timezone.utc).text()
    assert texts.CLIENT_TUI_PASTE_ASK.format(count=len(lines)) in screen
    app.key("x", T)  # other keys wait for the answer
    app.key(Key.ENTER, T)
    assert [x for x in app.drain().lines if not x.startswith("/typing")] == lines
    app.paste("\n".join(lines), T)
    app.key(Key.ESC, T)
    assert not app.ui.paste and not app.drain().quit
    assert not [x for x in app.drain().lines if not x.startswith("/typing")]


def test_pasted_lines_in_a_private_chat_go_to_that_person() -> None:
    app = chatting()
    feed(app, PrivateMessage("bob", "alice", "hi"), T)
    app.chat.open("bob")
    app.paste("a\n/b", T)
    assert [x for x in app.drain().lines if not x.startswith("/typing")] == ["/msg bob a", "/msg bob /b"]


def test_a_paste_in_the_login_form_types_its_first_line() -> None:
    from tests.tui.test_tui_app import fresh

    app = fresh()
    app.paste("s3cret\nmore", T)
    assert app.form.password.text == "s3cret"


# --- the group finder -----------------------------------------------------------------------------


def test_f3_lists_the_servers_groups_and_enter_joins_one() -> None:
    app = chatting()
    app.key(Key.F3, T)
    asked = app.drain().lines
    assert unlabelled(asked) == ["/groups"] and app.ui.groups
    assert texts.CLIENT_TUI_GROUPS_ASKING in render(app, 80, 24, T, timezone.utc).text()
    listed = (GroupEntry("books", "public", 12, "", "novels"), GroupEntry("familia", "private", 3, "member", ""),
              GroupEntry("jardín", "public", 2, "pending", ""))
    feed(app, GroupList(listed), T, label=label_of(asked[0]))
    screen = render(app, 80, 24, T, timezone.utc).text()
    assert "#books" in screen and "12" in screen and "novels" in screen and "private" in screen
    assert "groups (3)" not in screen  # the automatic answer is not shown as text
    app.key(Key.ENTER, T)  # books: not a member
    assert app.drain().lines == ["/join #books"] and not app.ui.groups
    feed(app, GroupEvent("books", GroupChange.JOINED, "alice"), T)
    assert app.chat.open_key == "#books"


def test_the_finder_opens_a_group_one_is_in_and_says_a_request_waits() -> None:
    app = chatting()
    app.key(Key.F3, T)
    asked = app.drain().lines
    listed = (GroupEntry("familia", "private", 3, "member", ""), GroupEntry("jardín", "public", 2, "pending", ""))
    feed(app, GroupList(listed), T, label=label_of(asked[0]))
    app.key(Key.ENTER, T)
    assert app.chat.open_key == "#familia" and app.ui.focus is Pane.CHAT
    assert unlabelled(app.drain().lines) == ["/history #familia 50"]  # opening a group fetches its history
    app.key(Key.F3, T)
    app.drain()
    app.key(Key.DOWN, T)
    app.key(Key.ENTER, T)
    assert app.ui.status == texts.CLIENT_TUI_GROUPS_WAITING.format(name="jardín")
    assert not [x for x in app.drain().lines if not x.startswith("/typing")]
    app.key(Key.F3, T)
    app.key(Key.ESC, T)
    assert not app.ui.groups and not app.drain().quit  # Esc closes the finder, it does not quit


# --- the bell -------------------------------------------------------------------------------------


def test_the_bell_rings_for_a_private_message_or_a_mention_not_for_a_plain_line_or_history() -> None:
    app = chatting()
    feed(app, Message("bob", "hello all"), T)
    assert not app.drain().bell
    feed(app, Message("bob", "hey @alice"), T)
    assert not app.drain().bell  # the main chat is on screen
    feed(app, PrivateMessage("bob", "alice", "psst", history=True), T)
    assert not app.drain().bell
    feed(app, PrivateMessage("bob", "alice", "psst"), T)
    assert app.drain().bell
    app.chat.open("bob")
    feed(app, Message("bob", "hey @alice"), T)
    assert app.drain().bell
    assert send(app, "hi") == ["/msg bob hi"]


def test_a_long_paste_goes_out_below_the_servers_rate_limit_in_order() -> None:
    from pollchat.client.base import PASTE_BURST, PASTE_RATE

    app = chatting()
    lines = [f"row {n}" for n in range(50)]
    app.paste("\n".join(lines), T)
    app.key(Key.ENTER, T)
    sent = [x for x in app.drain().lines if not x.startswith("/typing")]
    assert sent == lines[:PASTE_BURST] and app.paste_pending == 50 - PASTE_BURST
    assert "30 line(s) to go" in render(app, 80, 24, T, timezone.utc).text()
    assert send(app, "typed meanwhile", T) == []  # it waits behind the paste
    now, queued = T, app.paste_pending  # the typed line and its /typing notices too
    while app.paste_pending:
        deadline = app.next_deadline(now)
        assert deadline is not None and deadline > now
        now = deadline
        app.tick(now)
        sent += [x for x in app.drain().lines if not x.startswith("/typing")]
    assert sent == [*lines, "typed meanwhile"]
    # the server's bucket (10/s, bursts of 30) never runs dry: 20 at once, then 5 per second
    assert abs((now - T) - queued / PASTE_RATE) < 0.01


def test_a_paste_cut_by_a_lost_connection_says_what_was_not_sent() -> None:
    app = chatting()
    app.paste("\n".join(f"row {n}" for n in range(30)), T)
    app.key(Key.ENTER, T)
    app.drain()
    app.connection_failed("reset", T + 0.1)
    assert app.paste_pending == 0
    assert app.chat.current.entries[-1].text == texts.CLIENT_TUI_PASTE_UNSENT.format(count=10)
