"""The cluster node over the chat service, without Redis: the service harness's
in-memory peers, and a fake engine that answers the seat scripts and hands each
``XADD`` back to the node as its ``XREAD`` would (or keeps it, to show what waits).

What a node decides is tested here in milliseconds; tests/cluster/ runs real processes
over a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pollchat.core.seats import AccountKind
from pollchat.protocol.events import Message, PrivateMessage
from pollchat.server.cluster import node as node_module
from pollchat.server.cluster import scripts
from pollchat.server.cluster.linger import LINGER_MAX, LINGER_MEMORY
from pollchat.server.cluster.node import ClusterNode, ClusterSettings, RefereedSeats
from pollchat.server.cluster.records import Entry, decode_event, encode_event, parse_entry
from pollchat.server.timers import Timers
from pollchat.texts import ErrorCode
from tests.harness import FakeClock
from tests.service_harness import ServiceHarness

pytest.importorskip("hiredis", reason="pip install 'pollchat[cluster]'")

SCRIPTS = {
    s.sha: s.name for s in (scripts.TAKE_SEAT, scripts.RELEASE_SEAT, scripts.HEARTBEAT, scripts.SYNC, scripts.CLAIM_FORMAT)
}


class FakeEngine:
    """Stands for the node's command link: answers scripts, loops XADDs back."""

    up = True

    def __init__(self, node: ClusterNode) -> None:
        self.node = node
        self.loop_back = True
        self.waiting: list[Entry] = []
        self.published: list[Entry] = []
        self.seat_answer = b"ok"
        self.format_answer: object = [b"ok", scripts.BUS_FORMAT.encode()]
        self.released: list[str] = []
        self.inboxes: list[str] = []

    def command(self, *args: Any, callback: Any = None) -> bool:
        reply: object = b"OK"
        if args[0] == "EVALSHA":
            name = SCRIPTS[args[1]]
            if name == "take_seat":
                reply = self.seat_answer
            elif name == "claim_format":
                reply = self.format_answer
            elif name == "sync":
                reply = [b"0-0", [], [], b"0-0"]  # an empty engine
            elif name == "release_seat":
                self.released.append(args[2 + args[2] + 1])  # the name key, after the keys
                reply = 1
        elif args[0] == "XADD":
            entry = parse_entry([a if isinstance(a, bytes) else str(a).encode() for a in args[6:]])
            self.published.append(entry)
            if args[1] != scripts.BUS:
                self.inboxes.append(args[1])  # another node's delivery stream: not read here
            elif self.loop_back:
                self.node.apply(entry)
            else:
                self.waiting.append(entry)
        if callback is not None:
            callback(reply)
        return True

    def deliver_waiting(self) -> None:
        entries, self.waiting = self.waiting, []
        for entry in entries:
            self.node.apply(entry)

    def records(self) -> list[list[Any]]:
        return [record for entry in self.published for record in entry.records]


class _Loop:
    def __init__(self) -> None:
        self.timers = Timers()
        self.after_flush: list[Any] = []
        self.broadcast_flushes = 0
        self.broadcast_cost = 0.0
        self.held_until = 0.0

    def hold_broadcasts(self, until: float) -> None:
        self.held_until = until

    def watch(self, *args: Any) -> None: ...

    def want_write(self, *args: Any) -> None: ...

    def unwatch(self, *args: Any) -> None: ...


def make_cluster(tmp_path: Path, **config: object) -> tuple[ServiceHarness, ClusterNode, FakeEngine]:
    chat = ServiceHarness(tmp_path, max_users=10, **config)
    service = chat.service
    service.hub.budget = RefereedSeats(10, 3)  # as build_server_loop makes it for a cluster
    node = ClusterNode(_Loop(), service, ClusterSettings("redis://127.0.0.1:1/0", "a"), 7)
    engine = FakeEngine(node)
    node.commands = engine  # type: ignore[assignment]
    node.available = True
    service.cluster = node
    after_pass = service.after_pass

    def pass_end() -> None:  # the loop's after-flush hooks: the service's, then the node's
        after_pass()
        node.publish()

    service.after_pass = pass_end  # type: ignore[method-assign]
    return chat, node, engine


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[ServiceHarness, ClusterNode, FakeEngine]]:
    made = make_cluster(tmp_path)
    yield made
    made[0].close()


def remote_entry(seq: int, *records: list[Any]) -> Entry:
    return Entry("b#1", seq, records)


