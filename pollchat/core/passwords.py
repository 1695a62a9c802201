"""Password hashes in Django's PBKDF2-SHA256 format.

A stored hash is the string ``pbkdf2_sha256$<iterations>$<salt>$<base64 digest>``:
the format Django writes (``django.contrib.auth.hashers.PBKDF2PasswordHasher``), so
existing tools can produce and check pollchat hashes. The digest is
``hashlib.pbkdf2_hmac("sha256", password, salt, iterations)`` (32 bytes, standard
base64); the salt is 16 random bytes from :mod:`secrets`, URL-safe base64 encoded
(22 characters, never ``$``). Comparison uses :func:`hmac.compare_digest`.

Each call costs one full key derivation (about 0.14 s at 600,000 iterations on the
reference machine), so the server only calls these from its worker pool, never on the
event loop thread. ``hashlib.pbkdf2_hmac`` releases the GIL while it runs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

ALGORITHM = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 600_000
"""OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256, and Django 5's default."""
MAX_ITERATIONS = 100_000_000
"""A hash claiming more iterations is refused rather than stalling a worker for minutes."""
SALT_BYTES = 16


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """A parsed hash string. ``digest`` is the raw 32-byte PBKDF2 output."""

    iterations: int
    salt: str
    digest: bytes

    def encode(self) -> str:
        """The Django-format string of this hash."""
        b64 = base64.b64encode(self.digest).decode("ascii")
        return f"{ALGORITHM}${self.iterations}${self.salt}${b64}"


def parse_hash(encoded: str) -> PasswordHash:
    """Parse a Django PBKDF2-SHA256 hash string.

    Raises:
        ValueError: with a short reason, when the string is not such a hash (wrong
            algorithm, iterations not a number in 1..MAX_ITERATIONS, empty salt or one
            with ``$``, digest that is not base64 of 32 bytes).
    """
    parts = encoded.split("$")
    if len(parts) != 4:
        raise ValueError("expected pbkdf2_sha256$<iterations>$<salt>$<hash>")
    algorithm, iterations, salt, b64 = parts
    if algorithm != ALGORITHM:
        raise ValueError(f"unsupported algorithm {algorithm!r} (only {ALGORITHM})")
    if not iterations.isdigit() or not 1 <= int(iterations) <= MAX_ITERATIONS:
        raise ValueError("iterations must be a whole number from 1 to 100000000")
    if not salt:
        raise ValueError("empty salt")
    try:
        digest = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("hash is not valid base64") from None
    if len(digest) != hashlib.sha256().digest_size:
        raise ValueError("hash is not 32 bytes long")
    return PasswordHash(int(iterations), salt, digest)


def _derive(password: str, salt: str, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("utf-8"), iterations)


def hash_password(password: str, iterations: int = DEFAULT_ITERATIONS, salt: str | None = None) -> str:
    """Hash ``password`` with a fresh random salt (or ``salt``, for tests).

    Returns:
        The Django-format hash string.
    Raises:
        ValueError: if ``iterations`` is outside 1..MAX_ITERATIONS.
    """
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError("iterations must be from 1 to 100000000")
    salt = salt if salt is not None else secrets.token_urlsafe(SALT_BYTES)
    return PasswordHash(iterations, salt, _derive(password, salt, iterations)).encode()


def verify_password(password: str, encoded: str) -> bool:
    """True if ``password`` matches the hash string ``encoded``.

    A malformed ``encoded`` gives ``False`` (it was validated when loaded; this keeps a
    worker from ever raising on bad data). Constant-time comparison of the digests.
    """
    try:
        parsed = parse_hash(encoded)
    except ValueError:
        return False
    return hmac.compare_digest(_derive(password, parsed.salt, parsed.iterations), parsed.digest)


def change_password(old: str, encoded: str, new: str, iterations: int = DEFAULT_ITERATIONS) -> str | None:
    """Verify ``old`` against ``encoded``, then hash ``new``: one call for one worker.

    Returns:
        The new hash string, or ``None`` if ``old`` is wrong.
    """
    if not verify_password(old, encoded):
        return None
    return hash_password(new, iterations)
