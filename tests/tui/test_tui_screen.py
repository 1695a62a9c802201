"""The TUI's pure renderer (pollchat.client.screen): snapshots and layout invariants.

Snapshots of the main states (tests/tui/tui_scenes.py) at 80x24, 120x40 and 40x12 are
compared with ``tests/tui/snapshots/*.txt`` (trailing spaces of each row ignored). After an
intended change of the screen, regenerate them with ``python -m tests.tui.tui_scenes --docs``
and review the diff. The screenshots in docs/client.md must equal them.

Invariants, at every size from 0x0 up (hypothesis): every row is exactly the terminal's
width in cells (measured with the one width function), the cursor is on the screen, and
nothing raises; wide characters (CJK, emoji, the /shrug and /tableflip faces) never
shift a border; the password is never drawn; status is never shown by colour alone.
"""

from __future__ import annotations

import ast
from datetime import timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pollchat import texts
from pollchat.client.screen import COMPACT_MIN, Canvas, conversation_rows, render
from pollchat.client.state import Entry, EntryKind, group_key
from pollchat.client.textwidth import text_width
from pollchat.client.ui import Key
from tests import REPO_ROOT
from tests.tui import tui_scenes
from tests.tui.tui_scenes import (
    PASSWORD,
    SCENES,
    SNAPSHOTS,
    T0,
    all_snapshots,
    feed,
    render_scene,
)

SNAPSHOT_TEXTS = all_snapshots()


@pytest.mark.parametrize("name", sorted(SNAPSHOT_TEXTS))
def test_snapshot(name: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    assert path.exists(), f"missing {path}: run python -m tests.tui.tui_scenes"
    expected = [line.rstrip() for line in path.read_text(encoding="utf-8").splitlines()]
    assert SNAPSHOT_TEXTS[name].splitlines() == expected


def test_the_required_sizes_are_snapshotted() -> None:
    sizes = {name.rsplit("-", 1)[1] for name in SNAPSHOT_TEXTS}
    assert {"80x24", "120x40", "40x12"} <= sizes
    assert {"main-80x24", "main-120x40", "main-40x12", "private-80x24", "login-80x24"} <= set(SNAPSHOT_TEXTS)


def test_no_stale_snapshot_files() -> None:
    on_disk = {path.stem for path in SNAPSHOTS.glob("*.txt")}
    assert on_disk == set(SNAPSHOT_TEXTS)


def test_docs_screenshots_are_the_snapshots() -> None:
    docs = tui_scenes.DOCS.read_text(encoding="utf-8")
    blocks = list(tui_scenes.DOC_BLOCK.finditer(docs))
    assert len(blocks) >= 6
    for block in blocks:
        name = block.group("name")
        shown = [line.rstrip() for line in block.group("body").splitlines()]
        assert shown == SNAPSHOT_TEXTS[name].splitlines(), f"docs/client.md screenshot {name} is stale"


@pytest.mark.parametrize(
    ("scene", "width", "height"),
    [(scene, w, h) for scene, (_, sizes) in SCENES.items() for w, h in sizes],
)
def test_every_row_is_exactly_the_width(scene: str, width: int, height: int) -> None:
    screen = render_scene(SCENES[scene][0](T0), width, height)
    assert len(screen.rows) == height
    for row in screen.rows:
        assert sum(text_width(segment.text) for segment in row) == width
    if screen.cursor is not None:
        y, x = screen.cursor
        assert 0 <= y < height and 0 <= x < width


def test_borders_line_up_under_wide_characters() -> None:
    screen = render_scene(tui_scenes.scene_main(T0), 80, 24)
    columns = None
    for line in screen.lines()[2:-6]:  # above the input box
        cells: list[int] = []
        col = 0
        for ch in line:
            if ch == "│":
                cells.append(col)
            col += text_width(ch)
        columns = columns or cells
        assert cells == columns, line
    assert columns == [0, 18, 38, 79]
    text = screen.text()
    assert texts.SHRUG in text and texts.TABLEFLIP in text and "李小龙" in text and "🍜" in text


def test_the_password_is_never_drawn() -> None:
    for scene, (build, sizes) in SCENES.items():
        for width, height in sizes:
            assert PASSWORD not in render_scene(build(T0), width, height).text()
    app = tui_scenes.scene_login(T0)
    for part in ("s3cr3t", "ツ-pw", "*" * 5):
        assert part not in render_scene(app, 80, 24).text()


def test_status_is_shown_by_a_marker_not_only_colour() -> None:
    lines = render_scene(tui_scenes.scene_main(T0), 80, 24).lines()
    pane = [line.split("│")[1].rstrip() for line in lines[4:16]]
    assert pane[:9] == [
        " + carlos", " + juan", " + maria", " + 李小龙", " ! pedro", " ~ ana (9m)", " z sofía (1h)",
        "──── offline ────", " - bob",
    ]


def test_focus_and_selection_are_visible_in_the_text() -> None:
    lines = render_scene(tui_scenes.scene_online(T0), 80, 24).lines()
    assert "[ online (8) ]" in lines[1]
    assert any(line.startswith("│›+ juan") for line in lines)
    assert "find: a" in lines[2]


def test_below_the_minimum_size_it_says_so() -> None:
    app = tui_scenes.scene_main(T0)
    text = render_scene(app, COMPACT_MIN[0] - 1, 12).text()
    assert "too small" in text
    assert "too small" in render_scene(app, 80, COMPACT_MIN[1] - 1).text()
    assert "too small" not in render_scene(app, *COMPACT_MIN).text()


@settings(max_examples=150, deadline=None)
@given(width=st.integers(0, 160), height=st.integers(0, 60), scene=st.sampled_from(sorted(SCENES)))
def test_any_size_renders_without_error(width: int, height: int, scene: str) -> None:
    screen = render_scene(BUILT[scene], width, height)
    assert len(screen.rows) == height
    assert all(sum(text_width(s.text) for s in row) == width for row in screen.rows)


BUILT = {scene: build(T0) for scene, (build, _) in SCENES.items()}


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(
        st.one_of(
            st.sampled_from(list("中文ツ︵┻━°□😀🍜✅❤️\u0301\u200d\ufe0f \t")),
            st.characters(codec="utf-8", exclude_categories=("Cs",)),
        ),
        max_size=80,
    ),
    width=st.integers(30, 130),
)
def test_any_message_keeps_the_layout(text: str, width: int) -> None:
    app = tui_scenes.logged_in(T0)
    feed(app, tui_scenes.Message("juan", text), T0)
    screen = render_scene(app, width, 20)
    assert all(sum(text_width(s.text) for s in row) == width for row in screen.rows)


