"""``--announce-limit``: the announce rule (pollchat.core.announce) and the hub's use of it.

Examples: the limit 0 announces always; entries are announced up to the limit, the
newcomer included; a leave is announced if its entry was or within the limit; the first
unannounced entry tells everyone else once and every unannounced newcomer after its
welcome; the notice is told again after the count was back within the limit; several
devices of one account are one entry and one leave. Hypothesis: random logins and
logouts against observers that keep a list of people from what they are sent (welcome,
entered, left): a list is never missing a leave of an entry it was shown, an observer
never told that the notices are off has the true list, and the announced counts follow
the rule.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pollchat.core.announce import Announcer, EntryDecision
from pollchat.core.effects import Delivery, Effect, ToEveryone
from pollchat.core.hub import Hub
from pollchat.core.ignores import Ignores
from pollchat.errors import StoreError
from pollchat.protocol.events import Entered, Left, Notice, Welcome
from pollchat.texts import NoticeCode
from tests.unit.test_hub import Conn, make_hub, quick_hash_cached, register, sends


# --- the rule ---------------------------------------------------------------------------------


def test_limit_0_announces_everything_and_never_tells() -> None:
    announcer = Announcer(0)
    for online in (1, 2, 1_000, 50_000):
        assert announcer.entry(online) == EntryDecision(True)
        assert announcer.leave(online, False)
    assert not announcer.told


def test_entries_are_announced_up_to_the_limit_newcomer_included() -> None:
    announcer = Announcer(3)
    assert [announcer.entry(n).announce for n in (1, 2, 3)] == [True, True, True]
    fourth = announcer.entry(4)
    assert fourth == EntryDecision(False, tell_newcomer=True, tell_others=True)
    assert announcer.entry(5) == EntryDecision(False, tell_newcomer=True, tell_others=False)  # told once


def test_a_leave_is_announced_if_its_entry_was_or_within_the_limit() -> None:
    announcer = Announcer(3)
    assert announcer.leave(10, True)  # announced entry: its leave too, however many are online
    assert not announcer.leave(10, False)
    assert announcer.leave(3, False)  # the leaver included: within the limit


def test_the_notice_is_told_again_only_after_the_count_was_within_the_limit() -> None:
    announcer = Announcer(3)
    assert announcer.entry(4).tell_others
    announcer.leave(5, False)  # 4 left: still above
    assert not announcer.entry(5).tell_others
    announcer.leave(5, False)
    announcer.leave(4, False)  # 3 left: within the limit
    assert announcer.entry(4).tell_others


def test_heard_told_counts_as_told() -> None:
    announcer = Announcer(1)
    announcer.heard_told()
    assert announcer.entry(2) == EntryDecision(False, tell_newcomer=True, tell_others=False)


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError):
        Announcer(-1)


# --- the hub ----------------------------------------------------------------------------------

OFF = NoticeCode.ANNOUNCEMENTS_OFF


def limited_hub(limit: int, max_users: int = 50, sessions: int = 1) -> Hub[object]:
    hub, _ = make_hub(max_users=max_users)
    hub.announcer = Announcer(limit)
    hub.sessions_per_account = sessions
    return hub


def join(hub: Hub[object], name: str) -> tuple[Conn, tuple[Effect[object], ...]]:
    handle = Conn(name)
    admission = register(hub, handle, name, "pw")
    assert admission.refusal is None, admission.refusal
    return handle, admission.deliveries


def test_past_the_limit_the_entry_is_not_announced_and_both_sides_are_told() -> None:
    hub = limited_hub(2)
    a, _ = join(hub, "amy")
    b, effects = join(hub, "bob")
    assert ToEveryone((a,), Entered("bob")) in effects
    c, effects = join(hub, "cat")
    sent = sends(effects)
    assert sent[0] == Delivery((c,), Welcome("cat", ("amy", "bob", "cat")))
    assert sent[1] == Delivery((c,), Notice.of(OFF, limit=2))
    assert sent[2] == ToEveryone((a, b), Notice.of(OFF, limit=2))
    assert not any(isinstance(e.event, Entered) for e in sent)
    assert sent[1].event.text == (  # type: ignore[union-attr]
        "more than 2 users are online: entered and left notices are off while so many are (/who lists who is online)"
    )
    d, effects = join(hub, "dan")  # told already: only the newcomer hears it
    assert sends(effects)[1:] == [Delivery((d,), Notice.of(OFF, limit=2))]


def test_an_announced_user_s_leave_is_announced_above_the_limit_and_an_unannounced_one_s_not() -> None:
    hub = limited_hub(2)
    a, _ = join(hub, "amy")
    b, _ = join(hub, "bob")
    c, _ = join(hub, "cat")
    d, _ = join(hub, "dan")
    assert ToEveryone((b, c, d), Left("amy", "")) in hub.leave(a)  # 4 online, amy was announced
    assert sends(hub.leave(c)) == []  # 3 online, cat was not
    assert sends(hub.leave(d)) == [ToEveryone((b,), Left("dan", ""))]  # 2 online: within the limit


def test_who_lists_everyone_whatever_the_limit() -> None:
    hub = limited_hub(1)
    handles = [join(hub, name)[0] for name in ("amy", "bob", "cat")]
    (who,) = hub.who(handles[0])
    assert [entry.name for entry in who.event.users] == ["amy", "bob", "cat"]  # type: ignore[union-attr]


def test_another_device_of_an_unannounced_account_is_told_nothing_and_the_last_leave_follows_the_entry() -> None:
    hub = limited_hub(1, sessions=2)
    a, _ = join(hub, "amy")
    b, _ = join(hub, "bob")  # not announced
    phone = Conn("bob-phone")
    account = hub.accounts.find("bob")
    admission = hub.login(phone, account, True)
    assert sends(admission.deliveries) == [Delivery((phone,), Welcome("bob", ("amy", "bob")))]
    assert sends(hub.leave(b)) == []
    assert sends(hub.leave(phone)) == []  # 2 online and bob's entry was not announced
    assert hub.online_names() == ("amy",)


def test_the_default_is_the_seed_s_rule() -> None:
    hub, _ = make_hub(max_users=50)
    assert hub.announcer.limit == 0
    handles = [join(hub, f"u{i}")[0] for i in range(5)]
    _, effects = join(hub, "late")
    assert ToEveryone(tuple(handles), Entered("late")) in effects


# --- hypothesis: observers' lists of people ---------------------------------------------------


class Observer:
    """What a client knows of who is online, from the events it is sent."""

    def __init__(self) -> None:
        self.people: set[str] = set()
        self.told = False
        self.saw_enter: set[str] = set()

    def see(self, event: object) -> None:
        if isinstance(event, Welcome):
            self.people = set(event.users)
        elif isinstance(event, Entered):
            self.people.add(event.name)
            self.saw_enter.add(event.name)
        elif isinstance(event, Left):
            self.people.discard(event.name)
            self.saw_enter.discard(event.name)
        elif isinstance(event, Notice) and event.code is OFF:
            self.told = True


@settings(max_examples=150, deadline=None)
@given(
    limit=st.integers(min_value=0, max_value=5),
    steps=st.lists(st.tuples(st.booleans(), st.integers(min_value=0, max_value=9)), max_size=60),
)
def test_observers_lists_stay_truthful(limit: int, steps: list[tuple[bool, int]]) -> None:
    hub = limited_hub(limit)
    names = [f"p{i}" for i in range(10)]
    for name in names:
        hub.accounts.register(name, quick_hash_cached("pw"))
    handles: dict[str, Conn] = {}
    observers: dict[Conn, Observer] = {}
    leaving: dict[str, set[Conn]] = {}

    def deliver(effects: tuple[Effect[object], ...] | list[Effect[object]]) -> None:
        for effect in sends(effects):
            for target in effect.targets:
                if target in observers:
                    observers[target].see(effect.event)
                    if isinstance(effect.event, Left):
                        leaving.setdefault(effect.event.name, set()).add(target)

    for logs_in, index in steps:
        name = names[index]
        if logs_in and name not in handles:
            online_after = len(handles) + 1
            handle = handles[name] = Conn(name)
            observers[handle] = Observer()
            admission = hub.login(handle, hub.accounts.find(name), True)
            assert admission.refusal is None
            announced = any(isinstance(getattr(e, "event", None), Entered) for e in admission.deliveries)
            assert announced == (limit == 0 or online_after <= limit)
            deliver(admission.deliveries)
        elif not logs_in and name in handles:
            handle = handles.pop(name)
            watchers = [o for h, o in observers.items() if h is not handle and name in o.saw_enter]
            observers.pop(handle)
            leaving.pop(name, None)
            deliver(hub.leave(handle))
            told = leaving.get(name, set())
            for watcher in watchers:  # whoever was shown the entry is shown the leave
                assert any(observers.get(h) is watcher for h in told)
        actual = set(handles)
        for observer in observers.values():
            if not observer.told:
                assert observer.people == actual
            assert observer.saw_enter <= actual  # no ghost of an announced entry
    if limit == 0:
        assert not any(observer.told for observer in observers.values())


def test_a_login_the_store_fails_decides_nothing_so_the_next_quiet_login_still_tells_everyone() -> None:
    hub = limited_hub(1)
    a, _ = join(hub, "amy")
    hub.accounts.register("bob", quick_hash_cached("pw"))

    class FailingOnce:
        """An ignore store whose first read fails (a disk error)."""

        failed = False

        def ignored_ids(self, account_id: int) -> list[int]:
            if not self.failed:
                self.failed = True
                raise StoreError("disk full")
            return []

    hub.ignores = Ignores(FailingOnce())  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        hub.login(Conn("bob"), hub.accounts.find("bob"), True)
    b = Conn("bob")
    effects = hub.login(b, hub.accounts.find("bob"), True).deliveries
    assert ToEveryone((a,), Notice.of(OFF, limit=1)) in effects
