"""Hub and AccountDirectory (pollchat.core.hub, pollchat.core.accounts) with an in-memory
registered-accounts store.

Example tests: welcome/entered deliveries in login order, wrong password and unknown
account refused alike, duplicate login, names taken in any case (registered or
preconfigured), full house, reserved seats for preconfigured accounts, idempotent leave,
chat fan-out without echo, refused registrations create nothing. A hypothesis state
machine runs random login/register/chat/logout sequences against a model and checks the
seat invariants, that no name is online twice, and that every delivery targets only
logged-in handles.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pollchat.core.accounts import Account, AccountDirectory
from pollchat.core.hub import Admission, Delivery, Hub
from pollchat.core.passwords import hash_password, verify_password
from pollchat.core.seats import AccountKind, SeatBudget
from pollchat.protocol.events import Entered, Left, Message, Welcome
from pollchat.protocol.names import name_key
from pollchat.texts import ErrorCode

PRE, REG = AccountKind.PRECONFIGURED, AccountKind.REGISTERED
SEED_ACCOUNTS = {"user1": "123", "user2": "345", "user3": "123"}  # seed 004's accounts file


class MemoryAccounts:
    """RegisteredAccounts kept in a dict, with the store's contract."""

    def __init__(self) -> None:
        self.by_key: dict[str, Account] = {}

    def find(self, key: str) -> Account | None:
        return self.by_key.get(key)

    def create(self, account: Account) -> bool:
        if account.key in self.by_key:
            return False
        self.by_key[account.key] = account
        return True


