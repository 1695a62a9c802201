"""Account names: what is allowed, when two names are the same account, and when two
names only look the same.

Rules: 1 to 32 characters once NFKC-normalised; each a
letter, a digit, ``_``, ``-`` or ``.``; no comma and no space (the comma separates name
from password in seed 004). Letters and digits may be any Unicode letters (categories L*)
and decimal digits (Nd), so ``José`` and ``Łukasz`` are valid names.

Normalisation is NFKC (:func:`normalize_name`), as RFC 8265's PRECIS profiles for user
names do: compatibility characters become their ordinary form, so the fullwidth
``ａｌｉｃｅ`` and ``Ａlice`` *are* ``alice`` and ``Alice``, and the NFKC form is the
spelling stored and shown. Names are compared case-insensitively: :func:`name_key`
folds case (``str.casefold``, Unicode default caseless matching) after NFKC, so
``Alice``, ``alice`` and ``ALICE`` -- and a composed and a decomposed ``é`` -- are one
account.

Two more rules apply to a *new* name (a registration, ``/nick``), never to logging in
with an existing one:

* :func:`mixed_scripts`: a name may not mix Latin, Cyrillic and Greek letters, so
  ``rооt`` with two Cyrillic ``о`` is refused even when nobody is called ``root``;
* :func:`skeleton`: the UTS #39 confusable skeleton, compared case-insensitively; a
  name whose skeleton is an existing account's is refused (``раураl`` all in Cyrillic
  against ``paypal``, ``aIice`` with a capital I against ``alice``, ``rn`` against
  ``m``). The table is a subset of Unicode's confusables.txt shipped as
  ``name_confusables.txt`` beside this module (its header has the source and licence).

:func:`legacy_key` is the key of earlier pollchat versions (NFC, not NFKC): the store
keeps it for an old account whose NFKC key another account already has, so that both
still log in (see :meth:`pollchat.store.database.Database.open`).
"""

from __future__ import annotations

import functools
import unicodedata
from importlib import resources

MAX_NAME_LENGTH = 32
_PUNCTUATION = frozenset("_-.")
_CONFUSABLES = "name_confusables.txt"
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
"""The scripts whose letters look alike and may not be mixed in one name (the first word
of a letter's Unicode name; the standard library has no Script property)."""


def normalize_name(name: str) -> str | None:
    """Return ``name`` in NFKC form if it is a valid account name, else ``None``.

    Args:
        name: the name as the user typed it.

    Returns:
        The NFKC-normalised name (the spelling stored and shown to others), or ``None``
        when it is empty, longer than :data:`MAX_NAME_LENGTH` characters, or has a
        character that is not a letter, a decimal digit, ``_``, ``-`` or ``.``.
    """
    name = unicodedata.normalize("NFKC", name)
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
    their keys are equal (NFKC, case folded, NFKC again)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def legacy_key(name: str) -> str:
    """The key earlier pollchat versions gave ``name`` (NFC instead of NFKC). Equal to
    :func:`name_key` for every name without compatibility characters."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def skeleton(name: str) -> str:
    """The confusable skeleton of ``name``: equal for two names that look alike.

    UTS #39's skeleton (NFD, each character replaced by its prototype from the
    confusables table, NFD again) of the NFKC name, then case-folded and mapped once
    more, so that the comparison ignores case as names do (``ТОМ`` in Cyrillic capitals
    and ``tom`` meet at ``torn``)."""
    return _map_prototypes(_map_prototypes(unicodedata.normalize("NFKC", name)).casefold())


def mixed_scripts(name: str) -> bool:
    """True if ``name`` has letters of more than one of Latin, Cyrillic and Greek (the
    scripts whose letters are most often confused). Digits, punctuation and letters of
    other scripts (Han, Arabic, ...) never count as a mix."""
    seen = set()
    for ch in unicodedata.normalize("NFKC", name):
        if unicodedata.category(ch).startswith("L"):
            script = unicodedata.name(ch, "").partition(" ")[0]
            if script in _SCRIPTS:
                seen.add(script)
    return len(seen) > 1


def _map_prototypes(text: str) -> str:
    table = _prototypes()
    mapped = "".join(table.get(ch, ch) for ch in unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", mapped)


@functools.cache
def _prototypes() -> dict[str, str]:
    """``name_confusables.txt``: source character -> prototype (read once)."""
    table = {}
    text = resources.files("pollchat.protocol").joinpath(_CONFUSABLES).read_text(encoding="utf-8")
    for line in text.splitlines():
        data = line.partition("#")[0].strip()
        if data:
            source, _, target = data.partition(";")
            table[chr(int(source, 16))] = "".join(chr(int(code, 16)) for code in target.split())
    return table