def test_scrolling_shows_earlier_lines_and_a_marker() -> None:
    app = tui_scenes.logged_in(T0)
    for n in range(40):
        feed(app, tui_scenes.Message("juan", f"line {n}"), T0)
    bottom = render_scene(app, 80, 24)
    assert "line 39" in bottom.text() and bottom.scroll_max > 0
    app.ui.page, app.ui.scroll_max = bottom.page, bottom.scroll_max
    app.key(Key.PGUP, T0)
    up = render_scene(app, 80, 24)
    assert "line 39" not in up.text()
    assert texts.CLIENT_TUI_MORE_BELOW.format(count=app.ui.scroll) in up.text()
    app.key(Key.PGDN, T0)
    assert render_scene(app, 80, 24).text() == bottom.text()


def test_conversation_rows_wrap_under_the_text_and_mark_history() -> None:
    entries = [
        Entry(EntryKind.MESSAGE, T0 - 60, "old news", "bob", history=True),
        Entry(EntryKind.MESSAGE, T0, "a rather long line that has to wrap " + texts.SHRUG, "bob", mention=True),
        Entry(EntryKind.MESSAGE, T0, "mine", "alice", own=True),
        Entry(EntryKind.ACTION, T0, "waves", "bob"),
        Entry(EntryKind.ERROR, T0, "no such user: zed"),
        Entry(EntryKind.SYSTEM, T0, "pollchat manual\n\n/who  list"),
    ]
    rows = ["".join(s.text for s in row) for row in conversation_rows(entries, 30, timezone.utc)]
    assert rows == [
        "────────── history ───────────",
        "[11:59] bob: old news",
        "─────── end of history ───────",
        "[12:00] bob: a rather long",
        "        line that has to wrap",
        "        ¯\\_(ツ)_/¯",
        "[12:00] you: mine",
        "[12:00] * bob waves",
        "[12:00] ! no such user: zed",
        "[12:00] -- pollchat manual",
        "           ",
        "           /who  list",  # a notice's lines stay aligned under its first line
    ]
    mention = conversation_rows(entries[1:2], 30, timezone.utc)[0]
    assert [s.style for s in mention] == ["time", "name", "mention"]


