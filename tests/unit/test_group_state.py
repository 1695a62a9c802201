"""Group membership as a hypothesis state machine (pollchat.core.group_chat, .groups).

Four accounts log in and out; they create (public or private), join, ask to join,
accept, reject, leave, kick, ban, unban, rename, delete groups, set topics, focus
groups and send group lines. A plain model says what each command should do; after
every step the machine checks:

* each command returns an :class:`Error` to the asker exactly when the model says it is
  invalid (and the right code), and nothing at all for a session that is not logged in;
* only members receive group messages: a ``Message``/``Emote`` with ``group`` set goes
  to every online member but the sender and to nobody else; mentions in a group reach
  only online members named in the line;
* the owner is always a member; banned accounts are neither members nor requesters;
* membership (joining order), owner, bans, requests and topics equal the model's;
* the changes kept for offline accounts are told at their next login (``welcome``);
* reloading :class:`Groups` from the store gives the same state: with an in-memory fake
  store (fast, many examples) and with the real SQLite :class:`Database` (fewer).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pollchat.core.accounts import Account, AccountDirectory
from pollchat.core.effects import Delivery
from pollchat.core.group_chat import GroupChat
from pollchat.core.groups import (
    Group,
    GroupLimits,
    Groups,
    Member,
    PendingChange,
    Visibility,
)
from pollchat.core.hub import Hub
from pollchat.core.seats import AccountKind, SeatBudget
from pollchat.protocol.events import Emote, Error, GroupEvent, Mention, Message, Notice
from pollchat.protocol.names import name_key
from pollchat.store.database import Database
from pollchat.texts import ErrorCode, GroupChange, NoticeCode
from tests.unit.test_hub import Conn, FakeClock, MemoryAccounts

NAMES = ("ann", "bob", "cat", "dan")
IDS = {"ann": 4, "bob": 2, "cat": 3, "dan": 1}  # not in name order: joining order is what counts
GHOST = "zed"  # no such account
GROUP_NAMES = ("tea", "Tea", "bar", "café")
LIMITS = GroupLimits(groups_per_owner=2, members_per_group=3, requests_per_group=2)

accounts_st = st.sampled_from(NAMES)
groups_st = st.sampled_from(GROUP_NAMES)


class FakeGroupStore:
    """A :class:`~pollchat.core.groups.GroupStore` in dicts, with the SQLite store's
    contract: ids never reused, deleted rows kept, members reloaded in joining order
    (time, then account id), current account names, at most 100 kept changes each."""

    @dataclass
    class Row:
        name: str
        visibility: str
        owner_id: int
        topic: str = ""
        deleted: float | None = None
        members: dict[int, float] = field(default_factory=dict)
        bans: set[int] = field(default_factory=set)
        requests: dict[int, float] = field(default_factory=dict)

    def __init__(self, names: dict[int, str]) -> None:
        self.names = names
        self.rows: dict[int, FakeGroupStore.Row] = {}
        self.changes: dict[int, list[PendingChange]] = {}
        self._next_id = 1

    def _live(self, group_id: int) -> FakeGroupStore.Row:
        row = self.rows[group_id]
        assert row.deleted is None, f"write to deleted group {group_id}"
        return row

    def _check_free(self, name: str, group_id: int | None) -> None:
        key = name_key(name)
        for other_id, row in self.rows.items():
            assert not (row.deleted is None and other_id != group_id and name_key(row.name) == key), "live name taken"

    def load_groups(self) -> list[Group]:
        groups = []
        for group_id, row in sorted(self.rows.items()):
            if row.deleted is not None:
                continue
            group = Group(group_id, row.name, Visibility(row.visibility), row.owner_id, row.topic)
            for account_id, since in sorted(row.members.items(), key=lambda item: (item[1], item[0])):
                group.members[account_id] = Member(account_id, self.names[account_id], since)
            for account_id, since in sorted(row.requests.items(), key=lambda item: (item[1], item[0])):
                group.requests[account_id] = Member(account_id, self.names[account_id], since)
            group.bans = set(row.bans)
            groups.append(group)
        return groups

    def create_group(self, name: str, visibility: str, owner_id: int, now: float) -> int:
        self._check_free(name, None)
        group_id = self._next_id
        self._next_id += 1
        self.rows[group_id] = self.Row(name, visibility, owner_id, members={owner_id: now})
        return group_id

    def add_member(self, group_id: int, account_id: int, now: float) -> None:
        row = self._live(group_id)
        row.requests.pop(account_id, None)
        row.members.setdefault(account_id, now)

    def remove_member(self, group_id: int, account_id: int, new_owner_id: int | None) -> None:
        row = self._live(group_id)
        row.members.pop(account_id, None)
        if new_owner_id is not None:
            row.owner_id = new_owner_id

    def delete_group(self, group_id: int, now: float) -> None:
        row = self._live(group_id)
        row.deleted = now
        row.members.clear()
        row.bans.clear()
        row.requests.clear()

    def rename_group(self, group_id: int, name: str) -> None:
        self._check_free(name, group_id)
        self._live(group_id).name = name

    def set_topic(self, group_id: int, topic: str) -> None:
        self._live(group_id).topic = topic

    def add_group_ban(self, group_id: int, account_id: int, by: str, now: float) -> None:
        row = self._live(group_id)
        row.members.pop(account_id, None)
        row.requests.pop(account_id, None)
        row.bans.add(account_id)

    def remove_group_ban(self, group_id: int, account_id: int) -> None:
        self._live(group_id).bans.discard(account_id)

    def add_request(self, group_id: int, account_id: int, now: float) -> None:
        self._live(group_id).requests.setdefault(account_id, now)

    def remove_request(self, group_id: int, account_id: int) -> None:
        self._live(group_id).requests.pop(account_id, None)

    def queue_change(self, account_id: int, change: PendingChange) -> None:
        kept = self.changes.setdefault(account_id, [])
        kept.append(change)
        del kept[:-100]

    def take_changes(self, account_id: int) -> list[PendingChange]:
        return self.changes.pop(account_id, [])

    def forget_account(self, account_id: int) -> None:
        self.changes.pop(account_id, None)
        for row in self.rows.values():
            row.requests.pop(account_id, None)


@dataclass
class ModelGroup:
    name: str
    private: bool
    owner: str
    members: list[str]  # joining order
    bans: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)  # oldest first
    topic: str = ""


def snapshot(groups: Groups) -> list[tuple]:
    """Everything a reload must keep, per live group, by id."""
    return sorted(
        (g.id, g.name, g.visibility, g.owner_id, g.topic, list(g.members.values()), sorted(g.bans), list(g.requests.values()))
        for g in groups
    )


class GroupMachine(RuleBasedStateMachine):
    """Random group commands against a model (see the module docstring)."""

    def make_store(self, accounts: list[Account]) -> tuple[object, list[Account]]:
        """The store to use and the accounts with their ids."""
        accounts = [Account(a.name, a.password_hash, a.kind, IDS[a.name]) for a in accounts]
        return FakeGroupStore({a.id: a.name for a in accounts}), accounts

    def __init__(self) -> None:
        super().__init__()
        plain = [Account(name, "hash-" + name, AccountKind.PRECONFIGURED) for name in NAMES]
        self.store, accounts = self.make_store(plain)
        self.account = {a.name: a for a in accounts}
        self.clock = FakeClock()
        self.hub: Hub[Conn] = Hub(
            AccountDirectory(accounts, MemoryAccounts()), SeatBudget(len(NAMES), len(NAMES)), clock=self.clock
        )
        self.groups = Groups(self.store, LIMITS)  # type: ignore[arg-type]
        self.chat: GroupChat[Conn] = GroupChat(self.hub, self.groups)
        self.handles: dict[str, Conn] = {}
        self.focus: dict[str, str | None] = {}  # online name -> focused group key
        self.model: dict[str, ModelGroup] = {}  # group key -> group
        self.pending: dict[str, list[tuple[GroupChange, str, str, str]]] = {name: [] for name in NAMES}

    # --- helpers --------------------------------------------------------------------------------

    def pick(self, data: st.DataObject, likely: list[str], anything: tuple[str, ...], label: str) -> str:
        """Mostly one of ``likely`` (when there is any), so that commands often succeed;
        sometimes anything at all, so that every refusal is tried too."""
        if likely and data.draw(st.integers(0, 9), label=f"{label} likely?") < 8:
            online = [name for name in likely if name in self.handles]
            return data.draw(st.sampled_from(online or likely), label=label)
        return data.draw(st.sampled_from(anything), label=label)

    def pick_group(self, data: st.DataObject, prefer: Callable[[ModelGroup], bool] = bool) -> str:
        """A group name: mostly an existing group's (in some spelling), of those that
        ``prefer`` picks if there are any."""
        groups = [g for g in self.model.values() if prefer(g)] or list(self.model.values())
        names = [spelling for g in groups for spelling in (g.name, g.name.upper())]
        return self.pick(data, names, GROUP_NAMES, "group")

    def pick_member(self, data: st.DataObject, name: str) -> str:
        """Mostly a member of the group ``name`` if it exists, else anyone."""
        group = self.model.get(name_key(name))
        return self.pick(data, group.members if group else [], NAMES, "actor")

    def pick_actor(self, data: st.DataObject, name: str) -> str:
        """Mostly the owner of the group ``name`` if it exists, else anyone."""
        group = self.model.get(name_key(name))
        return self.pick(data, [group.owner] if group else [], NAMES, "actor")


    def tick(self) -> None:
        self.clock.advance(1.0)

    def handle(self, name: str) -> Conn:
        """The name's handle if online, else a fresh handle that is not logged in."""
        return self.handles.get(name) or Conn(f"offline-{name}")

    def online_members(self, group: ModelGroup, exclude: str | None = None) -> set[Conn]:
        return {self.handles[m] for m in group.members if m in self.handles and m != exclude}

    def expect(self, actor: str, deliveries: list[Delivery[Conn]], error: ErrorCode | None) -> bool:
        """Check the outcome against the model's verdict; True if the command succeeded.
        Every delivery goes to logged-in handles only, each at most once."""
        online = set(self.handles.values())
        for delivery in deliveries:
            assert set(delivery.targets) <= online, delivery
            assert len(set(delivery.targets)) == len(delivery.targets), delivery
        if actor not in self.handles:
            assert deliveries == [], deliveries
            return False
        errors = [d for d in deliveries if isinstance(d.event, Error)]
        if error is None:
            assert errors == [], errors
            return True
        assert len(deliveries) == 1, deliveries
        assert deliveries[0].targets == (self.handles[actor],)
        assert isinstance(deliveries[0].event, Error) and deliveries[0].event.code is error, deliveries
        return False

    def managed(self, actor: str, name: str) -> tuple[ModelGroup | None, ErrorCode | None]:
        group = self.model.get(name_key(name))
        if group is None:
            return None, ErrorCode.NO_SUCH_GROUP
        if group.owner != actor:
            return group, ErrorCode.NOT_GROUP_OWNER
        return group, None

    def queue(self, name: str, change: GroupChange, group: str, who: str, by: str) -> None:
        if name not in self.handles:
            self.pending[name].append((change, group, who, by))

    def unfocus(self, name: str, key: str) -> None:
        if self.focus.get(name) == key:
            self.focus[name] = None

    def check_group_lines(self, sender: str, deliveries: list[Delivery[Conn]], group: ModelGroup | None, text: str) -> None:
        """A line from ``sender`` to ``group`` (``None``: the main chat) reached exactly
        the right people; mentions only online members (of the group) named in it."""
        lines = [d for d in deliveries if isinstance(d.event, (Message, Emote))]
        assert len(lines) == 1, deliveries
        line = lines[0]
        assert line.event.sender == sender
        if group is None:
            assert line.event.group == ""
            expected = {h for n, h in self.handles.items() if n != sender}
            audience = set(self.handles)
        else:
            assert line.event.group == group.name
            expected = self.online_members(group, exclude=sender)
            audience = set(group.members)
        assert set(line.targets) == expected
        mentioned = {n for n in NAMES if f"@{n}" in text and n in self.handles and n in audience and n != sender}
        mentions = [d for d in deliveries if isinstance(d.event, Mention)]
        assert {t for d in mentions for t in d.targets} == {self.handles[n] for n in mentioned}
        assert all(d.event.group == (group.name if group else "") for d in mentions)
        assert len(deliveries) == 1 + len(mentions), deliveries

    # --- sessions ---------------------------------------------------------------------------------

    @initialize(
        names=st.sets(accounts_st, min_size=2),
        groups=st.lists(st.tuples(accounts_st, groups_st, st.sampled_from(("public", "private"))), min_size=1, max_size=3),
        joins=st.lists(st.tuples(accounts_st, groups_st), max_size=6),
    )
    def start(self, names: set[str], groups: list[tuple[str, str, str]], joins: list[tuple[str, str]]) -> None:
        for name in sorted(names):
            self.login(name)
        for actor, name, visibility in groups:
            self.create(actor, name, visibility)
        for actor, name in joins:
            self._join(actor, name)

    @rule(name=accounts_st)
    def login(self, name: str) -> None:
        self.tick()
        if name in self.handles:
            return
        handle = Conn(name)
        admission = self.hub.login(handle, self.account[name], True)
        assert admission.refusal is None
        self.handles[name] = handle
        self.focus[name] = None
        welcome = self.chat.welcome(handle)
        assert all(d.targets == (handle,) for d in welcome)
        expected: list[object] = [GroupEvent(g, change, who, by) for change, g, who, by in self.pending[name]]
        self.pending[name] = []
        mine = sorted((g for g in self.model.values() if name in g.members), key=lambda g: name_key(g.name))
        for group in mine:
            if group.owner == name:
                expected += [GroupEvent(group.name, GroupChange.REQUEST, r) for r in group.requests]
        if mine:
            expected.append(Notice.of(NoticeCode.YOUR_GROUPS, names=", ".join("#" + g.name for g in mine)))
        assert [d.event for d in welcome] == expected

    @rule(name=accounts_st, now=st.integers(0, 2))
    def logout(self, name: str, now: int) -> None:
        self.tick()
        if now or name not in self.handles or len(self.handles) == 1:  # rarer than logins
            return
        self.hub.leave(self.handles.pop(name))
        self.focus.pop(name)

    # --- creating, joining, leaving ------------------------------------------------------------------

    @rule(actor=accounts_st, name=groups_st, visibility=st.sampled_from(("public", "private", "PRIVATE", "secret")))
    def create(self, actor: str, name: str, visibility: str) -> None:
        self.tick()
        deliveries = self.chat.create(self.handle(actor), "#" + name, visibility)
        error = None
        if visibility not in ("public", "private", "PRIVATE"):
            error = ErrorCode.USAGE
        elif name_key(name) in self.model:
            error = ErrorCode.GROUP_EXISTS
        elif sum(g.owner == actor for g in self.model.values()) >= LIMITS.groups_per_owner:
            error = ErrorCode.TOO_MANY_GROUPS
        if self.expect(actor, deliveries, error):
            private = visibility.lower() == "private"
            self.model[name_key(name)] = ModelGroup(name, private, actor, [actor])
            text = "private" if private else "public"
            assert deliveries == [Delivery((self.handles[actor],), GroupEvent(name, GroupChange.CREATED, text=text))]

    @rule(data=st.data())
    def join(self, data: st.DataObject) -> None:
        name = self.pick_group(data, lambda g: len(g.members) < len(NAMES))
        group = self.model.get(name_key(name))
        self._join(self.pick(data, [n for n in NAMES if group and n not in group.members], NAMES, "actor"), name)

    def _join(self, actor: str, name: str) -> None:
        self.tick()
        deliveries = self.chat.join(self.handle(actor), name)
        group = self.model.get(name_key(name))
        error = None
        if group is None:
            error = ErrorCode.NO_SUCH_GROUP
        elif actor in group.members:
            error = ErrorCode.ALREADY_MEMBER
        elif actor in group.bans:
            error = ErrorCode.GROUP_BANNED
        elif not group.private and len(group.members) >= LIMITS.members_per_group:
            error = ErrorCode.GROUP_FULL
        elif group.private and actor in group.requests:
            error = ErrorCode.REQUEST_PENDING
        elif group.private and len(group.requests) >= LIMITS.requests_per_group:
            error = ErrorCode.TOO_MANY_REQUESTS
        if not self.expect(actor, deliveries, error):
            return
        assert group is not None
        if group.private:
            group.requests.append(actor)
            owner = {self.handles[group.owner]} if group.owner in self.handles else set()
            assert deliveries[0] == Delivery((self.handles[actor],), GroupEvent(group.name, GroupChange.REQUESTED))
            assert set(deliveries[1].targets) == owner
            assert deliveries[1].event == GroupEvent(group.name, GroupChange.REQUEST, actor)
        else:
            group.members.append(actor)
            assert set(deliveries[0].targets) == self.online_members(group)
            assert deliveries[0].event == GroupEvent(group.name, GroupChange.JOINED, actor)

    def _answer(self, data: st.DataObject, accept: bool) -> None:
        self.tick()
        name = self.pick_group(data, lambda g: bool(g.requests))
        actor = self.pick_actor(data, name)
        group = self.model.get(name_key(name))
        who = self.pick(data, group.requests if group else [], (*NAMES, GHOST), "who")
        command = self.chat.accept if accept else self.chat.reject
        deliveries = command(self.handle(actor), who, "#" + name)
        group, error = self.managed(actor, name)
        if error is None:
            assert group is not None
            if who == GHOST:
                error = ErrorCode.NO_SUCH_USER
            elif who not in group.requests:
                error = ErrorCode.NO_REQUEST
            elif accept and len(group.members) >= LIMITS.members_per_group:
                error = ErrorCode.GROUP_FULL
        if not self.expect(actor, deliveries, error):
            return
        assert group is not None
        group.requests.remove(who)
        told = [d for d in deliveries if d.event.change in (GroupChange.ACCEPTED, GroupChange.REJECTED)]
        change = GroupChange.ACCEPTED if accept else GroupChange.REJECTED
        if who in self.handles:
            assert told == [Delivery((self.handles[who],), GroupEvent(group.name, change, by=actor))]
        else:
            assert told == []
            self.queue(who, change, group.name, "", actor)
        if accept:
            group.members.append(who)
            joined = [d for d in deliveries if d.event.change is GroupChange.JOINED]
            assert len(joined) == 1 and set(joined[0].targets) == self.online_members(group)

    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        self._answer(data, accept=True)

    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        self._answer(data, accept=False)

    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        self.tick()
        name = self.pick_group(data)
        actor = self.pick_member(data, name)
        deliveries = self.chat.leave(self.handle(actor), "#" + name)
        key = name_key(name)
        group = self.model.get(key)
        error = None
        if group is None:
            error = ErrorCode.NO_SUCH_GROUP
        elif actor not in group.members:
            error = ErrorCode.NOT_MEMBER
        if not self.expect(actor, deliveries, error):
            return
        assert group is not None
        audience = self.online_members(group)
        group.members.remove(actor)
        changes = [d.event.change for d in deliveries if isinstance(d.event, GroupEvent)]
        assert deliveries[0] == Delivery(deliveries[0].targets, GroupEvent(group.name, GroupChange.LEFT, actor))
        assert set(deliveries[0].targets) == audience
        if group.owner == actor and not group.members:
            del self.model[key]
            disbanded = [d for d in deliveries if d.event == GroupEvent(group.name, GroupChange.DISBANDED)]
            assert set(disbanded[0].targets) == audience
            told = {target for d in disbanded[1:] for target in d.targets}  # the requesters online
            assert told == {self.handles[r] for r in group.requests if r in self.handles}
            assert set(changes) == {GroupChange.LEFT, GroupChange.DISBANDED}
            for requester in group.requests:
                self.queue(requester, GroupChange.DISBANDED, group.name, "", "")
        elif group.owner == actor:
            group.owner = group.members[0]  # the longest-standing member
            assert deliveries[1].event == GroupEvent(group.name, GroupChange.OWNER, group.owner)
            assert set(deliveries[1].targets) == audience  # the leaver learns who took over
            self.queue(group.owner, GroupChange.OWNER, group.name, group.owner, "")  # told at login
        else:
            assert changes == [GroupChange.LEFT]
        was_focused = self.focus[actor] == key
        self.unfocus(actor, key)
        notices = [d for d in deliveries if isinstance(d.event, Notice)]
        assert len(notices) == int(was_focused)

    # --- owner powers -------------------------------------------------------------------------------

    @rule(data=st.data())
    def kick(self, data: st.DataObject) -> None:
        self.tick()
        name = self.pick_group(data, lambda g: len(g.members) > 1)
        actor = self.pick_actor(data, name)
        group = self.model.get(name_key(name))
        who = self.pick(data, group.members[1:] if group else [], (*NAMES, GHOST), "who")
        deliveries = self.chat.kick(self.handle(actor), who, "#" + name)
        group, error = self.managed(actor, name)
        if error is None:
            assert group is not None
            if who == GHOST:
                error = ErrorCode.NO_SUCH_USER
            elif who == actor:
                error = ErrorCode.NOT_YOURSELF
            elif who == group.owner:
                error = ErrorCode.OWNER_PROTECTED
            elif who not in group.members:
                error = ErrorCode.NOT_A_MEMBER
        if not self.expect(actor, deliveries, error):
            return
        assert group is not None
        audience = self.online_members(group)
        group.members.remove(who)
        event = GroupEvent(group.name, GroupChange.KICKED, who, actor)
        assert deliveries[0].event == event and set(deliveries[0].targets) == audience
        self.queue(who, GroupChange.KICKED, group.name, who, actor)
        self.unfocus(who, name_key(name))

    @rule(data=st.data())
    def ban(self, data: st.DataObject) -> None:
        self.tick()
        name = self.pick_group(data)
        actor = self.pick_actor(data, name)
        group = self.model.get(name_key(name))
        who = self.pick(data, [*group.members[1:], *group.requests] if group else [], (*NAMES, GHOST), "who")
        deliveries = self.chat.ban(self.handle(actor), who, "#" + name)
        group, error = self.managed(actor, name)
        if error is None:
            assert group is not None
            if who == GHOST:
                error = ErrorCode.NO_SUCH_USER
            elif who == actor:
                error = ErrorCode.NOT_YOURSELF
            elif who == group.owner:
                error = ErrorCode.OWNER_PROTECTED
        if not self.expect(actor, deliveries, error):
            return
        assert group is not None
        audience = self.online_members(group) | ({self.handles[who]} if who in self.handles else set())
        if who in group.members:
            group.members.remove(who)
        if who in group.requests:
            group.requests.remove(who)
        group.bans.add(who)
        assert deliveries[0].event == GroupEvent(group.name, GroupChange.BANNED, who, actor)
        assert set(deliveries[0].targets) == audience
        self.queue(who, GroupChange.BANNED, group.name, who, actor)
        self.unfocus(who, name_key(name))

    @rule(data=st.data())
    def unban(self, data: st.DataObject) -> None:
        self.tick()
        name = self.pick_group(data, lambda g: bool(g.bans))
        actor = self.pick_actor(data, name)
        group = self.model.get(name_key(name))
        who = self.pick(data, sorted(group.bans) if group else [], (*NAMES, GHOST), "who")
        deliveries = self.chat.unban(self.handle(actor), who, "#" + name)
        group, error = self.managed(actor, name)
        if error is None:
            assert group is not None
            if who == GHOST:
                error = ErrorCode.NO_SUCH_USER
            elif who not in group.bans:
                error = ErrorCode.GROUP_NOT_BANNED
        if self.expect(actor, deliveries, error):
            assert group is not None
            group.bans.discard(who)

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        self.tick()
        name = self.pick_group(data)
        actor = self.pick_actor(data, name)
        deliveries = self.chat.delete(self.handle(actor), name)
        group, error = self.managed(actor, name)
        if not self.expect(actor, deliveries, error):
            return
        assert group is not None
        key = name_key(name)
        del self.model[key]
        assert deliveries[0].event == GroupEvent(group.name, GroupChange.DELETED, by=actor)
        assert set(deliveries[0].targets) == self.online_members(group)
        for member in group.members:
            self.queue(member, GroupChange.DELETED, group.name, "", actor)
            self.unfocus(member, key)
        for requester in group.requests:  # a request's outcome is always told
            self.queue(requester, GroupChange.DELETED, group.name, "", actor)
        told = {target for d in deliveries[1:] if isinstance(d.event, GroupEvent) for target in d.targets}
        assert told == {self.handles[r] for r in group.requests if r in self.handles}

    @rule(new=groups_st, data=st.data())
    def rename(self, new: str, data: st.DataObject) -> None:
        self.tick()
        old = self.pick_group(data)
        actor = self.pick_actor(data, old)
        deliveries = self.chat.rename(self.handle(actor), "#" + old, "#" + new)
        group, error = self.managed(actor, old)
        if error is None and name_key(new) in self.model and self.model[name_key(new)] is not group:
            error = ErrorCode.GROUP_EXISTS
        if error is None and group is not None and group.name == new:
            error = ErrorCode.SAME_GROUP_NAME
        if not self.expect(actor, deliveries, error):
            return
        assert group is not None
        old_name = group.name
        del self.model[name_key(old)]
        group.name = new
        self.model[name_key(new)] = group
        for name, key in self.focus.items():
            if key == name_key(old):
                self.focus[name] = name_key(new)
        assert deliveries == [
            Delivery(deliveries[0].targets, GroupEvent(old_name, GroupChange.RENAMED, by=actor, text=new))
        ]
        assert set(deliveries[0].targets) == self.online_members(group)

    @rule(topic=st.sampled_from(("-", "tea at five", "ünïcode")), data=st.data())
    def set_topic(self, topic: str, data: st.DataObject) -> None:
        self.tick()
        name = self.pick_group(data)
        actor = self.pick_actor(data, name)
        deliveries = self.chat.topic(self.handle(actor), "#" + name, topic)
        group, error = self.managed(actor, name)
        if self.expect(actor, deliveries, error):
            assert group is not None
            group.topic = "" if topic == "-" else topic  # "/topic #g -" clears it

    # --- talking ------------------------------------------------------------------------------------

    @rule(data=st.data())
    def focus_group(self, data: st.DataObject) -> None:
        self.tick()
        name = self.pick_group(data)
        actor = self.pick_member(data, name)
        deliveries = self.chat.focus(self.handle(actor), "#" + name)
        group = self.model.get(name_key(name))
        error = None
        if group is None:
            error = ErrorCode.NO_SUCH_GROUP
        elif actor not in group.members:
            error = ErrorCode.NOT_MEMBER
        if self.expect(actor, deliveries, error):
            self.focus[actor] = name_key(name)

    @rule(actor=accounts_st)
    def focus_main(self, actor: str) -> None:
        deliveries = self.chat.focus(self.handle(actor), None)
        if self.expect(actor, deliveries, None):
            self.focus[actor] = None

    @rule(mention=st.sampled_from(("", *NAMES)), data=st.data())
    def say_to_group(self, mention: str, data: st.DataObject) -> None:
        self.tick()
        name = self.pick_group(data)
        actor = self.pick_member(data, name)
        text = f"hello @{mention}" if mention else "hello"
        deliveries = self.chat.say(self.handle(actor), f"#{name} {text}")
        group = self.model.get(name_key(name))
        if group is None:  # no such group: refused, never the focused group or the main chat
            if actor in self.handles:
                self.expect(actor, deliveries, ErrorCode.NOT_IN_GROUP_LINE)
            else:
                assert deliveries == []
            return
        error = None if actor in group.members else ErrorCode.NOT_MEMBER_LINE
        if self.expect(actor, deliveries, error):
            self.check_group_lines(actor, deliveries, group, text)

    @rule(actor=accounts_st, mention=st.sampled_from(("", *NAMES)), action=st.booleans())
    def say_plain(self, actor: str, mention: str, action: bool) -> None:
        self.tick()
        text = f"hi @{mention}" if mention else "hi"
        handle = self.handle(actor)
        deliveries = self.chat.act(handle, text) if action else self.chat.say(handle, text)
        if not self.expect(actor, deliveries, None):
            return
        focused = self.focus[actor]
        self.check_group_lines(actor, deliveries, self.model[focused] if focused else None, text)

    # --- invariants -----------------------------------------------------------------------------------

    @invariant()
    def same_as_the_model(self) -> None:
        live = list(self.groups)
        assert {g.key for g in live} == set(self.model)
        by_id = {a.id: name for name, a in self.account.items()}
        for group in live:
            want = self.model[group.key]
            assert group.name == want.name
            assert group.visibility is (Visibility.PRIVATE if want.private else Visibility.PUBLIC)
            assert by_id[group.owner_id] == want.owner
            assert [by_id[i] for i in group.members] == want.members
            assert {by_id[i] for i in group.bans} == want.bans
            assert [by_id[i] for i in group.requests] == want.requests
            assert group.topic == want.topic
            assert self.groups.find(group.name.upper()) is group
            assert self.groups.get(group.id) is group

    @invariant()
    def owners_are_members_and_banned_are_out(self) -> None:
        for group in self.groups:
            assert group.owner_id in group.members
            assert not group.bans & set(group.members)
            assert not group.bans & set(group.requests)
            assert not set(group.members) & set(group.requests)
            assert len(group.members) <= LIMITS.members_per_group
            assert len(group.requests) <= LIMITS.requests_per_group
        for name in NAMES:  # the limit is checked when a group is made; an inherited group may pass it
            owned = sum(g.owner == name for g in self.model.values())
            assert self.groups.owned_count(self.account[name].id) == owned

    @invariant()
    def focus_is_a_membership(self) -> None:
        for name, handle in self.handles.items():
            session = self.hub.session_of(handle)
            assert session is not None
            key = self.focus[name]
            if key is None:
                assert session.focus is None
            else:
                group = self.groups.find(key)
                assert group is not None and session.focus == group.id
                assert self.account[name].id in group.members

    @invariant()
    def a_reload_gives_the_same_groups(self) -> None:
        assert snapshot(Groups(self.store, LIMITS)) == snapshot(self.groups)  # type: ignore[arg-type]