def test_a_node_shows_its_own_main_chat_line_only_when_the_bus_gives_it_back(cluster) -> None:  # noqa: ANN001
    chat, node, engine = cluster
    a = chat.login("user1", "123")
    b = chat.login("user2", "345")
    engine.loop_back = False
    a.send(b"hello\n")
    b.expect_silence()  # published, not shown
    assert [r[0] for r in engine.records()][-1] == "all"
    engine.deliver_waiting()
    assert b.line() == "user1: hello"
    a.expect_silence()  # the sender is skipped, as on one node


def test_a_session_of_another_node_is_listed_and_reached_over_the_bus(cluster) -> None:  # noqa: ANN001
    chat, node, engine = cluster
    a = chat.login("user1", "123")
    node.apply(remote_entry(1, ["join", "b#1/7", 42, "registered", "bob", False], ["all", "b#1/7", encode_event_entered("bob")]))
    assert a.line() == "bob has entered the chat"
    a.send(b"/who\n")
    assert a.lines(3)[0] == "online users (2):"
    a.send(b"/msg bob are you there?\n")
    assert a.line() == "[private to bob] are you there?"
    to = [r for r in engine.records() if r[0] == "to"]
    assert to[-1][1] == ["b#1/7"] and decode_event(to[-1][2]) == PrivateMessage("user1", "bob", "are you there?")
    assert engine.inboxes[-1] == scripts.INBOX + "b#1"  # on bob's node's delivery stream, not the bus
    node.apply(remote_entry(2, ["leave", "b#1/7"], ["all", None, encode_event_left("bob")]))
    assert a.line() == "bob has left the chat"
    node.apply(remote_entry(2, ["all", None, encode_event_left("bob")]))  # the same entry again: dropped
    a.expect_silence()


def test_a_reaped_session_leaves_with_one_notice(cluster) -> None:  # noqa: ANN001
    chat, node, engine = cluster
    a = chat.login("user1", "123")
    node.apply(remote_entry(1, ["join", "b#1/7", 42, "registered", "bob", False]))
    node.apply(Entry("@reaper", 1, (["reaped", "b#1/7", "bob"], ["gone", "b#1"])))
    assert a.line() == "bob has left the chat"
    node.apply(Entry("@reaper", 2, (["reaped", "b#1/7", "bob"],)))  # reaped twice: told once
    a.expect_silence()
    assert chat.hub.online("bob") is None


def test_the_reaper_records_a_reaped_account_s_last_seen_as_its_node_s_last_heartbeat(cluster) -> None:  # noqa: ANN001
    """Only the node whose heartbeat reaped the session records it (once for the
    cluster: the store shares it), only for the account's last session, and only with
    a known heartbeat time."""
    chat, node, engine = cluster
    a = chat.login("user1", "123")
    accounts = chat.hub.accounts
    user2, user3 = accounts.find("user2"), accounts.find("user3")
    assert user2 is not None and user3 is not None and accounts.last_seen(user2) is None
    node.apply(remote_entry(1, ["join", "b#1/7", user2.id, "registered", "user2", False],
                            ["join", "b#1/8", user3.id, "registered", "user3", False]))
    node.apply(Entry("@reaper", 1, (["reaped", "b#1/7", "user2", 0, "1700000123.25", node.origin],
                                    ["reaped", "b#1/8", "user3", 0, "1700000123.25", "c#2"], ["gone", "b#1"])))
    assert a.lines(2) == ["user2 has left the chat", "user3 has left the chat"]
    assert accounts.last_seen(user2) == 1700000123.25
    assert accounts.last_seen(user3) is None  # node c reaped it: node c records it
    node.apply(remote_entry(2, ["join", "b#1/9", user3.id, "registered", "user3", False]))
    node.apply(Entry("@reaper", 2, (["reaped", "b#1/9", "user3", 1, "1700000200", node.origin],
                                    ["gone", "b#1"])))  # another device stays online
    node.apply(remote_entry(3, ["join", "b#1/10", user3.id, "registered", "user3", False]))
    node.apply(Entry("@reaper", 3, (["reaped", "b#1/10", "user3", 0, "0", node.origin], ["gone", "b#1"])))
    assert accounts.last_seen(user3) is None  # still online elsewhere; then a heartbeat never noted


