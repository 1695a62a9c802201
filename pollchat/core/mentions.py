"""Mentions: which account names a chat line addresses with ``@name``.

Pure text work: the hub matches the returned keys against who is online (and, in a
group, who is a member). ``@bob.`` and ``(@bob)`` mention bob; ``me@bob`` (an e-mail
address) does not.
"""

from __future__ import annotations

import re

from pollchat.protocol.names import name_key, normalize_name

MAX_MENTIONS = 10
"""Names looked at per line: a line of a hundred ``@``s is not a hundred notifications."""

_MENTION = re.compile(r"(?<![\w@])@([^\s@]+)")
_TRAILING = ".,;:!?)]}'\"»…"


def mentioned_keys(text: str) -> list[str]:
    """The :func:`~pollchat.protocol.names.name_key` of each valid name written as
    ``@name`` in ``text``, first mention first, without repeats, at most
    :data:`MAX_MENTIONS`. Punctuation right after a name is not part of it, unless the
    name with it is itself valid (``@a.b`` stays ``a.b``; ``@bob.`` is also ``bob``), and
    ``@bob's`` is bob."""
    keys: list[str] = []
    for match in _MENTION.finditer(text):
        token = match.group(1)
        # "@bob." and "@bob's" mention bob (a name never has an apostrophe)
        for candidate in (token, token.rstrip(_TRAILING), re.split("['’]", token, maxsplit=1)[0].rstrip(_TRAILING)):
            name = normalize_name(candidate) if candidate else None
            if name is not None and name_key(name) not in keys:
                keys.append(name_key(name))
        if len(keys) >= MAX_MENTIONS:
            return keys[:MAX_MENTIONS]
    return keys
