"""Guess-the-number: seed 000's "a game for users when nobody else is connected".

Pure: the server picks the secret (``random.randint``) and feeds the player's lines.
A game is offered to a user who logs in alone, started with ``/play``, played with
ordinary lines, and ends when the number is found, on ``/play`` again, or when someone
else enters the chat.
"""

from __future__ import annotations

from pollchat.texts import NoticeCode

TOP = 100
"""Numbers are picked from 1 to TOP."""


class GuessingGame:
    """One game.

    Args:
        secret: the number to find, 1..``top``.
        top: the largest number.

    Raises:
        ValueError: if ``secret`` is out of range.
    """

    __slots__ = ("secret", "top", "tries", "finished")

    def __init__(self, secret: int, top: int = TOP) -> None:
        if not 1 <= secret <= top:
            raise ValueError("secret out of range")
        self.secret = secret
        self.top = top
        self.tries = 0
        self.finished = False

    def guess(self, line: str) -> tuple[NoticeCode, dict[str, object]]:
        """Take one line of play; returns the notice to show and its details.

        A line that is not a whole number in range is not counted as a try.
        """
        text = line.strip()
        try:
            guess = int(text) if text.isdecimal() else 0
        except ValueError:  # more digits than int() converts (Python's 4300-digit limit)
            guess = 0
        if not 1 <= guess <= self.top:
            return NoticeCode.GAME_NOT_A_NUMBER, {"top": self.top}
        self.tries += 1
        if guess < self.secret:
            return NoticeCode.GAME_HIGHER, {"guess": guess}
        if guess > self.secret:
            return NoticeCode.GAME_LOWER, {"guess": guess}
        self.finished = True
        return NoticeCode.GAME_WON, {"guess": guess, "tries": self.tries}