def test_a_login_s_records_are_written_to_the_engine_before_its_welcome_is_queued(cluster) -> None:  # noqa: ANN001
    """The join and entered records of a login (and of a registration) leave in their
    own ``XADD`` as the hub admits it, before the welcome is queued to the client: a
    line said after the welcome, here or on any node, comes after them in the stream."""
    chat, node, engine = cluster
    watcher = chat.login("user1", "123")
    engine.loop_back = False
    client = chat.connect()
    seen: list[bytes] = []  # what the client had been sent when each entry was written
    command = engine.command

    def command_seen(*args: Any, callback: Any = None) -> bool:
        if args[0] == "XADD":
            seen.append(bytes(client.conn.received))
        return command(*args, callback=callback)

    engine.command = command_seen  # type: ignore[method-assign]
    for verb, name, password in ((b"login", b"user2", b"345"), (b"register", b"newbie", b"secret")):
        seen.clear()
        client.send(verb + b"\n" + name + b"," + password + b"\n")
        assert client.line() == "Access Provided"
        first = engine.published[-len(seen)] if seen else None
        assert first is not None and [r[0] for r in first.records][-2:] == ["join", "all"], first
        assert seen[0] == b""  # written before the welcome was queued
        engine.deliver_waiting()
        assert watcher.line() == f"{name.decode()} has entered the chat"
        client.line()  # the list of who is online
        if verb == b"login":
            client.send(b"/quit\n")
            chat.pump()
            engine.deliver_waiting()
            assert watcher.line() == "user2 has left the chat"
            client = chat.connect()


def test_a_node_joins_only_a_cluster_of_its_own_bus_format(cluster) -> None:  # noqa: ANN001
    """The format check comes first on every connection to the engine: the same format
    (or none alive) goes on to load the scripts and sync; another one says why in one
    line, stops the server and never takes a seat."""
    chat, node, engine = cluster
    sent: list[tuple[Any, ...]] = []
    command = engine.command

    def recorded(*args: Any, callback: Any = None) -> bool:
        sent.append(args)
        return command(*args, callback=callback)

    engine.command = recorded  # type: ignore[method-assign]
    stopped: list[bool] = []
    node.on_refused = lambda: stopped.append(True)
    node._commands_up()
    assert SCRIPTS[sent[0][1]] == "claim_format" and sent[0][2:5] == (2, scripts.FORMAT, scripts.NODES)
    assert any(args[:2] == ("SCRIPT", "LOAD") for args in sent) and node.refused is None and stopped == []
    sent.clear()
    node.available = False
    engine.format_answer = [b"other", b"1"]
    node._commands_up()
    assert len(sent) == 1 and stopped == [True] and not node.available
    assert node.refused is not None and "bus format 1" in node.refused and "stop every node" in node.refused


def test_the_engine_refusing_a_seat_is_the_seed_s_reply(cluster) -> None:  # noqa: ANN001
    chat, node, engine = cluster
    engine.seat_answer = b"online"
    c = chat.connect()
    c.send(b"login\nuser1,123\n")
    assert c.line() == "Password already used"
    engine.seat_answer = b"full"
    c.send(b"login\nuser1,123\n")
    assert c.line() == "Max number of chat users"
    node.available = False
    c.send(b"login\nuser1,123\n")
    assert c.line() == "the cluster is unavailable, try again shortly"


def test_a_wrong_password_asks_the_engine_nothing(cluster) -> None:  # noqa: ANN001
    chat, node, engine = cluster
    engine.seat_answer = b"online"
    c = chat.connect()
    c.send(b"login\nuser1,wrong\n")
    assert c.line() == "Wrong Password"  # not "Password already used": nothing learnt


def test_a_refused_admission_gives_the_seat_back(cluster) -> None:  # noqa: ANN001
    chat, node, engine = cluster
    chat.login("user1", "123")
    c = chat.connect()
    c.send(b"register\nuser1,pw\n")  # the name is taken: refused before any seat
    assert c.line() == "username is already used"
    assert engine.released == []
    chat.hub.closing = True  # refused by the hub after the engine gave a seat
    c.send(b"login\nuser2,345\n")
    assert c.line() == ErrorCode.SERVER_CLOSING.value
    assert engine.released == ["user2"]


def test_while_the_engine_is_away_lines_stay_on_this_node_and_are_held(cluster, monkeypatch) -> None:  # noqa: ANN001
    chat, node, engine = cluster
    a = chat.login("user1", "123")
    b = chat.login("user2", "345")
    node.available = False
    monkeypatch.setattr(node_module, "HOLD_MAX", 2)
    a.send(b"one\n")
    assert b.line() == "user1: one"  # shown at once to this node's users
    a.send(b"two\n")
    assert b.line() == "user1: two"
    a.send(b"three\n")  # past the bound
    assert b.line() == "user1: three"
    assert a.line() == "the cluster is unavailable: your line reached only the users of this server"
    published = len(engine.published)
    node.available = True
    node.publish()  # back: the held records go first
    held = [r for entry in engine.published[published:] for r in entry.records]
    assert [decode_event(r[2]).text for r in held if r[0] == "all"] == ["one", "two"]
    assert all(r[3] == 1 for r in held if r[0] == "all")  # marked: shown here already
    b.expect_silence()  # read back, not shown twice


