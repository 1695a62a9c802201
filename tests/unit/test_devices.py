"""Several sessions per account and ignore lists in the core (pollchat.core.hub,
pollchat.core.roster, pollchat.core.ignores, pollchat.core.moderation).

Examples: a second device is refused with seed 004's line at the default limit and with
its own line past a higher one; it takes no seat and nobody is told; an account's lines,
private messages (both directions), mentions and group lines reach every session;
``has left`` goes out with the last session; ``/who`` lists an account once; a kick ends
every session; typing hints are not shown to the typist's other devices. Ignore: chat,
actions, private messages, mentions, typing and group lines of an ignored account are
left out, the sender is not told, the list is loaded at login and dropped at the last
logout, history replay drops the ignored sender's records.

Hypothesis: a state machine logs several devices of a few accounts in and out, has
them chat, write privately, type and ignore one another, and checks against a model
that every line reaches exactly the sessions it should, that seats count accounts, that
``has entered`` / ``has left`` go out once per account, and that the join and leave
effects keep a server's broadcast list equal to the roster.
"""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pollchat.core.accounts import Account, AccountDirectory
from pollchat.core.effects import Delivery, Effect, JoinedEveryone, LeftEveryone, ToEveryone, ToGroup
from pollchat.core.group_chat import GroupChat
from pollchat.core.groups import GroupLimits, Groups
from pollchat.core.history import HistoryRecord, RecordKind
from pollchat.core.hub import Admission, Hub
from pollchat.core.moderation import Moderation
from pollchat.core.seats import AccountKind, SeatBudget
from pollchat.protocol.events import (
    Emote,
    Entered,
    Error,
    Left,
    Mention,
    Message,
    Notice,
    PrivateMessage,
    Typing,
    Welcome,
)
from pollchat.texts import ErrorCode, NoticeCode
from tests.unit.test_group_state import FakeGroupStore
from tests.unit.test_hub import FakeClock, MemoryAccounts, quick_hash_cached

PRE = AccountKind.PRECONFIGURED
NAMES = ("ann", "bob", "cy")


class MemoryIgnores:
    """An IgnoreStore in a dict, with the store's contract: pairs kept once, in the
    order added; names listed only for accounts that exist."""

    def __init__(self, names: dict[int, str]) -> None:
        self.pairs: dict[tuple[int, int], float] = {}
        self.names = names

    def ignored_ids(self, account_id: int) -> list[int]:
        return [b for (a, b) in self.pairs if a == account_id]

    def ignored_names(self, account_id: int) -> list[str]:
        return [self.names[b] for b in self.ignored_ids(account_id) if b in self.names]

    def add_ignore(self, account_id: int, ignored_id: int, now: float) -> None:
        self.pairs.setdefault((account_id, ignored_id), now)

    def remove_ignore(self, account_id: int, ignored_id: int) -> None:
        self.pairs.pop((account_id, ignored_id), None)


class Conn:
    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return f"<{self.label}>"


def make_hub(sessions: int = 3, max_users: int = 3) -> tuple[Hub[object], MemoryIgnores]:
    accounts = [Account(name, quick_hash_cached("pw"), PRE, id=i) for i, name in enumerate(NAMES, 1)]
    store = MemoryIgnores({a.id: a.name for a in accounts})
    hub: Hub[object] = Hub(
        AccountDirectory(accounts, MemoryAccounts()),
        SeatBudget(max_users, len(accounts)),
        clock=FakeClock(),
        sessions_per_account=sessions,
        ignores=store,
    )
    return hub, store


def login(hub: Hub[object], handle: object, name: str) -> Admission[object]:
    return hub.login(handle, hub.accounts.find(name), True)


def device(hub: Hub[object], name: str, label: str = "") -> Conn:
    handle = Conn(label or name)
    assert login(hub, handle, name).refusal is None
    return handle


def sends(effects: Iterable[Effect[object]]) -> list[Delivery[object] | ToEveryone[object] | ToGroup[object]]:
    return [e for e in effects if isinstance(e, (Delivery, ToEveryone, ToGroup))]


