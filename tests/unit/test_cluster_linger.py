"""The linger decision of a cluster node (pollchat.server.cluster.linger), pure: when
main-chat lines from the bus wait a moment for another node's entry of the same burst,
and that a lone line never waits (or never more than the cap)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pollchat.server.cluster.linger import LINGER_MAX, LINGER_MEMORY, LINGER_MISSES, Linger

COST = 0.006  # the last flush of the broadcasts took 6 ms (500 members, measured): above the cap


def burst(linger: Linger, start: float, gaps: list[float], flushes: int, cost: float = COST) -> list[float]:
    """Arrivals at ``start`` and then after each of ``gaps``; the answers."""
    now, answers = start, []
    for gap in [0.0, *gaps]:
        now += gap
        answers.append(linger.arrived(now, cost, flushes))
    return answers


def test_a_lone_line_does_not_wait() -> None:
    linger = Linger()
    assert linger.arrived(10.0, COST, 0) == 0.0
    assert linger.arrived(10.05, COST, 1) == 0.0  # 50 ms later: one line per entry, users at their own pace
    assert linger.lingers == 0


def test_after_entries_arrive_in_a_cluster_a_burst_s_first_entry_waits_at_most_the_cap() -> None:
    linger = Linger()
    assert burst(linger, 10.0, [0.0005], flushes=0) == [0.0, 0.0]  # two entries 0.5 ms apart: a cluster
    first = linger.arrived(10.5, COST, 1)  # the next burst's first entry waits for the others
    assert first == 10.5 + LINGER_MAX
    assert linger.arrived(10.5008, COST, 1) == first  # the other node's entry joins it
    assert linger.arrived(10.5015, COST, 1) == first  # so does a third (a node's second pass)
    assert linger.arrived(11.0, COST, 2) == 11.0 + LINGER_MAX  # flushed since; it paid: the next burst lingers too
    assert (linger.lingers, linger.joined) == (2, 1)


def test_two_lingers_in_a_row_nobody_joined_stop_lingering_until_entries_cluster_again() -> None:
    linger = Linger()
    burst(linger, 10.0, [0.0001], flushes=0)
    assert linger.arrived(10.5, COST, 1) == 10.5 + LINGER_MAX
    assert linger.arrived(10.52, COST, 2) == 10.52 + LINGER_MAX  # flushed alone; the rest may come now
    assert linger.arrived(11.0, COST, 3) == 0.0  # flushed alone again: it did not pay twice
    assert linger.arrived(11.5, COST, 4) == 0.0
    assert linger.arrived(11.5002, COST, 4) == 0.0  # clustered again; within a burst nothing waits
    assert linger.arrived(12.0, COST, 5) == 12.0 + LINGER_MAX
    assert (linger.lingers, linger.joined) == (3, 0)


def test_when_a_burst_s_first_line_leaves_alone_the_next_linger_gathers_the_rest() -> None:
    linger = Linger()
    burst(linger, 10.0, [0.0001], flushes=0)
    assert linger.arrived(10.5, COST, 1) == 10.5 + LINGER_MAX  # the first line waits for nothing
    assert linger.arrived(10.52, COST, 2) == 10.52 + LINGER_MAX  # 20 ms later, one node's rest
    assert linger.arrived(10.5205, COST, 2) == 10.52 + LINGER_MAX  # and the other's, together
    assert linger.arrived(11.0, COST, 3) == 11.0 + LINGER_MAX  # it paid: the next burst lingers
    assert linger.joined == 1


def test_the_wait_is_no_longer_than_the_last_flush_took() -> None:
    linger = Linger()
    burst(linger, 10.0, [0.0001], flushes=0)
    assert linger.arrived(10.5, 0.0003, 1) == 10.5 + 0.0003  # a small audience: a short flush, a short wait
    linger = Linger()
    burst(linger, 10.0, [0.0001], flushes=0)
    assert linger.arrived(10.5, 0.0, 1) == 0.0  # nothing flushed yet: nothing to save


def test_bursts_further_apart_than_the_memory_start_without_a_linger() -> None:
    linger = Linger()
    burst(linger, 10.0, [0.0001], flushes=0)
    assert linger.arrived(10.0001 + LINGER_MEMORY + 0.1, COST, 1) == 0.0
    assert linger.lingers == 0


def test_an_entry_arriving_once_the_linger_is_due_goes_with_it_and_begins_none() -> None:
    linger = Linger()
    burst(linger, 10.0, [0.0001], flushes=0)
    until = linger.arrived(10.5, COST, 1)
    # this pass reached the deadline before the flush: the entry leaves in that flush,
    # and the lines that waited never wait a second time
    assert linger.arrived(until + 0.0001, COST, 1) == 0.0
    assert linger.until == 0.0
    assert linger.joined == 1


arrivals = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=0.1),  # seconds since the arrival before
        st.floats(min_value=0.0, max_value=0.05),  # the last flush's cost
        st.booleans(),  # the loop flushed the broadcasts since the arrival before
    ),
    max_size=60,
)


@given(arrivals)
def test_no_line_waits_past_the_cap_after_the_entry_that_began_its_linger(steps: list[tuple[float, float, bool]]) -> None:
    linger = Linger()
    now, flushes = 100.0, 0
    began = None  # when the linger under way began
    for gap, cost, flushed in steps:
        now += gap
        if flushed:
            flushes += 1
            began = None
        until = linger.arrived(now, cost, flushes)
        if until:
            assert until > now  # a deadline to wait for, never one past
            if began is None:
                began = now
                assert until == now + min(LINGER_MAX, cost)
            assert until <= began + LINGER_MAX
        else:
            began = None  # flushed at the end of this pass


@given(st.lists(st.tuples(st.floats(min_value=LINGER_MAX * 1.01, max_value=1.0), st.booleans()), max_size=60))
def test_lines_that_never_arrive_in_a_cluster_never_wait(steps: list[tuple[float, bool]]) -> None:
    linger = Linger()
    now, flushes = 100.0, 0
    for gap, flushed in steps:
        now += gap
        flushes += flushed
        assert linger.arrived(now, COST, flushes) == 0.0
    assert linger.lingers == 0


@given(st.lists(st.floats(min_value=LINGER_MAX * 1.01, max_value=0.2), max_size=60))
def test_after_lines_happened_to_arrive_together_at_most_a_few_lone_lines_wait(gaps: list[float]) -> None:
    linger = Linger()
    burst(linger, 10.0, [0.0001], flushes=0)
    now, flushes = 10.0001, 0
    for gap in gaps:  # one line per entry from now on, each flushed before the next
        now += gap
        flushes += 1
        linger.arrived(now, COST, flushes)
    assert linger.lingers <= LINGER_MISSES
