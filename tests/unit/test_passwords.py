"""Password hashes (pollchat.core.passwords) in Django's PBKDF2-SHA256 format.

The string is ``pbkdf2_sha256$<iterations>$<salt>$<base64 digest>``; the digest is checked
against an independent ``hashlib.pbkdf2_hmac`` computation and against vectors published in
Django's own test suite. Wrong passwords are refused; malformed hashes make ``parse_hash``
raise ``ValueError`` and ``verify_password`` return ``False`` (never raise, property).
Low iteration counts keep the tests fast.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.core.passwords import (
    MAX_ITERATIONS,
    PasswordHash,
    hash_password,
    parse_hash,
    verify_password,
)
from tests.strategies import passwords

FAST = 1000
FORMAT = re.compile(r"pbkdf2_sha256\$(\d+)\$([A-Za-z0-9_-]{22})\$([A-Za-z0-9+/]{43}=)")


def independent_digest(password: str, salt: str, iterations: int) -> str:
    raw = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("utf-8"), iterations)
    return base64.b64encode(raw).decode("ascii")


def test_hash_has_the_django_format() -> None:
    encoded = hash_password("secret", iterations=FAST)
    match = FORMAT.fullmatch(encoded)
    assert match is not None, encoded
    assert match[1] == "1000"


def test_digest_matches_an_independent_pbkdf2_computation() -> None:
    password = "pässwörd,with,commas ☃"
    algorithm, iterations, salt, digest = hash_password(password, iterations=FAST).split("$")
    assert algorithm == "pbkdf2_sha256"
    assert digest == independent_digest(password, salt, int(iterations))


def test_explicit_salt_is_deterministic() -> None:
    one = hash_password("pw", iterations=FAST, salt="fixedsalt")
    assert one == hash_password("pw", iterations=FAST, salt="fixedsalt")
    assert one == f"pbkdf2_sha256$1000$fixedsalt${independent_digest('pw', 'fixedsalt', 1000)}"


# Published in Django's test suite (tests/auth_tests/test_hashers.py, test_pbkdf2: make_password
# ("lètmein", "seasalt", "pbkdf2_sha256") with the default iterations of Django 1.5 and 1.6).
DJANGO_VECTORS = [
    "pbkdf2_sha256$10000$seasalt$CWWFdHOWwPnki7HvkcqN9iA2T3KLW1cf2uZ5kvArtVY=",
    "pbkdf2_sha256$12000$seasalt$Ybw8zsFxqja97tY/o6G+Fy1ksY4U/Hw3DRrGED6Up4s=",
]


@pytest.mark.parametrize("vector", DJANGO_VECTORS)
def test_django_test_vectors(vector: str) -> None:
    iterations = int(vector.split("$")[1])
    assert hash_password("lètmein", iterations=iterations, salt="seasalt") == vector
    assert verify_password("lètmein", vector)
    assert not verify_password("letmein", vector)
    assert not verify_password("lètmeinz", vector)


def test_right_and_wrong_passwords() -> None:
    encoded = hash_password("Secret,1", iterations=FAST)
    assert verify_password("Secret,1", encoded) is True
    for wrong in ("secret,1", "Secret,", "Secret,1 ", " Secret,1", "", "Secret,12"):
        assert verify_password(wrong, encoded) is False


def test_pbkdf2_cannot_tell_trailing_nuls_apart() -> None:
    # HMAC pads short keys with NULs: why the session refuses control characters in passwords.
    encoded = hash_password("pw", iterations=FAST)
    assert verify_password("pw\x00", encoded)
    assert not verify_password("pw\x01", encoded)


def test_two_hashes_of_one_password_have_different_salts() -> None:
    one = hash_password("same", iterations=FAST).split("$")
    two = hash_password("same", iterations=FAST).split("$")
    assert one[2] != two[2]
    assert one[3] != two[3]


@pytest.mark.parametrize("iterations", [0, -1, MAX_ITERATIONS + 1])
def test_hash_refuses_iterations_out_of_range(iterations: int) -> None:
    with pytest.raises(ValueError):
        hash_password("pw", iterations=iterations)


def test_parse_hash_round_trip() -> None:
    encoded = hash_password("pw", iterations=FAST, salt="abc")
    parsed = parse_hash(encoded)
    assert parsed == PasswordHash(1000, "abc", hashlib.pbkdf2_hmac("sha256", b"pw", b"abc", 1000))
    assert parsed.encode() == encoded


GOOD_B64 = base64.b64encode(bytes(32)).decode()
MALFORMED = [
    "",
    "plain text",
    "pbkdf2_sha256",
    "pbkdf2_sha256$1000$salt",
    f"pbkdf2_sha256$1000$salt${GOOD_B64}$extra",
    f"pbkdf2_sha1$1000$salt${GOOD_B64}",
    f"PBKDF2_SHA256$1000$salt${GOOD_B64}",
    f"argon2$1000$salt${GOOD_B64}",
    f"pbkdf2_sha256$abc$salt${GOOD_B64}",
    f"pbkdf2_sha256$$salt${GOOD_B64}",
    f"pbkdf2_sha256$0$salt${GOOD_B64}",
    f"pbkdf2_sha256$-5$salt${GOOD_B64}",
    f"pbkdf2_sha256$ 1000$salt${GOOD_B64}",
    f"pbkdf2_sha256$1e3$salt${GOOD_B64}",
    f"pbkdf2_sha256${MAX_ITERATIONS + 1}$salt${GOOD_B64}",
    f"pbkdf2_sha256$²$salt${GOOD_B64}",
    f"pbkdf2_sha256$1000$${GOOD_B64}",
    "pbkdf2_sha256$1000$salt$",
    "pbkdf2_sha256$1000$salt$!!!not-base64!!!",
    f"pbkdf2_sha256$1000$salt${GOOD_B64[:-1]}",
    f"pbkdf2_sha256$1000$salt${base64.b64encode(bytes(31)).decode()}",
    f"pbkdf2_sha256$1000$salt${base64.b64encode(bytes(33)).decode()}",
    f"pbkdf2_sha256$1000$salt${base64.urlsafe_b64encode(bytes([251] * 32)).decode()}",
]


@pytest.mark.parametrize("encoded", MALFORMED)
def test_malformed_hashes(encoded: str) -> None:
    with pytest.raises(ValueError):
        parse_hash(encoded)
    assert verify_password("pw", encoded) is False


# --- properties ------------------------------------------------------------------------------


@given(passwords())
def test_any_password_verifies_against_its_own_hash_only(password: str) -> None:
    encoded = hash_password(password, iterations=2)
    assert verify_password(password, encoded)
    assert not verify_password(password + "x", encoded)
    assert not verify_password(password[:-1], encoded)


@given(st.text(max_size=120), st.text(max_size=20))
def test_verify_password_never_raises_on_arbitrary_text(encoded: str, password: str) -> None:
    assert verify_password(password, encoded) is False


_parts = st.one_of(st.text(max_size=12), st.sampled_from(["pbkdf2_sha256", "1000", "0", "salt", GOOD_B64, ""]))


@given(st.lists(_parts, min_size=1, max_size=6).map("$".join))
def test_parse_hash_raises_only_value_error(encoded: str) -> None:
    try:
        parsed = parse_hash(encoded)
    except ValueError:
        return
    assert 1 <= parsed.iterations <= MAX_ITERATIONS
    assert parsed.salt and "$" not in parsed.salt
    assert len(parsed.digest) == 32
    # only parseable (cheap) hashes get here: verifying one never raises either
    if parsed.iterations <= 10_000:
        assert verify_password("pw", encoded) in (True, False)
