"""Hub and AccountDirectory (pollchat.core.hub, pollchat.core.accounts) with an in-memory
registered-accounts store and a fake clock.

Example tests: welcome/entered deliveries in login order, wrong password and unknown
account refused alike, duplicate login, names taken in any case (registered or
preconfigured), full house, reserved seats for preconfigured accounts, idempotent leave
(with a ``/quit`` reason), chat fan-out without echo, refused registrations create
nothing; presence (idle monitor, automatic inactive and back, statuses set by hand);
private messages (recipient and sender only, unknown/offline/away/self); ``/who`` and
``/whois``; renames, password changes and unregistering; history records; the
guess-the-number game and the ``alone`` flag. Hypothesis: a private message reaches only
the named recipient and the sender; a state machine runs random
login/register/chat/private/idle/logout sequences against a model and checks the seat
invariants, that no name is online twice, and that every delivery targets only
logged-in handles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pollchat.core.accounts import Account, AccountDirectory
from pollchat.core.history import HistoryRecord, RecordKind
from pollchat.core.effects import Delivery, Effect, JoinedEveryone, LeftEveryone, ToEveryone
from pollchat.core.history import RecordList
from pollchat.core.hub import Admission, Hub
from pollchat.core.passwords import hash_password, verify_password
from pollchat.core.presence import Status
from pollchat.core.seats import AccountKind, SeatBudget
from pollchat.protocol.events import (
    Emote,
    Entered,
    Error,
    Left,
    Message,
    Notice,
    PrivateMessage,
    Renamed,
    StatusChanged,
    Welcome,
    WhoEntry,
    WhoList,
    Whois,
)
from pollchat.protocol.names import name_key, skeleton
from pollchat.texts import ErrorCode, NoticeCode
from tests.strategies import chat_lines, registrable_names, valid_names

PRE, REG = AccountKind.PRECONFIGURED, AccountKind.REGISTERED
SEED_ACCOUNTS = {"user1": "123", "user2": "345", "user3": "123"}  # seed 004's accounts file


T0 = 1_700_000_000.0


class FakeClock:
    """Wall-clock seconds that move only when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class MemoryAccounts:
    """RegisteredAccounts kept in a dict, with the store's contract (see
    pollchat.store.database): ids are assigned on create and never reused, a rename keeps
    the id, last-seen times are kept for any account id (preconfigured ones too)."""

    def __init__(self, first_id: int = 100) -> None:
        self.by_key: dict[str, Account] = {}
        self.seen: dict[int, float] = {}
        self.bans: dict[int, tuple[float | None, str, str]] = {}
        self._next_id = first_id

    def _key_of(self, account_id: int) -> str | None:
        return next((key for key, account in self.by_key.items() if account.id == account_id), None)

    def find(self, key: str) -> Account | None:
        return self.by_key.get(key)

    def find_lookalikes(self, shape: str) -> list[Account]:
        return [account for account in self.by_key.values() if skeleton(account.name) == shape]

    def create(self, account: Account) -> Account | None:
        if account.key in self.by_key:
            return None
        stored = replace(account, id=self._next_id)
        self._next_id += 1
        self.by_key[stored.key] = stored
        return stored

    def rename(self, account_id: int, new_name: str) -> bool:
        key = self._key_of(account_id)
        new_key = name_key(new_name)
        if key is None or (new_key != key and new_key in self.by_key):
            return False
        account = self.by_key.pop(key)
        self.by_key[new_key] = replace(account, name=new_name)
        return True

    def set_password(self, account_id: int, password_hash: str) -> None:
        key = self._key_of(account_id)
        if key is not None:
            self.by_key[key] = replace(self.by_key[key], password_hash=password_hash)

    def delete(self, account_id: int) -> None:
        key = self._key_of(account_id)
        if key is not None:
            del self.by_key[key]

    def last_seen(self, account_id: int) -> float | None:
        return self.seen.get(account_id)

    def set_last_seen(self, account_id: int, ts: float) -> None:
        self.seen[account_id] = ts

    def set_ban(self, account_id: int, until: float | None, reason: str, by: str, now: float) -> None:
        self.bans[account_id] = (until, reason, by)

    def clear_ban(self, account_id: int) -> bool:
        return self.bans.pop(account_id, None) is not None

    def ban_of(self, account_id: int, now: float) -> tuple[float | None, str, str] | None:
        ban = self.bans.get(account_id)
        return None if ban is None or (ban[0] is not None and ban[0] <= now) else ban