GroupMachine.TestCase.settings = settings(max_examples=120, stateful_step_count=40, deadline=None)
TestGroupMembership = GroupMachine.TestCase


class DatabaseGroupMachine(GroupMachine):
    """The same rules over the real SQLite store: a reload from disk after every step."""

    def make_store(self, accounts: list[Account]) -> tuple[object, list[Account]]:
        self.tmp = Path(tempfile.mkdtemp(prefix="pollchat-groups-"))
        self.database = Database.open(self.tmp / "pollchat.db")
        return self.database, self.database.sync_preconfigured(accounts)

    def teardown(self) -> None:
        self.database.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


DatabaseGroupMachine.TestCase.settings = settings(max_examples=12, stateful_step_count=30, deadline=None)
TestGroupMembershipOnDisk = DatabaseGroupMachine.TestCase


def test_two_old_groups_whose_names_are_one_under_nfkc_are_both_kept() -> None:
    """Issue 14: group names are NFKC-normalised too. Two live groups that earlier
    versions told apart (#familia and the fullwidth #ｆａｍｉｌｉａ) both stay: the older
    keeps the name, the other is found by the spelling it always had, and neither
    vanishes when the other is renamed or deleted."""
    store = FakeGroupStore({1: "alice", 2: "bob"})
    store.rows[1] = FakeGroupStore.Row("familia", "public", 1, members={1: 1.0})
    store.rows[2] = FakeGroupStore.Row("ｆａｍｉｌｉａ", "public", 2, members={2: 1.0})
    store._next_id = 3
    groups = Groups(store)
    assert [g.id for g in groups] == [1, 2]
    assert groups.find("familia").id == 1 and groups.find("FAMILIA").id == 1
    assert groups.find("ｆａｍｉｌｉａ").id == 2 and groups.get(2).name == "ｆａｍｉｌｉａ"
    assert [g.id for g in groups.of_member(2)] == [2]
    groups.rename(groups.get(2), "family")
    assert groups.find("family").id == 2 and groups.find("familia").id == 1
    groups.delete(groups.get(1), 5.0)
    assert groups.find("familia") is None and groups.find("family").id == 2