def test_an_admin_on_another_node_ends_a_session_here_with_one_left_notice(cluster) -> None:  # noqa: ANN001
    chat, node, engine = cluster
    a = chat.login("user1", "123")
    b = chat.login("user2", "345")
    sid = node._local[b.conn].sid
    before = len(engine.records())
    node.apply(remote_entry(1, ["to", [sid], encode_event_notice()], ["close", sid, "kicked by root"]))
    assert b.closed() == ["you were disconnected by root"]
    a.expect_silence()  # the left notice is the kicking node's to send
    node.publish()  # the pass's end
    records = engine.records()[before:]
    assert ["leave", sid] in records
    assert not [r for r in records if r[0] == "all"]  # the kicking node announced it
    assert chat.hub.online("user2") is None


def encode_event_entered(name: str) -> object:
    from pollchat.protocol.events import Entered

    return encode_event(Entered(name))


def encode_event_left(name: str) -> object:
    from pollchat.protocol.events import Left

    return encode_event(Left(name))


def encode_event_notice() -> object:
    from pollchat.protocol.events import Notice
    from pollchat.texts import NoticeCode

    return encode_event(Notice.of(NoticeCode.KICKED, by="root", reason=""))


def test_remote_guests_get_ids_of_their_own(cluster) -> None:  # noqa: ANN001
    chat, node, engine = cluster
    node.apply(remote_entry(1, ["join", "b#1/7", -1, "registered", "gus", True]))
    session = chat.hub.online("gus")
    assert session is not None and session.account.id < -1 and session.account.kind is AccountKind.REGISTERED


def test_a_rename_on_another_node_renames_its_session_here(cluster) -> None:  # noqa: ANN001
    from pollchat.protocol.events import Renamed

    chat, node, engine = cluster
    a = chat.login("user1", "123")
    node.apply(remote_entry(1, ["join", "b#1/7", 42, "registered", "bob", False]))
    node.apply(remote_entry(2, ["all", None, encode_event(Renamed("bob", "robert"))]))
    assert a.line() == "bob is now known as robert"
    assert chat.hub.online("bob") is None and chat.hub.online("robert") is not None
    a.send(b"/msg robert hi\n")
    assert a.line() == "[private to robert] hi"


def test_a_group_another_node_made_is_found_and_changes_are_announced(cluster) -> None:  # noqa: ANN001
    from pollchat.core.groups import Groups, Visibility

    chat, node, engine = cluster
    a = chat.login("user1", "123")
    owner = chat.find_account("user2") or chat.hub.accounts.find("user2")
    other_node = Groups(chat.database)  # another node's view of the same database
    other_node.create("familia", Visibility.PUBLIC, owner.id, owner.name, 0.0)
    a.send(b"/join #familia\n")  # unknown here a moment ago: the miss reads the store
    assert a.line() == "[#familia] user1 has joined the group"
    node.publish()
    assert ["groups"] in engine.records()  # the other nodes are told to read the groups again
    other_node.rename(other_node.find("familia"), "familia2")
    node.apply(remote_entry(1, ["groups"]))
    assert chat.service.groups.groups.find("familia2") is not None


def test_failed_logins_on_other_nodes_count_in_this_node_s_throttle(tmp_path: Path) -> None:
    chat, node, engine = make_cluster(tmp_path, lockout_after=3, lockout_seconds=60)
    try:
        for seq in (1, 2, 3):  # three wrong guesses for user1 from one address, on node b
            node.apply(remote_entry(seq, ["login", "127.0.0.1", "user1", False]))
        c = chat.connect()
        c.send(b"login\nuser1,123\n")  # the right password, but the pair is locked out
        assert c.line().startswith("too many attempts, try again in ")
        c.send(b"login\nuser2,wrong\n")
        assert c.line() == "Wrong Password"
        node.publish()
        assert ["login", "127.0.0.1", "user2", False] in engine.records()  # told to the others
    finally:
        chat.close()