def receivers(effects: Iterable[Effect[object]], kind: type) -> dict[object, list[object]]:
    """handle -> the events of ``kind`` it receives."""
    got: dict[object, list[object]] = {}
    for effect in sends(effects):
        if isinstance(effect.event, kind):
            for target in effect.targets:
                got.setdefault(target, []).append(effect.event)
    return got


# --- several devices ---------------------------------------------------------------------------


def test_the_default_limit_keeps_seed_004s_refusal() -> None:
    hub, _ = make_hub(sessions=1)
    device(hub, "ann")
    assert login(hub, Conn("phone"), "ANN") == Admission(ErrorCode.ALREADY_ONLINE)


def test_past_the_limit_a_session_is_refused_with_the_limit_named() -> None:
    hub, _ = make_hub(sessions=2)
    device(hub, "ann", "laptop")
    device(hub, "ann", "phone")
    refused = login(hub, Conn("tablet"), "ann")
    assert refused.refusal is ErrorCode.TOO_MANY_SESSIONS and refused.detail == {"limit": 2}
    assert Error.of(refused.refusal, **refused.detail).text.startswith("this account is logged in on 2 devices already")


def test_a_second_device_takes_no_seat_and_nobody_is_told() -> None:
    hub, _ = make_hub(max_users=3)
    laptop, bob = device(hub, "ann", "laptop"), device(hub, "bob")
    phone = Conn("phone")
    admission = login(hub, phone, "ann")
    assert admission.deliveries == (JoinedEveryone(phone), Delivery((phone,), Welcome("ann", ("ann", "bob"))))
    assert hub.budget.total_online == 2
    assert hub.online_names() == ("ann", "bob")
    who = hub.who_list()
    assert [entry.name for entry in who.users] == ["ann", "bob"]
    assert set(hub.everyone()) == {laptop, bob, phone}


def test_the_left_notice_goes_out_with_the_last_session_and_frees_the_seat() -> None:
    hub, _ = make_hub()
    laptop, bob, phone = device(hub, "ann", "laptop"), device(hub, "bob"), device(hub, "ann", "phone")
    assert hub.leave(laptop) == [LeftEveryone(laptop)]
    assert hub.budget.total_online == 2 and hub.online("ann") is not None
    assert hub.online("ann").handle is phone  # the other device took its place
    assert hub.leave(phone) == [LeftEveryone(phone), ToEveryone((bob,), Left("ann"))]
    assert hub.budget.total_online == 1 and hub.online("ann") is None


def test_an_accounts_lines_reach_its_other_devices_and_everyone_else() -> None:
    hub, _ = make_hub()
    laptop, bob, phone = device(hub, "ann", "laptop"), device(hub, "bob"), device(hub, "ann", "phone")
    [line] = hub.chat(laptop, "hi")
    assert line == ToEveryone((bob, phone), Message("ann", "hi"))


def test_private_messages_reach_every_device_in_both_directions() -> None:
    hub, _ = make_hub()
    laptop, bob, phone = device(hub, "ann", "laptop"), device(hub, "bob"), device(hub, "ann", "phone")
    bob_phone = device(hub, "bob", "bob-phone")
    effects = hub.private(laptop, "bob", "psst")
    assert Delivery((bob, bob_phone), PrivateMessage("ann", "bob", "psst")) in effects
    assert Delivery((laptop, phone), PrivateMessage("ann", "bob", "psst", outgoing=True)) in effects
    back = hub.private(bob_phone, "ann", "yes?")
    assert Delivery((laptop, phone), PrivateMessage("bob", "ann", "yes?")) in back
    assert Delivery((bob_phone, bob), PrivateMessage("bob", "ann", "yes?", outgoing=True)) in back
    assert hub.private(phone, "ANN", "me")[0].event == Error.of(ErrorCode.MESSAGE_TO_SELF)