class Conn:
    """A connection handle: compared by identity, like the server's connection objects."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return f"<{self.label}>"


def quick_hash(password: str) -> str:
    return hash_password(password, iterations=1)


def make_hub(max_users: int = 4, preconfigured: dict[str, str] | None = None) -> tuple[Hub[object], MemoryAccounts]:
    preconfigured = SEED_ACCOUNTS if preconfigured is None else preconfigured
    store = MemoryAccounts()
    accounts = [Account(name, quick_hash(pw), PRE) for name, pw in preconfigured.items()]
    hub: Hub[object] = Hub(AccountDirectory(accounts, store), SeatBudget(max_users, len(accounts)))
    return hub, store


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
    return hub.register(handle, name, quick_hash(password))


# --- login ------------------------------------------------------------------------------------


def test_login_welcomes_in_login_order_and_tells_only_the_others() -> None:
    hub, _ = make_hub()
    a, b, c = Conn("a"), Conn("b"), Conn("c")
    assert login(hub, a, "user1", "123") == Admission(
        None, (Delivery((a,), Welcome("user1", ("user1",))), Delivery((), Entered("user1")))
    )
    assert login(hub, b, "user2", "345") == Admission(
        None, (Delivery((b,), Welcome("user2", ("user1", "user2"))), Delivery((a,), Entered("user2")))
    )
    assert login(hub, c, "user3", "123") == Admission(
        None,
        (Delivery((c,), Welcome("user3", ("user1", "user2", "user3"))), Delivery((a, b), Entered("user3"))),
    )
    assert hub.online_names() == ("user1", "user2", "user3")
    assert hub.session_of(b).account.name == "user2"  # type: ignore[union-attr]


def test_login_in_any_case_shows_the_stored_spelling() -> None:
    hub, _ = make_hub()
    a = Conn("a")
    admission = login(hub, a, "USER1", "123")
    assert admission.refusal is None
    assert admission.deliveries[0] == Delivery((a,), Welcome("user1", ("user1",)))


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
    assert register(hub, b, "Bob", "pw,with,commas") == Admission(
        None, (Delivery((b,), Welcome("Bob", ("user1", "Bob"))), Delivery((a,), Entered("Bob")))
    )
    account = store.by_key["bob"]
    assert (account.name, account.kind) == ("Bob", REG)
    assert verify_password("pw,with,commas", account.password_hash)
    assert hub.accounts.find("BOB") == account
    assert hub.budget.online(REG) == 1


@pytest.mark.parametrize("name", ["user1", "USER1", "User2", "bob", "BOB", "Bob"])
def test_registering_an_existing_name_in_any_case_is_name_taken(name: str) -> None:
    hub, store = make_hub(max_users=5)
    assert register(hub, Conn("first"), "bob", "pw").refusal is None
    before = dict(store.by_key)
    assert hub.check_registration(name) is ErrorCode.NAME_TAKEN
    assert hub.register(Conn("b"), name, quick_hash("x")) == Admission(ErrorCode.NAME_TAKEN)
    assert store.by_key == before


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
    assert hub.register(Conn("b"), "carol", quick_hash("pw")) == Admission(ErrorCode.SERVER_FULL)
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
    assert hub.chat(a, "alone") == [Delivery((), Message("user1", "alone"))]
    login(hub, b, "user2", "345")
    login(hub, c, "user3", "123")
    assert hub.chat(b, "hello") == [Delivery((a, c), Message("user2", "hello"))]
    assert hub.chat(stranger, "hi") == []


def test_leave_tells_the_others_once_and_frees_the_seat() -> None:
    hub, _ = make_hub()
    a, b, c = Conn("a"), Conn("b"), Conn("c")
    login(hub, a, "user1", "123")
    login(hub, b, "user2", "345")
    login(hub, c, "user3", "123")
    assert hub.leave(a) == [Delivery((b, c), Left("user1"))]
    assert hub.leave(a) == []
    assert hub.leave(Conn("never")) == []
    assert hub.online_names() == ("user2", "user3")
    assert hub.budget.online(PRE) == 2
    a2 = Conn("a2")
    admission = login(hub, a2, "user1", "123")  # back, now last in login order
    assert admission.deliveries == (
        Delivery((a2,), Welcome("user1", ("user2", "user3", "user1"))),
        Delivery((b, c), Entered("user1")),
    )


def test_leave_of_the_last_user_has_no_targets() -> None:
    hub, _ = make_hub()
    a = Conn("a")
    register(hub, a, "bob", "pw")
    assert hub.leave(a) == [Delivery((), Left("bob"))]
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
    assert hub.chat(same_sender, "hi") == [Delivery((other,), Message("user1", "hi"))]


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
    assert created == Account("Łukasz", "h", REG)
    assert directory.find("ŁUKASZ") == created
    assert directory.register("łukasz", "h2") is None
    assert directory.find("nobody") is None


def test_account_repr_hides_the_hash() -> None:
    account = Account("alice", hash_password("pw", iterations=1, salt="visiblesalt"), REG)
    assert "visiblesalt" not in repr(account)
    assert "alice" in repr(account)


# --- the state machine -----------------------------------------------------------------------------

NAMES = ("ann", "bob", "cy", "dee", "eve")


class HubMachine(RuleBasedStateMachine):
    """Random logins, registrations, chat and logouts against a model of who is online."""

    @initialize(max_users=st.integers(1, 5), preconfigured=st.integers(0, 3))
    def setup(self, max_users: int, preconfigured: int) -> None:
        count = min(preconfigured, max_users)
        self.passwords = {NAMES[i]: f"pw{i}" for i in range(count)}  # every account, by name
        self.kind = {name: PRE for name in self.passwords}
        self.display = {name: name for name in self.passwords}  # spelling at registration
        self.hub, self.store = make_hub(max_users, dict(self.passwords))
        self.handles = [Conn(f"h{i}") for i in range(6)]
        self.online: dict[Conn, str] = {}  # insertion order = login order

    # --- model helpers

    def _has_seat(self, kind: AccountKind) -> bool:
        budget = self.hub.budget
        limit = budget.preconfigured if kind is PRE else budget.max_users - budget.preconfigured
        return sum(1 for name in self.online.values() if self.kind[name] is kind) < limit

    def _check_targets(self, deliveries: tuple[Delivery[object], ...] | list[Delivery[object]]) -> None:
        for delivery in deliveries:
            assert isinstance(delivery.event, (Welcome, Entered, Left, Message))
            assert len(set(delivery.targets)) == len(delivery.targets)
            assert set(delivery.targets) <= set(self.online), "delivery to a handle not logged in"

    def _admitted(self, handle: Conn, name: str, admission: Admission[object]) -> None:
        others = tuple(self.online)
        self.online[handle] = name
        shown = self.display[name]
        assert admission.deliveries == (
            Delivery((handle,), Welcome(shown, tuple(self.display[n] for n in self.online.values()))),
            Delivery(others, Entered(shown)),
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
            assert deliveries == [Delivery(others, Message(self.display[self.online[handle]], text))]
        else:
            assert deliveries == []
        self._check_targets(deliveries)

    @rule(h=st.integers(0, 5))
    def logout(self, h: int) -> None:
        handle = self.handles[h]
        deliveries = self.hub.leave(handle)
        if handle in self.online:
            name = self.online.pop(handle)
            assert deliveries == [Delivery(tuple(self.online), Left(self.display[name]))]
        else:
            assert deliveries == []
        self._check_targets(deliveries)

    # --- invariants

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