def test_an_admin_s_shutdown_goes_to_every_node_and_the_console_s_stays_here(cluster) -> None:  # noqa: ANN001
    chat, node, engine = cluster
    a = chat.login("user1", "123")
    admin = chat.service.admin
    admin.shutdown("operator", "30")  # the node's own console: this node only
    chat.service.after_pass()
    assert not any(r[0] == "shutdown" for r in engine.records())
    assert a.line() == "*** the server shuts down in 30 second(s)"  # warned here, not over the bus
    admin.shutdown("operator", "cancel")
    assert a.line() == "*** the shutdown was cancelled"
    admin.shutdown("root", "20 upgrade", everywhere=True)  # an admin's /shutdown
    admin.shutdown("root", "cancel", everywhere=True)
    chat.service.after_pass()
    assert [r for r in engine.records() if r[0] == "shutdown"] == [["shutdown", 20, "upgrade"], ["shutdown", 0, ""]]
    a.lines(2)
    node.apply(remote_entry(1, ["shutdown", 10, "from b"]))  # another node's admin
    assert admin.countdown.running and node.cluster_stopping
    assert a.line() == "*** the server shuts down in 10 second(s): from b"
    node.apply(remote_entry(2, ["shutdown", 0, ""]))
    assert not admin.countdown.running and not node.cluster_stopping


def test_a_registration_waits_for_account_ids_rather_than_failing(tmp_path: Path) -> None:
    """A store whose reserved account ids ran out (a burst of registrations within one
    database round trip) makes the registration wait for the next block: its client
    gets ``Access Provided`` once the ids come, never an internal error."""
    chat = ServiceHarness(tmp_path)
    waiting: list[Any] = []

    def await_id(then: Any) -> bool:
        if waiting or not hasattr(await_id, "called"):
            await_id.called = True  # type: ignore[attr-defined]
            waiting.append(then)
            return False
        return True

    chat.service.await_account_id = await_id
    try:
        client = chat.connect()
        client.send(b"register\nnewbie,secret\n")
        chat.pump_until(lambda: bool(waiting), "the registration to wait for ids")
        client.expect_silence()
        then = waiting.pop()
        then()  # the database gave more ids
        chat.pump()
        assert client.line() == "Access Provided"
        assert chat.find_account("newbie") is not None
    finally:
        chat.close()


def xread(*entries: Entry) -> list[Any]:
    """An ``XREAD`` reply of the bus carrying ``entries``, as hiredis gives it."""
    return [[scripts.BUS.encode(), [[b"%d-0" % entry.seq, [str(f).encode() for f in entry.fields()]] for entry in entries]]]


def test_a_burst_s_first_entry_lingers_for_the_rest_only_after_entries_came_in_a_cluster(cluster) -> None:  # noqa: ANN001
    """What the node asks of the loop as entries arrive (pollchat.server.cluster.linger):
    a lone line is flushed in its pass; after a burst whose entries came together, the
    next burst's first entry holds the broadcasts at most LINGER_MAX, its other entries
    join it; entries without main-chat lines (a join) ask nothing. Every line is shown
    once, in the stream's order."""
    chat, node, engine = cluster
    clock = FakeClock(1000.0)
    loop = node.loop
    loop.timers = Timers(clock=clock)
    loop.broadcast_cost = 0.006  # the last flush of the broadcasts took 6 ms (500 members)
    holds: list[float] = []
    loop.hold_broadcasts = holds.append
    a = chat.login("user1", "123")
    seq = iter(range(1, 100))

    def line(text: str) -> Entry:
        return remote_entry(next(seq), ["all", None, encode_event(Message("bob", text))])

    node._on_entries(xread(line("lone")))
    assert holds == [0.0]  # nothing came in a cluster yet: at the end of this pass
    node._on_entries(xread(remote_entry(next(seq), ["join", "b#1/8", 43, "registered", "cid", False])))
    assert holds == [0.0]  # no line (cid's session, announced by its own record): nothing asked
    clock.advance(0.5)
    node._on_entries(xread(line("b1"), line("b2")))  # a burst written by two nodes, read at once
    assert holds[-2:] == [0.0, 0.0]
    loop.broadcast_flushes += 1
    clock.advance(0.5)
    node._on_entries(xread(line("c1")))  # the next burst's first entry waits for the rest
    assert holds[-1] == clock() + LINGER_MAX
    clock.advance(0.0008)
    node._on_entries(xread(line("c2")))  # and the other node's entry joins it
    assert holds[-1] == clock() - 0.0008 + LINGER_MAX
    loop.broadcast_flushes += 1
    clock.advance(LINGER_MEMORY + 0.1)
    node._on_entries(xread(line("late")))  # bursts long ago: a lone line goes at once
    assert holds[-1] == 0.0
    assert a.lines(6) == ["bob: lone", "bob: b1", "bob: b2", "bob: c1", "bob: c2", "bob: late"]
    a.expect_silence()
