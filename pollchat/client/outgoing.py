"""Shaping what the client sends: typing indicators (rate-limited) and long lines cut to
the server's line limit (pure, clock injected)."""

from __future__ import annotations

from pollchat.client.state import MAIN

TYPING_ON_EVERY = 3.0
"""At most one ``/typing on`` per this many seconds while the user keeps typing."""
TYPING_IDLE_OFF = 5.0
"""Seconds without a keystroke after which ``/typing off`` is sent."""
MAX_WIRE_BYTES = 4000
"""Longest line the client sends; longer input is split (the server's limit is 4096)."""


class TypingNotifier:
    """Decides when to send ``/typing on|off [NAME]`` (rate-limited, pure).

    ``on`` goes out at the first keystroke in a conversation and then at most every
    :data:`TYPING_ON_EVERY` seconds; ``off`` after :data:`TYPING_IDLE_OFF` seconds
    without a keystroke, when the line is sent or emptied, or when the user switches
    to another conversation. A target is :data:`~pollchat.client.state.MAIN`, a
    person's name or ``#group``.
    """

    def __init__(self) -> None:
        self.target: str | None = None
        self.last_on = float("-inf")
        self.last_key = float("-inf")

    def keystroke(self, target: str | None, now: float) -> list[str]:
        """The user changed the text for ``target`` at ``now`` (``None``: the text is
        not a message, e.g. a command); returns the lines to send."""
        out: list[str] = []
        if self.target is not None and self.target != target:
            out += self.stop()
        if target is None:
            return out
        self.last_key = now
        if self.target != target or now - self.last_on >= TYPING_ON_EVERY:
            self.target, self.last_on = target, now
            out.append(_typing_line("on", target))
        return out

    def tick(self, now: float) -> list[str]:
        """``off`` if the user stopped typing long enough ago."""
        if self.target is not None and now - self.last_key >= TYPING_IDLE_OFF:
            return self.stop()
        return []

    def stop(self) -> list[str]:
        """``off`` for the current target, if any."""
        if self.target is None:
            return []
        target, self.target = self.target, None
        self.last_on = float("-inf")
        return [_typing_line("off", target)]

    def forget(self) -> None:
        """The connection is gone: nothing to switch off any more."""
        self.target = None
        self.last_on = float("-inf")

    def deadline(self) -> float | None:
        """When :meth:`tick` will next have something to do."""
        return self.last_key + TYPING_IDLE_OFF if self.target is not None else None


def _typing_line(state: str, target: str) -> str:
    return f"/typing {state}" if target == MAIN else f"/typing {state} {target}"


def split_for_wire(prefix: str, text: str, limit: int = MAX_WIRE_BYTES) -> list[str]:
    """``prefix + text`` as lines of at most ``limit`` UTF-8 bytes each, ``text`` cut on
    character boundaries (preferably at a space) and ``prefix`` repeated on each."""
    room = max(1, limit - len(prefix.encode("utf-8")))
    lines: list[str] = []
    while text:
        if len(text.encode("utf-8")) <= room:
            lines.append(prefix + text)
            break
        cut, size = 0, 0
        for index, ch in enumerate(text):
            size += len(ch.encode("utf-8"))
            if size > room:
                break
            cut = index + 1
        space = text.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space + 1
        lines.append(prefix + text[:cut].rstrip(" ") if text[:cut].strip() else prefix + text[:cut])
        text = text[cut:]
    return lines