def test_mentions_reach_every_device_but_never_the_sender_account() -> None:
    hub, _ = make_hub()
    laptop, bob, phone = device(hub, "ann", "laptop"), device(hub, "bob"), device(hub, "ann", "phone")
    got = receivers(hub.chat(bob, "@ann look"), Mention)
    assert set(got) == {laptop, phone}
    assert receivers(hub.chat(phone, "@ann me"), Mention) == {}


def test_typing_is_per_account_not_shown_to_the_typists_other_devices() -> None:
    hub, _ = make_hub()
    laptop, bob, phone = device(hub, "ann", "laptop"), device(hub, "bob"), device(hub, "ann", "phone")
    [hint] = hub.typing(laptop, True)
    assert tuple(hint.targets) == (bob,)
    [private] = hub.typing(bob, True, "ann")
    assert private == Delivery((laptop, phone), Typing("bob", True, private=True))


def test_a_status_is_the_accounts_on_every_device() -> None:
    from pollchat.core.presence import Status

    hub, _ = make_hub()
    laptop, _bob, phone = device(hub, "ann", "laptop"), device(hub, "bob"), device(hub, "ann", "phone")
    hub.set_status(laptop, Status.AWAY, "lunch")
    assert hub.session_of(phone).presence.status is Status.AWAY
    assert len(hub.who_list().users) == 2


def test_a_kick_ends_every_session_and_tells_the_others_once() -> None:
    hub, _ = make_hub()
    laptop, bob, phone = device(hub, "ann", "laptop"), device(hub, "bob"), device(hub, "ann", "phone")
    outcome = Moderation(hub).kick("bob", "ann", actor_is_account=False)
    assert set(outcome.disconnect) == {laptop, phone}
    lefts = [e for e in outcome.deliveries if isinstance(e, ToEveryone) and isinstance(e.event, Left)]
    assert len(lefts) == 1 and tuple(lefts[0].targets) == (bob,)
    assert hub.online("ann") is None and hub.budget.total_online == 1


def test_unregistering_ends_every_session() -> None:
    hub, _ = make_hub(max_users=4)
    account = hub.accounts.register("dora", quick_hash_cached("pw"))
    assert account is not None
    first, second = Conn("d1"), Conn("d2")
    assert hub.login(first, account, True).refusal is None
    assert hub.login(second, account, True).refusal is None
    effects = hub.unregister(second)
    assert {e.handle for e in effects if isinstance(e, LeftEveryone)} == {first, second}
    assert hub.online("dora") is None


def test_group_lines_reach_the_senders_other_devices() -> None:
    hub, store = make_hub()
    groups = GroupChat(hub, Groups(FakeGroupStore({1: "ann", 2: "bob", 3: "cy"}), GroupLimits()))  # type: ignore[arg-type]
    laptop, bob, phone = device(hub, "ann", "laptop"), device(hub, "bob"), device(hub, "ann", "phone")
    groups.create(laptop, "#fam")
    groups.join(bob, "#fam")
    [line] = [e for e in groups.message(laptop, "#fam", "hello") if isinstance(e, ToGroup)]
    assert set(line.targets) == {bob, phone}


# --- ignore --------------------------------------------------------------------------------------


def test_ignore_leaves_the_ignorer_out_of_chat_lines_and_actions() -> None:
    hub, store = make_hub()
    ann, bob, cy = device(hub, "ann"), device(hub, "bob"), device(hub, "cy")
    assert hub.ignore(ann, "BOB") == [Delivery((ann,), Notice.of(NoticeCode.IGNORED, name="bob"))]
    assert store.pairs.keys() == {(1, 2)}
    [line] = hub.chat(bob, "hi")
    assert tuple(line.targets) == (cy,)
    [action] = hub.action(bob, "waves")
    assert tuple(action.targets) == (cy,) and action.event == Emote("bob", "waves")
    [from_cy] = hub.chat(cy, "hey")
    assert tuple(from_cy.targets) == (ann, bob)


