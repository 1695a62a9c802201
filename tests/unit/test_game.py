"""The guess-the-number game (pollchat.core.game.GuessingGame): higher, lower, won, lines
that are not numbers in range are not counted, the finished flag; a property plays a
whole game by bisection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.core.game import TOP, GuessingGame
from pollchat.texts import NoticeCode


def test_higher_lower_and_won_count_the_tries() -> None:
    game = GuessingGame(42)
    assert game.guess("50") == (NoticeCode.GAME_LOWER, {"guess": 50})
    assert game.guess("10") == (NoticeCode.GAME_HIGHER, {"guess": 10})
    assert (game.tries, game.finished) == (2, False)
    assert game.guess(" 42\t") == (NoticeCode.GAME_WON, {"guess": 42, "tries": 3})
    assert (game.tries, game.finished) == (3, True)


def test_the_notices_format_with_their_details() -> None:
    game = GuessingGame(5, top=10)
    for line in ("1", "9", "x", "5"):
        code, detail = game.guess(line)
        assert "{" not in code.value.format(**detail)


@pytest.mark.parametrize(
    "line", ["", " ", "ten", "4.5", "-3", "+3", "0", "101", "1e2", "0x10", "5 6", "½", "²", "100000000000000000000"]
)
def test_lines_that_are_not_numbers_in_range_are_not_counted(line: str) -> None:
    game = GuessingGame(42)
    assert game.guess(line) == (NoticeCode.GAME_NOT_A_NUMBER, {"top": TOP})
    assert (game.tries, game.finished) == (0, False)


def test_a_number_too_long_to_convert_is_not_counted() -> None:
    # int() refuses strings of more than 4300 digits (Python 3.11's limit); a line of
    # digits that long is still just out of range, never an exception.
    game = GuessingGame(42)
    assert game.guess("9" * 5000) == (NoticeCode.GAME_NOT_A_NUMBER, {"top": TOP})
    assert game.tries == 0


def test_top_bounds_the_range() -> None:
    game = GuessingGame(3, top=5)
    assert game.guess("6") == (NoticeCode.GAME_NOT_A_NUMBER, {"top": 5})
    assert game.guess("5") == (NoticeCode.GAME_LOWER, {"guess": 5})
    assert game.guess("1") == (NoticeCode.GAME_HIGHER, {"guess": 1})
    assert game.guess("03") == (NoticeCode.GAME_WON, {"guess": 3, "tries": 3})


@pytest.mark.parametrize(("secret", "top"), [(0, 100), (101, 100), (-1, 100), (6, 5)])
def test_secret_out_of_range_is_refused(secret: int, top: int) -> None:
    with pytest.raises(ValueError):
        GuessingGame(secret, top)


@pytest.mark.parametrize("secret", [1, 100])
def test_the_bounds_are_valid_secrets(secret: int) -> None:
    assert GuessingGame(secret).guess(str(secret))[0] is NoticeCode.GAME_WON


@given(st.integers(1, TOP))
def test_bisection_always_wins_within_seven_tries(secret: int) -> None:
    game = GuessingGame(secret)
    low, high = 1, TOP
    while not game.finished:
        middle = (low + high) // 2
        code, detail = game.guess(str(middle))
        assert detail["guess"] == middle
        if code is NoticeCode.GAME_HIGHER:
            low = middle + 1
        elif code is NoticeCode.GAME_LOWER:
            high = middle - 1
        else:
            assert code is NoticeCode.GAME_WON and middle == secret
    assert game.tries <= 7
