"""Account names: what is allowed, and when two names are the same account.

Rules (foundation issue): 1 to 32 characters; each a letter, a digit, ``_``, ``-`` or
``.``; no comma and no space (the comma separates name from password in seed 004).
Letters and digits may be any Unicode letters (categories L*) and decimal digits (Nd),
so ``José`` and ``Łukasz`` are valid names.

Names are compared case-insensitively: :func:`name_key` folds case after NFC
normalisation, so ``Alice``, ``alice`` and ``ALICE`` -- and a composed and a decomposed
``é`` -- are one account (``str.casefold``, Unicode default caseless matching).
"""

from __future__ import annotations

import unicodedata

MAX_NAME_LENGTH = 32
_PUNCTUATION = frozenset("_-.")


def normalize_name(name: str) -> str | None:
    """Return ``name`` in NFC form if it is a valid account name, else ``None``.

    Args:
        name: the name as the user typed it.

    Returns:
        The NFC-normalised name (the spelling shown to others), or ``None`` when it is
        empty, longer than :data:`MAX_NAME_LENGTH` characters, or has a character that
        is not a letter, a decimal digit, ``_``, ``-`` or ``.``.
    """
    name = unicodedata.normalize("NFC", name)
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        return None
    for ch in name:
        if ch in _PUNCTUATION:
            continue
        category = unicodedata.category(ch)
        if not (category.startswith("L") or category == "Nd"):
            return None
    return name


def name_key(name: str) -> str:
    """The case-insensitive identity of a valid name: two names are one account iff
    their keys are equal."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())