def test_an_ignored_accounts_private_message_looks_delivered_to_its_sender() -> None:
    hub, _ = make_hub()
    ann, bob = device(hub, "ann"), device(hub, "bob")
    hub.ignore(ann, "bob")
    effects = hub.private(bob, "ann", "psst")
    assert effects == [Delivery((bob,), PrivateMessage("bob", "ann", "psst", outgoing=True))]
    assert hub.history.records[-1].recipient_id == 1  # kept like any other
    assert hub.typing(bob, True, "ann") == []
    assert receivers(hub.chat(bob, "@ann hi"), Mention) == {}
    assert Delivery((bob,), PrivateMessage("ann", "bob", "still here")) in hub.private(ann, "bob", "still here")


def test_ignore_reaches_every_device_of_the_ignorer() -> None:
    hub, _ = make_hub()
    laptop, bob, phone, cy = device(hub, "ann", "l"), device(hub, "bob"), device(hub, "ann", "p"), device(hub, "cy")
    assert hub.ignore(phone, "bob") == [Delivery((laptop, phone), Notice.of(NoticeCode.IGNORED, name="bob"))]
    [line] = hub.chat(bob, "hi")
    assert tuple(line.targets) == (cy,)
    [hint] = hub.typing(bob, True)
    assert tuple(hint.targets) == (cy,)


def test_ignoring_oneself_an_unknown_name_twice_and_unignoring() -> None:
    hub, store = make_hub()
    ann, _bob = device(hub, "ann"), device(hub, "bob")
    assert hub.ignore(ann, "Ann") == [Delivery((ann,), Error.of(ErrorCode.IGNORE_SELF))]
    assert hub.ignore(ann, "nobody") == [Delivery((ann,), Error.of(ErrorCode.NO_SUCH_USER, name="nobody"))]
    assert hub.ignore(ann) == [Delivery((ann,), Notice.of(NoticeCode.IGNORE_NONE))]
    hub.ignore(ann, "bob")
    hub.ignore(ann, "cy")  # offline: fine
    assert hub.ignore(ann, "bob") == [Delivery((ann,), Notice.of(NoticeCode.ALREADY_IGNORED, name="bob"))]
    assert hub.ignore(ann) == [Delivery((ann,), Notice.of(NoticeCode.IGNORE_LIST, names="bob, cy"))]
    assert hub.unignore(ann, "BOB") == [Delivery((ann,), Notice.of(NoticeCode.UNIGNORED, name="bob"))]
    assert hub.unignore(ann, "bob") == [Delivery((ann,), Error.of(ErrorCode.NOT_IGNORED, name="bob"))]
    assert hub.unignore(ann, "nobody") == [Delivery((ann,), Error.of(ErrorCode.NO_SUCH_USER, name="nobody"))]
    assert store.pairs.keys() == {(1, 3)}


def test_the_list_is_loaded_at_login_and_dropped_at_the_last_logout() -> None:
    hub, store = make_hub()
    store.add_ignore(1, 2, 0.0)
    bob, cy = device(hub, "bob"), device(hub, "cy")
    assert hub.ignores.ignorers(2) == set()
    ann = device(hub, "ann")
    assert hub.ignores.ignorers(2) == {1}
    assert tuple(hub.chat(bob, "hi")[0].targets) == (cy,)
    hub.leave(ann)
    assert hub.ignores.ignorers(2) == set() and hub.ignores.of(1) == set()


def test_history_replay_leaves_out_the_ignored_senders_records() -> None:
    hub, _ = make_hub()
    ann = device(hub, "ann")
    records = [
        HistoryRecord(1.0, RecordKind.CHAT, 2, "bob", "hi"),
        HistoryRecord(2.0, RecordKind.CHAT, 3, "cy", "hey"),
        HistoryRecord(3.0, RecordKind.PRIVATE, 2, "bob", "psst", 1, "ann"),
    ]
    assert hub.unignored(records, 1) is records  # nobody ignored: the same list
    hub.ignore(ann, "bob")
    assert hub.unignored(records, 1) == [records[1]]