def test_canvas_never_leaves_half_a_wide_character() -> None:
    canvas = Canvas(6, 1)
    canvas.put(0, 0, "中文中")
    canvas.put(0, 1, "x")  # over the right half of 中
    canvas.put(0, 4, "y")  # over the left half of the last 中
    line = "".join(s.text for s in canvas.to_rows()[0])
    assert line == " x文y " and text_width(line) == 6


def test_help_and_login_forms() -> None:
    help_text = render_scene(tui_scenes.scene_help(T0), 80, 24).text()
    assert texts.CLIENT_TUI_HELP_TITLE in help_text and "Esc or Ctrl+C" in help_text
    login = render_scene(tui_scenes.scene_login(T0), 80, 24)
    assert "name:     alice" in login.text()
    y, x = login.cursor
    assert login.lines()[y][:x].rstrip().endswith("password:")
    waiting = render_scene(tui_scenes.scene_login_waiting(T0), 80, 24).text()
    assert "Connection refused" in waiting and "reconnecting in 1s" in waiting


def test_the_renderer_is_pure() -> None:
    source = (REPO_ROOT / "pollchat" / "client" / "screen.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert not imported & {"curses", "socket", "selectors", "time", "signal", "os"}
    app = tui_scenes.scene_main(T0)
    assert render(app, 80, 24, T0, timezone.utc).text() == render(app, 80, 24, T0, timezone.utc).text()


def test_groups_in_the_chats_pane_title_and_input() -> None:
    lines = render_scene(tui_scenes.scene_group(T0), 80, 24).lines()
    assert " chats · 👥 2 " in lines[1] and "[ #familia · 5 members ]" in lines[1]
    chats = [line.split("│")[2].rstrip() for line in lines[2:9]]
    assert chats[2] == "▸ #familia" and chats[3].startswith("  #grupo_tr") and chats[3].endswith("✉(1) ●")
    assert "🔔 carlos mentioned you in #grupo_trabajo" in lines[0]
    assert any("> Message #familia..." in line for line in lines)
    # The group line said by the user, as sent: "you"; the group's changes as notices.
    text = "\n".join(lines)
    assert "you: yo llevo el flan" in text and "-- sofía has joined the group" in text
    assert "[#familia]" not in text  # the prefix is left out inside the group


def test_a_group_left_is_marked_not_only_dimmed() -> None:
    app = tui_scenes.scene_group_chats(T0)
    lines = [line.rstrip() for line in render_scene(app, 40, 12).lines()]
    assert "› #books ✗" in lines
    row = render_scene(app, 40, 12).rows[lines.index("› #books ✗")]
    assert [s.style for s in row if "✗" in s.text] == ["dim"]
    app.key(Key.ENTER, T0)  # open it: the title and the input say why nothing is sent
    text = render_scene(app, 80, 24).text()
    assert f"#books · {texts.CLIENT_TUI_GROUP_LEFT}" in text
    assert texts.CLIENT_TUI_PLACEHOLDER_GONE.format(name="books", reason=texts.CLIENT_TUI_GROUP_LEFT)[:30] in text


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(st.sampled_from(list("ab_-.中ツ😀é")), min_size=1, max_size=32),
    topic=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60),
    width=st.integers(30, 130),
)
def test_any_group_name_and_topic_keep_the_layout(name: str, topic: str, width: int) -> None:
    app = tui_scenes.logged_in(T0)
    feed(app, tui_scenes.GroupList((tui_scenes.GroupEntry(name, "public", 3, "member", topic),)), T0)
    feed(app, tui_scenes.Message("juan", "hola", group=name), T0)
    app.chat.open(group_key(name))
    for height in (12, 24):
        screen = render_scene(app, width, height)
        assert all(sum(text_width(s.text) for s in row) == width for row in screen.rows)
