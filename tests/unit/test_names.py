"""Account names (pollchat.protocol.names): which names are valid, NFKC normalisation,
the case-insensitive key, lookalikes (skeletons, mixed scripts), the 32-character limit, and that a valid name and any password
survive the ``name,password`` credentials line (the password may contain commas).
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.protocol.names import MAX_NAME_LENGTH, legacy_key, mixed_scripts, name_key, normalize_name, skeleton
from pollchat.protocol.session import Authenticate, Session, Verb
from tests.strategies import (
    ascii_names,
    expected_valid_name,
    invalid_names,
    is_name_char,
    passwords,
    valid_names,
)


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "alice",
        "user1",
        "User_1",
        "a.b-c_d",
        "_",
        "...",
        "José",
        "Łukasz",
        "名前",
        "Ωμέγα",
        "Юля",
        "١٢٣",  # Arabic-Indic digits (Nd)
        "x" * 32,
    ],
)
def test_valid_names_are_returned_unchanged(name: str) -> None:
    assert normalize_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x" * 33,
        "a,b",
        "a b",
        " alice",
        "alice ",
        "alice\t",
        "a@b",
        "a+b",
        "a/b",
        "nul\x00",
        "esc\x1b",
        "emoji😀",
        "zero\u200bwidth",  # Cf
        "nb\u00a0sp",
        "½",  # No; NFKC gives 1, FRACTION SLASH, 2
        "\u2163\u0301",  # Nl; NFKC gives IV and a combining mark left over
        "\u0301",  # a lone combining mark
        "e\u0301\u0301",  # NFC leaves a combining mark behind
    ],
)
def test_invalid_names_are_refused(name: str) -> None:
    assert normalize_name(name) is None


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("ａｌｉｃｅ", "alice"), ("Ａlice", "Alice"), ("ｕｓｅｒ１", "user1"), ("²", "2"), ("Ⅻ", "XII"), ("ﬁle", "file")],
)
def test_compatibility_characters_are_their_ordinary_form(typed: str, stored: str) -> None:
    """Issue 14: NFKC, as RFC 8265 says for user names, so the fullwidth "ａｌｉｃｅ" and
    "Ａlice" *are* alice (stored and shown in their ordinary form), never a second
    account that looks the same."""
    assert normalize_name(typed) == stored
    assert name_key(typed) == name_key(stored)


@pytest.mark.parametrize(
    ("new", "existing"),
    [
        ("rооt", "root"),  # Cyrillic o
        ("раураl", "paypal"),  # Cyrillic but the l
        ("сосо", "coco"),  # all Cyrillic: no mix, still alike
        ("ТОМ", "tom"),  # Cyrillic capitals against Latin lower case
        ("aIice", "alice"),  # capital I for l
        ("a1ice", "alice"),  # digit one for l
        ("rnallory", "mallory"),  # r n for m
        ("b0b", "bob"),  # zero for o
        ("ΑLICE", "ALICE"),  # Greek capital alpha
    ],
)
def test_lookalikes_have_the_same_skeleton(new: str, existing: str) -> None:
    assert name_key(new) != name_key(existing)
    assert skeleton(new) == skeleton(existing)


@pytest.mark.parametrize(("a", "b"), [("alice", "alicia"), ("José", "Jose"), ("ian", "lan"), ("user1", "user2"), ("名前", "名刺")])
def test_different_looking_names_have_different_skeletons(a: str, b: str) -> None:
    assert skeleton(a) != skeleton(b)


@pytest.mark.parametrize(
    ("name", "mixed"),
    [("rооt", True), ("раураl", True), ("Ωmega", True), ("Юлія", False), ("Ωμέγα", False), ("root", False),
     ("user_1", False), ("José", False), ("名前alice", False), ("Юля名", False), ("αβγ123", False)],
)
def test_mixing_latin_cyrillic_and_greek_letters(name: str, mixed: bool) -> None:
    assert mixed_scripts(name) is mixed


def test_legacy_key_is_the_nfc_key() -> None:
    assert legacy_key("Alice") == name_key("Alice") == "alice"
    assert legacy_key("ａｌｉｃｅ") == "ａｌｉｃｅ" != name_key("ａｌｉｃｅ")


def test_decomposed_and_composed_names_are_the_same() -> None:
    decomposed, composed = "Jose\u0301", "Jos\u00e9"
    assert decomposed != composed
    assert normalize_name(decomposed) == composed
    assert name_key(decomposed) == name_key(composed)


def test_length_is_counted_after_normalisation() -> None:
    assert normalize_name("e\u0301" * 32) == "\u00e9" * 32  # 64 code points in, 32 out
    assert normalize_name("e\u0301" * 33) is None


def test_32_characters_ok_33_refused() -> None:
    assert MAX_NAME_LENGTH == 32
    assert normalize_name("é" * 32) == "é" * 32
    assert normalize_name("é" * 33) is None
    assert normalize_name("a" * 33) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [("Alice", "ALICE"), ("alice", "ALICE"), ("aLiCe", "Alice"), ("ÉLODIE", "élodie"), ("Straße", "STRASSE")],
)
def test_name_key_ignores_case(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize(("a", "b"), [("alice", "alicf"), ("alice", "alice_"), ("e", "é"), ("a.b", "a-b")])
def test_name_key_keeps_different_names_apart(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


# --- properties ------------------------------------------------------------------------------


@given(valid_names())
def test_valid_names_normalise_to_themselves(name: str) -> None:
    assert normalize_name(name) == name


@given(invalid_names())
def test_invalid_names_are_none(name: str) -> None:
    assert normalize_name(name) is None


@given(st.one_of(st.text(max_size=40), valid_names(), invalid_names()))
def test_normalize_name_agrees_with_the_rule(text: str) -> None:
    result = normalize_name(text)
    assert (result is not None) == expected_valid_name(text)
    if result is not None:
        assert result == unicodedata.normalize("NFKC", text)
        assert 1 <= len(result) <= MAX_NAME_LENGTH
        assert all(is_name_char(ch) for ch in result)
        assert "," not in result and " " not in result


@given(ascii_names())
def test_ascii_names_are_one_account_in_any_case(name: str) -> None:
    assert name_key(name.upper()) == name_key(name.lower()) == name_key(name) == name.lower()


@given(valid_names())
def test_name_key_is_stable_under_normalisation(name: str) -> None:
    decomposed = unicodedata.normalize("NFD", name)
    assert name_key(decomposed) == name_key(name)


@given(valid_names(), passwords())
def test_name_and_password_round_trip_through_the_credentials_line(name: str, password: str) -> None:
    line = f"{name},{password}"
    user, comma, rest = line.partition(",")
    assert (normalize_name(user), comma, rest) == (name, ",", password)
    session = Session()
    session.feed("login")
    assert session.feed(line) == [Authenticate(Verb.LOGIN, name, password)]