def test_group_lines_of_an_ignored_member_skip_the_ignorer() -> None:
    hub, _ = make_hub()
    groups = GroupChat(hub, Groups(FakeGroupStore({1: "ann", 2: "bob", 3: "cy"}), GroupLimits()))  # type: ignore[arg-type]
    ann, bob, cy = device(hub, "ann"), device(hub, "bob"), device(hub, "cy")
    groups.create(bob, "#fam")
    groups.join(ann, "#fam")
    groups.join(cy, "#fam")
    hub.ignore(ann, "bob")
    [line] = [e for e in groups.message(bob, "#fam", "hello") if isinstance(e, ToGroup)]
    assert set(line.targets) == {cy} and ann in line.members  # the members tuple stays shared
    [hint] = groups.typing(bob, True, "#fam")
    assert set(hint.targets) == {cy}


def test_a_guests_ignores_live_in_memory() -> None:
    hub, store = make_hub(max_users=3)
    hub2 = hub
    bob = device(hub2, "bob")
    guest = Conn("g")
    hub2.budget.max_users = 4  # room for the guest's registered seat
    assert hub2.guest(guest, "visitor").refusal is None
    hub2.ignore(guest, "bob")
    assert hub2.ignore(guest) == [Delivery((guest,), Notice.of(NoticeCode.IGNORE_LIST, names="bob"))]
    assert store.pairs == {}
    hub2.ignore(bob, "visitor")
    assert store.pairs == {} and hub2.ignores.ignores(2, hub2.session_of(guest).account.id)


# --- the state machine ---------------------------------------------------------------------------


class DevicesMachine(RuleBasedStateMachine):
    """Devices of three accounts logging in and out, chatting, writing privately,
    typing and ignoring one another, against a model."""

    @initialize(sessions=st.integers(1, 3))
    def setup(self, sessions: int) -> None:
        self.limit = sessions
        self.hub, self.store = make_hub(sessions=sessions, max_users=3)
        self.handles = [Conn(f"h{i}") for i in range(6)]
        self.online: dict[Conn, str] = {}  # login order
        self.joined: dict[Conn, None] = {}
        self.ignoring: set[tuple[str, str]] = set()  # (who, whom), kept by the store

    def _sessions(self, name: str) -> list[Conn]:
        return [h for h, n in self.online.items() if n == name]

    def _ignored_by(self, sender: str) -> set[Conn]:
        return {h for h, n in self.online.items() if (n, sender) in self.ignoring}

    def _apply(self, effects: Iterable[Effect[object]]) -> None:
        effects = list(effects)
        for effect in effects:
            if isinstance(effect, JoinedEveryone):
                assert effect.handle not in self.joined
                self.joined[effect.handle] = None
            elif isinstance(effect, LeftEveryone):
                del self.joined[effect.handle]
        for effect in sends(effects):
            targets = list(effect.targets)
            assert len(set(targets)) == len(targets)

    @rule(h=st.integers(0, 5), name=st.sampled_from(NAMES))
    def login(self, h: int, name: str) -> None:
        handle = self.handles[h]
        if handle in self.online:
            return
        already = self._sessions(name)
        admission = login(self.hub, handle, name)
        if len(already) >= self.limit:
            expected = ErrorCode.ALREADY_ONLINE if self.limit == 1 else ErrorCode.TOO_MANY_SESSIONS
            assert admission.refusal is expected and admission.deliveries == ()
            return
        assert admission.refusal is None
        others = [h for h in self.online]
        self.online[handle] = name
        entered = [e for e in admission.deliveries if isinstance(e, ToEveryone) and isinstance(e.event, Entered)]
        if already:
            assert entered == []
        else:
            assert [tuple(e.targets) for e in entered] == [tuple(others)]
        self._apply(admission.deliveries)

    @rule(h=st.integers(0, 5))
    def logout(self, h: int) -> None:
        handle = self.handles[h]
        effects = self.hub.leave(handle)
        if handle not in self.online:
            assert effects == []
            return
        name = self.online.pop(handle)
        left = [e for e in effects if isinstance(e, ToEveryone)]
        if self._sessions(name):
            assert left == []
        else:
            assert [(tuple(e.targets), e.event) for e in left] == [(tuple(self.online), Left(name))]
        self._apply(effects)

    @rule(h=st.integers(0, 5))
    def chat(self, h: int) -> None:
        handle = self.handles[h]
        effects = self.hub.chat(handle, "hi")
        if handle not in self.online:
            assert effects == []
            return
        sender = self.online[handle]
        expected = [c for c in self.online if c is not handle and c not in self._ignored_by(sender)]
        [line] = effects
        assert list(line.targets) == expected
        self._apply(effects)

    @rule(h=st.integers(0, 5), to=st.sampled_from(NAMES))
    def private(self, h: int, to: str) -> None:
        handle = self.handles[h]
        effects = self.hub.private(handle, to, "psst")
        if handle not in self.online:
            assert effects == []
            return
        sender = self.online[handle]
        if sender == to:
            return
        got = receivers(effects, PrivateMessage)
        incoming = {c for c, events in got.items() if any(not e.outgoing for e in events)}
        echoed = {c for c, events in got.items() if any(e.outgoing for e in events)}
        assert echoed == set(self._sessions(sender))
        if (to, sender) in self.ignoring:
            assert incoming == set()
        else:
            assert incoming == set(self._sessions(to))
        self._apply(effects)

    @rule(h=st.integers(0, 5))
    def typing(self, h: int) -> None:
        handle = self.handles[h]
        effects = self.hub.typing(handle, True)
        if handle not in self.online:
            return
        sender = self.online[handle]
        [hint] = effects
        assert set(hint.targets) == {c for c, n in self.online.items() if n != sender} - self._ignored_by(sender)

    @rule(h=st.integers(0, 5), whom=st.sampled_from(NAMES), undo=st.booleans())
    def ignore(self, h: int, whom: str, undo: bool) -> None:
        handle = self.handles[h]
        if handle not in self.online:
            return
        who = self.online[handle]
        if who == whom:
            return
        if undo:
            self.hub.unignore(handle, whom)
            self.ignoring.discard((who, whom))
        else:
            self.hub.ignore(handle, whom)
            self.ignoring.add((who, whom))

    @invariant()
    def seats_count_accounts(self) -> None:
        assert self.hub.budget.total_online == len(set(self.online.values()))
        assert sorted(self.hub.online_names()) == sorted(set(self.online.values()))

    @invariant()
    def the_broadcast_list_follows_the_roster(self) -> None:
        assert list(self.joined) == list(self.online) == list(self.hub.everyone())

    @invariant()
    def the_store_holds_the_model(self) -> None:
        ids = {name: i for i, name in enumerate(NAMES, 1)}
        assert set(self.store.pairs) == {(ids[a], ids[b]) for a, b in self.ignoring}