class Conn:
    """A connection handle: compared by identity, like the server's connection objects."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return f"<{self.label}>"


def quick_hash(password: str) -> str:
    return hash_password(password, iterations=1)


_HASHES: dict[str, str] = {}


def quick_hash_cached(password: str) -> str:
    """One hash per password for the whole module (the hub never re-hashes)."""
    if password not in _HASHES:
        _HASHES[password] = quick_hash(password)
    return _HASHES[password]


def make_hub(
    max_users: int = 4, preconfigured: dict[str, str] | None = None, *, idle_after: float = 300.0
) -> tuple[Hub[object], MemoryAccounts]:
    """A hub with the seed accounts (ids 1, 2, 3, as the store's sync gives them), an
    empty registered store and a :class:`FakeClock` (``hub.clock``) at :data:`T0`."""
    preconfigured = SEED_ACCOUNTS if preconfigured is None else preconfigured
    store = MemoryAccounts()
    accounts = [
        Account(name, quick_hash_cached(pw), PRE, id=i) for i, (name, pw) in enumerate(preconfigured.items(), 1)
    ]
    budget = SeatBudget(max_users, len(accounts))
    hub: Hub[object] = Hub(AccountDirectory(accounts, store), budget, clock=FakeClock(), idle_after=idle_after)
    return hub, store


def sends(effects: Iterable[Effect[object]]) -> list[Delivery[object] | ToEveryone[object]]:
    """The effects that send an event (not the joins and leaves of everyone)."""
    return [e for e in effects if isinstance(e, (Delivery, ToEveryone))]


def clock(hub: Hub[object]) -> FakeClock:
    assert isinstance(hub.clock, FakeClock)
    return hub.clock


def login(hub: Hub[object], handle: object, name: str, password: str) -> Admission[object]:
    """What the server does for ``login``: look up, check the password, finish."""
    account = hub.accounts.find(name)
    ok = account is not None and verify_password(password, account.password_hash)
    return hub.login(handle, account, ok)


def register(hub: Hub[object], handle: object, name: str, password: str) -> Admission[object]:
    """What the server does for ``register``: cheap checks, hash, finish."""
    refusal = hub.check_registration(name)
    if refusal is not None:
        return Admission(refusal)
    return hub.register(handle, name, quick_hash_cached(password))


def online(hub: Hub[object], *names: str) -> list[Conn]:
    """Log the seed accounts ``names`` in, in order, on new handles."""
    handles = []
    for name in names:
        handle = Conn(name)
        assert login(hub, handle, name, SEED_ACCOUNTS[name]).refusal is None
        handles.append(handle)
    return handles


# --- login ------------------------------------------------------------------------------------


def test_login_welcomes_in_login_order_and_tells_only_the_others() -> None:
    hub, _ = make_hub()
    a, b, c = Conn("a"), Conn("b"), Conn("c")
    first = login(hub, a, "user1", "123")
    assert (first.refusal, first.alone) == (None, True)
    assert first.account == hub.accounts.find("user1")
    assert first.deliveries == (JoinedEveryone(a), Delivery((a,), Welcome("user1", ("user1",))), ToEveryone((), Entered("user1")))
    second = login(hub, b, "user2", "345")
    assert (second.refusal, second.alone) == (None, False)
    assert second.deliveries == (JoinedEveryone(b), Delivery((b,), Welcome("user2", ("user1", "user2"))), ToEveryone((a,), Entered("user2")))
    third = login(hub, c, "user3", "123")
    assert third.deliveries == (
        JoinedEveryone(c),
        Delivery((c,), Welcome("user3", ("user1", "user2", "user3"))),
        ToEveryone((a, b), Entered("user3")),
    )
    assert hub.online_names() == ("user1", "user2", "user3")
    assert hub.session_of(b).account.name == "user2"  # type: ignore[union-attr]


def test_login_in_any_case_shows_the_stored_spelling() -> None:
    hub, _ = make_hub()
    a = Conn("a")
    admission = login(hub, a, "USER1", "123")
    assert admission.refusal is None
    assert admission.deliveries[1] == Delivery((a,), Welcome("user1", ("user1",)))


@pytest.mark.parametrize(("name", "password"), [("user1", "wrong"), ("user1", "345"), ("nobody", "123"), ("nobody", "")])
def test_wrong_password_and_unknown_account_get_the_same_refusal(name: str, password: str) -> None:
    hub, _ = make_hub()
    assert login(hub, Conn("a"), name, password) == Admission(ErrorCode.WRONG_PASSWORD)
    assert hub.online_names() == ()
    assert hub.budget.total_online == 0


def test_login_without_account_is_refused_even_if_password_ok_claimed() -> None:
    hub, _ = make_hub()
    assert hub.login(Conn("a"), None, True) == Admission(ErrorCode.WRONG_PASSWORD)


@pytest.mark.parametrize("again", ["user1", "USER1", "User1"])
def test_same_account_twice_is_already_online(again: str) -> None:
    hub, _ = make_hub()
    a, b = Conn("a"), Conn("b")
    login(hub, a, "user1", "123")
    assert login(hub, b, again, "123") == Admission(ErrorCode.ALREADY_ONLINE)
    assert hub.session_of(b) is None
    assert hub.online_names() == ("user1",)
    assert hub.budget.online(PRE) == 1


def test_login_on_a_logged_in_handle_is_a_bug() -> None:
    hub, _ = make_hub()
    a = Conn("a")
    login(hub, a, "user1", "123")
    with pytest.raises(RuntimeError):
        login(hub, a, "user2", "345")


# --- registration -------------------------------------------------------------------------------


def test_registration_creates_a_registered_account_and_admits() -> None:
    hub, store = make_hub()
    a, b = Conn("a"), Conn("b")
    login(hub, a, "user1", "123")
    admission = register(hub, b, "Bob", "pw,with,commas")
    assert (admission.refusal, admission.alone) == (None, False)
    assert admission.deliveries == (JoinedEveryone(b), Delivery((b,), Welcome("Bob", ("user1", "Bob"))), ToEveryone((a,), Entered("Bob")))
    account = store.by_key["bob"]
    assert admission.account == account
    assert (account.name, account.kind, account.id) == ("Bob", REG, 100)
    assert verify_password("pw,with,commas", account.password_hash)
    assert hub.accounts.find("BOB") == account
    assert hub.budget.online(REG) == 1


@pytest.mark.parametrize("name", ["user1", "USER1", "User2", "bob", "BOB", "Bob"])
def test_registering_an_existing_name_in_any_case_is_name_taken(name: str) -> None:
    hub, store = make_hub(max_users=5)
    assert register(hub, Conn("first"), "bob", "pw").refusal is None
    before = dict(store.by_key)
    assert hub.check_registration(name) is ErrorCode.NAME_TAKEN
    assert hub.register(Conn("b"), name, quick_hash_cached("x")) == Admission(ErrorCode.NAME_TAKEN)
    assert store.by_key == before


LOOKALIKE = ErrorCode.LOOKALIKE_NAME


@pytest.mark.parametrize(
    ("existing", "new", "code"),
    [
        ("alice", "ａｌｉｃｅ", ErrorCode.NAME_TAKEN),  # fullwidth: NFKC makes it alice
        ("alice", "Ａlice", ErrorCode.NAME_TAKEN),
        ("root", "rооt", ErrorCode.MIXED_SCRIPT_NAME),  # Cyrillic o: a mix, refused whoever exists
        ("nobody", "rооt", ErrorCode.MIXED_SCRIPT_NAME),
        ("coco", "сосо", LOOKALIKE),  # all Cyrillic
        ("alice", "aIice", LOOKALIKE),
        ("mallory", "rnallory", LOOKALIKE),
        ("user1", "userl", LOOKALIKE),  # a preconfigured account is protected too
        ("user2", "USER２", ErrorCode.NAME_TAKEN),
    ],
)
def test_a_name_that_looks_like_an_existing_one_is_refused(existing: str, new: str, code: ErrorCode) -> None:
    """Issue 14: lookalike registrations are refused with one clear error, before the
    password is hashed, and again when the registration finishes."""
    hub, store = make_hub(max_users=5)
    if existing not in SEED_ACCOUNTS:
        assert register(hub, Conn("first"), existing, "pw").refusal is None
    before = dict(store.by_key)
    assert hub.check_registration(new) is code
    assert hub.register(Conn("b"), new, quick_hash_cached("x")) == Admission(code)
    assert store.by_key == before


def test_a_registration_stores_the_nfkc_spelling() -> None:
    hub, store = make_hub()
    admission = register(hub, Conn("a"), "ｂｏｂ", "pw")
    assert admission.account is not None and admission.account.name == "bob"
    assert store.by_key["bob"].name == "bob"
    assert login(hub, Conn("b"), "BOB", "pw") == Admission(ErrorCode.ALREADY_ONLINE)


@pytest.mark.parametrize(
    ("new", "code"),
    [("ａｌｉｃｅ", ErrorCode.NAME_TAKEN), ("Ａlice", ErrorCode.NAME_TAKEN), ("rооt", ErrorCode.MIXED_SCRIPT_NAME),
     ("aIice", LOOKALIKE), ("userI", LOOKALIKE)],
)
def test_nick_to_a_lookalike_is_refused(new: str, code: ErrorCode) -> None:
    hub, store = make_hub(max_users=6)
    a = Conn("a")
    register(hub, a, "alice", "pw")
    hub.leave(a)
    r = Conn("r")
    register(hub, r, "bob", "pw")
    before = dict(store.by_key)
    assert hub.rename(r, new) == [Delivery((r,), Error.of(code))]
    assert store.by_key == before


def test_nick_to_a_lookalike_of_ones_own_name_is_fine() -> None:
    hub, store = make_hub()
    r = Conn("r")
    register(hub, r, "alice", "pw")
    assert hub.rename(r, "ALICE") == [ToEveryone((r,), Renamed("alice", "ALICE"))]
    assert hub.rename(r, "aIice") == [ToEveryone((r,), Renamed("ALICE", "aIice"))]


def test_name_taken_even_when_the_owner_is_offline() -> None:
    hub, _ = make_hub()
    a = Conn("a")
    register(hub, a, "bob", "pw")
    hub.leave(a)
    assert register(hub, Conn("b"), "BOB", "other") == Admission(ErrorCode.NAME_TAKEN)


def test_full_house_refuses_registration_and_creates_nothing() -> None:
    hub, store = make_hub()  # 4 users, 3 preconfigured: one registered seat
    assert register(hub, Conn("a"), "bob", "pw").refusal is None
    assert hub.check_registration("carol") is ErrorCode.SERVER_FULL
    assert hub.register(Conn("b"), "carol", quick_hash_cached("pw")) == Admission(ErrorCode.SERVER_FULL)
    assert list(store.by_key) == ["bob"]
    assert hub.accounts.find("carol") is None


def test_registered_login_refused_when_the_shared_seats_are_taken() -> None:
    hub, _ = make_hub()
    a, b, c = Conn("a"), Conn("b"), Conn("c")
    register(hub, a, "bob", "pw")
    hub.leave(a)
    assert register(hub, b, "carol", "pw").refusal is None
    assert login(hub, c, "bob", "pw") == Admission(ErrorCode.SERVER_FULL)
    assert hub.session_of(c) is None


def test_preconfigured_accounts_keep_their_reserved_seats() -> None:
    hub, _ = make_hub()
    register(hub, Conn("r"), "bob", "pw")
    assert hub.check_registration("carol") is ErrorCode.SERVER_FULL
    for i, (name, password) in enumerate(SEED_ACCOUNTS.items()):
        assert login(hub, Conn(f"p{i}"), name, password).refusal is None
    assert hub.budget.total_online == 4
    assert hub.online_names() == ("bob", "user1", "user2", "user3")


def test_no_registered_seat_at_all() -> None:
    hub, store = make_hub(max_users=3)
    assert register(hub, Conn("a"), "bob", "pw") == Admission(ErrorCode.SERVER_FULL)
    assert store.by_key == {}


# --- chat and leaving -------------------------------------------------------------------------------


def test_chat_goes_to_everyone_but_the_sender() -> None:
    hub, _ = make_hub()
    a, b, c, stranger = Conn("a"), Conn("b"), Conn("c"), Conn("stranger")
    login(hub, a, "user1", "123")
    assert hub.chat(a, "alone") == [ToEveryone((), Message("user1", "alone"))]
    login(hub, b, "user2", "345")
    login(hub, c, "user3", "123")
    assert hub.chat(b, "hello") == [ToEveryone((a, c), Message("user2", "hello"))]
    assert hub.chat(stranger, "hi") == []


def test_leave_tells_the_others_once_and_frees_the_seat() -> None:
    hub, store = make_hub()
    a, b, c = Conn("a"), Conn("b"), Conn("c")
    login(hub, a, "user1", "123")
    login(hub, b, "user2", "345")
    login(hub, c, "user3", "123")
    assert hub.leave(a) == [LeftEveryone(a), ToEveryone((b, c), Left("user1"))]
    assert hub.leave(a) == []
    assert hub.leave(Conn("never")) == []
    assert hub.online_names() == ("user2", "user3")
    assert hub.budget.online(PRE) == 2
    assert store.seen == {1: T0}  # user1 (id 1) was last seen when it left
    a2 = Conn("a2")
    admission = login(hub, a2, "user1", "123")  # back, now last in login order
    assert admission.deliveries == (
        JoinedEveryone(a2),
        Delivery((a2,), Welcome("user1", ("user2", "user3", "user1"))),
        ToEveryone((b, c), Entered("user1")),
    )


def test_leave_of_the_last_user_has_no_targets() -> None:
    hub, _ = make_hub()
    a = Conn("a")
    register(hub, a, "bob", "pw")
    assert hub.leave(a) == [LeftEveryone(a), ToEveryone((), Left("bob"))]
    assert hub.budget.total_online == 0
    assert hub.check_registration("carol") is None


@dataclass(frozen=True)
class ConnId:
    """A handle with value equality (e.g. a connection number)."""

    number: int


def test_chat_is_not_echoed_to_an_equal_handle() -> None:
    # Regression: the hub finds the sender by equality (dicts) but excluded it by identity.
    hub, _ = make_hub()
    sender, other = ConnId(1), ConnId(2)
    login(hub, sender, "user1", "123")
    login(hub, other, "user2", "345")
    same_sender = ConnId(1)
    assert same_sender == sender and same_sender is not sender
    assert hub.session_of(same_sender) is hub.session_of(sender)
    assert hub.chat(same_sender, "hi") == [ToEveryone((other,), Message("user1", "hi"))]


# --- leaving with a reason, the alone flag ------------------------------------------------------------


def test_leave_with_a_reason_tells_the_others_and_records_last_seen() -> None:
    hub, store = make_hub()
    a, b = online(hub, "user1", "user2")
    clock(hub).advance(42)
    assert hub.leave(a, "good night") == [LeftEveryone(a), ToEveryone((b,), Left("user1", "good night"))]
    assert store.seen[1] == T0 + 42
    assert hub.leave(a, "again") == []


def test_admission_alone_flag_follows_who_is_online() -> None:
    hub, _ = make_hub()
    a, b, c = Conn("a"), Conn("b"), Conn("c")
    assert login(hub, a, "user1", "123").alone is True
    assert login(hub, b, "user2", "345").alone is False
    hub.leave(a)
    assert login(hub, c, "user3", "123").alone is False  # user2 is still here
    hub.leave(b)
    hub.leave(c)
    assert register(hub, Conn("d"), "bob", "pw").alone is True
    assert login(hub, Conn("e"), "user1", "wrong").alone is False  # a refusal is never "alone"


# --- presence -------------------------------------------------------------------------------------------


def test_check_idle_turns_an_idle_active_user_inactive_exactly_once() -> None:
    hub, _ = make_hub()
    a, b = online(hub, "user1", "user2")
    t = clock(hub)
    assert hub.check_idle(a) == ([], T0 + 300)  # not idle yet: check again at the deadline
    t.advance(299.5)
    assert hub.check_idle(a) == ([], T0 + 300)
    t.advance(0.5)
    assert hub.check_idle(a) == ([ToEveryone((a, b), StatusChanged("user1", "inactive"))], T0 + 600)
    presence = hub.session_of(a).presence  # type: ignore[union-attr]
    assert (presence.status, presence.automatic) == (Status.INACTIVE, True)
    t.advance(300)
    assert hub.check_idle(a) == ([], T0 + 900)  # already inactive: announced only once
    t.advance(1000)
    assert hub.check_idle(a)[0] == []
    assert hub.check_idle(b)[0] == [ToEveryone((a, b), StatusChanged("user2", "inactive"))]


def test_touch_reactivates_an_automatically_inactive_user_and_announces_it() -> None:
    hub, _ = make_hub()
    a, b = online(hub, "user1", "user2")
    t = clock(hub)
    assert hub.touch(a) == []  # active already: nothing to announce
    t.advance(400)
    hub.check_idle(a)
    t.advance(5)
    assert hub.touch(a) == [ToEveryone((a, b), StatusChanged("user1", "active"))]
    presence = hub.session_of(a).presence  # type: ignore[union-attr]
    assert (presence.status, presence.automatic, presence.last_active) == (Status.ACTIVE, False, T0 + 405)
    assert hub.touch(a) == []
    assert hub.check_idle(a) == ([], T0 + 705)  # the idle clock restarted at the line
    assert hub.touch(Conn("stranger")) == []


@pytest.mark.parametrize("status", [Status.BUSY, Status.AWAY, Status.INACTIVE])
def test_statuses_set_by_hand_are_left_alone_by_the_idle_monitor_and_by_lines(status: Status) -> None:
    hub, _ = make_hub()
    a, b = online(hub, "user1", "user2")
    assert hub.set_status(a, status, "later") == [ToEveryone((a, b), StatusChanged("user1", status.value, "later"))]
    clock(hub).advance(10_000)
    deliveries, next_check = hub.check_idle(a)
    assert deliveries == [] and next_check == T0 + 10_300
    assert hub.touch(a) == []
    presence = hub.session_of(a).presence  # type: ignore[union-attr]
    assert (presence.status, presence.message) == (status, "later")


def test_set_status_reaches_everyone_including_the_user() -> None:
    hub, _ = make_hub()
    a, b, c = online(hub, "user1", "user2", "user3")
    assert hub.set_status(b, Status.BUSY, "in a meeting") == [
        ToEveryone((a, b, c), StatusChanged("user2", "busy", "in a meeting"))
    ]
    assert hub.set_status(b, Status.ACTIVE) == [ToEveryone((a, b, c), StatusChanged("user2", "active", ""))]
    assert hub.session_of(b).presence.message == ""  # type: ignore[union-attr]
    assert hub.set_status(Conn("stranger"), Status.AWAY) == []


def test_check_idle_for_a_handle_not_logged_in_stops_the_monitor() -> None:
    hub, _ = make_hub()
    (a,) = online(hub, "user1")
    hub.leave(a)
    assert hub.check_idle(a) == ([], None)
    assert hub.check_idle(Conn("never")) == ([], None)


def test_idle_after_is_configurable() -> None:
    hub, _ = make_hub(idle_after=10)
    (a,) = online(hub, "user1")
    assert hub.check_idle(a) == ([], T0 + 10)
    clock(hub).advance(10)
    assert hub.check_idle(a) == ([ToEveryone((a,), StatusChanged("user1", "inactive"))], T0 + 20)


# --- private messages ------------------------------------------------------------------------------------


def test_private_message_reaches_only_the_recipient_and_confirms_to_the_sender() -> None:
    hub, _ = make_hub()
    a, b, c = online(hub, "user1", "user2", "user3")
    deliveries = hub.private(a, "USER2", "psst, a secret")
    assert sorted(deliveries, key=repr) == sorted(
        [
            Delivery((b,), PrivateMessage("user1", "user2", "psst, a secret")),
            Delivery((a,), PrivateMessage("user1", "user2", "psst, a secret", outgoing=True)),
        ],
        key=repr,
    )
    assert all(c not in d.targets for d in deliveries)


def test_private_message_to_an_unknown_name_is_an_error_naming_it() -> None:
    hub, _ = make_hub()
    a, _b = online(hub, "user1", "user2")
    assert hub.private(a, "nobody", "hi") == [Delivery((a,), Error.of(ErrorCode.NO_SUCH_USER, name="nobody"))]
    assert hub.private(a, "bad,name", "hi") == [Delivery((a,), Error.of(ErrorCode.NO_SUCH_USER, name="bad,name"))]
    assert hub.history.take() == []


@pytest.mark.parametrize("name", ["user1", "USER1"])
def test_private_message_to_oneself_is_refused(name: str) -> None:
    hub, _ = make_hub()
    a, _b = online(hub, "user1", "user2")
    assert hub.private(a, name, "hi me") == [Delivery((a,), Error.of(ErrorCode.MESSAGE_TO_SELF))]
    assert hub.history.take() == []


@pytest.mark.parametrize("name", ["user1", "USER1"])
def test_private_message_to_oneself_from_irc_is_kept_and_received_by_every_own_session(name: str) -> None:
    """``to_self`` (an IRC PRIVMSG to one's own nick): a private record from the account
    to itself, delivered to its sessions as an incoming private message."""
    hub, _ = make_hub()
    a, _b = online(hub, "user1", "user2")
    assert hub.private(a, name, "note to me", to_self=True) == [Delivery((a,), PrivateMessage("user1", "user1", "note to me"))]
    (record,) = hub.history.take()
    assert (record.kind, record.sender, record.recipient, record.text) == (RecordKind.PRIVATE, "user1", "user1", "note to me")
    assert record.sender_id == record.recipient_id


def test_no_offline_promise_while_the_history_cannot_be_written() -> None:
    """While the history cannot be written, the message is kept (and retried) but the
    sender is not told the recipient will see it; the record is marked so the sender
    is not told twice."""
    hub, _ = make_hub()
    a, _b = online(hub, "user1", "user2")
    hub.history.healthy = False  # type: ignore[misc]
    deliveries = hub.private(a, "user3", "later")
    assert deliveries[-1] == Delivery((a,), Notice.of(NoticeCode.PRIVATE_OFFLINE_UNSAVED, name="user3"))
    [record] = hub.history.take()
    assert record.warned and record.text == "later"
    assert hub.private(a, "user2", "now")[-1].event == PrivateMessage("user1", "user2", "now", outgoing=True)
    assert not hub.history.take()[0].warned  # delivered live: nothing to warn about at once
    hub.history.healthy = True  # type: ignore[misc]
    assert hub.private(a, "user3", "later")[-1].event == Notice.of(NoticeCode.PRIVATE_OFFLINE, name="user3")


class CountingSink(RecordList):
    """A record list that counts its records as stored unread messages, and what it
    was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[int, float]] = []

    def unread(self, account_id: int, since: float) -> int:
        self.asked.append((account_id, since))
        return super().unread(account_id, since)


def test_the_offline_quota_refuses_a_message_to_a_full_mailbox() -> None:
    hub, store = make_hub()
    hub.offline_quota = 2
    sink = hub.history = CountingSink()
    (a,) = online(hub, "user1")
    store.seen[3] = T0 - 50  # user3 last logged out 50 s ago
    clock(hub).advance(1)
    assert hub.private(a, "user3", "one")[-1].event == Notice.of(NoticeCode.PRIVATE_OFFLINE, name="user3")
    hub.private(a, "user3", "two")
    assert hub.private(a, "user3", "three") == [
        Delivery((a,), Error.of(ErrorCode.MAILBOX_FULL, name="user3", limit=2))
    ]
    assert [r.text for r in hub.history.records] == ["one", "two"]  # the refused one is not kept
    assert sink.asked[-1] == (3, T0 - 50)
    online(hub, "user2")  # online recipients have no mailbox
    hub.offline_quota = 0
    assert hub.private(a, "user3", "four")[-1].event == Notice.of(NoticeCode.PRIVATE_OFFLINE, name="user3")


def test_private_message_to_an_offline_account_is_stored_and_the_sender_told() -> None:
    hub, store = make_hub()
    r = Conn("r")
    register(hub, r, "bob", "pw")
    hub.leave(r)
    a, _b = online(hub, "user1", "user2")
    clock(hub).advance(7)
    deliveries = hub.private(a, "BOB", "see you")
    assert sorted(deliveries, key=repr) == sorted(
        [
            Delivery((a,), PrivateMessage("user1", "bob", "see you", outgoing=True)),
            Delivery((a,), Notice.of(NoticeCode.PRIVATE_OFFLINE, name="bob")),
        ],
        key=repr,
    )
    assert hub.history.take() == [
        HistoryRecord(T0 + 7, RecordKind.PRIVATE, 1, "user1", "see you", store.by_key["bob"].id, "bob")
    ]
    # A preconfigured account that is offline is told the same way.
    assert Delivery((a,), Notice.of(NoticeCode.PRIVATE_OFFLINE, name="user3")) in hub.private(a, "user3", "x")


@pytest.mark.parametrize(
    ("status", "message", "notice"),
    [
        (Status.AWAY, "lunch", Notice.of(NoticeCode.RECIPIENT_AWAY, name="user2", status="away", message="lunch")),
        (Status.BUSY, "", Notice.of(NoticeCode.RECIPIENT_AWAY_NO_MESSAGE, name="user2", status="busy")),
        (Status.BUSY, "call", Notice.of(NoticeCode.RECIPIENT_AWAY, name="user2", status="busy", message="call")),
        (Status.AWAY, "", Notice.of(NoticeCode.RECIPIENT_AWAY_NO_MESSAGE, name="user2", status="away")),
        (Status.INACTIVE, "", None),
        (Status.ACTIVE, "here", None),
    ],
)
def test_private_message_to_an_away_or_busy_user_tells_the_sender(
    status: Status, message: str, notice: Notice | None
) -> None:
    hub, _ = make_hub()
    a, b = online(hub, "user1", "user2")
    hub.set_status(b, status, message)
    deliveries = hub.private(a, "user2", "hi")
    assert Delivery((b,), PrivateMessage("user1", "user2", "hi")) in deliveries  # delivered anyway
    notices = [d for d in deliveries if isinstance(d.event, Notice)]
    assert notices == ([Delivery((a,), notice)] if notice else [])


def test_private_message_from_a_handle_not_logged_in_does_nothing() -> None:
    hub, _ = make_hub()
    online(hub, "user1")
    assert hub.private(Conn("stranger"), "user1", "hi") == []
    assert hub.history.take() == []


@st.composite
def _rooms(draw: st.DrawFn) -> tuple[list[str], list[bool], int, str]:
    """Accounts (some online, some offline), the sender (online) and a /msg target."""
    names = draw(st.lists(registrable_names(), min_size=1, max_size=5, unique_by=(name_key, skeleton)))
    is_online = draw(st.lists(st.booleans(), min_size=len(names), max_size=len(names)))
    sender = draw(st.integers(0, len(names) - 1))
    is_online[sender] = True
    target = draw(
        st.one_of(
            st.sampled_from(names).flatmap(lambda n: st.sampled_from([n, n.upper(), n.lower(), n.swapcase()])),
            valid_names(),
            st.text(max_size=12),
        )
    )
    return names, is_online, sender, target


@given(_rooms(), chat_lines())
def test_private_messages_reach_only_the_named_recipient_and_the_sender(
    room: tuple[list[str], list[bool], int, str], text: str
) -> None:
    names, is_online, sender_index, target = room
    hub, _ = make_hub(max_users=len(names), preconfigured={})
    handles = [Conn(f"h{i}") for i in range(len(names))]
    for handle, name, up in zip(handles, names, is_online):
        assert register(hub, handle, name, "pw").refusal is None
        if not up:
            hub.leave(handle)
    sender = handles[sender_index]
    by_key = {name_key(n): h for n, h, up in zip(names, handles, is_online) if up}
    recipient = by_key.get(name_key(target))

    deliveries = hub.private(sender, target, text)

    for delivery in deliveries:
        if isinstance(delivery.event, PrivateMessage):
            expected = sender if delivery.event.outgoing else recipient
            assert delivery.targets == (expected,), delivery
            assert delivery.event.sender == names[sender_index] and delivery.event.text == text
        else:
            assert delivery.targets == (sender,), delivery  # errors and notices: the sender only
    private = [d for d in deliveries if isinstance(d.event, PrivateMessage)]
    incoming = [d for d in private if not d.event.outgoing]  # type: ignore[union-attr]
    if recipient is not None and recipient is not sender:
        assert len(incoming) == 1 and len(private) == 2
    else:
        assert incoming == []
    reached = {h for d in deliveries for h in d.targets}
    assert reached <= {sender, recipient}


# --- who and whois ---------------------------------------------------------------------------------------


def test_who_lists_everyone_online_in_login_order_with_status_and_idle_time() -> None:
    hub, _ = make_hub()
    t = clock(hub)
    (a,) = online(hub, "user1")
    t.advance(10)
    (b,) = online(hub, "user2")
    hub.set_status(b, Status.AWAY, "lunch")
    t.advance(20)
    hub.touch(a)
    t.advance(5)
    assert hub.who(b) == [
        Delivery((b,), WhoList((WhoEntry("user1", "active", "", 5), WhoEntry("user2", "away", "lunch", 25))))
    ]


def test_whois_an_online_user() -> None:
    hub, _ = make_hub()
    a, b = online(hub, "user1", "user2")
    hub.set_status(b, Status.BUSY, "meeting")
    clock(hub).advance(90)
    assert hub.whois(a, "USER2") == [Delivery((a,), Whois("user2", "preconfigured", True, "busy", "meeting", T0, 90))]


def test_whois_an_offline_user_shows_when_they_were_last_seen() -> None:
    hub, _ = make_hub()
    r = Conn("r")
    register(hub, r, "Bob", "pw")
    clock(hub).advance(50)
    hub.leave(r)
    clock(hub).advance(1000)
    (a,) = online(hub, "user1")
    assert hub.whois(a, "bob") == [Delivery((a,), Whois("Bob", "registered", False, "offline", "", T0 + 50, None))]


def test_whois_a_user_never_seen_and_an_unknown_name() -> None:
    hub, _ = make_hub()
    (a,) = online(hub, "user1")
    assert hub.whois(a, "user3") == [Delivery((a,), Whois("user3", "preconfigured", False, "offline", "", None, None))]
    assert hub.whois(a, "nobody") == [Delivery((a,), Error.of(ErrorCode.NO_SUCH_USER, name="nobody"))]


# --- renaming ----------------------------------------------------------------------------------------------


def test_rename_tells_everyone_keeps_login_order_and_the_account_id() -> None:
    hub, store = make_hub(max_users=6)
    (a,) = online(hub, "user1")
    r = Conn("r")
    register(hub, r, "bob", "pw")
    (c,) = online(hub, "user2")
    old_id = store.by_key["bob"].id
    assert hub.rename(r, "Bobby") == [ToEveryone((a, r, c), Renamed("bob", "Bobby"))]
    assert hub.online_names() == ("user1", "Bobby", "user2")
    account = hub.session_of(r).account  # type: ignore[union-attr]
    assert (account.name, account.id) == ("Bobby", old_id)
    assert store.by_key["bobby"].id == old_id and "bob" not in store.by_key
    assert hub.accounts.find("bob") is None
    # The session now lives under its new name: messages, whois and login follow it.
    assert hub.chat(r, "hi") == [ToEveryone((a, c), Message("Bobby", "hi"))]
    assert Delivery((r,), PrivateMessage("user1", "Bobby", "psst")) in hub.private(a, "bobby", "psst")
    assert hub.whois(a, "BOBBY")[0].event.online is True  # type: ignore[union-attr]
    assert login(hub, Conn("again"), "bobby", "pw") == Admission(ErrorCode.ALREADY_ONLINE)
    hub.leave(r)
    assert login(hub, Conn("later"), "Bobby", "pw").refusal is None
    assert hub.check_registration("bob") is None  # the old name is free


@pytest.mark.parametrize("taken", ["carol", "CAROL", "user2", "User3", "user1"])
def test_rename_to_a_taken_name_is_refused(taken: str) -> None:
    # carol: registered and offline; user2: preconfigured and online; user3: preconfigured
    # and offline; user1: online.
    hub, store = make_hub(max_users=6)
    c = Conn("c")
    register(hub, c, "carol", "pw")
    hub.leave(c)
    _a, _b = online(hub, "user1", "user2")
    r = Conn("r")
    register(hub, r, "bob", "pw")
    before = dict(store.by_key)
    assert hub.rename(r, taken) == [Delivery((r,), Error.of(ErrorCode.NAME_TAKEN))]
    assert store.by_key == before
    assert hub.online_names() == ("user1", "user2", "bob")


def test_two_renames_to_one_name_the_second_is_refused() -> None:
    hub, _ = make_hub(max_users=6)
    (a,) = online(hub, "user1")
    r1, r2 = Conn("r1"), Conn("r2")
    register(hub, r1, "bob", "pw")
    register(hub, r2, "carol", "pw")
    assert hub.rename(r1, "dave") == [ToEveryone((a, r1, r2), Renamed("bob", "dave"))]
    assert hub.rename(r2, "DAVE") == [Delivery((r2,), Error.of(ErrorCode.NAME_TAKEN))]
    assert hub.online_names() == ("user1", "dave", "carol")


def test_rename_may_change_the_case_of_ones_own_name() -> None:
    hub, store = make_hub()
    (a,) = online(hub, "user1")
    r = Conn("r")
    register(hub, r, "bob", "pw")
    old_id = store.by_key["bob"].id
    assert hub.rename(r, "BoB") == [ToEveryone((a, r), Renamed("bob", "BoB"))]
    assert store.by_key["bob"] == replace(store.by_key["bob"], name="BoB", id=old_id)
    assert hub.online_names() == ("user1", "BoB")
    assert hub.rename(r, "BoB") == []  # the same name: nothing happens


def test_rename_to_an_invalid_name_is_refused_naming_it() -> None:
    hub, _ = make_hub()
    r = Conn("r")
    register(hub, r, "bob", "pw")
    assert hub.rename(r, "bad,name") == [Delivery((r,), Error.of(ErrorCode.BAD_NAME, name="bad,name"))]
    assert hub.online_names() == ("bob",)


def test_preconfigured_accounts_cannot_be_renamed() -> None:
    hub, _ = make_hub()
    (a,) = online(hub, "user1")
    assert hub.rename(a, "alice") == [Delivery((a,), Error.of(ErrorCode.PRECONFIGURED_ACCOUNT, name="user1"))]
    assert hub.online_names() == ("user1",)
    assert hub.accounts.find("alice") is None
    assert hub.rename(Conn("stranger"), "alice") == []


# --- password changes and unregistering ---------------------------------------------------------------------


def test_change_password_of_a_registered_account() -> None:
    hub, store = make_hub()
    r = Conn("r")
    register(hub, r, "bob", "old")
    new_hash = quick_hash_cached("new")
    assert hub.change_password(r, new_hash) == [Delivery((r,), Notice.of(NoticeCode.PASSWORD_CHANGED))]
    assert store.by_key["bob"].password_hash == new_hash
    assert hub.session_of(r).account.password_hash == new_hash  # type: ignore[union-attr]
    hub.leave(r)
    assert login(hub, Conn("x"), "bob", "old") == Admission(ErrorCode.WRONG_PASSWORD)
    assert login(hub, Conn("y"), "bob", "new").refusal is None


def test_preconfigured_accounts_cannot_change_password_or_unregister() -> None:
    hub, _ = make_hub()
    a, _b = online(hub, "user1", "user2")
    before = hub.accounts.find("user1")
    refused = [Delivery((a,), Error.of(ErrorCode.PRECONFIGURED_ACCOUNT, name="user1"))]
    assert hub.change_password(a, quick_hash_cached("new")) == refused
    assert hub.unregister(a) == refused
    assert hub.accounts.find("user1") == before
    assert hub.online_names() == ("user1", "user2")


def test_unregister_deletes_the_account_frees_name_and_seat_and_says_left_once() -> None:
    hub, store = make_hub()  # one registered seat
    a, b = online(hub, "user1", "user2")
    r = Conn("r")
    register(hub, r, "bob", "pw")
    assert hub.check_registration("carol") is ErrorCode.SERVER_FULL
    deliveries = hub.unregister(r)
    assert deliveries == [
        Delivery((r,), Notice.of(NoticeCode.UNREGISTERED, name="bob")),
        LeftEveryone(r),
        ToEveryone((a, b), Left("bob")),
    ]
    assert "bob" not in store.by_key and hub.accounts.find("bob") is None
    assert hub.session_of(r) is None and hub.online_names() == ("user1", "user2")
    assert hub.budget.online(REG) == 0
    assert hub.leave(r) == []  # the connection closing afterwards says nothing more
    assert hub.unregister(r) == []
    assert hub.check_registration("bob") is None  # name and seat are free
    assert register(hub, Conn("n"), "BOB", "other").refusal is None


# --- history records -----------------------------------------------------------------------------------------


def test_chat_action_and_private_messages_are_recorded_with_sender_ids() -> None:
    hub, store = make_hub()
    a, b = online(hub, "user1", "user2")
    r = Conn("r")
    register(hub, r, "bob", "pw")
    bob_id = store.by_key["bob"].id
    assert hub.action(a, "waves") == [ToEveryone((b, r), Emote("user1", "waves"))]
    clock(hub).advance(1)
    hub.chat(r, "hello")
    clock(hub).advance(1)
    hub.private(b, "bob", "psst")
    assert hub.history.take() == [
        HistoryRecord(T0, RecordKind.ACTION, 1, "user1", "waves"),
        HistoryRecord(T0 + 1, RecordKind.CHAT, bob_id, "bob", "hello"),
        HistoryRecord(T0 + 2, RecordKind.PRIVATE, 2, "user2", "psst", bob_id, "bob"),
    ]
    assert hub.history.take() == []  # drained
    hub.chat(Conn("stranger"), "x")
    hub.action(Conn("stranger"), "x")
    assert hub.history.take() == []
    hub.chat(a, "again")
    assert [r.text for r in hub.history.take()] == ["again"]


# --- the game ----------------------------------------------------------------------------------------------------


def test_play_alone_turns_chat_lines_into_guesses_until_won() -> None:
    hub, _ = make_hub()
    (a,) = online(hub, "user1")
    assert hub.play(a, secret=42) == [Delivery((a,), Notice.of(NoticeCode.GAME_START, top=100))]
    assert hub.chat(a, "50") == [Delivery((a,), Notice.of(NoticeCode.GAME_LOWER, guess=50))]
    assert hub.chat(a, "ten") == [Delivery((a,), Notice.of(NoticeCode.GAME_NOT_A_NUMBER, top=100))]
    assert hub.chat(a, "10") == [Delivery((a,), Notice.of(NoticeCode.GAME_HIGHER, guess=10))]
    assert hub.chat(a, " 42 ") == [Delivery((a,), Notice.of(NoticeCode.GAME_WON, guess=42, tries=3))]
    assert hub.history.take() == []  # guesses are not chat
    assert hub.chat(a, "42") == [ToEveryone((), Message("user1", "42"))]  # the game is over
    assert hub.session_of(a).game is None  # type: ignore[union-attr]


def test_play_again_stops_the_game() -> None:
    hub, _ = make_hub()
    (a,) = online(hub, "user1")
    hub.play(a, secret=7)
    assert hub.play(a, secret=99) == [Delivery((a,), Notice.of(NoticeCode.GAME_STOPPED))]
    assert hub.chat(a, "7") == [ToEveryone((), Message("user1", "7"))]


def test_play_with_a_number_starts_and_guesses_or_just_guesses() -> None:
    hub, _ = make_hub()
    (a,) = online(hub, "user1")
    assert hub.play(a, secret=30, guess="20") == [
        Delivery((a,), Notice.of(NoticeCode.GAME_START, top=100)),
        Delivery((a,), Notice.of(NoticeCode.GAME_HIGHER, guess=20)),
    ]
    assert hub.play(a, secret=1, guess="30") == [Delivery((a,), Notice.of(NoticeCode.GAME_WON, guess=30, tries=2))]


def test_play_only_when_alone() -> None:
    hub, _ = make_hub()
    a, b = online(hub, "user1", "user2")
    assert hub.play(a, secret=5) == [Delivery((a,), Error.of(ErrorCode.NOT_ALONE))]
    assert hub.session_of(a).game is None  # type: ignore[union-attr]
    assert hub.chat(a, "5") == [ToEveryone((b,), Message("user1", "5"))]
    assert hub.play(Conn("stranger"), secret=5) == []


def test_a_second_login_ends_a_running_game() -> None:
    hub, _ = make_hub()
    (a,) = online(hub, "user1")
    hub.play(a, secret=5)
    b = Conn("b")
    admission = login(hub, b, "user2", "345")
    assert admission.alone is False
    assert Delivery((a,), Notice.of(NoticeCode.GAME_OVER, name="user2")) in admission.deliveries
    assert [d for d in sends(admission.deliveries) if isinstance(d.event, Notice)] == [
        Delivery((a,), Notice.of(NoticeCode.GAME_OVER, name="user2"))
    ]
    assert hub.session_of(a).game is None  # type: ignore[union-attr]
    assert hub.chat(a, "5") == [ToEveryone((b,), Message("user1", "5"))]
    # Without a running game, a login sends no game notice.
    assert not any(isinstance(d.event, Notice) for d in sends(login(hub, Conn("c"), "user3", "123").deliveries))


# --- the account directory ---------------------------------------------------------------------------


def test_directory_refuses_duplicate_preconfigured_names() -> None:
    accounts = [Account("Alice", "h1", PRE), Account("alice", "h2", PRE)]
    with pytest.raises(ValueError):
        AccountDirectory(accounts, MemoryAccounts())


def test_directory_preconfigured_wins_over_registered() -> None:
    store = MemoryAccounts()
    store.create(Account("user1", "registered-hash", REG))
    pre = Account("user1", "file-hash", PRE)
    directory = AccountDirectory({"user1": pre}, store)
    assert directory.preconfigured_count == 1
    assert directory.find("USER1") is pre
    assert directory.register("User1", "h") is None


def test_directory_never_registers_over_a_preconfigured_name() -> None:
    store = MemoryAccounts()
    directory = AccountDirectory([Account("user1", "file-hash", PRE)], store)
    assert directory.register("USER1", "h") is None
    assert store.by_key == {}


def test_directory_register_and_find() -> None:
    store = MemoryAccounts()
    directory = AccountDirectory([], store)
    created = directory.register("Łukasz", "h")
    assert created == Account("Łukasz", "h", REG, id=100)  # with the id the store gave it
    assert directory.find("ŁUKASZ") == created
    assert directory.register("łukasz", "h2") is None
    assert directory.find("nobody") is None
    assert directory.register("other", "h").id == 101  # type: ignore[union-attr]


def test_directory_rename_password_delete_and_last_seen() -> None:
    store = MemoryAccounts()
    directory = AccountDirectory([Account("user1", "file-hash", PRE, id=1)], store)
    bob = directory.register("bob", "h")
    carol = directory.register("carol", "h")
    assert bob is not None and carol is not None
    assert directory.rename(bob, "USER1") is None  # a preconfigured name, any case
    assert directory.rename(bob, "Carol") is None  # another registered account
    renamed = directory.rename(bob, "Bobby")
    assert renamed == Account("Bobby", "h", REG, id=bob.id)
    assert directory.find("bob") is None and directory.find("bobby") == renamed
    assert directory.set_password(renamed, "h2") == replace(renamed, password_hash="h2")
    assert directory.find("BOBBY").password_hash == "h2"  # type: ignore[union-attr]
    assert directory.last_seen(renamed) is None
    directory.set_last_seen(renamed, 12.5)
    assert directory.last_seen(renamed) == 12.5
    directory.delete(renamed)
    assert directory.find("bobby") is None
    assert directory.register("bobby", "h3").id not in (bob.id, carol.id)  # type: ignore[union-attr]


def test_account_repr_hides_the_hash() -> None:
    account = Account("alice", hash_password("pw", iterations=1, salt="visiblesalt"), REG)
    assert "visiblesalt" not in repr(account)
    assert "alice" in repr(account)


# --- the state machine -----------------------------------------------------------------------------

NAMES = ("ann", "bob", "cy", "dee", "eve")


class HubMachine(RuleBasedStateMachine):
    """Random logins, registrations, chat, private messages, idle ticks and logouts
    against a model of who is online."""

    @initialize(max_users=st.integers(1, 5), preconfigured=st.integers(0, 3))
    def setup(self, max_users: int, preconfigured: int) -> None:
        count = min(preconfigured, max_users)
        self.passwords = {NAMES[i]: f"pw{i}" for i in range(count)}  # every account, by name
        self.kind = {name: PRE for name in self.passwords}
        self.display = {name: name for name in self.passwords}  # spelling at registration
        self.hub, self.store = make_hub(max_users, dict(self.passwords))
        self.handles = [Conn(f"h{i}") for i in range(6)]
        self.online: dict[Conn, str] = {}  # insertion order = login order
        self.joined: dict[Conn, None] = {}  # kept by the join and leave effects alone, as a server's list is

    # --- model helpers

    def _has_seat(self, kind: AccountKind) -> bool:
        budget = self.hub.budget
        limit = budget.preconfigured if kind is PRE else budget.max_users - budget.preconfigured
        return sum(1 for name in self.online.values() if self.kind[name] is kind) < limit

    def _check_targets(self, effects: tuple[Effect[object], ...] | list[Effect[object]]) -> None:
        for effect in effects:
            if isinstance(effect, JoinedEveryone):
                assert effect.handle not in self.joined
                self.joined[effect.handle] = None
        for effect in effects:
            if isinstance(effect, LeftEveryone):
                assert effect.handle in self.joined
                del self.joined[effect.handle]
        for delivery in sends(effects):
            assert isinstance(delivery.event, (Welcome, Entered, Left, Message, PrivateMessage, StatusChanged, Error, Notice))
            assert len(set(delivery.targets)) == len(delivery.targets)
            assert set(delivery.targets) <= set(self.online), "delivery to a handle not logged in"

    def _admitted(self, handle: Conn, name: str, admission: Admission[object]) -> None:
        others = tuple(self.online)
        self.online[handle] = name
        shown = self.display[name]
        assert admission.deliveries == (
            JoinedEveryone(handle),
            Delivery((handle,), Welcome(shown, tuple(self.display[n] for n in self.online.values()))),
            ToEveryone(others, Entered(shown)),
        )

    # --- rules

    @rule(h=st.integers(0, 5), name=st.sampled_from(NAMES), correct=st.booleans(), upper=st.booleans())
    def login(self, h: int, name: str, correct: bool, upper: bool) -> None:
        handle = self.handles[h]
        if handle in self.online:
            return  # a chatting connection never logs in again
        if name not in self.passwords or not correct:
            expected = ErrorCode.WRONG_PASSWORD
        elif name in self.online.values():
            expected = ErrorCode.ALREADY_ONLINE
        elif not self._has_seat(self.kind[name]):
            expected = ErrorCode.SERVER_FULL
        else:
            expected = None
        password = self.passwords.get(name, "pw0") if correct else "wrong"
        admission = login(self.hub, handle, name.upper() if upper else name, password)
        assert admission.refusal is expected
        if expected is None:
            self._admitted(handle, name, admission)
        else:
            assert admission.deliveries == ()
        self._check_targets(admission.deliveries)

    @rule(h=st.integers(0, 5), name=st.sampled_from(NAMES), upper=st.booleans(), checked=st.booleans())
    def register(self, h: int, name: str, upper: bool, checked: bool) -> None:
        handle = self.handles[h]
        if handle in self.online:
            return
        if name in self.passwords:
            expected = ErrorCode.NAME_TAKEN
        elif not self._has_seat(REG):
            expected = ErrorCode.SERVER_FULL
        else:
            expected = None
        typed = name.upper() if upper else name
        accounts_before = dict(self.store.by_key)
        if checked:  # the normal path, or the race where the checks pass before hashing
            assert self.hub.check_registration(typed) is expected
            admission = register(self.hub, handle, typed, f"new-{name}")
        else:
            admission = self.hub.register(handle, typed, quick_hash(f"new-{name}"))
        assert admission.refusal is expected
        if expected is None:
            self.passwords[name], self.kind[name], self.display[name] = f"new-{name}", REG, typed
            assert set(self.store.by_key) == set(accounts_before) | {name}
            self._admitted(handle, name, admission)
        else:
            assert self.store.by_key == accounts_before  # a refused registration creates nothing
            assert admission.deliveries == ()
        self._check_targets(admission.deliveries)

    @rule(h=st.integers(0, 5), text=st.sampled_from(["hi", "a,b", "żółć"]))
    def chat(self, h: int, text: str) -> None:
        handle = self.handles[h]
        deliveries = self.hub.chat(handle, text)
        if handle in self.online:
            others = tuple(c for c in self.online if c is not handle)
            assert deliveries == [ToEveryone(others, Message(self.display[self.online[handle]], text))]
        else:
            assert deliveries == []
        self._check_targets(deliveries)

    @rule(h=st.integers(0, 5), name=st.sampled_from(NAMES), upper=st.booleans())
    def private(self, h: int, name: str, upper: bool) -> None:
        handle = self.handles[h]
        deliveries = self.hub.private(handle, name.upper() if upper else name, "psst")
        self._check_targets(deliveries)
        if handle not in self.online:
            assert deliveries == []
            return
        sender = self.display[self.online[handle]]
        if name not in self.passwords:
            assert deliveries == [Delivery((handle,), Error.of(ErrorCode.NO_SUCH_USER, name=name.upper() if upper else name))]
        elif self.online[handle] == name:
            assert deliveries == [Delivery((handle,), Error.of(ErrorCode.MESSAGE_TO_SELF))]
        else:
            confirmation = Delivery((handle,), PrivateMessage(sender, self.display[name], "psst", outgoing=True))
            assert confirmation in deliveries
            recipients = [h for h, n in self.online.items() if n == name]
            incoming = [d for d in sends(deliveries) if isinstance(d.event, PrivateMessage) and not d.event.outgoing]
            if recipients:
                assert incoming == [Delivery((recipients[0],), PrivateMessage(sender, self.display[name], "psst"))]
            else:
                assert incoming == []
                assert Delivery((handle,), Notice.of(NoticeCode.PRIVATE_OFFLINE, name=self.display[name])) in deliveries

    @rule(seconds=st.sampled_from([0, 1, 299, 300, 1000]), touch=st.integers(0, 5))
    def idle(self, seconds: int, touch: int) -> None:
        clock(self.hub).advance(seconds)
        self._check_targets(self.hub.touch(self.handles[touch]))
        for handle in self.handles:
            deliveries, next_check = self.hub.check_idle(handle)
            self._check_targets(deliveries)
            assert (next_check is None) == (handle not in self.online)
            for delivery in deliveries:  # a status change goes to everyone online
                assert delivery.targets == tuple(self.online)

    @rule(h=st.integers(0, 5))
    def logout(self, h: int) -> None:
        handle = self.handles[h]
        deliveries = self.hub.leave(handle)
        if handle in self.online:
            name = self.online.pop(handle)
            assert deliveries == [LeftEveryone(handle), ToEveryone(tuple(self.online), Left(self.display[name]))]
        else:
            assert deliveries == []
        self._check_targets(deliveries)

    # --- invariants

    @invariant()
    def the_join_and_leave_effects_follow_the_roster(self) -> None:
        """A list kept by the effects alone holds who is online, in login order: what
        a server's broadcast lists rely on."""
        assert list(self.joined) == list(self.online) == list(self.hub.everyone())

    @invariant()
    def seats_and_sessions_agree(self) -> None:
        budget = self.hub.budget
        sessions = [s for s in map(self.hub.session_of, self.handles) if s is not None]
        registered = sum(1 for s in sessions if s.account.kind is REG)
        preconfigured = sum(1 for s in sessions if s.account.kind is PRE)
        assert budget.online(REG) == registered <= budget.max_users - budget.preconfigured
        assert budget.online(PRE) == preconfigured <= budget.preconfigured
        assert budget.total_online == len(sessions) <= budget.max_users

    @invariant()
    def no_name_online_twice(self) -> None:
        names = self.hub.online_names()
        assert len({name_key(n) for n in names}) == len(names)
        assert names == tuple(self.display[n] for n in self.online.values())
        for handle in self.handles:
            session = self.hub.session_of(handle)
            assert (session is not None) == (handle in self.online)


TestHubMachine = HubMachine.TestCase


# --- guests (a front end's anonymous users: IRC with --irc-guests) ----------------------------


def test_a_guest_takes_a_registered_seat_and_a_name_no_account_has() -> None:
    hub, store = make_hub(max_users=4)  # three seed accounts: one registered seat
    g = Conn("g")
    admitted = hub.guest(g, "visitor")
    assert admitted.refusal is None and admitted.account is not None
    assert admitted.account.guest and admitted.account.id < 0 and hub.budget.online(AccountKind.REGISTERED) == 1
    assert hub.guest(Conn("x"), "other").refusal is ErrorCode.SERVER_FULL
    assert hub.guest(Conn("y"), "USER1").refusal is ErrorCode.NAME_TAKEN  # a preconfigured account
    assert hub.check_registration("Visitor") is ErrorCode.NAME_TAKEN  # nobody registers an online guest's name
    assert hub.find_account("VISITOR") == admitted.account
    hub.leave(g)
    assert hub.find_account("visitor") is None and store.last_seen(admitted.account.id) is None


def test_guests_get_private_messages_and_rename_in_memory() -> None:
    hub, store = make_hub(max_users=5)
    (a,) = online(hub, "user1")
    g = Conn("g")
    hub.guest(g, "visitor")
    deliveries = hub.private(a, "visitor", "welcome")
    assert Delivery((g,), PrivateMessage("user1", "visitor", "welcome")) in deliveries
    hub.rename(g, "traveller")
    assert hub.online("traveller") is not None and store.find("traveller") is None
    assert hub.guest(Conn("h"), "visitor").refusal is None  # the old name is free again