TestDevicesMachine = DevicesMachine.TestCase


def test_refresh_reads_an_online_account_s_list_again_and_keeps_its_guests() -> None:
    """Another node of a cluster changed the stored list: ``refresh`` follows it (who
    ignores whom both ways), keeps the in-memory entries for guests, and leaves an
    account that is offline here alone."""
    from pollchat.core.ignores import Ignores

    store = MemoryIgnores({1: "ann", 2: "bob", 3: "cy"})
    ignores = Ignores(store)
    ignores.load(1)
    ignores.add(1, 2, "bob", 0.0)
    ignores.add(1, -5, "guest5", 0.0)  # a guest: in memory only
    store.remove_ignore(1, 2)  # elsewhere
    store.add_ignore(1, 3, 1.0)
    store.add_ignore(7, 2, 1.0)  # an account offline here
    ignores.refresh(1)
    ignores.refresh(7)
    assert ignores.of(1) == {3, -5}
    assert ignores.ignorers(2) == set() and ignores.ignorers(3) == {1} and ignores.ignorers(-5) == {1}
    assert ignores.of(7) == set()


def test_receipts_reload_follows_the_store() -> None:
    from pollchat.core.receipts import ReceiptList, Receipts

    store = ReceiptList()
    receipts = Receipts(store)
    store.set_receipts(4, False)  # elsewhere
    assert receipts.enabled(4)
    receipts.reload()
    assert not receipts.enabled(4)
